// Package exit holds paddlex's exit codes and the errors that carry them. It
// is a leaf: domain packages return these errors without pulling in the
// command layer.
package exit

import (
	"errors"
	"fmt"
)

// Exit codes are part of the CLI's contract with scripts; keep them stable.
const (
	// OK means success.
	OK = 0
	// Failed means a workload failed (a job reached Failed) or an
	// unclassified error occurred.
	Failed = 1
	// Usage means bad usage or input; nothing was sent to the cluster.
	Usage = 2
	// Timeout means a wait ran out of time.
	Timeout = 3
	// Precondition means something the command needs is missing: the
	// cluster is unreachable, a CRD or controller is not installed, or RBAC
	// forbids the request.
	Precondition = 4
)

// Help documents the exit codes for --help and the README.
const Help = `Exit codes:
  0  success
  1  the workload failed (a job reached Failed), or another error
  2  bad usage or input; nothing was sent to the cluster
  3  a wait timed out
  4  a precondition is missing: cluster unreachable, CRD or controller not installed, RBAC forbids`

// Error carries an exit code with the error that caused it.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *Error) Unwrap() error { return e.Err }

// ExitCode returns e.Code.
func (e *Error) ExitCode() int { return e.Code }

// Coder is an error that knows its exit code. The engine's typed errors
// implement it, so Code classifies them without this package importing the
// engine.
type Coder interface {
	error
	ExitCode() int
}

// UsageErrorf returns an error that exits 2: bad flags, arguments or spec files.
func UsageErrorf(format string, a ...any) error {
	return &Error{Code: Usage, Err: fmt.Errorf(format, a...)}
}

// PreconditionErrorf returns an error that exits 4.
func PreconditionErrorf(format string, a ...any) error {
	return &Error{Code: Precondition, Err: fmt.Errorf(format, a...)}
}

// FailedErrorf returns an error that exits 1 because a workload failed.
func FailedErrorf(format string, a ...any) error {
	return &Error{Code: Failed, Err: fmt.Errorf(format, a...)}
}

// TimeoutErrorf returns an error that exits 3.
func TimeoutErrorf(format string, a ...any) error {
	return &Error{Code: Timeout, Err: fmt.Errorf(format, a...)}
}

// WithCode wraps err so that it exits with code, keeping its message.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Code returns the exit code for err: the code of the outermost Coder in
// its chain, or 1 for any other non-nil error.
func Code(err error) int {
	if err == nil {
		return OK
	}
	var c Coder
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return Failed
}
