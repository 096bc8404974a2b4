package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/pipeline"
	"github.com/paddleflow/paddlex/pkg/validate"
)

// WatchOptions are the options of `pipeline watch` and `pipeline wait`.
type WatchOptions struct {
	// Quiet is wait: no view, one line with the outcome.
	Quiet     bool
	Name      string
	Namespace string
	Output    string
	Timeout   time.Duration
	cmdutil.Engine
	stepLogs

	Streams cmdutil.IOStreams
	Now     func() time.Time
}

// NewCmdWatch returns `pipeline watch`, or `pipeline wait` when quiet.
func NewCmdWatch(f *cmdutil.Factory, quiet bool, runF func(*WatchOptions) error) *cobra.Command {
	o := &WatchOptions{Quiet: quiet, Streams: f.Streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:               "watch NAME",
		Short:             "Follow a run that is already going, until it finishes",
		ValidArgsFunction: completeRuns(f),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	exits := `It exits 0 when the run succeeds, 1 when it fails or errors (naming the
failing step and how to read its logs and retry it) and 3 when --timeout
runs out first; the run itself goes on.`
	if quiet {
		cmd.Use = "wait NAME"
		cmd.Short = "Wait for a run to finish; the exit code is its outcome"
		cmd.Long = `Wait for a run to finish, printing only its final phase, for scripts and CI.
A run that has already finished returns at once. ` + exits
		cmd.Example = `  paddlex pipeline wait ppocr-det
  paddlex pipeline wait ppocr-det-x7k2p --timeout 2h && paddlex serve get ppocr-det`
	} else {
		cmd.Long = `Attach to a run (submitted by ` + "`paddlex pipeline run`" + ` without --watch, or by
anyone) and follow it as ` + "`pipeline run --watch`" + ` does: a live tree redrawn in place
on a terminal, one line per step change otherwise, JSON lines with -o json.
` + exits
		cmd.Example = `  paddlex pipeline watch ppocr-det
  paddlex pipeline watch ppocr-det -o json | jq -r 'select(.step) | .step + " " + .phase'`
	}
	fs := cmd.Flags()
	if quiet {
		fs.StringVarP(&o.Output, "output", "o", "", `"name" prints only workflow.argoproj.io/NAME; "json" prints the outcome as one JSON object (default: one line)`)
	} else {
		fs.StringVarP(&o.Output, "output", "o", "", `"json" prints one JSON object per change, as run --watch -o json does (default: a tree on a terminal, lines otherwise)`)
	}
	fs.DurationVar(&o.Timeout, "timeout", 0, fmt.Sprintf("how long to wait before giving up with exit code 3, at most %dh (0 waits forever)", int(validate.MaxTimeout.Hours())))
	return cmd
}

// Complete takes NAME and the namespace.
func (o *WatchOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	return nil
}

// Validate checks NAME, -o and --timeout.
func (o *WatchOptions) Validate() error {
	if err := validate.Subdomain("NAME", o.Name); err != nil {
		return err
	}
	if err := validate.Name("--namespace", o.Namespace); err != nil {
		return err
	}
	switch {
	case o.Output == "" || o.Output == "json":
	case o.Quiet && o.Output == "name":
	case o.Quiet:
		return exit.UsageErrorf("--output must be name or json, not %q", o.Output)
	default:
		return exit.UsageErrorf("--output must be json, not %q: watch prints a tree, lines, or with -o json JSON lines", o.Output)
	}
	if o.Timeout < 0 {
		return exit.UsageErrorf("--timeout must not be negative, not %s (0 waits without a limit)", o.Timeout)
	}
	if o.Timeout > validate.MaxTimeout {
		return exit.UsageErrorf("--timeout must be at most %dh, not %s (0 waits without a limit)", int(validate.MaxTimeout.Hours()), o.Timeout)
	}
	return nil
}

// RunTimeout is --timeout.
func (o *WatchOptions) RunTimeout() time.Duration { return o.Timeout }

// Run reads the run, then follows it to its end.
func (o *WatchOptions) Run(ctx context.Context) error {
	wf, _, err := getWorkflow(ctx, o.Kube, o.Namespace, o.Name)
	if err != nil {
		return err
	}
	if !o.Quiet {
		v := newView(o.Streams.Out, o.Streams.OutTTY, o.Output == "json", o.Now)
		return follow(ctx, o.Kube, o.Clientset, wfRef(wf.Namespace, wf.Name), v, o.Streams.ErrOut, o.Timeout)
	}
	v := newView(io.Discard, false, false, o.Now)
	err = follow(ctx, o.Kube, nil, wfRef(wf.Namespace, wf.Name), v, o.Streams.ErrOut, o.Timeout)
	if code := exit.Code(err); code != exit.OK && code != exit.Failed {
		return err
	}
	final := v.final()
	if final == nil {
		return err
	}
	switch o.Output {
	case "name":
		fmt.Fprintf(o.Streams.Out, "workflow.argoproj.io/%s\n", final.Name)
	case "json":
		printOutcome(o.Streams.Out, final)
	default:
		line := fmt.Sprintf("workflow %s/%s %s", final.Namespace, final.Name, workflowPhase(final))
		if d := human(workflowDuration(final, o.Now())); d != "" {
			line += " after " + d
		}
		fmt.Fprintln(o.Streams.Out, line)
	}
	return err
}

// outcomeJSON is what `pipeline wait -o json` prints.
type outcomeJSON struct {
	Workflow   string     `json:"workflow"`
	Namespace  string     `json:"namespace"`
	Phase      string     `json:"phase"`
	Message    string     `json:"message,omitempty"`
	FailedStep string     `json:"failedStep,omitempty"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

func printOutcome(w io.Writer, wf *wfv1.Workflow) {
	o := outcomeJSON{Workflow: wf.Name, Namespace: wf.Namespace, Phase: workflowPhase(wf), Message: wf.Status.Message,
		StartedAt: timePtr(wf.Status.StartedAt.Time), FinishedAt: timePtr(wf.Status.FinishedAt.Time)}
	if path, _, ok := pipeline.Failure(pipeline.Tree(wf)); ok {
		o.FailedStep = path
	}
	b, _ := json.Marshal(o)
	fmt.Fprintln(w, string(b))
}

// Connect takes the engine, and the clientset a failed run's log is read
// through.
func (o *WatchOptions) Connect(f *cmdutil.Factory) error {
	if err := o.Engine.Connect(f); err != nil {
		return err
	}
	return o.stepLogs.connect(f)
}
