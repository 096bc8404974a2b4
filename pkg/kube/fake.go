package kube

import (
	"context"
	"fmt"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Fake is an in-memory Interface for unit tests. Applied objects are stored
// as given; Wait checks the stored object, then each state queued in Changes
// in turn, and, when the condition is still not met, calls OnWait (a test
// playing a controller) or reports a timeout.
type Fake struct {
	mu      sync.Mutex
	objects map[ObjectRef]*unstructured.Unstructured
	// Calls records "apply Kind ns/name", "delete ...", "wait ..." in order.
	Calls []string
	// OnWait, when set, may change the object (through Set) before the
	// condition is checked again; it is called once per Wait.
	OnWait func(ref ObjectRef)
	// Changes queues, per object, the successive states a controller writes
	// while a Wait watches it (nil: the object is deleted). Wait stores and
	// checks them one by one, as a watch delivers them, and stops at the
	// first that ends the wait; the rest stay queued.
	Changes map[ObjectRef][]*unstructured.Unstructured
	// Err, when set, is returned by every call: a cluster that refuses all.
	Err error
	// EventList is returned by Events for every ref.
	EventList []corev1.Event

	generated int
	reporter  Reporter
}

var _ Interface = (*Fake)(nil)

// NewFake returns a Fake holding objs.
func NewFake(objs ...*unstructured.Unstructured) *Fake {
	f := &Fake{objects: map[ObjectRef]*unstructured.Unstructured{}}
	for _, o := range objs {
		f.objects[RefOf(o)] = o.DeepCopy()
	}
	return f
}

// Set stores obj, as a controller writing status would.
func (f *Fake) Set(obj *unstructured.Unstructured) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[RefOf(obj)] = obj.DeepCopy()
}

// Object returns the stored object, or nil.
func (f *Fake) Object(ref ObjectRef) *unstructured.Unstructured {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o, ok := f.objects[ref]; ok {
		return o.DeepCopy()
	}
	return nil
}

func (f *Fake) record(format string, a ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls = append(f.Calls, fmt.Sprintf(format, a...))
}

// Apply implements Interface.
func (f *Fake) Apply(_ context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) ([]*unstructured.Unstructured, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	out := make([]*unstructured.Unstructured, len(objs))
	for _, w := range Waves(objs) {
		for _, i := range w {
			ref := RefOf(objs[i])
			f.record("apply %s", ref)
			out[i] = objs[i].DeepCopy()
			if opts.DryRun == DryRunNone {
				f.mu.Lock()
				if old, ok := f.objects[ref]; ok {
					if st, found := old.Object["status"]; found {
						out[i].Object["status"] = st
					}
				}
				f.objects[ref] = out[i].DeepCopy()
				f.mu.Unlock()
			}
		}
	}
	return out, nil
}

// Create implements Interface. It fails as the API server does when the
// object exists, and names an object with a generateName by appending a
// counter ("ppocr-det-00001"), so that tests know the name.
func (f *Fake) Create(_ context.Context, obj *unstructured.Unstructured, opts CreateOptions) (*unstructured.Unstructured, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	out := obj.DeepCopy()
	f.mu.Lock()
	defer f.mu.Unlock()
	if out.GetName() == "" {
		f.generated++
		out.SetName(fmt.Sprintf("%s%05d", out.GetGenerateName(), f.generated))
	}
	ref := RefOf(out)
	f.Calls = append(f.Calls, fmt.Sprintf("create %s", ref))
	if _, ok := f.objects[ref]; ok {
		return nil, fmt.Errorf("create %s: %w", ref, apierrors.NewAlreadyExists(schema.GroupResource{Group: ref.GVK.Group, Resource: ref.GVK.Kind}, ref.Name))
	}
	if opts.DryRun == DryRunNone {
		f.objects[ref] = out.DeepCopy()
	}
	return out, nil
}

// WithReporter implements Interface. The Fake has one store, so it returns
// itself, now reporting the statuses of its waits to r.
func (f *Fake) WithReporter(r Reporter) Interface {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reporter = r
	return f
}

// Get implements Interface.
func (f *Fake) Get(_ context.Context, ref ObjectRef) (*unstructured.Unstructured, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	if o := f.Object(ref); o != nil {
		return o, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Group: ref.GVK.Group, Resource: ref.GVK.Kind}, ref.Name)
}

// List implements Interface.
func (f *Fake) List(_ context.Context, gvk schema.GroupVersionKind, opts ListOptions) ([]unstructured.Unstructured, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	sel, err := labels.Parse(opts.LabelSelector)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []unstructured.Unstructured
	for ref, o := range f.objects {
		if ref.GVK != gvk || (opts.Namespace != "" && ref.Namespace != opts.Namespace) {
			continue
		}
		if !sel.Matches(labels.Set(o.GetLabels())) {
			continue
		}
		out = append(out, *o.DeepCopy())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

// Delete implements Interface.
func (f *Fake) Delete(_ context.Context, refs []ObjectRef, opts DeleteOptions) error {
	if f.Err != nil {
		return f.Err
	}
	for i := len(refs) - 1; i >= 0; i-- {
		ref := refs[i]
		f.record("delete %s", ref)
		f.mu.Lock()
		_, ok := f.objects[ref]
		if ok && opts.DryRun == DryRunNone {
			delete(f.objects, ref)
		}
		f.mu.Unlock()
		if !ok && !opts.IgnoreNotFound {
			return fmt.Errorf("delete %s: not found", ref)
		}
	}
	return nil
}

// Wait implements Interface.
func (f *Fake) Wait(_ context.Context, ref ObjectRef, cond Condition) (*unstructured.Unstructured, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	f.record("wait %s", ref)
	f.mu.Lock()
	rep := f.reporter
	f.mu.Unlock()
	if rep == nil {
		rep = NopReporter{}
	}
	onWait := f.OnWait
	for {
		obj := f.Object(ref)
		done, status, err := cond.Check(obj)
		if status != "" {
			rep.Status(ref, status)
		}
		if err != nil || done {
			rep.Done(ref, status, err)
			return obj, err
		}
		if f.nextChange(ref) {
			continue
		}
		if onWait != nil {
			onWait(ref)
			onWait = nil
			continue
		}
		err = &TimeoutError{Ref: ref, Waiting: cond.String(), LastStatus: status}
		rep.Done(ref, status, err)
		return obj, err
	}
}

// nextChange stores the next queued state of ref, and says whether there
// was one.
func (f *Fake) nextChange(ref ObjectRef) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.Changes[ref]
	if len(q) == 0 {
		return false
	}
	f.Changes[ref] = q[1:]
	if q[0] == nil {
		delete(f.objects, ref)
	} else {
		f.objects[ref] = q[0].DeepCopy()
	}
	return true
}

// Events implements Interface.
func (f *Fake) Events(context.Context, ObjectRef) ([]corev1.Event, error) {
	return f.EventList, f.Err
}
