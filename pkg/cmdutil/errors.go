// Package cmdutil holds what every paddlex command shares: the Factory of
// lazily built clients, the common flag sets, and the typed errors that map
// onto the documented exit codes.
package cmdutil

import (
	"errors"
	"fmt"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// Exit codes are part of the CLI's contract with scripts; keep them stable.
const (
	// ExitOK means success.
	ExitOK = 0
	// ExitFailed means a workload failed (a job reached Failed) or an
	// unclassified error occurred.
	ExitFailed = 1
	// ExitUsage means bad usage or input; nothing was sent to the cluster.
	ExitUsage = 2
	// ExitTimeout means a wait ran out of time.
	ExitTimeout = 3
	// ExitPrecondition means something the command needs is missing: the
	// cluster is unreachable, a CRD or controller is not installed, or RBAC
	// forbids the request.
	ExitPrecondition = 4
)

// ExitCodesHelp documents the exit codes for --help and the README.
const ExitCodesHelp = `Exit codes:
  0  success
  1  the workload failed (a job reached Failed), or another error
  2  bad usage or input; nothing was sent to the cluster
  3  a wait timed out
  4  a precondition is missing: cluster unreachable, CRD or controller not installed, RBAC forbids`

// ExitError carries an exit code with the error that caused it.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *ExitError) Unwrap() error { return e.Err }

// UsageErrorf returns an error that exits 2: bad flags, arguments or spec files.
func UsageErrorf(format string, a ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, a...)}
}

// PreconditionErrorf returns an error that exits 4.
func PreconditionErrorf(format string, a ...any) error {
	return &ExitError{Code: ExitPrecondition, Err: fmt.Errorf(format, a...)}
}

// FailedErrorf returns an error that exits 1 because a workload failed.
func FailedErrorf(format string, a ...any) error {
	return &ExitError{Code: ExitFailed, Err: fmt.Errorf(format, a...)}
}

// TimeoutErrorf returns an error that exits 3.
func TimeoutErrorf(format string, a ...any) error {
	return &ExitError{Code: ExitTimeout, Err: fmt.Errorf(format, a...)}
}

// WithCode wraps err so that it exits with code, keeping its message.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: code, Err: err}
}

// ExitCode returns the exit code for err: the code of the outermost
// ExitError in its chain, or 1 for any other non-nil error.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	// The engine's typed errors.
	if errors.As(err, new(*kube.TimeoutError)) {
		return ExitTimeout
	}
	if errors.As(err, new(*kube.PreconditionError)) {
		return ExitPrecondition
	}
	return ExitFailed
}
