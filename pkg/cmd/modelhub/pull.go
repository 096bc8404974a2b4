package modelhub

import (
	"context"
	"fmt"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/modelstore"
)

// PullOptions are the options of `modelhub pull`.
type PullOptions struct {
	Ref modelhub.Ref
	Dir string
	S3  S3Options

	Streams cmdutil.IOStreams
	Store   *modelstore.Store
	OpensInRun
}

// NewCmdPull returns `modelhub pull`.
func NewCmdPull(f *cmdutil.Factory, runF func(*PullOptions) error) *cobra.Command {
	o := &PullOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "pull MODEL[:VERSION] [-o DIR]",
		Short: "Download a model version, verifying its sha256",
		Long: `Download version VERSION (default latest) of MODEL as DIR/MODEL.tar.gz and
verify it against the sha256 in its record. A mismatch exits 1 and leaves
nothing in DIR.`,
		Example: `  paddlex modelhub pull ppocr-det:v1
  paddlex modelhub pull ppocr-det -o ./models`,
		ValidArgsFunction: completeModelRef(f, "optional"),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().StringVarP(&o.Dir, "output-dir", "o", ".", "directory to write MODEL.tar.gz into")
	o.S3.AddFlags(cmd.Flags())
	return cmd
}

// Complete takes MODEL[:VERSION] and wires the model center's clients.
func (o *PullOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.S3.Complete(f)
	var err error
	o.Ref, err = modelhub.ParseRef("MODEL:VERSION", args[0])
	return err
}

// Validate checks the flags.
func (o *PullOptions) Validate() error {
	if o.Dir == "" {
		return exit.UsageErrorf("--output-dir must not be empty")
	}
	return o.S3.Validate()
}

// Run downloads.
func (o *PullOptions) Run(ctx context.Context) error {
	closeStore, err := o.S3.Open(ctx, &o.Store)
	if err != nil {
		return err
	}
	defer closeStore()
	path, m, err := o.Store.Pull(ctx, o.Ref, o.Dir)
	if err != nil {
		return err
	}
	what := o.Ref.String()
	if m.TagOf != "" {
		what += " (" + m.TagOf + ")"
	}
	_, err = fmt.Fprintf(o.Streams.Out, "model %s pulled to %s: %s, sha256 %s verified\n", what, path, modelstore.HumanBytes(m.Size), m.SHA256)
	return err
}
