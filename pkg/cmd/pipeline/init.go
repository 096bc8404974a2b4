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
	Suite  string
	Output string
	Force  bool

	Streams cmdutil.IOStreams
}

// NewCmdInit returns `pipeline init`.
func NewCmdInit(f *cmdutil.Factory, runF func(*InitOptions) error) *cobra.Command {
	o := &InitOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "init --suite paddleocr|paddleclas|paddlenlp|paddlerec [-o FILE]",
		Short: "Write a commented starter pipeline for a suite",
		Long: `Write a commented starter pipeline for a suite: its built-in pipeline, from
data set to served model, to edit and run with ` + "`paddlex pipeline run -f FILE`" + `.
Without -o it prints to stdout.`,
		Example: `  paddlex pipeline init --suite paddleocr -o ocr.yaml
  paddlex pipeline init --suite paddlerec > rec.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Suite == "" {
				return exit.UsageErrorf("--suite is required: paddleocr, paddleclas, paddlenlp or paddlerec")
			}
			if runF != nil {
				return runF(o)
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.Suite, "suite", "", "paddleocr, paddleclas, paddlenlp or paddlerec")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "file to write (default: stdout)")
	cmd.Flags().BoolVar(&o.Force, "force", false, "overwrite the file if it exists")
	_ = cmd.RegisterFlagCompletionFunc("suite", completeSuites)
	return cmd
}

// Run writes the starter.
func (o *InitOptions) Run(context.Context) error {
	bs, err := pipeline.Builtins(manifests.Pipelines, "pipelines")
	if err != nil {
		return err
	}
	var suites []string
	for _, b := range bs {
		suites = append(suites, strings.ToLower(b.Suite))
		if !strings.EqualFold(b.Suite, o.Suite) {
			continue
		}
		data := append([]byte("# Starter pipeline written by `paddlex pipeline init --suite "+strings.ToLower(b.Suite)+"`.\n"+
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
	return exit.UsageErrorf("--suite %q: use one of %s", o.Suite, strings.Join(suites, ", "))
}
