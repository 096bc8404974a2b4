package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// DefaultConcurrency bounds the requests one wave sends at once.
const DefaultConcurrency = 16

// Client is the Interface implementation that talks to a real API server.
type Client struct {
	Dynamic   dynamic.Interface
	Clientset kubernetes.Interface
	// Mapper resolves kinds to resources; a ResettableRESTMapper over
	// disk-cached discovery is reset once when a kind is not found, so CRDs
	// installed moments ago are seen.
	Mapper meta.RESTMapper
	// Reporter receives progress; nil discards it.
	Reporter Reporter
	// Concurrency bounds the requests one wave sends at once.
	Concurrency int

	resetOnce sync.Mutex
	// mappings caches resolved kinds: waves resolve the same few kinds for
	// many objects at once, and the discovery mapper serialises lookups.
	mappings sync.Map // schema.GroupVersionKind → *meta.RESTMapping
	// sleep, when set, replaces the timer of backoffs (see pause).
	sleep func(ctx context.Context, d time.Duration) error
}

var _ Interface = (*Client)(nil)

func (c *Client) reporter() Reporter {
	if c.Reporter == nil {
		return NopReporter{}
	}
	return c.Reporter
}

// mapping resolves ref's kind, refreshing discovery once if it is unknown,
// and waiting for the CustomResourceDefinition that defines it when that
// exists but is not served yet (applied moments ago without a wait).
func (c *Client) mapping(ctx context.Context, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	if m, ok := c.mappings.Load(gvk); ok {
		return m.(*meta.RESTMapping), nil
	}
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil {
		c.mappings.Store(gvk, m)
		return m, nil
	}
	if !meta.IsNoMatchError(err) {
		return nil, err
	}
	if r, ok := c.Mapper.(meta.ResettableRESTMapper); ok {
		// refresh rediscovers the kinds and looks gvk up again.
		refresh := func() (*meta.RESTMapping, bool) {
			c.resetOnce.Lock()
			r.Reset()
			c.resetOnce.Unlock()
			m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				return nil, false
			}
			c.mappings.Store(gvk, m)
			return m, true
		}
		if m, ok := refresh(); ok {
			return m, nil
		}
		if c.awaitCRD(ctx, gvk) {
			if m, ok := refresh(); ok {
				return m, nil
			}
		}
	}
	return nil, NoKindError(gvk)
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// definesKind reports the group and kind a CustomResourceDefinition defines.
func definesKind(crd *unstructured.Unstructured) schema.GroupKind {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	return schema.GroupKind{Group: group, Kind: kind}
}

// awaitCRD waits until the CustomResourceDefinition that defines gvk's
// kind is established, and reports whether there is one that now is.
// Those who may not list CRDs get false, as when there is none.
func (c *Client) awaitCRD(ctx context.Context, gvk schema.GroupVersionKind) bool {
	if gvk.Group == "" || c.Dynamic == nil {
		return false
	}
	list, err := c.Dynamic.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	for i := range list.Items {
		if definesKind(&list.Items[i]) == gvk.GroupKind() {
			_, err := c.Wait(ctx, RefOf(&list.Items[i]), CRDEstablished())
			return err == nil
		}
	}
	return false
}

// resource returns the dynamic client for ref and the resource's name for messages.
func (c *Client) resource(ctx context.Context, ref ObjectRef) (dynamic.ResourceInterface, string, error) {
	m, err := c.mapping(ctx, ref.GVK)
	if err != nil {
		return nil, "", err
	}
	name := m.Resource.Resource
	if m.Resource.Group != "" {
		name += "." + m.Resource.Group
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if ref.Namespace == "" {
			return nil, "", fmt.Errorf("%s: kind %s is namespaced but no namespace was given", ref, ref.GVK.Kind)
		}
		return c.Dynamic.Resource(m.Resource).Namespace(ref.Namespace), name, nil
	}
	return c.Dynamic.Resource(m.Resource), name, nil
}

