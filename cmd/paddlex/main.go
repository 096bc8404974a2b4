// Command paddlex (and kubectl-paddlex, the same binary as a kubectl plugin)
// takes PaddlePaddle models from an empty Kubernetes cluster to a served model.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/paddleflow/paddlex/pkg/cmd"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

func main() {
	streams := cmdutil.SystemStreams()
	f := cmdutil.NewFactory(streams)
	plugin := strings.HasPrefix(filepath.Base(os.Args[0]), "kubectl-")
	root := cmd.NewRootCmd(f, cmd.Options{Plugin: plugin})
	err := root.Execute()
	f.Reporter().Close()
	if err != nil {
		code := cmdutil.ExitCode(err)
		if code == cmdutil.ExitFailed && strings.HasPrefix(err.Error(), "unknown command") {
			code = cmdutil.ExitUsage
		}
		fmt.Fprintln(streams.ErrOut, "error:", err)
		os.Exit(code)
	}
}
