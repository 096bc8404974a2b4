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
	ri, resource, err := c.resource(ref)
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
			rep.Warning(ref, reason, msg)
			select {
			case <-lastWarning:
			default:
			}
			lastWarning <- reason + ": " + msg
		})
	}

	check := func(obj *unstructured.Unstructured) (bool, error) {
		last = obj
		done, status, err := cond.Check(obj)
		if status != lastStatus {
			lastStatus = status
			rep.Status(ref, status)
		}
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
	var fe *FailedError
	if errors.As(err, &fe) {
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

// watchWarnings reports each Warning event of ref until ctx ends, resuming
// the watch where it left off when the server closes it.
func (c *Client) watchWarnings(ctx context.Context, ref ObjectRef, report func(reason, msg string)) {
	sel := fields.Set{"involvedObject.name": ref.Name, "type": corev1.EventTypeWarning}
	if ref.Namespace != "" {
		sel["involvedObject.namespace"] = ref.Namespace
	}
	opts := metav1.ListOptions{FieldSelector: sel.AsSelector().String()}
	seen := map[string]int32{}
	for ctx.Err() == nil {
		w, err := c.Clientset.CoreV1().Events(ref.Namespace).Watch(ctx, opts)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for ev := range w.ResultChan() {
			e, ok := ev.Object.(*corev1.Event)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				continue
			}
			if e.InvolvedObject.Kind != "" && e.InvolvedObject.Kind != ref.GVK.Kind {
				continue
			}
			opts.ResourceVersion = e.ResourceVersion
			if seen[e.Name] >= e.Count && e.Count > 0 {
				continue
			}
			seen[e.Name] = max(e.Count, 1)
			report(e.Reason, e.Message)
		}
		w.Stop()
	}
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
