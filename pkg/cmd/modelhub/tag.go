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

// TagOptions are the options of `modelhub tag`.
type TagOptions struct {
	Ref   modelhub.Ref
	Tag   string
	Force bool
	S3    S3Options

	Streams cmdutil.IOStreams
	Store   *modelstore.Store
	OpensInRun
}

// NewCmdTag returns `modelhub tag`.
func NewCmdTag(f *cmdutil.Factory, runF func(*TagOptions) error) *cobra.Command {
	o := &TagOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "tag MODEL:VERSION TAG",
		Short: "Point a movable tag such as latest at a version",
		Long: `Point TAG (usually latest) at a version, as a container tag: the tag moves
when tagged again, and MODEL/TAG/MODEL.tar.gz serves the version's archive, so
serving MODEL:TAG serves it. A tag never overwrites a version unless --force.`,
		Example:           `  paddlex modelhub tag ppocr-det:v2 latest`,
		ValidArgsFunction: completeModelRef(f, "required"),
		Args:              cobra.ExactArgs(2),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().BoolVar(&o.Force, "force", false, "overwrite TAG even if it is a version")
	o.S3.AddFlags(cmd.Flags())
	return cmd
}

// Complete takes MODEL:VERSION and TAG and wires the model center's
// clients.
func (o *TagOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.S3.Complete(f)
	if !strings.Contains(args[0], ":") {
		return exit.UsageErrorf("name the version to tag as MODEL:VERSION, not %q", args[0])
	}
	var err error
	if o.Ref, err = modelhub.ParseRef("MODEL:VERSION", args[0]); err != nil {
		return err
	}
	o.Tag = args[1]
	return nil
}

// Validate checks TAG and the flags.
func (o *TagOptions) Validate() error {
	if err := modelhub.ValidateVersion("TAG", o.Tag); err != nil {
		return err
	}
	return o.S3.Validate()
}

// Run tags.
func (o *TagOptions) Run(ctx context.Context) error {
	closeStore, err := o.S3.Open(ctx, &o.Store)
	if err != nil {
		return err
	}
	defer closeStore()
	m, err := o.Store.Tag(ctx, o.Ref, o.Tag, o.Force)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.Streams.Out, "model %s:%s -> %s\n", m.Model, m.Version, m.TagOf)
	return err
}
