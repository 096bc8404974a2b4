package install_test

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/cmd"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == asPaddlex {
		// The benchmark runs this binary as the paddlex command, so that
		// paddlex and kubectl are timed alike, process start-up included.
		os.Exit(cmd.Run(context.Background(), cmdutil.NewFactory(cmdutil.SystemStreams()), os.Args[2:], cmd.Options{}))
	}
	os.Exit(testenv.Main(m, testenv.Options{Cluster: true}))
}

// asPaddlex, as the first argument, makes the test binary the paddlex
// command.
const asPaddlex = "-paddlex-command"

var (
	deployGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	stsGVK    = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}
	dsGVK     = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}
	jobGVK    = schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}
	secretGVK = schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	nsGVK     = schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}
	scGVK     = schema.GroupVersionKind{Group: "storage.k8s.io", Version: "v1", Kind: "StorageClass"}
	crdGVK    = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}
	widgetGVK = schema.GroupVersionKind{Group: "fixture.paddlex.io", Version: "v1", Kind: "Widget"}
)

const fixtureNS = "paddlex-fixture"

// paddlex runs the command with the fixture catalog and a private artifact cache.
func paddlex(t *testing.T, e *testenv.Env, ctx context.Context, args ...string) testenv.Result {
	t.Helper()
	r := e.RunContext(ctx, t, withCatalog(t, args...)...)
	t.Logf("paddlex %s\n%s", strings.Join(args, " "), r)
	return r
}