// Apply implements Interface.
func (c *Client) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) ([]*unstructured.Unstructured, error) {
	if opts.FieldManager == "" {
		opts.FieldManager = FieldManager
	}
	out := make([]*unstructured.Unstructured, len(objs))
	used := map[schema.GroupKind]bool{}
	for _, o := range objs {
		used[o.GroupVersionKind().GroupKind()] = true
	}
	for _, wave := range Waves(objs) {
		if err := c.forEach(ctx, wave, func(i int) error {
			applied, err := c.applyOne(ctx, objs[i], opts)
			out[i] = applied
			return err
		}); err != nil {
			return out, err
		}
		// Kinds that the CRDs of this wave define must be served before a
		// later wave applies objects of them; a CRD no object here uses is
		// not waited for (a later call that uses it waits then).
		if opts.DryRun == DryRunNone {
			if err := c.forEach(ctx, wave, func(i int) error {
				if !IsCRD(objs[i]) || !used[definesKind(objs[i])] {
					return nil
				}
				_, err := c.Wait(ctx, RefOf(objs[i]), CRDEstablished())
				return err
			}); err != nil {
				return out, err
			}
		}
	}
	// A service account's token Secret is of use once the token controller
	// has written the token into it: a pod that mounts it before then finds
	// no token (Argo's executor then fails "no configuration has been
	// provided").
	if opts.DryRun == DryRunNone {
		all := make([]int, len(objs))
		for i := range all {
			all[i] = i
		}
		if err := c.forEach(ctx, all, func(i int) error {
			if !IsTokenSecret(objs[i]) {
				return nil
			}
			_, err := c.Wait(ctx, RefOf(objs[i]), TokenIssued())
			return err
		}); err != nil {
			return out, err
		}
	}
	return out, nil
}

// IsTokenSecret reports whether obj is a service account's token Secret.
func IsTokenSecret(obj *unstructured.Unstructured) bool {
	if obj.GetKind() != "Secret" || obj.GroupVersionKind().Group != "" {
		return false
	}
	t, _, _ := unstructured.NestedString(obj.Object, "type")
	return t == string(corev1.SecretTypeServiceAccountToken)
}

// TokenIssued waits for the token controller to write a token Secret's token.
func TokenIssued() Condition {
	return NewCondition("its token issued by the token controller", func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "not there yet", nil
		}
		if tok, _, _ := unstructured.NestedString(obj.Object, "data", "token"); tok != "" {
			return true, "token issued", nil
		}
		return false, "waiting for the token controller (kube-controller-manager) to write the token", nil
	})
}

// forEach runs fn for every index concurrently, at most Concurrency at a
// time, and returns the first error in index order.
func (c *Client) forEach(ctx context.Context, idx []int, fn func(i int) error) error {
	limit := c.Concurrency
	if limit <= 0 {
		limit = DefaultConcurrency
	}
	errs := make([]error, len(idx))
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for k, i := range idx {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[k] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[k] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Client) applyOne(ctx context.Context, obj *unstructured.Unstructured, opts ApplyOptions) (*unstructured.Unstructured, error) {
	ref := RefOf(obj)
	ri, resource, err := c.resource(ctx, ref)
	if err != nil {
		return nil, classify(err, "apply", ref, resource)
	}
	// metav1.ApplyOptions has no FieldValidation, so the apply is sent as
	// the server-side-apply patch it is, with strict field validation: an
	// unknown or duplicate field fails the request instead of being dropped
	// with a warning.
	body, err := obj.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("apply %s: encode: %w", ref, err)
	}
	po := metav1.PatchOptions{FieldManager: opts.FieldManager, Force: &opts.Force, FieldValidation: metav1.FieldValidationStrict}
	if opts.DryRun == DryRunServer {
		po.DryRun = []string{metav1.DryRunAll}
	}
	var applied *unstructured.Unstructured
	err = c.retry(ctx, writing, func() error {
		var err error
		applied, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, po)
		return err
	})
	if err != nil {
		return nil, classifyObject(err, "apply", ref, resource, obj.Object)
	}
	c.reporter().Applied(ref, opts.DryRun == DryRunServer)
	return applied, nil
}

// Create implements Interface. It asks for strict field validation, as
// applies do, and retries only a request the server cannot have seen: a
// second create of a generateName would make a second object.
func (c *Client) Create(ctx context.Context, obj *unstructured.Unstructured, opts CreateOptions) (*unstructured.Unstructured, error) {
	ref := RefOf(obj)
	if ref.Name == "" {
		ref.Name = obj.GetGenerateName() + "*"
	}
	ri, resource, err := c.resource(ctx, ref)
	if err != nil {
		return nil, classify(err, "create", ref, resource)
	}
	co := metav1.CreateOptions{FieldManager: opts.FieldManager, FieldValidation: metav1.FieldValidationStrict}
	if co.FieldManager == "" {
		co.FieldManager = FieldManager
	}
	if opts.DryRun == DryRunServer {
		co.DryRun = []string{metav1.DryRunAll}
	}
	var created *unstructured.Unstructured
	err = c.retry(ctx, creating, func() error {
		var err error
		created, err = ri.Create(ctx, obj, co)
		return err
	})
	if err != nil {
		return nil, classify(err, "create", ref, resource)
	}
	c.reporter().Applied(RefOf(created), opts.DryRun == DryRunServer)
	return created, nil
}

