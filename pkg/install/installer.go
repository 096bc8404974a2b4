package install

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// Installer applies rendered components in order through the engine and
// waits for each to be ready before the next.
type Installer struct {
	Kube     kube.Interface
	Progress *Progress
	Apply    kube.ApplyOptions
	// Wait waits for each component's workloads before the next; without
	// it only CRDs are waited for (the engine does that).
	Wait bool
}

// Result is what installing one component did.
type Result struct {
	Component                      *Component
	Objects                        int
	Created, Configured, Unchanged int
	Workloads                      int
	Elapsed                        time.Duration
	Err                            error
}

// Changed reports whether the component's objects changed.
func (r Result) Changed() bool { return r.Created > 0 || r.Configured > 0 }

// NotReadyError reports a component whose workloads did not become ready,
// and why, from their pods.
type NotReadyError struct {
	Component string
	Problems  []string
	Err       error
}

func (e *NotReadyError) Error() string {
	msg := fmt.Sprintf("component %s is not ready: %v", e.Component, e.Err)
	for _, p := range e.Problems {
		msg += "\n  " + p
	}
	return msg
}

// Unwrap returns the wait's error (a *kube.TimeoutError on timeouts).
func (e *NotReadyError) Unwrap() error { return e.Err }

// Install applies rs in order. It stops at the first component that fails;
// the results so far are returned with the error.
func (in *Installer) Install(ctx context.Context, rs []Rendered) ([]Result, error) {
	var results []Result
	for _, r := range rs {
		res := in.installOne(ctx, r)
		results = append(results, res)
		if res.Err != nil {
			return results, res.Err
		}
	}
	return results, nil
}

func (in *Installer) progress() *Progress {
	if in.Progress == nil {
		in.Progress = NewProgress(discard{}, false)
	}
	return in.Progress
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

func (in *Installer) installOne(ctx context.Context, r Rendered) Result {
	start := time.Now()
	c := r.Component
	p := in.progress()
	res := Result{Component: c, Objects: len(r.Objects)}
	p.Start(c.Name, fmt.Sprintf("applying %d objects (%s)", len(r.Objects), c.Version))
	fail := func(err error) Result {
		res.Err, res.Elapsed = err, time.Since(start)
		p.Done(c.Name, "", err)
		return res
	}
	before := in.versions(ctx, c.Name, r.Objects)
	applied, err := in.Kube.Apply(ctx, r.Objects, in.Apply)
	for attempt := 0; err != nil && webhookNotReady(err) && attempt < 5; attempt++ {
		// Objects of this component hit its own webhook: wait until the
		// webhook's Deployment serves, then apply again.
		p.Update(c.Name, "waiting for the component's webhook to serve")
		if werr := in.waitWorkloads(ctx, c, r.Objects, "Deployment"); werr != nil {
			return fail(werr)
		}
		select {
		case <-ctx.Done():
			return fail(err)
		case <-time.After(time.Duration(attempt+1) * 500 * time.Millisecond):
		}
		applied, err = in.Kube.Apply(ctx, r.Objects, in.Apply)
	}
	if err != nil {
		return fail(fmt.Errorf("component %s: %w", c.Name, err))
	}
	for i, o := range applied {
		if o == nil {
			continue
		}
		rv, ok := before[kube.RefOf(r.Objects[i])]
		switch {
		case !ok:
			res.Created++
		case rv == o.GetResourceVersion() || in.Apply.DryRun == kube.DryRunServer && rv != "":
			res.Unchanged++
		default:
			res.Configured++
		}
	}
	if in.Wait && in.Apply.DryRun == kube.DryRunNone {
		targets := workloadRefs(c, r.Objects, "")
		res.Workloads = len(targets)
		if len(targets) > 0 {
			p.Update(c.Name, fmt.Sprintf("waiting for %d workloads", len(targets)))
		}
		if err := in.waitWorkloads(ctx, c, r.Objects, ""); err != nil {
			return fail(err)
		}
	}
	res.Elapsed = time.Since(start)
	p.Done(c.Name, res.Summary(), nil)
	return res
}

// Summary is "3 created, 1 configured, 40 unchanged".
func (r Result) Summary() string {
	var parts []string
	for _, x := range []struct {
		n    int
		verb string
	}{{r.Created, "created"}, {r.Configured, "configured"}, {r.Unchanged, "unchanged"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", x.n, x.verb))
		}
	}
	if len(parts) == 0 {
		return "no objects"
	}
	return strings.Join(parts, ", ")
}

// webhookNotReady recognizes an admission webhook whose server is not up yet.
func webhookNotReady(err error) bool {
	s := err.Error()
	return strings.Contains(s, "failed calling webhook") || strings.Contains(s, "no endpoints available for service")
}

// versions reads the resourceVersion of the component's objects already in
// the cluster, one list per kind, to tell created, configured and
// unchanged apart afterwards.
func (in *Installer) versions(ctx context.Context, comp string, objs []*unstructured.Unstructured) map[kube.ObjectRef]string {
	out := map[kube.ObjectRef]string{}
	kinds := map[schema.GroupVersionKind]bool{}
	for _, o := range objs {
		kinds[o.GroupVersionKind()] = true
	}
	sel := labels.Set{LabelComponent: comp}.String()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for gvk := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			items, err := in.Kube.List(ctx, gvk, kube.ListOptions{LabelSelector: sel})
			if err != nil {
				return // a kind this component's CRDs are about to define
			}
			mu.Lock()
			defer mu.Unlock()
			for i := range items {
				out[kube.RefOf(&items[i])] = items[i].GetResourceVersion()
			}
		}()
	}
	wg.Wait()
	return out
}

