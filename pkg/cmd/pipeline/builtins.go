package pipeline

import (
	"context"
	"fmt"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/manifests"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

// BuiltinsOptions are the options of `pipeline builtins`.
type BuiltinsOptions struct {
	Output  string
	Streams cmdutil.IOStreams
	cmdutil.NoArgs
	cmdutil.Offline
}

// NewCmdBuiltins returns `pipeline builtins`.
func NewCmdBuiltins(f *cmdutil.Factory, runF func(*BuiltinsOptions) error) *cobra.Command {
	o := &BuiltinsOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "builtins",
		Short: "List the built-in pipelines",
		Long: `List the pipelines that ship with paddlex, the common workflows of each
suite, with the suite they train and what they do. Run one with
'paddlex pipeline run --builtin NAME' (--set STEP.KEY=VALUE changes a value
without a file), or write an editable copy with
'paddlex pipeline init --builtin NAME'.`,
		Example: `  paddlex pipeline builtins
  paddlex pipeline builtins -o name`,
		Args: cobra.NoArgs,
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "name: print the names alone")
	return cmd
}

// Validate checks -o.
func (o *BuiltinsOptions) Validate() error {
	if o.Output != "" && o.Output != "name" {
		return exit.UsageErrorf("--output must be name, not %q", o.Output)
	}
	return nil
}

// Run prints the table.
func (o *BuiltinsOptions) Run(context.Context) error {
	bs, err := pipeline.Builtins(manifests.Pipelines, "pipelines")
	if err != nil {
		return err
	}
	if o.Output == "name" {
		for _, b := range bs {
			fmt.Fprintln(o.Streams.Out, b.Name)
		}
		return nil
	}
	t := cmdutil.NewTable(o.Streams.Out, "NAME", "SUITE", "DESCRIPTION")
	for _, b := range bs {
		t.Row(b.Name, b.Suite, b.Description)
	}
	return t.Flush()
}
