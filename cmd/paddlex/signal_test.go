package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// signalChild is set in the environment of the test binary run as a child:
// it installs the handler, reports its progress on stdout, and then never
// finishes its cleanup, as a hung port-forward or API call would.
const signalChild = "PADDLEX_TEST_SIGNAL_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(signalChild) == "1" {
		ctx, stop := interruptContext(context.Background(), os.Stderr, os.Exit)
		defer stop()
		fmt.Println("ready")
		<-ctx.Done()
		fmt.Println("cancelled")
		select {} // cleanup that never ends
	}
	os.Exit(m.Run())
}

// TestSecondInterruptExitsAtOnce sends real SIGINTs to a child process: the
// first cancels the context and leaves the process running its cleanup; the
// second ends it with exit code 130.
func TestSecondInterruptExitsAtOnce(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), signalChild+"=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	finished := make(chan struct{})
	lines := make(chan string, 2)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		exited <- cmd.Wait()
		close(finished)
	}()
	t.Cleanup(func() {
		select {
		case <-finished:
		default:
			_ = cmd.Process.Kill()
			<-finished
		}
	})
	expect := func(want string) {
		t.Helper()
		select {
		case l := <-lines:
			if l != want {
				t.Fatalf("child printed %q, want %q (stderr: %s)", l, want, stderr.String())
			}
		case err := <-exited:
			t.Fatalf("child exited before %q: %v (stderr: %s)", want, err, stderr.String())
		case <-time.After(30 * time.Second):
			t.Fatalf("child did not print %q", want)
		}
	}
	expect("ready")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	expect("cancelled")
	// Still running its cleanup: the first interrupt does not end it.
	select {
	case err := <-exited:
		t.Fatalf("child exited on the first interrupt: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
			t.Errorf("exit: %v, want code %d", err, exitInterrupted)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("child still running after the second interrupt")
	}
	if !strings.Contains(stderr.String(), "interrupt again to exit at once") {
		t.Errorf("stderr: %q", stderr.String())
	}
}