var workloadKinds = map[string]bool{"Deployment": true, "StatefulSet": true, "DaemonSet": true, "Job": true}

// workloadRefs are the workloads that must be ready: those rendered and
// those the catalog names. kind narrows them to one kind.
func workloadRefs(c *Component, objs []*unstructured.Unstructured, kind string) []kube.ObjectRef {
	seen := map[kube.ObjectRef]bool{}
	var out []kube.ObjectRef
	add := func(ref kube.ObjectRef) {
		if (kind == "" || ref.GVK.Kind == kind) && !seen[ref] {
			seen[ref] = true
			out = append(out, ref)
		}
	}
	for _, o := range objs {
		if workloadKinds[o.GetKind()] && (o.GroupVersionKind().Group == "apps" || o.GroupVersionKind().Group == "batch") {
			add(kube.RefOf(o))
		}
	}
	for _, ref := range c.Ready.refs() {
		add(ref)
	}
	return out
}

var (
	deploymentGVK  = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	statefulSetGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}
	daemonSetGVK   = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}
	jobGVK         = schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}
	crdGVK         = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}
	podGVK         = corev1.SchemeGroupVersion.WithKind("Pod")
	pvcGVK         = corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim")
	secretGVK      = corev1.SchemeGroupVersion.WithKind("Secret")
	namespaceGVK   = corev1.SchemeGroupVersion.WithKind("Namespace")
	storageGVK     = schema.GroupVersionKind{Group: "storage.k8s.io", Version: "v1", Kind: "StorageClass"}
)

func (r Readiness) refs() []kube.ObjectRef {
	var out []kube.ObjectRef
	for _, x := range []struct {
		gvk   schema.GroupVersionKind
		names []string
	}{{deploymentGVK, r.Deployments}, {statefulSetGVK, r.StatefulSets}, {daemonSetGVK, r.DaemonSets}, {jobGVK, r.Jobs}} {
		for _, n := range x.names {
			ns, name, _ := strings.Cut(n, "/")
			out = append(out, kube.ObjectRef{GVK: x.gvk, Namespace: ns, Name: name})
		}
	}
	for _, n := range r.CRDs {
		out = append(out, kube.ObjectRef{GVK: crdGVK, Name: n})
	}
	return out
}

