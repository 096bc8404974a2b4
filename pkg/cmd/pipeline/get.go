package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

// GetOptions are the options of `pipeline get`.
type GetOptions struct {
	Name      string
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
		Use:   "get NAME",
		Short: "Show a run's steps as a tree: phase, duration and message",
		Example: `  paddlex pipeline get ppocr-det
  paddlex pipeline get ppocr-det -o yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name, o.Namespace = args[0], f.Namespace()
			if err := cmdutil.ValidateSubdomain("NAME", o.Name); err != nil {
				return err
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

// Run prints the tree once.
func (o *GetOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	wf, obj, err := o.Workflows.Get(ctx, o.Namespace, o.Name)
	if err != nil {
		return err
	}
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, []*unstructured.Unstructured{obj})
	}
	for _, l := range treeLines(wf, o.Now()) {
		fmt.Fprintln(o.Streams.Out, l)
	}
	if r := wf.Labels[pipeline.LabelRetryOf]; r != "" {
		fmt.Fprintf(o.Streams.Out, "retry of %s\n", r)
	}
	return nil
}
