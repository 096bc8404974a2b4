package testenv

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TB is what the Env helpers need of a test: a *testing.T, or the T a
// Background goroutine is given.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// Background runs fn beside the test's own goroutine, typically playing a
// controller while a command under test waits. testing forbids t.Fatal
// from any goroutine but the test's, so fn gets its own T: Fatal or Fatalf
// records the failure and ends fn's goroutine only, and Wait (called at the
// latest when the test ends) reports what failed from the test's goroutine.
func Background(t testing.TB, fn func(t *T)) *T {
	t.Helper()
	bg := &T{t: t, done: make(chan struct{})}
	go func() {
		defer close(bg.done)
		fn(bg)
	}()
	t.Cleanup(bg.Wait)
	return bg
}

// T is a Background goroutine's test handle.
type T struct {
	t    testing.TB
	done chan struct{}

	mu       sync.Mutex
	failures []string
	reported bool
}

// Helper does nothing: the failures are reported by Wait.
func (bg *T) Helper() {}

// Errorf records a failure; fn goes on.
func (bg *T) Errorf(format string, args ...any) {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	bg.failures = append(bg.failures, fmt.Sprintf(format, args...))
}

// Fatalf records a failure and ends fn's goroutine.
func (bg *T) Fatalf(format string, args ...any) {
	bg.Errorf(format, args...)
	runtime.Goexit()
}

// Fatal is Fatalf with Sprint's formatting.
func (bg *T) Fatal(args ...any) { bg.Fatalf("%s", fmt.Sprint(args...)) }

// Done is closed when fn has returned.
func (bg *T) Done() <-chan struct{} { return bg.done }

// Wait blocks until fn has returned and fails the test with what fn
// recorded. Call it from the test's goroutine; the second call returns at
// once.
func (bg *T) Wait() {
	<-bg.done
	bg.mu.Lock()
	defer bg.mu.Unlock()
	if bg.reported {
		return
	}
	bg.reported = true
	for _, f := range bg.failures {
		bg.t.Errorf("background: %s", f)
	}
}

// Failed reports whether fn recorded a failure (after Done).
func (bg *T) Failed() bool {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	return len(bg.failures) > 0
}

// Output is a writer a test reads while a command writes to it, to act
// only once the command has printed a line (typically with RunWith
// teeing the command's stdout or stderr into it).
type Output struct {
	mu      sync.Mutex
	buf     []byte
	changed chan struct{}
}

// NewOutput returns an empty Output.
func NewOutput() *Output { return &Output{changed: make(chan struct{})} }

// Write appends p and wakes Await.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf = append(o.buf, p...)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(p), nil
}

// String returns what was written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.buf)
}

// Await reports whether s was written before ctx or stop ended.
func (o *Output) Await(ctx context.Context, stop <-chan struct{}, s string) bool {
	for {
		o.mu.Lock()
		found, changed := strings.Contains(string(o.buf), s), o.changed
		o.mu.Unlock()
		if found {
			return true
		}
		select {
		case <-changed:
		case <-stop:
			return strings.Contains(o.String(), s)
		case <-ctx.Done():
			return false
		}
	}
}
