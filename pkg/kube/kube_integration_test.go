package kube_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{CRDs: []string{testenv.CRDsPaddle, testenv.CRDsKnative}}))
}

var cmGVK = corev1.SchemeGroupVersion.WithKind("ConfigMap")

func configMap(ns, name, value string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"data":     map[string]any{"key": value},
	}}
}

func paddleJob(ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "batch.paddlepaddle.org/v1", "kind": "PaddleJob",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"worker": map[string]any{"replicas": int64(1), "template": map[string]any{}},
		},
	}}
}

// A CRD, a Namespace and objects of both in one call: the engine orders
// them and waits for the CRD to be served before its custom resources.
func TestApplyOrdersCRDsNamespacesAndObjects(t *testing.T) {
	e := testenv.Get(t)
	ctx := context.Background()
	ns := "order-" + strings.ToLower(t.Name()[len(t.Name())-6:])
	crd := &unstructured.Unstructured{}
	crd.Object = map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets.test.paddlex.io"},
		"spec": map[string]any{
			"group": "test.paddlex.io", "scope": "Namespaced",
			"names": map[string]any{"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}
	widget := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "test.paddlex.io/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w", "namespace": ns}, "spec": map[string]any{"size": int64(3)},
	}}
	nsObj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
	// Deliberately out of order.
	objs := []*unstructured.Unstructured{widget, configMap(ns, "c", "v"), nsObj, crd}
	out, err := e.Kube().Apply(ctx, objs, kube.ApplyOptions{})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	for i, o := range out {
		if o == nil || o.GetName() != objs[i].GetName() || o.GetResourceVersion() == "" {
			t.Fatalf("result %d = %v, want the applied %s", i, o, objs[i].GetName())
		}
	}
	t.Cleanup(func() {
		_ = e.Kube().Delete(ctx, []kube.ObjectRef{kube.RefOf(crd), kube.RefOf(nsObj)}, kube.DeleteOptions{IgnoreNotFound: true})
	})
}

// A CRD applied alone is not waited for (nothing in that call uses it);
// a custom resource of it applied by the next call, at once, waits for the
// CRD to be served instead of failing as an unknown kind.
func TestApplyWaitsForACRDWhenItsKindIsUsed(t *testing.T) {
	e := testenv.Get(t)
	ctx := context.Background()
	ns := e.Namespace(t)
	group := ns + ".test.paddlex.io" // a CRD of its own each run
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "gadgets." + group},
		"spec": map[string]any{
			"group": group, "scope": "Namespaced",
			"names": map[string]any{"kind": "Gadget", "plural": "gadgets", "singular": "gadget", "listKind": "GadgetList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}},
		},
	}}
	t.Cleanup(func() {
		_ = e.Kube().Delete(ctx, []kube.ObjectRef{kube.RefOf(crd)}, kube.DeleteOptions{IgnoreNotFound: true})
	})
	var rep recorder
	k := e.Kube().WithReporter(&rep)
	if _, err := k.Apply(ctx, []*unstructured.Unstructured{crd}, kube.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	rep.mu.Lock()
	got := strings.Join(rep.done, "\n")
	rep.mu.Unlock()
	if strings.Contains(got, "gadgets."+group) {
		t.Errorf("the CRD was waited for though nothing in the call used it:\n%s", got)
	}
	gadget := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": group + "/v1", "kind": "Gadget",
		"metadata": map[string]any{"name": "g", "namespace": ns}, "spec": map[string]any{"size": int64(1)},
	}}
	out, err := k.Apply(ctx, []*unstructured.Unstructured{gadget}, kube.ApplyOptions{})
	if err != nil || out[0].GetResourceVersion() == "" {
		t.Fatalf("a Gadget right after its CRD: %v", err)
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	ctx := context.Background()
	objs := []*unstructured.Unstructured{configMap(ns, "a", "1"), paddleJob(ns, "job")}
	first, err := e.Kube().Apply(ctx, objs, kube.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.Kube().Apply(ctx, objs, kube.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if a, b := first[i].GetResourceVersion(), second[i].GetResourceVersion(); a != b {
			t.Errorf("%s: resourceVersion %s → %s on an unchanged re-apply", first[i].GetName(), a, b)
		}
	}
}

func TestApplyConflictNamesFieldsAndForceTakesOwnership(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	ctx := context.Background()
	if _, err := e.Kube().Apply(ctx, []*unstructured.Unstructured{configMap(ns, "c", "theirs")}, kube.ApplyOptions{FieldManager: "kubectl"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.Kube().Apply(ctx, []*unstructured.Unstructured{configMap(ns, "c", "ours")}, kube.ApplyOptions{})
	if err == nil {
		t.Fatal("want a conflict")
	}
	for _, want := range []string{".data.key", "kubectl", "--force-conflicts", "ConfigMap " + ns + "/c"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("conflict error %q does not mention %q", err, want)
		}
	}
	out, err := e.Kube().Apply(ctx, []*unstructured.Unstructured{configMap(ns, "c", "ours")}, kube.ApplyOptions{Force: true})
	if err != nil {
		t.Fatalf("forced apply: %v", err)
	}
	if v, _, _ := unstructured.NestedString(out[0].Object, "data", "key"); v != "ours" {
		t.Errorf("data.key = %q after a forced apply", v)
	}
}

func TestServerDryRunPersistsNothing(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	out, err := e.Kube().Apply(context.Background(), []*unstructured.Unstructured{paddleJob(ns, "dry")}, kube.ApplyOptions{DryRun: kube.DryRunServer})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].GetUID() == "" {
		t.Error("server dry run returned no server-populated object")
	}
	if got := e.Get(t, kube.RefOf(paddleJob(ns, "dry"))); got != nil {
		t.Error("server dry run created the object")
	}
}

func TestMissingKindIsAPrecondition(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	// Argo's CRDs are not installed in this environment.
	svc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
		"metadata": map[string]any{"name": "s", "namespace": ns},
	}}
	_, err := e.Kube().Apply(context.Background(), []*unstructured.Unstructured{svc}, kube.ApplyOptions{})
	var pe *kube.PreconditionError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a PreconditionError", err)
	}
	if !strings.Contains(err.Error(), "no kind Workflow (argoproj.io/v1alpha1)") || !strings.Contains(err.Error(), "paddlex install-standalone") {
		t.Errorf("message %q does not say what is missing and how to install it", err)
	}
}

