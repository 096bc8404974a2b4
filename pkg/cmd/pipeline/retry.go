package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

// RetryOptions are the options of `pipeline retry`.
type RetryOptions struct {
	RerunFlags

	Streams cmdutil.IOStreams
	Kube    kube.Interface
	stepLogs
	Now func() time.Time
}

// NewCmdRetry returns `pipeline retry`.
func NewCmdRetry(f *cmdutil.Factory, runF func(*RetryOptions) error) *cobra.Command {
	o := &RetryOptions{Streams: f.Streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "retry NAME",
		Short: "Resubmit a failed run, skipping the steps that succeeded",
		Long: `Resubmit a failed run as a new Workflow, labelled paddlex.io/retry-of=NAME.
Steps, and parts of steps, that succeeded are skipped; the new run mounts the
failed run's task volume, where their output is. Objects the failed parts
left behind are deleted first, so they can be created again. Keep the failed
run until the retry finishes: deleting it deletes its volume.`,
		Example: `  paddlex pipeline retry ppocr-det
  paddlex pipeline retry ppocr-det-x7k2p --watch`,
		ValidArgsFunction: completeRuns(f),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// RunTimeout is --timeout.
func (o *RetryOptions) RunTimeout() time.Duration { return o.Apply.Timeout }

// Connect takes the engine: a retry reads the failed run even for a client
// dry run.
func (o *RetryOptions) Connect(f *cmdutil.Factory) error {
	var err error
	if o.Kube, err = f.Kube(); err != nil {
		return err
	}
	return o.stepLogs.connect(f)
}

// Run plans the retry, removes the leftovers and submits.
func (o *RetryOptions) Run(ctx context.Context) error {
	old, _, err := getWorkflow(ctx, o.Kube, o.Namespace, o.Name)
	if err != nil {
		return err
	}
	plan, err := pipeline.Retry(old)
	if err != nil {
		return err
	}
	var rbac []*unstructured.Unstructured
	if !o.Apply.ClientDryRun() {
		if rbac, err = plan.Named(pipeline.RunName(strings.TrimSuffix(plan.Workflow.GenerateName, "-"))); err != nil {
			return err
		}
	}
	obj, err := pipeline.WorkflowObject(plan.Workflow)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Streams.ErrOut, "skipping %s; running again %s\n", orNone(plan.Skipped), orNone(plan.Rerun))
	if o.Apply.ClientDryRun() {
		return printRun(o.Output, o.Streams, obj, "(dry run)")
	}
	dry := o.Apply.DryRun == cmdutil.DryRunServer
	if len(plan.Leftovers) > 0 {
		del := kube.DeleteOptions{IgnoreNotFound: true, Wait: !dry, DryRun: o.Apply.EngineDryRun()}
		if err := o.Kube.Delete(ctx, plan.Leftovers, del); err != nil {
			return fmt.Errorf("remove what the failed run left behind: %w", err)
		}
	}
	created, err := submit(ctx, o.Kube, o.Apply, rbac, obj)
	if err != nil {
		return err
	}
	if dry {
		return printRun(o.Output, o.Streams, created, "(server dry run)")
	}
	if !o.Watch {
		return printRun(o.Output, o.Streams, created, "submitted")
	}
	v := newView(o.Streams.Out, o.Streams.OutTTY, o.Output.Output == "json", o.Now)
	return follow(ctx, o.Kube, o.Clientset, kube.RefOf(created), v, o.Streams.ErrOut, o.Apply.Timeout)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}
