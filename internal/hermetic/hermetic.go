// Package hermetic keeps tests away from the developer's own environment: a
// command under test reads no one's config file, kubeconfig or caches, and a
// test that needs a tool this machine lacks fails under `make test` instead
// of passing by skipping.
package hermetic

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireEnv is set (by `make test`) when every test must run: integration
// tests fail instead of skipping, and so do tests that need a missing tool.
const RequireEnv = "PADDLEX_REQUIRE_INTEGRATION"

// Setup points HOME, XDG_CONFIG_HOME, XDG_CACHE_HOME and KUBECONFIG at a new
// temporary directory for the rest of the process, so the paddlex config
// file, the kubeconfig, the discovery cache and the download cache a command
// reads are the test's own. The Go tool's module cache, build cache and
// settings are pinned to where they were first, since they derive from HOME
// too. restore puts the environment back and removes the directory.
func Setup() (restore func(), err error) {
	dir, err := os.MkdirTemp("", "paddlex-home-")
	if err != nil {
		return nil, err
	}
	saved := map[string]*string{}
	set := func(k, v string) error {
		if _, ok := saved[k]; !ok {
			if old, had := os.LookupEnv(k); had {
				saved[k] = &old
			} else {
				saved[k] = nil
			}
		}
		return os.Setenv(k, v)
	}
	restore = func() {
		for k, v := range saved {
			if v == nil {
				_ = os.Unsetenv(k)
			} else {
				_ = os.Setenv(k, *v)
			}
		}
		_ = os.RemoveAll(dir)
	}
	pins, err := goLocations()
	if err != nil {
		restore()
		return nil, err
	}
	for k, v := range pins {
		if err := set(k, v); err != nil {
			restore()
			return nil, err
		}
	}
	for k, v := range map[string]string{
		"HOME":            filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME": filepath.Join(dir, "config"),
		"XDG_CACHE_HOME":  filepath.Join(dir, "cache"),
		// A path that does not exist: client-go treats it as an empty
		// kubeconfig, so only an explicit --kubeconfig reaches a cluster.
		"KUBECONFIG": filepath.Join(dir, "no-kubeconfig"),
	} {
		if err := set(k, v); err != nil {
			restore()
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "home"), 0o700); err != nil {
		restore()
		return nil, err
	}
	return restore, nil
}

// goLocations returns the Go tool's directories that default to places under
// HOME or the XDG directories, for those the environment does not set.
func goLocations() (map[string]string, error) {
	pins := map[string]string{}
	if os.Getenv("GOPATH") == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("pin GOPATH: %w", err)
		}
		pins["GOPATH"] = filepath.Join(home, "go")
	}
	if os.Getenv("GOCACHE") == "" {
		if cache, err := os.UserCacheDir(); err == nil {
			pins["GOCACHE"] = filepath.Join(cache, "go-build")
		}
	}
	if os.Getenv("GOENV") == "" {
		if cfg, err := os.UserConfigDir(); err == nil {
			pins["GOENV"] = filepath.Join(cfg, "go", "env")
		}
	}
	return pins, nil
}

// Main runs a package's tests inside Setup. Use it from TestMain in packages
// that run commands without a test environment (testenv.Main calls Setup
// itself):
//
//	func TestMain(m *testing.M) { os.Exit(hermetic.Main(m)) }
func Main(m *testing.M) int {
	// Parse the flags before making the directory: a bad flag exits the
	// process at once, and would leave it behind.
	flag.Parse()
	restore, err := Setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hermetic:", err)
		return 1
	}
	defer restore()
	return m.Run()
}

// LookPath returns the path of tool. Without it the test skips, or fails
// when RequireEnv is set: `make test` installs what its tests need.
func LookPath(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s is needed by this test and is not on PATH (%v); `make test-tools` installs it", tool, err)
	}
	t.Skipf("%s is not on PATH: skipping (with %s set this fails)", tool, RequireEnv)
	return ""
}
