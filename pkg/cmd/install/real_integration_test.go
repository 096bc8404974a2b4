package install_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/internal/upstream"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
)

// realManifestsDir writes the real upstream artifacts (stand-ins for those
// this machine cannot fetch) laid out for --manifests-dir.
func realManifestsDir(t testing.TB) (dir string, skip []string) {
	t.Helper()
	dir = t.TempDir()
	arts, note, err := upstream.ManifestsDir(dir)
	if err != nil {
		t.Fatalf("upstream artifacts: %v", err)
	}
	for _, a := range arts {
		t.Logf("%s: %s", a.Path, a.From)
	}
	if note != "" {
		t.Log(note + ": installing without paddle-operator")
		skip = append(skip, "paddle-operator")
	}
	return dir, skip
}

// preboundVolumes creates the PersistentVolumes a provisioner would make
// for MinIO's and Redis's claims: the local cluster has none.
func preboundVolumes(t *testing.T, e *testenv.Env) {
	t.Helper()
	ctx := context.Background()
	for _, claim := range []string{"minio-data", "data-redis-0"} {
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "paddlex-test-" + claim},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("20Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
				PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/paddlex-test/" + claim}},
				ClaimRef:                      &corev1.ObjectReference{Namespace: install.PlatformNamespace, Name: claim},
			},
		}
		if _, err := e.Clientset.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create PersistentVolume: %v", err)
		}
		t.Cleanup(func() {
			_ = e.Clientset.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{})
		})
	}
}

// versionsOf maps every object of the install to its resourceVersion.
func versionsOf(t *testing.T, e *testenv.Env, gvks []schema.GroupVersionKind) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, gvk := range gvks {
		items, err := e.Kube().List(context.Background(), gvk, kube.ListOptions{LabelSelector: "app.kubernetes.io/part-of=paddlex"})
		if err != nil {
			t.Fatalf("list %s: %v", gvk.Kind, err)
		}
		for i := range items {
			out[kube.RefOf(&items[i]).String()] = items[i].GetResourceVersion()
		}
	}
	return out
}

// TestInstallStandaloneRealArtifacts installs the standalone profile from
// the real Argo, Knative Serving and paddle-operator artifacts, unmodified,
// with the built-in catalog (so paddle-operator's files are verified against
// its sha256), on the simulated cluster.
func TestInstallStandaloneRealArtifacts(t *testing.T) {
	e := testenv.Get(t)
	defer dumpCluster(t, e)
	dir, skip := realManifestsDir(t)
	preboundVolumes(t, e)
	run := func(args ...string) testenv.Result {
		full := args
		if strings.HasPrefix(args[0], "install") {
			full = append(full, "--manifests-dir", dir, "--artifact-cache", t.TempDir())
			if len(skip) > 0 {
				full = append(full, "--skip", strings.Join(skip, ","))
			}
		}
		r := e.Run(t, full...)
		t.Logf("paddlex %s\n%s", strings.Join(args, " "), r)
		return r
	}
	t.Cleanup(func() {
		if r := e.Run(t, "uninstall", "--purge", "--timeout", "3m"); r.Code != 0 {
			t.Errorf("uninstall --purge: %s", r)
		}
	})

	r := run("install-standalone", "--timeout", "6m")
	if r.Code != 0 {
		t.Fatalf("install-standalone from the real artifacts: %s", r)
	}
	if !strings.Contains(r.Stdout, "all ready") {
		t.Errorf("install did not report every component ready:\n%s", r.Stdout)
	}
	mustGet(t, e, nsGVK, "", "argo")
	for _, crd := range []string{"workflows.argoproj.io", "workflowtemplates.argoproj.io", "services.serving.knative.dev", "revisions.serving.knative.dev", "images.caching.internal.knative.dev"} {
		mustGet(t, e, crdGVK, "", crd)
	}
	if len(skip) == 0 {
		for _, crd := range []string{"paddlejobs.batch.paddlepaddle.org", "samplesets.batch.paddlepaddle.org", "samplejobs.batch.paddlepaddle.org"} {
			mustGet(t, e, crdGVK, "", crd)
		}
	}
	// The controllers' Deployments are available (kwok runs their pods).
	for _, d := range []string{"argo/workflow-controller", "argo/argo-server", "knative-serving/controller", "knative-serving/activator"} {
		ns, name, _ := strings.Cut(d, "/")
		if got := intField(mustGet(t, e, deployGVK, ns, name), "status", "availableReplicas"); got < 1 {
			t.Errorf("Deployment %s has no available replica", d)
		}
	}
	// Our patches reached the real objects.
	srv := mustGet(t, e, deployGVK, "argo", "argo-server")
	cs, _, _ := unstructured.NestedSlice(srv.Object, "spec", "template", "spec", "containers")
	if args, _, _ := unstructured.NestedStringSlice(cs[0].(map[string]any), "args"); strings.Join(args, " ") != "server --auth-mode=client" {
		t.Errorf("argo-server args %v: want the caller's token (client mode) only", args)
	}
	cm := mustGet(t, e, schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, "knative-serving", "config-network")
	if v, _, _ := unstructured.NestedString(cm.Object, "data", "ingress-class"); v != "kourier.ingress.networking.knative.dev" {
		t.Errorf("config-network ingress-class %q", v)
	}

	if st := run("status"); st.Code != 0 {
		t.Fatalf("status after install: %s", st)
	}

	// A re-run changes no resourceVersion.
	gvks := []schema.GroupVersionKind{deployGVK, stsGVK, dsGVK, secretGVK, nsGVK, crdGVK, scGVK,
		{Version: "v1", Kind: "ConfigMap"}, {Version: "v1", Kind: "Service"}, {Version: "v1", Kind: "ServiceAccount"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}}
	before := versionsOf(t, e, gvks)
	r2 := run("install-standalone", "--timeout", "3m")
	if r2.Code != 0 || !strings.Contains(r2.Stdout, "nothing changed") {
		t.Fatalf("re-run: %s", r2)
	}
	after := versionsOf(t, e, gvks)
	for ref, rv := range before {
		if after[ref] != rv {
			t.Errorf("re-run changed %s (resourceVersion %s → %s)", ref, rv, after[ref])
		}
	}
	if len(before) < 50 {
		t.Errorf("only %d objects compared", len(before))
	}
}
