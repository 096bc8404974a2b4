package cmdutil

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/exit"
)

// recorder records the phases it went through.
type recorder struct {
	calls   []string
	timeout time.Duration
	failAt  string
	run     func(ctx context.Context) error
}

func (r *recorder) step(name string) error {
	r.calls = append(r.calls, name)
	if r.failAt == name {
		return exit.UsageErrorf("%s failed", name)
	}
	return nil
}

func (r *recorder) Complete(*Factory, *cobra.Command, []string) error { return r.step("complete") }
func (r *recorder) Validate() error                                   { return r.step("validate") }
func (r *recorder) Connect(*Factory) error                            { return r.step("connect") }
func (r *recorder) RunTimeout() time.Duration                         { return r.timeout }
func (r *recorder) Run(ctx context.Context) error {
	if err := r.step("run"); err != nil {
		return err
	}
	if r.run != nil {
		return r.run(ctx)
	}
	return nil
}

func TestPhasedRunEOrder(t *testing.T) {
	for _, tc := range []struct {
		failAt string
		want   string
	}{
		{"", "complete validate connect run"},
		{"complete", "complete"},
		{"validate", "complete validate"},
		{"connect", "complete validate connect"},
	} {
		r := &recorder{failAt: tc.failAt}
		err := PhasedRunE(nil, r, nil)(&cobra.Command{}, nil)
		if got := strings.Join(r.calls, " "); got != tc.want {
			t.Errorf("fail at %q: phases %q, want %q", tc.failAt, got, tc.want)
		}
		if (err != nil) != (tc.failAt != "") {
			t.Errorf("fail at %q: err %v", tc.failAt, err)
		}
	}
}

func TestPhasedRunERunFReplacesConnectAndRun(t *testing.T) {
	r := &recorder{}
	var got *recorder
	err := PhasedRunE(nil, r, func(o *recorder) error { got = o; return nil })(&cobra.Command{}, nil)
	if err != nil || got != r {
		t.Fatalf("runF not called with the options: %v", err)
	}
	if s := strings.Join(r.calls, " "); s != "complete validate" {
		t.Errorf("phases %q, want complete validate", s)
	}
}

func TestRunBoundedContext(t *testing.T) {
	// Without a command context Run still gets a live one, without a bound.
	r := &recorder{run: func(ctx context.Context) error {
		if ctx == nil {
			return errors.New("nil context")
		}
		if _, ok := ctx.Deadline(); ok {
			return errors.New("deadline without --timeout")
		}
		return nil
	}}
	if err := RunBounded(nil, r); err != nil { //nolint:staticcheck // a nil context is what cobra gives without ExecuteContext
		t.Fatal(err)
	}
	r = &recorder{timeout: time.Hour, run: func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline with --timeout")
		}
		return nil
	}}
	if err := RunBounded(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func TestRunBoundedTimeoutExits3(t *testing.T) {
	// Run waits for its context to end: the --timeout bound is what ends it,
	// so the plain error it returns becomes exit 3.
	r := &recorder{timeout: time.Nanosecond, run: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	err := RunBounded(context.Background(), r)
	if exit.Code(err) != exit.Timeout || !strings.Contains(err.Error(), "--timeout 1ns ran out") {
		t.Fatalf("err %v (exit %d), want exit 3 naming --timeout", err, exit.Code(err))
	}
	// An error with a code of its own keeps it.
	r.run = func(ctx context.Context) error {
		<-ctx.Done()
		return exit.FailedErrorf("job failed")
	}
	if err := RunBounded(context.Background(), r); exit.Code(err) != exit.Failed {
		t.Fatalf("err %v (exit %d), want exit 1", err, exit.Code(err))
	}
	// A cancelled parent (Ctrl-C) is not a timeout.
	parent, cancel := context.WithCancel(context.Background())
	cancel()
	r = &recorder{timeout: time.Hour, run: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	if err := RunBounded(parent, r); exit.Code(err) == exit.Timeout {
		t.Fatalf("cancelled parent gave exit 3: %v", err)
	}
}

func TestDeleteFlags(t *testing.T) {
	for _, tc := range []struct {
		d    DeleteFlags
		want string
	}{
		{DeleteFlags{DryRun: DryRunNone}, ""},
		{DeleteFlags{DryRun: DryRunServer, Timeout: time.Minute}, ""},
		{DeleteFlags{DryRun: DryRunClient}, `--dry-run of a delete must be none or server, not "client"`},
		{DeleteFlags{DryRun: "bogus"}, `--dry-run of a delete must be none or server, not "bogus"`},
		{DeleteFlags{DryRun: DryRunNone, Timeout: -time.Second}, "--timeout must not be negative"},
		{DeleteFlags{DryRun: DryRunNone, Timeout: 10000 * time.Hour}, "--timeout must be at most"},
	} {
		err := tc.d.Validate()
		if tc.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tc.d, err)
			}
			continue
		}
		if err == nil || exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want exit 2 with %q", tc.d, err, tc.want)
		}
	}
	d := DeleteFlags{DryRun: DryRunServer, Wait: true}
	if o := d.Options(true); o.Wait || !o.IgnoreNotFound || d.Note() != " (server dry run)" {
		t.Errorf("server dry run: options %+v, note %q", o, d.Note())
	}
}