// WithReporter implements Interface. The copy shares the clients; add any
// new field of Client here.
func (c *Client) WithReporter(r Reporter) Interface {
	return &Client{Dynamic: c.Dynamic, Clientset: c.Clientset, Mapper: c.Mapper, Reporter: r, Concurrency: c.Concurrency, sleep: c.sleep}
}

// Get implements Interface.
func (c *Client) Get(ctx context.Context, ref ObjectRef) (*unstructured.Unstructured, error) {
	ri, resource, err := c.resource(ctx, ref)
	if err != nil {
		return nil, classify(err, "get", ref, resource)
	}
	var obj *unstructured.Unstructured
	err = c.retry(ctx, reading, func() error {
		var err error
		obj, err = ri.Get(ctx, ref.Name, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil, err
	}
	return obj, classify(err, "get", ref, resource)
}

// List implements Interface.
func (c *Client) List(ctx context.Context, gvk schema.GroupVersionKind, opts ListOptions) ([]unstructured.Unstructured, error) {
	ref := ObjectRef{GVK: gvk, Namespace: opts.Namespace}
	m, err := c.mapping(ctx, gvk)
	if err != nil {
		return nil, classify(err, "list", ref, "")
	}
	var ri dynamic.ResourceInterface = c.Dynamic.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace && opts.Namespace != "" {
		ri = c.Dynamic.Resource(m.Resource).Namespace(opts.Namespace)
	}
	var list *unstructured.UnstructuredList
	err = c.retry(ctx, reading, func() error {
		var err error
		list, err = ri.List(ctx, metav1.ListOptions{LabelSelector: opts.LabelSelector})
		return err
	})
	if err != nil {
		return nil, classify(err, "list", ref, m.Resource.GroupResource().String())
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool {
		if items[i].GetNamespace() != items[j].GetNamespace() {
			return items[i].GetNamespace() < items[j].GetNamespace()
		}
		return items[i].GetName() < items[j].GetName()
	})
	return items, nil
}

// Delete implements Interface.
func (c *Client) Delete(ctx context.Context, refs []ObjectRef, opts DeleteOptions) error {
	objs := make([]*unstructured.Unstructured, len(refs))
	for i, r := range refs {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(r.GVK)
		u.SetNamespace(r.Namespace)
		u.SetName(r.Name)
		objs[i] = u
	}
	waves := Waves(objs)
	for w := len(waves) - 1; w >= 0; w-- {
		if err := c.forEach(ctx, waves[w], func(i int) error {
			return c.deleteOne(ctx, refs[i], opts)
		}); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) deleteOne(ctx context.Context, ref ObjectRef, opts DeleteOptions) error {
	ri, resource, err := c.resource(ctx, ref)
	if err != nil {
		if opts.IgnoreNotFound && errors.As(err, new(*PreconditionError)) {
			// The kind itself is gone, so its objects are too.
			return nil
		}
		return classify(err, "delete", ref, resource)
	}
	policy := metav1.DeletePropagationForeground
	do := metav1.DeleteOptions{PropagationPolicy: &policy}
	if opts.DryRun == DryRunServer {
		do.DryRun = []string{metav1.DryRunAll}
	}
	err = c.retry(ctx, writing, func() error { return ri.Delete(ctx, ref.Name, do) })
	if apierrors.IsNotFound(err) {
		if opts.IgnoreNotFound {
			return nil
		}
		return fmt.Errorf("delete %s: not found", ref)
	}
	if err != nil {
		return classify(err, "delete", ref, resource)
	}
	c.reporter().Deleted(ref, opts.DryRun == DryRunServer)
	if opts.Wait && opts.DryRun == DryRunNone {
		_, err = c.Wait(ctx, ref, Gone())
	}
	return err
}

// Events implements Interface.
func (c *Client) Events(ctx context.Context, ref ObjectRef) ([]corev1.Event, error) {
	sel := fields.Set{"involvedObject.name": ref.Name, "involvedObject.kind": ref.GVK.Kind}
	if ref.Namespace != "" {
		sel["involvedObject.namespace"] = ref.Namespace
	}
	list, err := c.Clientset.CoreV1().Events(ref.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel.AsSelector().String()})
	if err != nil {
		return nil, classify(err, "list", ObjectRef{GVK: corev1.SchemeGroupVersion.WithKind("Event"), Namespace: ref.Namespace}, "events")
	}
	items := list.Items
	sort.SliceStable(items, func(i, j int) bool { return eventTime(items[i]).Before(eventTime(items[j])) })
	return items, nil
}