func TestForbiddenNamesVerbAndResource(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	r := e.Run(t, "--kubeconfig", e.UserKubeconfig(t, "nobody"), "dataset", "apply", "d", "-n", ns,
		"--source-uri", "s3://b/d/", "--wait=false")
	if r.Code != 4 {
		t.Fatalf("exit %d, want 4\n%s", r.Code, r)
	}
	if !strings.Contains(r.Stderr, "RBAC forbids get on secrets") && !strings.Contains(r.Stderr, "RBAC forbids apply on samplesets") {
		t.Errorf("stderr does not say which verb and resource RBAC refused:\n%s", r.Stderr)
	}
}

// TestWaitPhaseReturnsOnTheFlipNotBefore completes the job only once the
// wait has seen it Running and gone on waiting. How fast the wait returns
// after the flip is BenchmarkWaitLatency's figure.
func TestWaitPhaseReturnsOnTheFlipNotBefore(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	job := paddleJob(ns, "flip")
	if _, err := e.Kube().Apply(ctx, []*unstructured.Unstructured{job}, kube.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	ref := kube.RefOf(job)
	e.SetStatus(t, ref, map[string]any{"phase": "Running"})
	cond := observe(kube.PhaseIn(paddle.PaddleJobSuccess, paddle.PaddleJobFailure, nil))
	op := testenv.Background(t, func(bg *testenv.T) {
		if cond.await(ctx, func(o *unstructured.Unstructured) bool { return kube.Phase(o) == "Running" }) {
			e.SetStatus(bg, ref, map[string]any{"phase": "Completed"})
		}
	})
	obj, err := e.Kube().Wait(ctx, ref, cond)
	op.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if kube.Phase(obj) != "Completed" {
		t.Errorf("phase %q", kube.Phase(obj))
	}
}

// observed is a condition that tells the test each object its wait saw
// and did not accept, so the test writes the next state only once the
// wait has seen (and refused) the one before: no sleeps, and no state the
// wait could skip.
type observed struct {
	kube.Condition
	seen chan *unstructured.Unstructured
}

func observe(c kube.Condition) observed {
	return observed{Condition: c, seen: make(chan *unstructured.Unstructured, 256)}
}

func (o observed) Check(obj *unstructured.Unstructured) (bool, string, error) {
	done, status, err := o.Condition.Check(obj)
	if !done && err == nil && obj != nil {
		select {
		case o.seen <- obj.DeepCopy():
		default:
		}
	}
	return done, status, err
}

// await reports whether the wait saw an object match before ctx ended.
func (o observed) await(ctx context.Context, match func(*unstructured.Unstructured) bool) bool {
	for {
		select {
		case obj := <-o.seen:
			if match(obj) {
				return true
			}
		case <-ctx.Done():
			return false
		}
	}
}

// cancelOnWarning cancels a wait once it has reported a Warning event.
type cancelOnWarning struct {
	kube.NopReporter
	cancel context.CancelFunc
}

func (r cancelOnWarning) Warning(kube.ObjectRef, string, string) { r.cancel() }

func TestWaitFailurePhaseAndTimeout(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	ctx := context.Background()
	job := paddleJob(ns, "fails")
	if _, err := e.Kube().Apply(ctx, []*unstructured.Unstructured{job}, kube.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	ref := kube.RefOf(job)
	e.SetStatus(t, ref, map[string]any{"phase": "Failed"})
	_, err := e.Kube().Wait(ctx, ref, kube.PhaseIn(paddle.PaddleJobSuccess, paddle.PaddleJobFailure, nil))
	var fe *kube.FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a FailedError", err)
	}

	stuck := paddleJob(ns, "stuck")
	if _, err := e.Kube().Apply(ctx, []*unstructured.Unstructured{stuck}, kube.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	e.Event(t, kube.RefOf(stuck), "FailedMount", "secret \"data-center\" not found")
	// The wait ends (as at its deadline) once it has reported the event,
	// however long that takes here.
	short, cancel := context.WithCancel(ctx)
	defer cancel()
	k := e.Kube()
	k.Reporter = cancelOnWarning{cancel: cancel}
	_, err = k.Wait(short, kube.RefOf(stuck), kube.PhaseIn(paddle.PaddleJobSuccess, paddle.PaddleJobFailure, nil))
	var te *kube.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a TimeoutError", err)
	}
	if !strings.Contains(err.Error(), `FailedMount: secret "data-center" not found`) {
		t.Errorf("timeout %q does not carry the last Warning event", err)
	}
}

func TestWaitConditionByTypeAndGeneration(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A Knative Service: the kind whose readiness is a Ready condition among others.
	job := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Service",
		"metadata": map[string]any{"name": "cond", "namespace": ns},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"image": "registry.local/serve:v1"}},
		}}},
	}}
	out, err := e.Kube().Apply(ctx, []*unstructured.Unstructured{job}, kube.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := kube.RefOf(job)
	gen := out[0].GetGeneration()
	// Ready=True but an old generation: not done. The last condition is not
	// Ready: the lookup is by type.
	e.SetStatus(t, ref, map[string]any{"observedGeneration": gen - 1, "conditions": []any{
		map[string]any{"type": "Ready", "status": "True"}, map[string]any{"type": "RoutesReady", "status": "False"},
	}})
	cond := observe(kube.ConditionTrue("Ready"))
	op := testenv.Background(t, func(bg *testenv.T) {
		stale := func(o *unstructured.Unstructured) bool {
			g, _, _ := unstructured.NestedInt64(o.Object, "status", "observedGeneration")
			return g == gen-1
		}
		if cond.await(ctx, stale) {
			e.SetStatus(bg, ref, map[string]any{"observedGeneration": gen})
		}
	})
	obj, err := e.Kube().Wait(ctx, ref, cond)
	op.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if g, _, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration"); g != gen {
		t.Errorf("wait returned at observedGeneration %d, before it caught up with generation %d", g, gen)
	}
	e.SetStatus(t, ref, map[string]any{"conditions": []any{
		map[string]any{"type": "Ready", "status": "False", "reason": "RevisionFailed", "message": "image pull failed"},
	}})
	_, err = e.Kube().Wait(ctx, ref, kube.ConditionTrue("Ready"))
	if err == nil || !strings.Contains(err.Error(), "RevisionFailed: image pull failed") {
		t.Errorf("err = %v, want Ready=False's reason and message", err)
	}
}

