//go:build linux

package realnode

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// TestTenantTrainsAndServes trains and serves a model in a tenant's
// namespace on the real node, with the tenant's own keys: `paddlex tenant
// add` makes the namespace (its Pod Security level enforced by the API
// server), a MinIO user of the real MinIO whose policy reaches only the
// tenant's area of the model center, and the namespace's data-center
// Secret with those keys and the area's prefix. The real training-operator
// trains there; the upload Job pushes into the tenant's area; the serving
// pods fetch from it with the tenant's keys and pass admission; `serve
// predict` reads the model's feeds from it and gets the answer through the
// route. The tenant's keys neither list nor pull a version of the
// platform's area. Their notebook, started where JupyterHub's spawn hook
// says, runs paddlex in their namespace with their rights.
func TestTenantTrainsAndServes(t *testing.T) {
	e := testenv.Get(t)
	knativeServing(t, e)
	access, secret := platform(t, e)
	ctx := context.Background()

	// The platform's data-center Secret, as the prerequisites component
	// writes it, whose Redis database the tenant's is counted from.
	dc := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: paddle.DataCenterSecret, Namespace: install.PlatformNamespace}, StringData: map[string]string{
		"name": "data-center", "storage": "minio", "bucket": "http://minio-service." + install.PlatformNamespace + ":9000/data-center",
		"metaurl": "redis://redis." + install.PlatformNamespace + ":6379/1", "access-key": access, "secret-key": secret}}
	if _, err := e.Clientset.CoreV1().Secrets(install.PlatformNamespace).Create(ctx, dc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}

	ns := "tenant-" + strings.TrimPrefix(e.Namespace(t), "t-")
	const email = "alice@example.com"
	r := e.Run(t, "tenant", "add", email, "--namespace", ns)
	if r.Code != 0 {
		t.Fatalf("tenant add: %s\nminio log:\n%s", r, podLog(t, e, "kubeflow", "app=minio"))
	}
	t.Cleanup(func() { e.Run(t, "tenant", "remove", email, "--purge") })
	nsObj, err := e.Clientset.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil || nsObj.Labels["pod-security.kubernetes.io/enforce"] == "" {
		t.Fatalf("tenant namespace %s enforces no Pod Security level: %v %v", ns, nsObj.GetLabels(), err)
	}
	keys, err := e.Clientset.CoreV1().Secrets(ns).Get(ctx, paddle.DataCenterSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(keys.Data["access-key"]) == access || string(keys.Data["model-prefix"]) != ns+"/" {
		t.Fatalf("the tenant's Secret holds the root keys or no prefix of their own: access-key %s, model-prefix %q", keys.Data["access-key"], keys.Data["model-prefix"])
	}
	waitServiceAccount(t, e, ns)
	claim(t, e, ns, "task-center")
	suiteImage(t, e, ocrImage)

	// Training in the tenant's namespace: the real training-operator's
	// pods, the export and conversion Jobs, all admitted under the
	// namespace's Pod Security level.
	trainingOperator(t, e)
	r = e.Run(t, "train", "create", "ppocr-det", "-n", ns, "--project", "PaddleOCR", "--backend", "training-operator",
		"--image", ocrImage, "--config-path", "configs/det/det_mv3_db.yml", "--pvc-name", "task-center",
		"--worker-replicas", "1", "--config-change", "Global.epoch_num=1", "--wait", "--timeout", "10m")
	if r.Code != 0 || !strings.Contains(r.Stdout, "training ppocr-det succeeded") {
		t.Fatalf("train create in the tenant's namespace: %s\nevents:\n%s\ntraining-operator log:\n%s", r, podsIn(e, ns), operatorLog(t, e))
	}
	vol := localcluster.VolumeDir(ns, "task-center")
	archive := readFile(t, filepath.Join(vol, "ppocr-det.tar.gz"))

	r = e.Run(t, "modelhub", "push", "ppocr-det-tenant", "-n", ns, "--model-name", "ppocr-det", "--model-version", "tenant",
		"--pvc-name", "task-center", "--framework", "PaddleOCR", "--timeout", "5m")
	if r.Code != 0 {
		t.Fatalf("modelhub push with the tenant's keys: %s\nminio log:\n%s", r, podLog(t, e, "kubeflow", "app=minio"))
	}
	out := t.TempDir()
	if r = e.Run(t, "modelhub", "pull", "ppocr-det:tenant", "-n", ns, "-o", out); r.Code != 0 {
		t.Fatalf("modelhub pull with the tenant's keys: %s", r)
	}
	if got := readFile(t, filepath.Join(out, "ppocr-det.tar.gz")); sha256.Sum256(got) != sha256.Sum256(archive) {
		t.Fatalf("pulled %d bytes, pushed %d: they differ", len(got), len(archive))
	}
	// The platform's area is not the tenant's: a version pushed there with
	// the root keys is neither listed nor pulled with the tenant's.
	rootVersion := "root-" + strings.TrimPrefix(ns, "tenant-")
	if r = e.Run(t, "modelhub", "push", "ppocr-det:"+rootVersion, "--from-file", filepath.Join(vol, "ppocr-det.tar.gz"), "-n", install.PlatformNamespace); r.Code != 0 {
		t.Fatalf("modelhub push with the root keys: %s", r)
	}
	if r = e.Run(t, "modelhub", "list", "ppocr-det", "-n", ns); r.Code != 0 || strings.Contains(r.Stdout, rootVersion) || !strings.Contains(r.Stdout, "tenant") {
		t.Errorf("modelhub list with the tenant's keys shows the platform's versions, or not theirs: %s", r)
	}
	if r = e.Run(t, "modelhub", "pull", "ppocr-det:"+rootVersion, "-n", ns, "-o", t.TempDir()); r.Code != 1 || !strings.Contains(r.Stderr, "model ppocr-det:"+rootVersion+" not found in ") ||
		!strings.Contains(r.Stderr, "model-center/"+ns) {
		t.Errorf("the tenant's keys reached a version of the platform's area, or failed otherwise: %s", r)
	}

	start := time.Now()
	serveCreate(t, e, ns, "tenant")
	t.Logf("serving in tenant namespace %s took %s", ns, time.Since(start).Round(time.Second))
	verifiedInLogs(t, e, ns, "tenant", archive)
	predictThroughGateway(t, e, ns)

	// The tenant's notebook: paddlex in it acts in their namespace, as them.
	notebookActsAsTheTenant(t, e, ns, email)
}

// waitServiceAccount waits for the namespace's default ServiceAccount,
// which pods need before they can be created.
func waitServiceAccount(t *testing.T, e *testenv.Env, ns string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := e.Clientset.CoreV1().ServiceAccounts(ns).Get(context.Background(), "default", metav1.GetOptions{}); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no service account %s/default\nkube-controller-manager log:\n%s", ns, e.Log("kube-controller-manager", 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
