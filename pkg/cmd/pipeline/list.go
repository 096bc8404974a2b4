package pipeline

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

// ListOptions are the options of `pipeline list`.
type ListOptions struct {
	Namespace     string
	AllNamespaces bool
	Output        cmdutil.OutputFlags

	Streams cmdutil.IOStreams
	Kube    kube.Interface
	Now     func() time.Time
}

// NewCmdList returns `pipeline list`.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	o := &ListOptions{Streams: f.Streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List pipeline runs: phase, progress, start and duration",
		Long: `List the pipeline runs (Workflows paddlex submitted) with their phase,
steps done out of all, start time and duration; -o wide adds the pipeline,
the run a retry resubmits, and the message. -A lists every namespace.`,
		Example: `  paddlex pipeline list
  paddlex pipeline list -A
  paddlex pipeline list -o name`,
		Args: cobra.NoArgs,
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	o.Output.AddFlags(cmd.Flags())
	return cmd
}

// Complete takes the namespace.
func (o *ListOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, _ []string) error {
	o.Namespace = f.Namespace()
	return nil
}

// Validate checks -o.
func (o *ListOptions) Validate() error {
	switch o.Output.Output {
	case "", "wide", "name":
		return nil
	}
	return exit.UsageErrorf("--output must be wide or name, not %q (use `pipeline get NAME -o yaml` for one run)", o.Output.Output)
}

// Connect takes the engine.
func (o *ListOptions) Connect(f *cmdutil.Factory) error {
	var err error
	o.Kube, err = f.Kube()
	return err
}

// Run lists, newest first.
func (o *ListOptions) Run(ctx context.Context) error {
	ns := o.Namespace
	if o.AllNamespaces {
		ns = ""
	}
	wfs, err := listRuns(ctx, o.Kube, ns)
	if err != nil {
		return err
	}
	sort.SliceStable(wfs, func(i, j int) bool {
		ti, tj := wfs[i].CreationTimestamp.Time, wfs[j].CreationTimestamp.Time
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return wfs[i].Name < wfs[j].Name
	})
	if o.Output.Output == "name" {
		for _, wf := range wfs {
			fmt.Fprintf(o.Streams.Out, "workflow.argoproj.io/%s\n", wf.Name)
		}
		return nil
	}
	if len(wfs) == 0 {
		where := "namespace " + ns
		if ns == "" {
			where = "any namespace"
		}
		fmt.Fprintf(o.Streams.ErrOut, "No pipeline runs found in %s.\n", where)
		return nil
	}
	headers := []string{"NAME", "PHASE", "PROGRESS", "STARTED", "DURATION"}
	if o.AllNamespaces {
		headers = append([]string{"NAMESPACE"}, headers...)
	}
	if o.Output.Wide() {
		headers = append(headers, "PIPELINE", "RETRY-OF", "MESSAGE")
	}
	t := cmdutil.NewTable(o.Streams.Out, headers...)
	now := o.Now()
	for _, wf := range wfs {
		done, total := pipeline.Progress(pipeline.Tree(wf))
		started := "-"
		if !wf.Status.StartedAt.IsZero() {
			started = cmdutil.Age(wf.Status.StartedAt, now) + " ago"
		}
		row := []string{wf.Name, pipeline.State(wf), fmt.Sprintf("%d/%d", done, total), started, orDash(human(workflowDuration(wf, now)))}
		if o.AllNamespaces {
			row = append([]string{wf.Namespace}, row...)
		}
		if o.Output.Wide() {
			row = append(row, wf.Labels[pipeline.LabelPipeline], orDash(wf.Labels[pipeline.LabelRetryOf]), orDash(wf.Status.Message))
		}
		t.Row(row...)
	}
	return t.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