func TestDeleteForegroundAndWaitGone(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	// The garbage collector removes the foreground finalizer; on a loaded
	// machine (CI runs the packages' tests side by side) that takes seconds.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	objs := []*unstructured.Unstructured{configMap(ns, "x", "1"), paddleJob(ns, "y")}
	if _, err := e.Kube().Apply(ctx, objs, kube.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	refs := []kube.ObjectRef{kube.RefOf(objs[0]), kube.RefOf(objs[1])}
	if err := e.Kube().Delete(ctx, refs, kube.DeleteOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		if e.Get(t, r) != nil {
			t.Errorf("%s still exists", r)
		}
	}
	if err := e.Kube().Delete(ctx, refs, kube.DeleteOptions{}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("deleting absent objects: %v, want not found", err)
	}
	if err := e.Kube().Delete(ctx, refs, kube.DeleteOptions{IgnoreNotFound: true}); err != nil {
		t.Errorf("IgnoreNotFound: %v", err)
	}
}

func TestListSortsAndSelects(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	ctx := context.Background()
	a, b := configMap(ns, "b", "1"), configMap(ns, "a", "1")
	b.SetLabels(map[string]string{"pick": "yes"})
	if _, err := e.Kube().Apply(ctx, []*unstructured.Unstructured{a, b}, kube.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	all, err := e.Kube().List(ctx, cmGVK, kube.ListOptions{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range all {
		names = append(names, o.GetName())
	}
	if strings.Join(names, ",") != "a,b,kube-root-ca.crt" && strings.Join(names, ",") != "a,b" {
		t.Errorf("names %v", names)
	}
	picked, err := e.Kube().List(ctx, cmGVK, kube.ListOptions{Namespace: ns, LabelSelector: "pick=yes"})
	if err != nil || len(picked) != 1 || picked[0].GetName() != "a" {
		t.Errorf("selected %v, %v", picked, err)
	}
	_ = metav1.Now
	_ = schema.GroupVersionKind{}
}

// recorder is a Reporter that keeps what it was told.
type recorder struct {
	kube.NopReporter
	mu       sync.Mutex
	statuses []string
	done     []string
}

func (r *recorder) Status(ref kube.ObjectRef, status string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, status)
}

func (r *recorder) Done(ref kube.ObjectRef, status string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, fmt.Sprintf("%s %v", ref.Name, err))
}

func TestCreateNamesFromGenerateNameValidatesStrictlyAndDryRuns(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	ctx := context.Background()
	k := e.Kube()
	gen := configMap(ns, "", "v")
	gen.SetGenerateName("run-")
	created, err := k.Create(ctx, gen, kube.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	name := created.GetName()
	if !strings.HasPrefix(name, "run-") || len(name) <= len("run-") || created.GetResourceVersion() == "" {
		t.Fatalf("created %q (resourceVersion %q), want a generated name", name, created.GetResourceVersion())
	}
	if got, err := k.Get(ctx, kube.RefOf(created)); err != nil || got.GetName() != name {
		t.Errorf("get of the created object: %v", err)
	}
	_, err = k.Create(ctx, configMap(ns, name, "again"), kube.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) || !strings.Contains(err.Error(), "create ConfigMap "+ns+"/"+name) {
		t.Errorf("second create: %v, want already-exists naming the object", err)
	}
	dry, err := k.Create(ctx, configMap(ns, "dry", "v"), kube.CreateOptions{DryRun: kube.DryRunServer})
	if err != nil || dry.GetName() != "dry" {
		t.Fatalf("dry-run create: %v", err)
	}
	if _, err := k.Get(ctx, kube.RefOf(dry)); !apierrors.IsNotFound(err) {
		t.Errorf("a dry-run create persisted the object: %v", err)
	}
	typo := configMap(ns, "typo", "v")
	typo.Object["dta"] = map[string]any{"key": "v"}
	if _, err := k.Create(ctx, typo, kube.CreateOptions{}); err == nil || !strings.Contains(err.Error(), `unknown field "dta"`) {
		t.Errorf("create with an unknown field: %v, want strict validation to name it", err)
	}
}

func TestWithReporterAndConditionErrors(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	ctx := context.Background()
	base := &recorder{}
	k := e.Kube()
	k.Reporter = base
	if _, err := k.Apply(ctx, []*unstructured.Unstructured{configMap(ns, "c", "v")}, kube.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	ref := kube.ObjectRef{GVK: cmGVK, Namespace: ns, Name: "c"}
	rec := &recorder{}
	var seen []string
	follow := kube.NewCondition("data seen", func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "absent", nil
		}
		v, _, _ := unstructured.NestedString(obj.Object, "data", "key")
		seen = append(seen, v)
		return v == "v", "key=" + v, nil
	})
	if _, err := k.WithReporter(rec).Wait(ctx, ref, follow); err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 || seen[len(seen)-1] != "v" {
		t.Errorf("the condition saw %q", seen)
	}
	if len(rec.statuses) != 1 || rec.statuses[0] != "key=v" || len(rec.done) != 1 || rec.done[0] != "c <nil>" {
		t.Errorf("the given reporter got statuses %q and done %q", rec.statuses, rec.done)
	}
	if len(base.statuses)+len(base.done) != 0 {
		t.Errorf("the engine's own reporter got %q %q", base.statuses, base.done)
	}

	verdict := errors.New("the object is not what the caller wants")
	_, err := k.WithReporter(rec).Wait(ctx, ref, kube.NewCondition("never", func(*unstructured.Unstructured) (bool, string, error) {
		return false, "", verdict
	}))
	if err != verdict {
		t.Errorf("wait returned %v, want the condition's error unchanged", err)
	}
}
