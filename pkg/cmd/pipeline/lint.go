package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

// LintOptions are the options of `pipeline lint`.
type LintOptions struct {
	Files     []string
	Namespace string
	Output    string
	cmdutil.Offline

	Streams cmdutil.IOStreams
}

// NewCmdLint returns `pipeline lint`.
func NewCmdLint(f *cmdutil.Factory, runF func(*LintOptions) error) *cobra.Command {
	o := &LintOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "lint FILE...",
		Short: "Check pipeline files without a cluster, for CI",
		Long: `Check pipeline files as ` + "`paddlex pipeline run`" + ` would before submitting them, without
contacting a cluster: each file is loaded, every step is validated as its own
command validates it, the pipeline is compiled to its Workflow, and Argo's own
validation (that of ` + "`argo lint`" + ` and the workflow controller) checks the Workflow.
A train step whose data set no earlier step provides is a warning: the
cluster may hold it already.

Every file is checked; the exit code is 2 when any has an error, naming the
files, and 0 otherwise (warnings do not fail). -o json prints the findings as
a JSON list, one entry per file, for CI annotations. FILE - reads stdin.`,
		Example: `  paddlex pipeline lint my-pipeline.yaml
  paddlex pipeline lint pipelines/*.yaml -o json
  paddlex pipeline init --builtin ppocr-det | paddlex pipeline lint -`,
		Args: cobra.MinimumNArgs(1),
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", `"json" prints the findings as JSON (default: one line per file and finding)`)
	return cmd
}

// Complete takes the files and the namespace a file without one gets.
func (o *LintOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Files, o.Namespace = args, f.Namespace()
	return nil
}

// Validate checks -o.
func (o *LintOptions) Validate() error {
	if o.Output != "" && o.Output != "json" {
		return exit.UsageErrorf("--output must be json, not %q", o.Output)
	}
	stdin := 0
	for _, f := range o.Files {
		if f == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return exit.UsageErrorf("FILE - (stdin) may be given once")
	}
	return nil
}

// Run lints every file and reports.
func (o *LintOptions) Run(context.Context) error {
	var results []pipeline.LintResult
	for _, file := range o.Files {
		var data []byte
		var err error
		if file == "-" {
			data, err = io.ReadAll(o.Streams.In)
		} else {
			data, err = os.ReadFile(file)
		}
		if err != nil {
			results = append(results, pipeline.LintResult{File: file, Findings: []pipeline.Finding{{File: file, Severity: pipeline.SeverityError, Message: err.Error()}}})
			continue
		}
		results = append(results, pipeline.Lint(data, file, o.Namespace))
	}
	if o.Output == "json" {
		b, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(o.Streams.Out, string(b))
	} else {
		for _, r := range results {
			for _, f := range r.Findings {
				fmt.Fprintf(o.Streams.Out, "%s: %s: %s\n", r.File, f.Severity, f.Message)
			}
			if r.Valid {
				fmt.Fprintf(o.Streams.Out, "%s: pipeline %s is valid\n", r.File, r.Pipeline)
			}
		}
	}
	return pipeline.LintError(results)
}
