package pipeline

import (
	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/paddleflow/paddlex/manifests"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

// completeRuns completes the names of the pipeline runs (Workflows labelled
// paddlex.io/pipeline) in the namespace.
func completeRuns(f *cmdutil.Factory) cobra.CompletionFunc {
	return cmdutil.CompleteNames(f, paddle.WorkflowGVK, pipeline.LabelPipeline)
}

// completeRunAndStep completes `logs NAME [STEP]`: a run, then the steps of
// that run as its Workflow lays them out.
func completeRunAndStep(f *cmdutil.Factory) cobra.CompletionFunc {
	runs := completeRuns(f)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		switch len(args) {
		case 0:
			return runs(cmd, args, toComplete)
		case 1:
			var steps []string
			for _, o := range cmdutil.ListForCompletion(f, cmd, pipeline.LabelPipeline, paddle.WorkflowGVK) {
				if o.GetName() != args[0] {
					continue
				}
				var wf wfv1.Workflow
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &wf); err != nil {
					break
				}
				for _, n := range pipeline.Tree(&wf) {
					steps = append(steps, n.Name)
				}
			}
			return cmdutil.FilterCompletions(steps, nil, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeBuiltins completes the names of the built-in pipelines.
func completeBuiltins(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	bs, err := pipeline.Builtins(manifests.Pipelines, "pipelines")
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, b := range bs {
		names = append(names, b.Name)
	}
	return cmdutil.FilterCompletions(names, nil, toComplete), cobra.ShellCompDirectiveNoFileComp
}
