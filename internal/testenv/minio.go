package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/minio/madmin-go/v3"

	"github.com/paddleflow/paddlex/internal/hermetic"
)

// MinIOServer is a real MinIO server on loopback.
type MinIOServer struct {
	// Endpoint is http://127.0.0.1:PORT.
	Endpoint string
	// RootUser and RootPassword are the server's root keys.
	RootUser     string
	RootPassword string
}

// MinIO starts a real MinIO server (built by `hack/testbin.sh minio`) on a
// free loopback port with new root keys, storing into a directory of the
// test's own, with its console, update checks and call-home off so it
// talks to nothing. It stops when the test ends. Without the binary the
// test skips, or fails under PADDLEX_REQUIRE_INTEGRATION.
func MinIO(t testing.TB) *MinIOServer {
	t.Helper()
	bin := os.Getenv("PADDLEX_TESTBIN")
	path := filepath.Join(bin, "minio")
	if _, err := os.Stat(path); bin == "" || err != nil {
		msg := "no MinIO server in PADDLEX_TESTBIN: run the tests with PADDLEX_TESTBIN=\"$(hack/testbin.sh all registry minio)\""
		if os.Getenv(hermetic.RequireEnv) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	addr, console := freePort(t), freePort(t)
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	s := &MinIOServer{Endpoint: "http://" + addr, RootUser: "paddlex-root", RootPassword: hex.EncodeToString(b)}
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, "server", "--quiet", "--address", addr, "--console-address", console,
		"--certs-dir", filepath.Join(dir, "certs"), filepath.Join(dir, "data"))
	// The root keys go through the environment, as MinIO's image takes them.
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+s.RootUser, "MINIO_ROOT_PASSWORD="+s.RootPassword,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CALLHOME_ENABLE=off")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start MinIO: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	adm, err := madmin.New(addr, s.RootUser, s.RootPassword, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Ready when the object layer and the users and policies answer: the
	// health endpoints say ready before the users do.
	var last error
	for {
		if last = ready(ctx, s.Endpoint); last == nil {
			if _, last = adm.ListUsers(ctx); last == nil {
				return s
			}
		}
		select {
		case <-ctx.Done():
			log, _ := os.ReadFile(filepath.Join(dir, "minio.log"))
			t.Fatalf("MinIO did not get ready on %s (%v); log:\n%s", addr, last, log)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ready asks MinIO whether its drives are ready for reads and writes.
func ready(ctx context.Context, endpoint string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/minio/health/cluster", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	return nil
}

// freePort returns a loopback address no one listens on now.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
