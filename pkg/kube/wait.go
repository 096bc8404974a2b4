package kube

import (
	"context"
	"errors"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// Wait implements Interface. It lists and then watches the one object (an
// informer, so dropped watches resume), checks cond on every change, and
// meanwhile watches the object's Warning events and reports them.
func (c *Client) Wait(ctx context.Context, ref ObjectRef, cond Condition) (*unstructured.Unstructured, error) {
	start := time.Now()
	ri, resource, err := c.resource(ctx, ref)
	if err != nil {
		if errors.As(err, new(*PreconditionError)) {
			if done, _, _ := cond.Check(nil); done {
				return nil, nil
			}
		}
		return nil, classify(err, "watch", ref, resource)
	}
	sel := fields.OneTermEqualSelector("metadata.name", ref.Name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return ri.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return ri.Watch(ctx, o)
		},
	}

	rep := c.reporter()
	var (
		last        *unstructured.Unstructured
		lastStatus  string
		lastWarning = make(chan string, 1)
	)
	evCtx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	if c.Clientset != nil {
		go c.watchWarnings(evCtx, ref, func(reason, msg string) {
			// Kept before it is reported: a wait that ends from then on
			// carries it.
			select {
			case <-lastWarning:
			default:
			}
			lastWarning <- reason + ": " + msg
			rep.Warning(ref, reason, msg)
		})
	}

	var condErr error
	check := func(obj *unstructured.Unstructured) (bool, error) {
		last = obj
		done, status, err := cond.Check(obj)
		if status != lastStatus {
			lastStatus = status
			rep.Status(ref, status)
		}
		condErr = err
		return done, err
	}
	precondition := func(store cache.Store) (bool, error) {
		if len(store.List()) == 0 {
			return check(nil)
		}
		return false, nil
	}
	_, err = watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, precondition, func(ev watch.Event) (bool, error) {
		switch ev.Type {
		case watch.Deleted:
			return check(nil)
		case watch.Added, watch.Modified:
			obj, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				return false, nil
			}
			return check(obj)
		case watch.Error:
			return false, apierrors.FromObject(ev.Object)
		}
		return false, nil
	})
	if err == nil {
		rep.Done(ref, lastStatus, nil)
		return last, nil
	}
	if condErr != nil && errors.Is(err, condErr) {
		// The condition's verdict (a *FailedError, or its own error).
		rep.Done(ref, lastStatus, err)
		return last, err
	}
	if ctx.Err() != nil || errors.Is(err, watchtools.ErrWatchClosed) || errors.Is(err, context.DeadlineExceeded) {
		te := &TimeoutError{Ref: ref, Waiting: cond.String(), LastStatus: lastStatus, After: time.Since(start)}
		select {
		case w := <-lastWarning:
			te.LastWarning = w
		default:
		}
		rep.Done(ref, lastStatus, te)
		return last, te
	}
	return last, classify(err, "watch", ref, resource)
}

// Backoff of the Warning-event watch between failed or empty watches.
const (
	warningsBackoffMin = 500 * time.Millisecond
	warningsBackoffMax = 30 * time.Second
)

// watchWarnings reports each Warning event of ref until ctx ends. A watch
// the server ends after delivering events resumes at once from the last
// resourceVersion. A watch that fails, or ends with an error such as 410
// Gone (the resourceVersion was compacted away), starts over without a
// resourceVersion, so the server lists the current events again, after a
// backoff that doubles up to warningsBackoffMax, as client-go's
// RetryWatcher does; the events already reported are not reported again.
func (c *Client) watchWarnings(ctx context.Context, ref ObjectRef, report func(reason, msg string)) {
	sel := fields.Set{"involvedObject.name": ref.Name, "type": corev1.EventTypeWarning}
	if ref.Namespace != "" {
		sel["involvedObject.namespace"] = ref.Namespace
	}
	opts := metav1.ListOptions{FieldSelector: sel.AsSelector().String()}
	seen := map[string]int32{}
	var delay time.Duration
	for ctx.Err() == nil {
		if delay > 0 && c.pause(ctx, delay) != nil {
			return
		}
		received, err := c.watchWarningsOnce(ctx, ref, &opts, seen, report)
		switch {
		case err != nil:
			opts.ResourceVersion = ""
			delay = min(max(2*delay, warningsBackoffMin), warningsBackoffMax)
		case received:
			delay = 0
		default:
			delay = min(max(2*delay, warningsBackoffMin), warningsBackoffMax)
		}
	}
}

// watchWarningsOnce runs one watch of ref's Warning events until the server
// ends it, advancing opts.ResourceVersion. It says whether any event
// arrived, and returns the error that ended the watch, if one did.
func (c *Client) watchWarningsOnce(ctx context.Context, ref ObjectRef, opts *metav1.ListOptions, seen map[string]int32, report func(reason, msg string)) (bool, error) {
	w, err := c.Clientset.CoreV1().Events(ref.Namespace).Watch(ctx, *opts)
	if err != nil {
		return false, err
	}
	defer w.Stop()
	received := false
	for ev := range w.ResultChan() {
		if ev.Type == watch.Error {
			return received, apierrors.FromObject(ev.Object)
		}
		e, ok := ev.Object.(*corev1.Event)
		if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
			continue
		}
		received = true
		opts.ResourceVersion = e.ResourceVersion
		if e.InvolvedObject.Kind != "" && e.InvolvedObject.Kind != ref.GVK.Kind {
			continue
		}
		if n, ok := seen[e.Name]; ok && n >= max(e.Count, 1) {
			continue
		}
		seen[e.Name] = max(e.Count, 1)
		report(e.Reason, e.Message)
	}
	return received, nil
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	default:
		return e.CreationTimestamp.Time
	}
}
