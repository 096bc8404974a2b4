package modelhub

import (
	"context"
	"fmt"
	"strings"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/modelstore"
)

// DeleteOptions are the options of `modelhub delete`.
type DeleteOptions struct {
	Ref modelhub.Ref
	S3  S3Options

	Streams cmdutil.IOStreams
	Store   *modelstore.Store
}

// NewCmdDelete returns `modelhub delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	o := &DeleteOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "delete MODEL:VERSION",
		Short: "Remove a model version or tag from the model center",
		Long: `Remove a version's archive and record. Deleting a version also removes the
tags that point to it; deleting a tag removes only the tag.`,
		Example:           `  paddlex modelhub delete ppocr-det:v1`,
		ValidArgsFunction: completeModelRef(f, "required"),
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.S3.Complete(f)
			if !strings.Contains(args[0], ":") {
				return exit.UsageErrorf("name the version to delete as MODEL:VERSION, not %q", args[0])
			}
			var err error
			if o.Ref, err = modelhub.ParseRef("MODEL:VERSION", args[0]); err != nil {
				return err
			}
			if err := o.S3.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			st, stop, err := o.S3.Connect(cmd.Context())
			if err != nil {
				return err
			}
			defer stop()
			o.Store = st
			return o.Run(cmd.Context())
		},
	}
	o.S3.AddFlags(cmd.Flags())
	return cmd
}

// Run deletes.
func (o *DeleteOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	tags, err := o.Store.Delete(ctx, o.Ref)
	if err != nil {
		return err
	}
	for _, t := range tags {
		fmt.Fprintf(o.Streams.Out, "model %s:%s deleted (it pointed to %s)\n", o.Ref.Model, t, o.Ref.Version)
	}
	_, err = fmt.Fprintf(o.Streams.Out, "model %s deleted\n", o.Ref)
	return err
}
