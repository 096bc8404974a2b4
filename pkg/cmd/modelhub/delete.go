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
	OpensInRun
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
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	o.S3.AddFlags(cmd.Flags())
	return cmd
}

// Complete takes MODEL:VERSION and wires the model center's clients.
func (o *DeleteOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.S3.Complete(f)
	if !strings.Contains(args[0], ":") {
		return exit.UsageErrorf("name the version to delete as MODEL:VERSION, not %q", args[0])
	}
	var err error
	o.Ref, err = modelhub.ParseRef("MODEL:VERSION", args[0])
	return err
}

// Validate checks the flags.
func (o *DeleteOptions) Validate() error { return o.S3.Validate() }

// Run deletes.
func (o *DeleteOptions) Run(ctx context.Context) error {
	closeStore, err := o.S3.Open(ctx, &o.Store)
	if err != nil {
		return err
	}
	defer closeStore()
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
