// Package manifests holds the YAML paddlex owns: namespaces, MinIO, Redis,
// the prerequisites the platform needs (StorageClass, RBAC), and kustomize
// patches over upstream release artifacts. One directory per catalog
// component under components/, each a kustomization.
package manifests

import "embed"

// FS is the components/ tree.
//
//go:embed components
var FS embed.FS
