//go:build tools

// Package tools pins Argo Workflows, built for the real node as its release
// builds it: the workflow controller, the executor (argoexec) that every
// step's pod runs, and the argo CLI whose `argo server` is the pipeline UI.
// hack/tools/argo/build.sh builds them, argoexec and the CLI from a copy of
// the module with the files the module archive lacks.
package tools

import (
	_ "github.com/argoproj/argo-workflows/v3/cmd/argo"
	_ "github.com/argoproj/argo-workflows/v3/cmd/argoexec"
	_ "github.com/argoproj/argo-workflows/v3/cmd/workflow-controller"
)
