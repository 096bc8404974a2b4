package pipeline

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/pipeline"
	"github.com/paddleflow/paddlex/pkg/validate"
)

// controlManager is the field manager of the fields suspend, resume, stop
// and terminate set, apart from the one that submitted the run.
const controlManager = "paddlex-control"

// controlAttempts bounds the retries of an action whose Workflow Argo's
// controller changed between the read and the write.
const controlAttempts = 5

// ControlOptions are the options of `pipeline suspend|resume|stop|terminate`.
type ControlOptions struct {
	Action    string
	Names     []string
	Namespace string
	DryRun    string
	cmdutil.Engine

	Streams cmdutil.IOStreams
}

// NewCmdControl returns `pipeline suspend`, `resume`, `stop` or `terminate`.
func NewCmdControl(f *cmdutil.Factory, action string, runF func(*ControlOptions) error) *cobra.Command {
	o := &ControlOptions{Action: action, Streams: f.Streams}
	cmd := &cobra.Command{
		Use:               action + " NAME...",
		ValidArgsFunction: completeRuns(f),
		Args:              cobra.MinimumNArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	switch action {
	case pipeline.ActionSuspend:
		cmd.Short = "Pause runs: no new step starts until they are resumed"
		cmd.Long = `Suspend runs, as ` + "`argo suspend`" + ` does: spec.suspend of each Workflow is set,
so Argo starts no new step; the steps running now run to their end. A
suspended run shows "Running (Suspended)" in get and list. Resume it with
` + "`paddlex pipeline resume`" + `. A run that has finished cannot be suspended (exit 1).`
		cmd.Example = `  paddlex pipeline suspend ppocr-det
  paddlex pipeline resume ppocr-det`
	case pipeline.ActionResume:
		cmd.Short = "Let suspended runs go on"
		cmd.Long = `Resume suspended runs, as ` + "`argo resume`" + ` does: spec.suspend of each Workflow is
cleared (set to false), so Argo starts the steps that were waiting. A run that
is not suspended is left as it is.`
		cmd.Example = `  paddlex pipeline resume ppocr-det`
	case pipeline.ActionStop:
		cmd.Short = "Stop runs, running their exit handlers"
		cmd.Long = `Stop runs, as ` + "`argo stop`" + ` does: spec.shutdown of each Workflow is set to
Stop, so Argo kills the running steps' pods, starts no new step, and still
runs the Workflow's exit handlers (onExit). The run ends Failed with the
message "Stopped with strategy 'Stop'". To end it without its exit handlers,
use ` + "`paddlex pipeline terminate`" + `. The objects its steps created stay; a
stopped run can be retried or resubmitted.`
		cmd.Example = `  paddlex pipeline stop ppocr-det
  paddlex pipeline stop ppocr-det && paddlex pipeline wait ppocr-det`
	case pipeline.ActionTerminate:
		cmd.Short = "End runs at once, without their exit handlers"
		cmd.Long = `Terminate runs, as ` + "`argo terminate`" + ` does: spec.shutdown of each Workflow is
set to Terminate, so Argo kills the running steps' pods and runs nothing
more, not even the exit handlers (onExit); use ` + "`paddlex pipeline stop`" + ` to
run them. The run ends Failed with the message "Stopped with strategy
'Terminate'".`
		cmd.Example = `  paddlex pipeline terminate ppocr-det`
	}
	cmd.Flags().StringVar(&o.DryRun, "dry-run", cmdutil.DryRunNone, `"server" sends the change with dry-run, so the API server checks it without persisting it; "none" makes it`)
	return cmd
}

// Complete takes the NAME arguments and the namespace.
func (o *ControlOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Names, o.Namespace = args, f.Namespace()
	return nil
}

// Validate checks the names and --dry-run.
func (o *ControlOptions) Validate() error {
	for _, n := range o.Names {
		if err := validate.Subdomain("NAME", n); err != nil {
			return err
		}
	}
	if err := validate.Name("--namespace", o.Namespace); err != nil {
		return err
	}
	if o.DryRun != cmdutil.DryRunNone && o.DryRun != cmdutil.DryRunServer {
		return exit.UsageErrorf("--dry-run of %s must be none or server, not %q: it changes one field, there is no object to print", o.Action, o.DryRun)
	}
	return nil
}

// Run acts on each run in turn and stops at the first that fails; the
// runs before it keep the change.
func (o *ControlOptions) Run(ctx context.Context) error {
	for i, name := range o.Names {
		note, err := o.one(ctx, name)
		if err != nil {
			if i > 0 {
				err = fmt.Errorf("%w (the runs before it were %s)", err, pastTense(o.Action))
			}
			return err
		}
		fmt.Fprintf(o.Streams.Out, "workflow.argoproj.io/%s %s%s\n", name, pastTense(o.Action), note)
	}
	return nil
}

// one reads the run, writes the fields of the action with the read's
// resourceVersion, and reads again when Argo's controller changed the run
// in between, as the Argo CLI retries its conflicts.
func (o *ControlOptions) one(ctx context.Context, name string) (string, error) {
	opts := kube.ApplyOptions{FieldManager: controlManager, Force: true}
	note := ""
	if o.DryRun == cmdutil.DryRunServer {
		opts.DryRun = kube.DryRunServer
		note = " (server dry run)"
	}
	for attempt := 1; ; attempt++ {
		wf, _, err := getWorkflow(ctx, o.Kube, o.Namespace, name)
		if err != nil {
			return "", err
		}
		patch, err := pipeline.Control(wf, o.Action)
		if err != nil {
			return "", err
		}
		if patch == nil {
			state := "suspended"
			if o.Action == pipeline.ActionResume {
				state = "not suspended"
			}
			return " (it was already " + state + ")", nil
		}
		_, err = o.Kube.Apply(ctx, []*unstructured.Unstructured{patch}, opts)
		if err == nil {
			return note, nil
		}
		if apierrors.IsNotFound(err) {
			return "", notFound(wfRef(o.Namespace, name))
		}
		if !apierrors.IsConflict(err) || attempt == controlAttempts {
			return "", fmt.Errorf("%s workflow %s/%s: %w", o.Action, o.Namespace, name, err)
		}
	}
}

func pastTense(action string) string {
	switch action {
	case pipeline.ActionStop:
		return "stopped"
	case pipeline.ActionSuspend:
		return "suspended"
	case pipeline.ActionResume:
		return "resumed"
	case pipeline.ActionTerminate:
		return "terminated"
	}
	return action
}
