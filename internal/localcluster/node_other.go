//go:build !linux

package localcluster

import (
	"errors"
)

// RealNodeName is the node the kubelet registers.
const RealNodeName = "paddlex-node"

var errLinuxOnly = errors.New("the real node runs on Linux only")

// Isolated reports whether this program runs inside the namespaces that
// Isolate made: never, off Linux.
func Isolated() bool { return false }

// Isolate needs Linux namespaces.
func Isolate() (int, error) { return 1, errLinuxOnly }

// Prepare needs Linux namespaces.
func Prepare() error { return errLinuxOnly }

func startNode(*Cluster, *simCluster) error { return errLinuxOnly }

// VolumeDir is BoundClaim's directory on the real node: none, off Linux.
func VolumeDir(ns, name string) string { return "" }
