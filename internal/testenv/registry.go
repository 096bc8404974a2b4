package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/paddleflow/paddlex/internal/hermetic"
)

// Registry starts a real OCI registry (CNCF distribution, built by
// `hack/testbin.sh registry`) on a free loopback port, storing into a
// directory of the test's own, and returns its host:port. It stops when the
// test ends. Without the binary the test skips, or fails under
// PADDLEX_REQUIRE_INTEGRATION.
func Registry(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("PADDLEX_TESTBIN")
	path := filepath.Join(bin, "registry")
	if _, err := os.Stat(path); bin == "" || err != nil {
		msg := "no OCI registry in PADDLEX_TESTBIN: run the tests with PADDLEX_TESTBIN=\"$(hack/testbin.sh all registry)\""
		if os.Getenv(hermetic.RequireEnv) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// A free port: listen, note it, close; distribution then binds it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "serve", cfg)
	// The registry exports traces by default; there is no collector.
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the registry: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v2/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		select {
		case <-ctx.Done():
			log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("the registry did not answer on %s; log:\n%s", addr, log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
