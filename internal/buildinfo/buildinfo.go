// Package buildinfo holds the version stamped into the binary at link time:
//
//	-ldflags "-X github.com/paddleflow/paddlex/internal/buildinfo.Version=v0.1.0 ..."
package buildinfo

import "runtime"

// Stamped by the linker; the defaults describe a development build.
var (
	Version = "v0.0.0-dev"
	Commit  = "unknown"
	Date    = "unknown"
)

// Info is the version record printed by `paddlex version`.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build's Info.
func Get() Info {
	return Info{Version: Version, Commit: Commit, Date: Date, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
}
