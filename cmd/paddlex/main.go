// Command paddlex (and kubectl-paddlex, the same binary as a kubectl plugin)
// takes PaddlePaddle models from an empty Kubernetes cluster to a served model.
package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"

	"github.com/paddleflow/paddlex/pkg/cmd"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

func main() {
	// client-go logs retries and discovery failures through klog; paddlex
	// reports errors itself, once, with what to do.
	klog.SetLogger(logr.Discard())
	streams := cmdutil.SystemStreams()
	ctx, stop := interruptContext(context.Background(), streams.ErrOut, os.Exit)
	f := cmdutil.NewFactory(streams)
	plugin := strings.HasPrefix(filepath.Base(os.Args[0]), "kubectl-")
	code := cmd.Run(ctx, f, os.Args[1:], cmd.Options{Plugin: plugin})
	stop()
	os.Exit(code)
}
