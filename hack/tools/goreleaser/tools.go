//go:build tools

// Package tools pins goreleaser, which builds and checks paddlex releases.
package tools

import _ "github.com/goreleaser/goreleaser/v2"
