package pipeline

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/manifests"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

// InitOptions are the options of `pipeline init`.
type InitOptions struct {
	Builtin string
	Suite   string
	Output  string
	Force   bool

	Streams cmdutil.IOStreams
	cmdutil.NoArgs
	cmdutil.Offline
}

// NewCmdInit returns `pipeline init`.
func NewCmdInit(f *cmdutil.Factory, runF func(*InitOptions) error) *cobra.Command {
	o := &InitOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "init --builtin NAME [-o FILE]",
		Short: "Write a built-in pipeline as an editable file",
		Long: `Write a built-in pipeline, from data set to model center or served model,
with its comments, as a file to edit and run with ` + "`paddlex pipeline run -f FILE`" + `.
--builtin names one (see ` + "`paddlex pipeline builtins`" + `). Without -o it prints
to stdout.`,
		Example: `  paddlex pipeline init --builtin ppocr-rec -o rec.yaml
  paddlex pipeline init --builtin paddleclas-shitu > shitu.yaml`,
		Args: cobra.NoArgs,
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().StringVar(&o.Builtin, "builtin", "", "the built-in pipeline to write (see 'paddlex pipeline builtins')")
	// --suite wrote a suite's one built-in; every suite now has several.
	cmd.Flags().StringVar(&o.Suite, "suite", "", "a suite with a single built-in pipeline")
	_ = cmd.Flags().MarkDeprecated("suite", "each suite has several built-in pipelines: name one with --builtin (see 'paddlex pipeline builtins')")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "file to write (default: stdout)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "overwrite the file if it exists")
	_ = cmd.RegisterFlagCompletionFunc("builtin", completeBuiltins)
	return cmd
}

// Validate checks that one of --builtin and --suite is given.
func (o *InitOptions) Validate() error {
	switch {
	case o.Builtin != "" && o.Suite != "":
		return exit.UsageErrorf("--builtin and --suite are exclusive: give one")
	case o.Builtin == "" && o.Suite == "":
		return exit.UsageErrorf("--builtin NAME is required (see `paddlex pipeline builtins`)")
	}
	return nil
}

// Run writes the built-in.
func (o *InitOptions) Run(context.Context) error {
	bs, err := pipeline.Builtins(manifests.Pipelines, "pipelines")
	if err != nil {
		return err
	}
	b, err := o.choose(bs)
	if err != nil {
		return err
	}
	data := append([]byte("# Written by `paddlex pipeline init --builtin "+b.Name+"`.\n"+
		"# Edit it, check it with `paddlex pipeline run -f FILE --dry-run=server`, then run it.\n"+
		"# Steps take the keys of the dataset, train, modelhub and serve spec files.\n"), b.Data...)
	if o.Output == "" || o.Output == "-" {
		_, err := o.Streams.Out.Write(data)
		return err
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if o.Force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	fh, err := os.OpenFile(o.Output, flags, 0o644)
	if os.IsExist(err) {
		return exit.UsageErrorf("-o %s exists: choose another file or pass --force", o.Output)
	}
	if err != nil {
		return exit.UsageErrorf("-o %s: %v", o.Output, err)
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	fmt.Fprintf(o.Streams.ErrOut, "wrote %s: run it with `paddlex pipeline run -f %s --watch`\n", o.Output, o.Output)
	return nil
}

// choose finds --builtin, or the one built-in of --suite.
func (o *InitOptions) choose(bs []pipeline.Builtin) (pipeline.Builtin, error) {
	if o.Builtin != "" {
		return pipeline.FindBuiltin(bs, o.Builtin)
	}
	var suites, names []string
	var found []pipeline.Builtin
	for _, b := range bs {
		suites = append(suites, strings.ToLower(b.Suite))
		if strings.EqualFold(b.Suite, o.Suite) {
			found = append(found, b)
			names = append(names, b.Name)
		}
	}
	switch len(found) {
	case 0:
		return pipeline.Builtin{}, exit.UsageErrorf("--suite %q: no built-in pipeline trains it (suites: %s)", o.Suite, strings.Join(dedupe(suites), ", "))
	case 1:
		return found[0], nil
	}
	return pipeline.Builtin{}, exit.UsageErrorf("--suite %s has %d built-in pipelines: choose one with --builtin (%s)", o.Suite, len(found), strings.Join(names, ", "))
}

// dedupe drops repeated names, keeping the first of each.
func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
