//go:build tools

// Package tools pins the Kubeflow training-operator used by the end-to-end training tests.
package tools

import _ "github.com/kubeflow/training-operator/cmd/training-operator.v1"
