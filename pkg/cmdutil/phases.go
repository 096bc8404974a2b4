package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
)

// Phased is an options type with kubectl's phases: Complete takes the
// arguments, the namespace and spec files; Validate checks the options
// without a cluster; Connect builds the clients Run needs (none for a client
// dry run); Run does the work, reading only the options.
type Phased interface {
	Complete(f *Factory, cmd *cobra.Command, args []string) error
	Validate() error
	Connect(f *Factory) error
	Run(ctx context.Context) error
}

// Bounded is an options type whose --timeout bounds its whole Run; zero
// means no bound.
type Bounded interface {
	RunTimeout() time.Duration
}

// PhasedRunE returns the cobra RunE of every leaf command: it runs o's
// phases in order. When runF is set it replaces Connect and Run, so tests
// check flag parsing and validation without a cluster.
//
// Run gets the command's context (the background when there is none),
// bounded by RunTimeout when o is Bounded. An error that carries no exit
// code of its own and comes after that bound ran out exits 3, naming the
// --timeout.
func PhasedRunE[O Phased](f *Factory, o O, runF func(O) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(f, cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		if runF != nil {
			return runF(o)
		}
		if err := o.Connect(f); err != nil {
			return err
		}
		return RunBounded(cmd.Context(), o)
	}
}

// RunBounded runs o.Run under ctx (the background when nil), bounded by o's
// --timeout when o is Bounded.
func RunBounded(ctx context.Context, o Phased) error {
	if ctx == nil {
		ctx = context.Background()
	}
	var timeout time.Duration
	if b, ok := o.(Bounded); ok {
		timeout = b.RunTimeout()
	}
	if timeout <= 0 {
		return o.Run(ctx)
	}
	bounded, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := o.Run(bounded)
	var coded exit.Coder
	if err != nil && !errors.As(err, &coded) && ctx.Err() == nil && errors.Is(bounded.Err(), context.DeadlineExceeded) {
		return exit.WithCode(exit.Timeout, fmt.Errorf("%w: --timeout %s ran out", err, timeout))
	}
	return err
}

// Engine is embedded by options whose Run needs the engine alone.
type Engine struct {
	Kube kube.Interface
}

// Connect takes the engine from the Factory.
func (e *Engine) Connect(f *Factory) error {
	k, err := f.Kube()
	e.Kube = k
	return err
}

// Offline is embedded by options whose Run talks to no cluster.
type Offline struct{}

// Connect builds nothing.
func (Offline) Connect(*Factory) error { return nil }

// NoArgs is embedded by options that take no arguments and no namespace.
type NoArgs struct{}

// Complete takes nothing.
func (NoArgs) Complete(*Factory, *cobra.Command, []string) error { return nil }
