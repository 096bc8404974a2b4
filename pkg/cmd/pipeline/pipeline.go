// Package pipeline implements `paddlex pipeline`: pipelines compiled to Argo
// Workflows, submitted, watched, retried and inspected.
package pipeline

import (
	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

// NewCmdPipeline returns the pipeline command group.
func NewCmdPipeline(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "pipeline",
		Aliases: []string{"pipelines", "pl"},
		Short:   "Run whole workflows, from data to a served model, on Argo",
		Long: `Run a pipeline: steps that cache a data set, train, push the model to the
model center and serve it, plus any container or object of your own, compiled
to one Argo Workflow.

A pipeline is a YAML file (apiVersion: paddlex.io/v1alpha1, kind: Pipeline)
whose steps use the same keys as the dataset, train, modelhub and serve
commands' spec files; ` + "`paddlex pipeline init`" + ` writes a commented one. The
suites' common workflows are built in, ready to run (` + "`paddlex pipeline builtins`" + `).`,
		Example: `  paddlex pipeline run --builtin ppocr-det --watch
  paddlex pipeline get ppocr-det
  paddlex pipeline watch ppocr-det
  paddlex pipeline logs ppocr-det train -f
  paddlex pipeline suspend ppocr-det
  paddlex pipeline lint my-pipeline.yaml
  paddlex pipeline retry ppocr-det
  paddlex pipeline init --builtin paddleclas-cls -o my-pipeline.yaml`,
	}
	cmd.AddCommand(
		NewCmdRun(f, nil),
		NewCmdGet(f, nil),
		NewCmdList(f, nil),
		NewCmdLogs(f, nil),
		NewCmdDelete(f, nil),
		NewCmdRetry(f, nil),
		NewCmdResubmit(f, nil),
		NewCmdWatch(f, false, nil),
		NewCmdWatch(f, true, nil),
		NewCmdControl(f, pipeline.ActionSuspend, nil),
		NewCmdControl(f, pipeline.ActionResume, nil),
		NewCmdControl(f, pipeline.ActionStop, nil),
		NewCmdControl(f, pipeline.ActionTerminate, nil),
		NewCmdLint(f, nil),
		NewCmdInit(f, nil),
		NewCmdBuiltins(f, nil),
	)
	return cmd
}
