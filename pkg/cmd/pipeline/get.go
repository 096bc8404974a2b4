package pipeline

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/pipeline"
	"github.com/paddleflow/paddlex/pkg/validate"
)

// GetOptions are the options of `pipeline get`.
type GetOptions struct {
	cmdutil.ListFlags

	Streams cmdutil.IOStreams
	Kube    kube.Interface
	Now     func() time.Time
}

// NewCmdGet returns `pipeline get`.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	o := &GetOptions{Streams: f.Streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "get [NAME...]",
		Short: "Show runs' steps as a tree, or list the runs without a NAME",
		Long: `Show each named run (a Workflow) as a tree of its steps and their parts,
with each one's phase, duration and message. -o yaml or -o json prints the
Workflows themselves.

Without a NAME it lists the runs as ` + "`paddlex pipeline list`" + ` does (-A across
all namespaces); -o yaml or -o json then prints every run's Workflow.`,
		Example: `  paddlex pipeline get ppocr-det
  paddlex pipeline get ppocr-det -o yaml
  paddlex pipeline get
  paddlex pipeline get -A -o wide`,
		ValidArgsFunction: completeRuns(f),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	o.ListFlags.AddFlags(cmd.Flags())
	return cmd
}

// Complete takes the NAME arguments and the namespace.
func (o *GetOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.ListFlags.Complete(f, args)
	return nil
}

// Validate checks the names, -o and -A.
func (o *GetOptions) Validate() error {
	for _, n := range o.Names {
		if err := validate.Subdomain("NAME", n); err != nil {
			return err
		}
	}
	if err := o.Output.Validate(); err != nil {
		return err
	}
	if len(o.Names) > 0 && o.AllNamespaces {
		return exit.UsageErrorf("-A lists the runs of every namespace: give no NAME with it, or drop -A to show the named runs")
	}
	return nil
}

// Connect takes the engine.
func (o *GetOptions) Connect(f *cmdutil.Factory) error {
	var err error
	o.Kube, err = f.Kube()
	return err
}

// Run prints each tree once; without names it lists the runs.
func (o *GetOptions) Run(ctx context.Context) error {
	if len(o.Names) == 0 {
		return o.list(ctx)
	}
	var objs []*unstructured.Unstructured
	for i, name := range o.Names {
		wf, obj, err := getWorkflow(ctx, o.Kube, o.Namespace, name)
		if err != nil {
			return err
		}
		if !o.Output.Table() {
			objs = append(objs, obj)
			continue
		}
		if i > 0 {
			fmt.Fprintln(o.Streams.Out)
		}
		for _, l := range treeLines(wf, o.Now()) {
			fmt.Fprintln(o.Streams.Out, l)
		}
		if r := wf.Labels[pipeline.LabelRetryOf]; r != "" {
			fmt.Fprintf(o.Streams.Out, "retry of %s\n", r)
		}
		if r := wf.Labels[pipeline.LabelResubmitOf]; r != "" {
			fmt.Fprintf(o.Streams.Out, "resubmit of %s\n", r)
		}
	}
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, objs)
	}
	return nil
}

// list prints the runs as `pipeline list` does, or their Workflows with
// -o yaml or json.
func (o *GetOptions) list(ctx context.Context) error {
	if o.Output.Table() || o.Output.Output == "name" {
		l := &ListOptions{Namespace: o.Namespace, AllNamespaces: o.AllNamespaces, Output: o.Output,
			Streams: o.Streams, Kube: o.Kube, Now: o.Now}
		return l.Run(ctx)
	}
	objs, err := listWorkflows(ctx, o.Kube, o.ListNamespace())
	if err != nil {
		return err
	}
	sort.SliceStable(objs, func(i, j int) bool {
		if objs[i].GetNamespace() != objs[j].GetNamespace() {
			return objs[i].GetNamespace() < objs[j].GetNamespace()
		}
		return objs[i].GetName() < objs[j].GetName()
	})
	return o.Output.PrintObjects(o.Streams.Out, objs)
}
