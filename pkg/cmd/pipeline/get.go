package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/pipeline"
	"github.com/paddleflow/paddlex/pkg/validate"
)

// GetOptions are the options of `pipeline get`.
type GetOptions struct {
	Names     []string
	Namespace string
	Output    cmdutil.OutputFlags

	Streams   cmdutil.IOStreams
	Workflows *workflows
	Now       func() time.Time
}

// NewCmdGet returns `pipeline get`.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	o := &GetOptions{Streams: f.Streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "get NAME...",
		Short: "Show runs' steps as a tree: phase, duration and message",
		Long: `Show each named run (a Workflow) as a tree of its steps and their parts,
with each one's phase, duration and message. -o yaml or -o json prints the
Workflows themselves.`,
		Example: `  paddlex pipeline get ppocr-det
  paddlex pipeline get ppocr-det -o yaml`,
		ValidArgsFunction: completeRuns(f),
		Args:              cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names, o.Namespace = args, f.Namespace()
			for _, n := range args {
				if err := validate.Subdomain("NAME", n); err != nil {
					return err
				}
			}
			if err := o.Output.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			var err error
			if o.Workflows, err = newWorkflows(f); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.Output.AddFlags(cmd.Flags())
	return cmd
}

// Run prints each tree once.
func (o *GetOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	var objs []*unstructured.Unstructured
	for i, name := range o.Names {
		wf, obj, err := o.Workflows.Get(ctx, o.Namespace, name)
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
	}
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, objs)
	}
	return nil
}
