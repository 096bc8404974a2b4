//go:build tools

// Package tools pins the OCI registry (CNCF distribution) the real-node tests
// push their images to and the node pulls them from.
package tools

import (
	_ "github.com/distribution/distribution/v3/cmd/registry"
)
