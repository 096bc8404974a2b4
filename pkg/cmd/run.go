package cmd

import (
	"context"
	"fmt"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

// Run executes the command tree with args and returns the exit code, having
// printed any error to stderr. main and in-process tests share it.
func Run(ctx context.Context, f *cmdutil.Factory, args []string, o Options) int {
	root := NewRootCmd(f, o)
	root.SetArgs(args)
	root.SetIn(f.Streams.In)
	root.SetOut(f.Streams.Out)
	root.SetErr(f.Streams.ErrOut)
	err := root.ExecuteContext(ctx)
	f.Reporter().Close()
	if err == nil {
		return exit.OK
	}
	fmt.Fprintln(f.Streams.ErrOut, "error:", err)
	return exit.Code(err)
}
