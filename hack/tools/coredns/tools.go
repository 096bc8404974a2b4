//go:build tools

// Package tools pins CoreDNS, the cluster DNS of the real node.
package tools

import (
	_ "github.com/coredns/coredns"
)
