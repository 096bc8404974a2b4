package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// exitInterrupted is the shell's code for a process ended by SIGINT (128+2).
const exitInterrupted = 130

// interruptContext returns a context cancelled by the first SIGINT or
// SIGTERM, so the command stops and cleans up (port-forwards, partial
// downloads); a second signal ends the process at once with exit code 130,
// for when that cleanup hangs. stop releases the signals.
func interruptContext(parent context.Context, errOut io.Writer, exit func(int)) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(errOut, "interrupted: stopping and cleaning up (interrupt again to exit at once)")
		cancel()
		select {
		case <-sigs:
			exit(exitInterrupted)
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}
