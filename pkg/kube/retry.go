package kube

import (
	"context"
	"errors"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// request says what a retried call does, which decides what is safe and
// useful to send again.
type request int

const (
	// reading is a GET or LIST: client-go's REST client already retries
	// its broken connections.
	reading request = iota
	// writing is an apply or delete: sending it again leaves the same result.
	writing
	// creating is a create: if the server may have seen it, sending it
	// again could make a second object (generateName), so only refused
	// connections are retried.
	creating
)

// retriable reports the errors the engine retries for req.
//
// client-go's REST client already retries, up to 10 times, every 429 and
// every 5xx answer that carries a Retry-After header (the API server sends
// one with each throttled request and whenever it suggests a delay), and the
// reset connections of GETs. Retrying those here again would multiply the
// attempts, so the engine leaves them to client-go and retries only what it
// does not: server errors without a suggested delay (an etcd leader change),
// refused connections (an API server restarting), and reset connections of
// writes.
func retriable(err error, req request) bool {
	if err == nil || apierrors.IsTooManyRequests(err) {
		return false
	}
	if fieldProblems(err, nil) != nil {
		// Server-side apply reports unknown fields as a 500; no retry fixes them.
		return false
	}
	if d, ok := apierrors.SuggestsClientDelay(err); ok && d > 0 {
		return false
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	if req == creating {
		return false
	}
	if errors.Is(err, syscall.ECONNRESET) {
		return req == writing
	}
	return apierrors.IsServerTimeout(err) || apierrors.IsInternalError(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) ||
		apierrors.IsUnexpectedServerError(err)
}

// maxAttempts bounds retries (about 16s of backoff in all), so an
// unreachable cluster fails soon even under a long --timeout.
const maxAttempts = 8

// retry runs fn until it succeeds, fails with an error retriable does not
// accept, runs out of attempts, or ctx ends, backing off exponentially from
// 100ms up to 5s.
func (c *Client) retry(ctx context.Context, req request, fn func() error) error {
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if !retriable(err, req) || attempt == maxAttempts {
			return err
		}
		if c.pause(ctx, delay) != nil {
			return err
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// pause waits d or until ctx ends, and says which. Tests set Client.sleep to
// count backoffs without waiting them out.
func (c *Client) pause(ctx context.Context, d time.Duration) error {
	if c.sleep != nil {
		return c.sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
