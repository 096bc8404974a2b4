package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
)

// DeleteOptions are the options of `pipeline delete`.
type DeleteOptions struct {
	Names     []string
	Namespace string
	Apply     cmdutil.ApplyFlags

	Streams cmdutil.IOStreams
	Kube    kube.Interface
}

// NewCmdDelete returns `pipeline delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	o := &DeleteOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "delete NAME...",
		Short: "Delete pipeline runs and the objects they own",
		Long: `Delete pipeline runs. The objects a run's steps created and owned (SampleJobs,
the PaddleJob, export, conversion and upload Jobs, VisualDL) and its task
volume go with it; the SampleSet cache and the served Knative Service stay.`,
		Example: `  paddlex pipeline delete ppocr-det
  paddlex pipeline delete ppocr-det-x7k2p --wait
  paddlex pipeline delete ppocr-det --dry-run=server`,
		ValidArgsFunction: completeRuns(f),
		Args:              cobra.MinimumNArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	// A delete applies nothing: it has no field manager or conflicts to
	// force, and nothing to print for a client dry run.
	o.Apply.FieldManager = kube.FieldManager
	cmd.Flags().StringVar(&o.Apply.DryRun, "dry-run", cmdutil.DryRunNone, `"server" asks the API server what would be deleted; "none" deletes`)
	o.Apply.AddWaitFlags(cmd.Flags(), false, 5*time.Minute)
	return cmd
}

// Complete takes the NAME arguments and the namespace.
func (o *DeleteOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Names, o.Namespace = args, f.Namespace()
	return nil
}

// Validate checks the names and the flags.
func (o *DeleteOptions) Validate() error {
	for _, n := range o.Names {
		if err := validate.Subdomain("NAME", n); err != nil {
			return err
		}
	}
	if err := o.Apply.Validate(); err != nil {
		return err
	}
	if o.Apply.ClientDryRun() {
		return exit.UsageErrorf("--dry-run=client does not apply to delete: use --dry-run=server to ask the API server what would be deleted")
	}
	return nil
}

// RunTimeout is --timeout.
func (o *DeleteOptions) RunTimeout() time.Duration { return o.Apply.Timeout }

// Connect takes the engine.
func (o *DeleteOptions) Connect(f *cmdutil.Factory) error {
	var err error
	o.Kube, err = f.Kube()
	return err
}

// Run deletes with foreground propagation, so owned objects go first.
func (o *DeleteOptions) Run(ctx context.Context) error {
	refs := make([]kube.ObjectRef, len(o.Names))
	for i, n := range o.Names {
		refs[i] = wfRef(o.Namespace, n)
		if _, err := o.Kube.Get(ctx, refs[i]); apierrors.IsNotFound(err) {
			return notFound(refs[i])
		} else if err != nil {
			return err
		}
	}
	if err := o.Kube.Delete(ctx, refs, kube.DeleteOptions{DryRun: o.Apply.EngineDryRun(), Wait: o.Apply.Wait}); err != nil {
		return err
	}
	suffix := ""
	if o.Apply.DryRun == cmdutil.DryRunServer {
		suffix = " (server dry run)"
	}
	for _, n := range o.Names {
		fmt.Fprintf(o.Streams.Out, "workflow.argoproj.io/%s deleted%s\n", n, suffix)
	}
	return nil
}