// waitWorkloads waits, concurrently, for the component's workloads (and
// CRDs it names); on failure it explains from the pods why.
func (in *Installer) waitWorkloads(ctx context.Context, c *Component, objs []*unstructured.Unstructured, kind string) error {
	targets := workloadRefs(c, objs, kind)
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, ref := range targets {
		cond, ok := kube.ReadyFor(ref.GVK.Kind)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = in.Kube.Wait(ctx, ref, cond)
		}()
	}
	wg.Wait()
	var first error
	var problems []string
	for i, err := range errs {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		why := Diagnose(context.WithoutCancel(ctx), in.Kube, targets[i])
		if len(why) == 0 {
			why = []string{fmt.Sprintf("%s: %v", targets[i], err)}
		} else {
			for j := range why {
				why[j] = targets[i].String() + ": " + why[j]
			}
		}
		problems = append(problems, why...)
	}
	if first == nil {
		return nil
	}
	return &NotReadyError{Component: c.Name, Problems: problems, Err: first}
}

// Diagnose explains why a workload is not ready from its pods: a Pending
// pod's scheduling reason (condition or event), a container waiting on an
// image or crashing. Errors reading the cluster yield no explanation.
func Diagnose(ctx context.Context, k kube.Interface, ref kube.ObjectRef) []string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	obj, err := k.Get(ctx, ref)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return []string{"does not exist"}
		}
		return nil
	}
	if ref.GVK.Kind == "CustomResourceDefinition" {
		return nil
	}
	sel, found, _ := unstructured.NestedStringMap(obj.Object, "spec", "selector", "matchLabels")
	if !found || len(sel) == 0 {
		return nil
	}
	pods, err := k.List(ctx, podGVK, kube.ListOptions{Namespace: ref.Namespace, LabelSelector: labels.Set(sel).String()})
	if err != nil {
		return nil
	}
	if len(pods) == 0 {
		var out []string
		if evs, err := k.Events(ctx, ref); err == nil {
			for _, e := range evs {
				if e.Type == corev1.EventTypeWarning {
					out = append(out, fmt.Sprintf("no pods: %s: %s", e.Reason, e.Message))
				}
			}
		}
		if len(out) == 0 {
			out = []string{"no pods created yet"}
		}
		return out[len(out)-1:]
	}
	var out []string
	for i := range pods {
		if why := podProblem(ctx, k, &pods[i]); why != "" {
			out = append(out, why)
		}
	}
	sort.Strings(out)
	return out
}

func podProblem(ctx context.Context, k kube.Interface, pod *unstructured.Unstructured) string {
	name := "pod " + pod.GetName()
	phase := kube.Phase(pod)
	if phase == "Pending" {
		if c, ok := kube.FindCondition(pod, "PodScheduled"); ok && c.Status == "False" {
			return fmt.Sprintf("%s is Pending: %s: %s", name, c.Reason, c.Message)
		}
		ref := kube.RefOf(pod)
		if evs, err := k.Events(ctx, ref); err == nil {
			for i := len(evs) - 1; i >= 0; i-- {
				if evs[i].Type == corev1.EventTypeWarning {
					return fmt.Sprintf("%s is Pending: %s: %s", name, evs[i].Reason, evs[i].Message)
				}
			}
		}
	}
	statuses, _, _ := unstructured.NestedSlice(pod.Object, "status", "containerStatuses")
	for _, s := range statuses {
		m, _ := s.(map[string]any)
		reason, _, _ := unstructured.NestedString(m, "state", "waiting", "reason")
		msg, _, _ := unstructured.NestedString(m, "state", "waiting", "message")
		if reason != "" && reason != "ContainerCreating" && reason != "PodInitializing" {
			return fmt.Sprintf("%s: container %v is waiting: %s %s", name, m["name"], reason, msg)
		}
	}
	if phase == "Pending" {
		return name + " is Pending"
	}
	if c, ok := kube.FindCondition(pod, "Ready"); ok && c.Status != "True" && phase == "Running" {
		return fmt.Sprintf("%s is not ready: %s", name, strings.TrimSpace(c.Reason+" "+c.Message))
	}
	if phase == "Failed" {
		return fmt.Sprintf("%s failed: %s", name, kubeStatusMessage(pod))
	}
	return ""
}

func kubeStatusMessage(o *unstructured.Unstructured) string {
	m, _, _ := unstructured.NestedString(o.Object, "status", "message")
	r, _, _ := unstructured.NestedString(o.Object, "status", "reason")
	return strings.TrimSpace(r + " " + m)
}

// IsNotReady reports a NotReadyError in err's chain.
func IsNotReady(err error) bool {
	var nr *NotReadyError
	return errors.As(err, &nr)
}