// withCatalog adds the test catalog and, for installs, an artifact cache
// of the test's own to args.
func withCatalog(t *testing.T, args ...string) []string {
	t.Helper()
	catalog, err := filepath.Abs("testdata/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	full := append(append([]string{}, args...), "--catalog", catalog)
	if args[0] == "install" || args[0] == "install-standalone" {
		full = append(full, "--artifact-cache", filepath.Join(t.TempDir(), "artifacts"))
	}
	return full
}

func mustGet(t *testing.T, e *testenv.Env, gvk schema.GroupVersionKind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	obj := e.Get(t, kube.ObjectRef{GVK: gvk, Namespace: ns, Name: name})
	if obj == nil {
		t.Fatalf("%s %s/%s does not exist", gvk.Kind, ns, name)
	}
	return obj
}

func intField(obj *unstructured.Unstructured, path ...string) int64 {
	v, _, _ := unstructured.NestedInt64(obj.Object, path...)
	return v
}

func dumpCluster(t *testing.T, e *testenv.Env) {
	t.Helper()
	if t.Failed() {
		for _, c := range []string{"kube-controller-manager", "kube-scheduler", "kwok"} {
			t.Logf("%s log:\n%s", c, e.Log(c, 30))
		}
	}
}

// purge leaves the cluster as it was before a test.
func purge(t *testing.T, e *testenv.Env) {
	t.Helper()
	r := paddlex(t, e, context.Background(), "uninstall", "--purge", "--timeout", "2m")
	if r.Code != 0 {
		t.Fatalf("uninstall --purge: %s", r)
	}
}

func TestInstallStandaloneEndToEnd(t *testing.T) {
	e := testenv.Get(t)
	defer dumpCluster(t, e)
	t.Cleanup(func() { purge(t, e) })
	ctx := context.Background()

	r := paddlex(t, e, ctx, "install-standalone", "--timeout", "3m")
	if r.Code != 0 {
		t.Fatalf("install-standalone: %s", r)
	}
	// The real controllers and kwok made every workload ready.
	web := mustGet(t, e, deployGVK, fixtureNS, "web")
	if got := intField(web, "status", "availableReplicas"); got != 2 {
		t.Errorf("Deployment web: %d available replicas, want 2", got)
	}
	if got := intField(mustGet(t, e, stsGVK, fixtureNS, "store"), "status", "readyReplicas"); got != 1 {
		t.Errorf("StatefulSet store: %d ready replicas, want 1", got)
	}
	ds := mustGet(t, e, dsGVK, fixtureNS, "agent")
	if intField(ds, "status", "numberAvailable") < 1 || intField(ds, "status", "numberAvailable") != intField(ds, "status", "desiredNumberScheduled") {
		t.Errorf("DaemonSet agent not available: %v", ds.Object["status"])
	}
	if done, _, _ := kube.JobComplete().Check(mustGet(t, e, jobGVK, fixtureNS, "migrate")); !done {
		t.Errorf("Job migrate is not complete")
	}
	mustGet(t, e, widgetGVK, fixtureNS, "default")

	// Labels on everything; the component label names the component.
	for _, obj := range []*unstructured.Unstructured{web, mustGet(t, e, crdGVK, "", "widgets.fixture.paddlex.io"), mustGet(t, e, scGVK, "", "task-center")} {
		l := obj.GetLabels()
		if l["app.kubernetes.io/part-of"] != "paddlex" || l["app.kubernetes.io/managed-by"] != "paddlex" || l["paddlex.io/component"] == "" {
			t.Errorf("%s %s labels: %v", obj.GetKind(), obj.GetName(), l)
		}
	}
	// Prerequisites: the Secrets, with generated keys that never appear in the output.
	dc := mustGet(t, e, secretGVK, "kubeflow", "data-center")
	data, _, _ := unstructured.NestedStringMap(dc.Object, "data")
	for _, k := range []string{"metaurl", "access-key", "secret-key", "bucket", "name", "storage"} {
		if data[k] == "" {
			t.Errorf("Secret data-center has no %s", k)
		}
	}
	dec := func(k string) string { b, _ := base64.StdEncoding.DecodeString(data[k]); return string(b) }
	if dec("storage") != "minio" || dec("bucket") != "http://minio-service.kubeflow:9000/data-center" {
		t.Errorf("Secret data-center: storage %q, bucket %q", dec("storage"), dec("bucket"))
	}
	for _, k := range []string{"access-key", "secret-key"} {
		if v := dec(k); len(v) < 16 || strings.Contains(r.Stdout+r.Stderr, v) {
			t.Errorf("%s is %d characters or shows in the output", k, len(v))
		}
	}
	sc := mustGet(t, e, scGVK, "", "task-center")
	if sc.Object["provisioner"] != "csi.juicefs.com" || sc.Object["volumeBindingMode"] != "WaitForFirstConsumer" {
		t.Errorf("StorageClass task-center: %v", sc.Object)
	}
	if !strings.Contains(r.Stdout, "fixture-apps") || !strings.Contains(r.Stdout, "installed 4 components") {
		t.Errorf("summary missing:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "fixture-apps: done") {
		t.Errorf("no progress line per component:\n%s", r.Stderr)
	}

	// A re-run changes nothing and keeps the credentials.
	r2 := paddlex(t, e, ctx, "install-standalone", "--timeout", "2m")
	if r2.Code != 0 || !strings.Contains(r2.Stdout, "nothing changed") {
		t.Fatalf("re-run: %s", r2)
	}
	if got := mustGet(t, e, secretGVK, "kubeflow", "data-center"); got.GetResourceVersion() != dc.GetResourceVersion() {
		t.Errorf("re-run changed Secret data-center")
	}

	// status on a healthy install.
	st := paddlex(t, e, ctx, "status")
	if st.Code != 0 || !strings.Contains(st.Stdout, "fixture-apps") || !strings.Contains(st.Stdout, "4/4") {
		t.Fatalf("status: %s", st)
	}
	if v := paddlex(t, e, ctx, "install-standalone", "--verify"); v.Code != 0 {
		t.Fatalf("install --verify: %s", v)
	}

	// A workload that never schedules: exit 3, naming it and why.
	stuck := paddlex(t, e, ctx, "install", "--components", "fixture-stuck", "--timeout", "15s")
	if stuck.Code != 3 {
		t.Fatalf("stuck install: want exit 3: %s", stuck)
	}
	for _, want := range []string{"Deployment paddlex-fixture/stuck", "Pending", "node affinity/selector"} {
		if !strings.Contains(stuck.Stderr, want) {
			t.Errorf("stuck install: stderr lacks %q", want)
		}
	}
	// status on a broken install: exit 4 and what to fix.
	broken := paddlex(t, e, ctx, "status")
	if broken.Code != 4 || !strings.Contains(broken.Stdout, "To fix:") || !strings.Contains(broken.Stdout, "node affinity/selector") {
		t.Fatalf("status on a broken install: %s", broken)
	}
	if !strings.Contains(broken.Stdout, "no default StorageClass") {
		t.Errorf("status does not report the missing default StorageClass:\n%s", broken.Stdout)
	}
	if u := paddlex(t, e, ctx, "uninstall", "--component", "fixture-stuck"); u.Code != 0 {
		t.Fatalf("uninstall fixture-stuck: %s", u)
	}
	if e.Get(t, kube.ObjectRef{GVK: deployGVK, Namespace: fixtureNS, Name: "stuck"}) != nil {
		t.Errorf("Deployment stuck survived uninstall")
	}

	// The full profile adds the role tenants are bound to, and no tenant:
	// `paddlex tenant add` makes them.
	full := paddlex(t, e, ctx, "install", "--timeout", "2m")
	if full.Code != 0 {
		t.Fatalf("install (full): %s", full)
	}
	mustGet(t, e, schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}, "", "paddlex-namespace-user")
	if e.Get(t, kube.ObjectRef{GVK: nsGVK, Name: "kubeflow-user-example-com"}) != nil {
		t.Error("the full profile made the namespace of a user no one added")
	}

	// uninstall keeps data by default.
	u := paddlex(t, e, ctx, "uninstall", "--timeout", "2m")
	if u.Code != 0 {
		t.Fatalf("uninstall: %s", u)
	}
	for _, ref := range []kube.ObjectRef{
		{GVK: deployGVK, Namespace: fixtureNS, Name: "web"},
		{GVK: dsGVK, Namespace: fixtureNS, Name: "agent"},
		{GVK: scGVK, Name: "task-center"},
		{GVK: crdGVK, Name: "widgets.fixture.paddlex.io"},
	} {
		if e.Get(t, ref) != nil {
			t.Errorf("%s survived uninstall", ref)
		}
	}
	mustGet(t, e, secretGVK, "kubeflow", "data-center")
	mustGet(t, e, secretGVK, fixtureNS, "store-credentials")
	if !strings.Contains(u.Stdout, "Kept for their data") {
		t.Errorf("uninstall does not say what it kept:\n%s", u.Stdout)
	}
	// A re-install reuses the kept credentials.
	if r := paddlex(t, e, ctx, "install-standalone", "--timeout", "2m"); r.Code != 0 {
		t.Fatalf("re-install: %s", r)
	}
	if got := mustGet(t, e, secretGVK, "kubeflow", "data-center"); got.Object["data"].(map[string]any)["access-key"] != data["access-key"] {
		t.Errorf("re-install changed the MinIO access key")
	}
}

func TestInstallInterruptedThenResumed(t *testing.T) {
	e := testenv.Get(t)
	defer dumpCluster(t, e)
	t.Cleanup(func() { purge(t, e) })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	args := withCatalog(t, "install-standalone", "--timeout", "2m")
	var r testenv.Result
	install := testenv.Background(t, func(bg *testenv.T) { r = e.RunContext(ctx, bg, args...) })
	// Interrupt once the workloads exist, while install waits for them.
	e.WaitFor(t, kube.ObjectRef{GVK: deployGVK, Namespace: fixtureNS, Name: "web"}, 60*time.Second)
	cancel()
	// The install returns once it sees the cancellation; --timeout bounds
	// it in any case.
	install.Wait()
	t.Logf("paddlex install-standalone (interrupted)\n%s", r)
	if r.Code == 0 {
		t.Logf("install finished before the interruption took effect")
	}
	if e.Get(t, kube.ObjectRef{GVK: secretGVK, Namespace: "kubeflow", Name: "data-center"}) != nil && r.Code != 0 {
		t.Errorf("prerequisites applied although fixture-apps was interrupted")
	}
	r2 := paddlex(t, e, context.Background(), "install-standalone", "--timeout", "2m")
	if r2.Code != 0 {
		t.Fatalf("re-run after interruption: %s", r2)
	}
	mustGet(t, e, secretGVK, "kubeflow", "data-center")
	if st := paddlex(t, e, context.Background(), "status"); st.Code != 0 {
		t.Fatalf("status after resume: %s", st)
	}
}

// TestInstallKeepsTheRedisMode: after an install with an external Redis, a
// re-run without --redis-url must not point JuiceFS at an empty in-cluster
// Redis, and switching takes --in-cluster-redis and a new password.
func TestInstallKeepsTheRedisMode(t *testing.T) {
	e := testenv.Get(t)
	t.Cleanup(func() { purge(t, e) })
	ctx := context.Background()
	const external = "redis://:ext-hunter2@redis.example:6379/4"

	r := paddlex(t, e, ctx, "install", "--components", "namespaces,prerequisites", "--redis-url", external, "--timeout", "1m")
	if r.Code != 0 {
		t.Fatalf("install with --redis-url: %s", r)
	}
	metaURL := func() (string, *unstructured.Unstructured) {
		dc := mustGet(t, e, secretGVK, "kubeflow", "data-center")
		v, _, _ := unstructured.NestedString(dc.Object, "data", "metaurl")
		b, _ := base64.StdEncoding.DecodeString(v)
		return string(b), dc
	}
	got, dc := metaURL()
	if got != external || dc.GetLabels()["paddlex.io/redis"] != "external" {
		t.Fatalf("data-center after --redis-url: metaurl is the given URL %v, labels %v", got == external, dc.GetLabels())
	}
	if strings.Contains(r.Stdout+r.Stderr, "ext-hunter2") {
		t.Errorf("the external Redis password was printed")
	}

	// The same command without --redis-url: refused before anything is applied.
	again := paddlex(t, e, ctx, "install", "--components", "namespaces,prerequisites", "--timeout", "1m")
	if again.Code != 2 {
		t.Fatalf("re-run without --redis-url: want exit 2: %s", again)
	}
	for _, want := range []string{"external Redis", "--redis-url", "--in-cluster-redis", "nothing was applied"} {
		if !strings.Contains(again.Stderr, want) {
			t.Errorf("refusal lacks %q: %s", want, again.Stderr)
		}
	}
	if _, now := metaURL(); now.GetResourceVersion() != dc.GetResourceVersion() {
		t.Errorf("the refused re-run changed Secret data-center")
	}
	// Profiles refuse too: the in-cluster Redis is in them.
	if p := paddlex(t, e, ctx, "install-standalone", "--timeout", "1m"); p.Code != 2 {
		t.Errorf("install-standalone without --redis-url: want exit 2: %s", p)
	}

	// The same --redis-url again: nothing changes.
	same := paddlex(t, e, ctx, "install", "--components", "namespaces,prerequisites", "--redis-url", external, "--timeout", "1m")
	if same.Code != 0 || !strings.Contains(same.Stdout, "nothing changed") {
		t.Fatalf("re-run with the same --redis-url: %s", same)
	}

	// An explicit switch: the in-cluster Redis with a password of its own.
	sw := paddlex(t, e, ctx, "install", "--components", "namespaces,prerequisites", "--in-cluster-redis", "--timeout", "1m")
	if sw.Code != 0 || !strings.Contains(sw.Stderr, "switching JuiceFS metadata") {
		t.Fatalf("--in-cluster-redis: %s", sw)
	}
	got, dc = metaURL()
	if !strings.Contains(got, "@redis.kubeflow:6379/0") || strings.Contains(got, "ext-hunter2") || dc.GetLabels()["paddlex.io/redis"] != "in-cluster" {
		t.Errorf("after --in-cluster-redis: metaurl points in the cluster %v, reuses the external password %v, labels %v",
			strings.Contains(got, "@redis.kubeflow:6379/0"), strings.Contains(got, "ext-hunter2"), dc.GetLabels())
	}
	// From now on the in-cluster mode is the one a plain re-run keeps.
	if r := paddlex(t, e, ctx, "install", "--components", "namespaces,prerequisites", "--timeout", "1m"); r.Code != 0 || !strings.Contains(r.Stdout, "nothing changed") {
		t.Errorf("plain re-run after the switch: %s", r)
	}
}
