//go:build tools

// Package tools pins the MinIO client, mc, which the model center's upload
// Job runs. MinIO tags releases RELEASE.<date>, which the module proxy
// does not serve as versions: the module is pinned by pseudo-version.
package tools

import (
	_ "github.com/minio/mc"
)
