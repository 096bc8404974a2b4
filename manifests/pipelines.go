package manifests

import "embed"

// Pipelines holds the built-in pipelines, one file per pipeline under
// pipelines/, named NAME.yaml.
//
//go:embed pipelines/*.yaml
var Pipelines embed.FS
