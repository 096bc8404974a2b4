package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

// ResubmitOptions are the options of `pipeline resubmit`.
type ResubmitOptions struct {
	RerunFlags
	cmdutil.Engine
	stepLogs

	Streams cmdutil.IOStreams
	Now     func() time.Time
}

// NewCmdResubmit returns `pipeline resubmit`.
func NewCmdResubmit(f *cmdutil.Factory, runF func(*ResubmitOptions) error) *cobra.Command {
	o := &ResubmitOptions{Streams: f.Streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "resubmit NAME",
		Short: "Run a run again from the start, with the same parameters and steps",
		Long: `Submit a new run of the same Workflow as NAME, as ` + "`argo resubmit`" + ` does: the same
spec (so the same parameters, steps and volume settings), named PIPELINE-xxxxx
and labelled paddlex.io/resubmit-of=NAME (and Argo's
workflows.argoproj.io/resubmitted-from-workflow). NAME may be in any phase,
even running; a stop or terminate it received is not carried over. Unlike
` + "`paddlex pipeline retry`" + `, every step runs again, on a new task volume.

The new run has its own ServiceAccount and Role, owned by it, unless NAME ran
as an account given with --service-account, which it keeps.`,
		Example: `  paddlex pipeline resubmit ppocr-det
  paddlex pipeline resubmit ppocr-det --watch
  paddlex pipeline resubmit ppocr-det --dry-run=client -o yaml`,
		ValidArgsFunction: completeRuns(f),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// RunTimeout is --timeout.
func (o *ResubmitOptions) RunTimeout() time.Duration { return o.Apply.Timeout }

// Run reads NAME, submits its copy with the copy's own account and, with
// --watch, follows it. A client dry run reads NAME too: the copy is made
// from it.
func (o *ResubmitOptions) Run(ctx context.Context) error {
	old, _, err := getWorkflow(ctx, o.Kube, o.Namespace, o.Name)
	if err != nil {
		return err
	}
	wf := pipeline.Resubmit(old)
	var rbac []*unstructured.Unstructured
	if !o.Apply.ClientDryRun() {
		if rbac, err = pipeline.NameRun(wf, pipeline.RunName(strings.TrimSuffix(wf.GenerateName, "-"))); err != nil {
			return err
		}
	}
	obj, err := pipeline.WorkflowObject(wf)
	if err != nil {
		return err
	}
	if o.Apply.ClientDryRun() {
		return printRun(o.Output, o.Streams, obj, "(dry run)")
	}
	created, err := submit(ctx, o.Kube, o.Apply, rbac, obj)
	if err != nil {
		return err
	}
	if o.Apply.DryRun == cmdutil.DryRunServer {
		return printRun(o.Output, o.Streams, created, "(server dry run)")
	}
	if !o.Watch {
		if err := printRun(o.Output, o.Streams, created, "submitted"); err != nil {
			return err
		}
		fmt.Fprintf(o.Streams.ErrOut, "follow it: paddlex pipeline watch %s -n %s\n", created.GetName(), created.GetNamespace())
		return nil
	}
	if o.Output.Output == "" {
		fmt.Fprintf(o.Streams.ErrOut, "workflow.argoproj.io/%s submitted\n", created.GetName())
	}
	v := newView(o.Streams.Out, o.Streams.OutTTY, o.Output.Output == "json", o.Now)
	return follow(ctx, o.Kube, o.Clientset, kube.RefOf(created), v, o.Streams.ErrOut, o.Apply.Timeout)
}

// Connect takes the engine, and the clientset a failed run's log is read
// through.
func (o *ResubmitOptions) Connect(f *cmdutil.Factory) error {
	if err := o.Engine.Connect(f); err != nil {
		return err
	}
	return o.stepLogs.connect(f)
}
