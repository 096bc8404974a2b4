//go:build linux

package realnode

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/serve"
)

// queueImport is the import path of Knative's queue-proxy.
const queueImport = "knative.dev/serving/cmd/queue"

var revisionGVK = schema.GroupVersionKind{Group: "serving.knative.dev", Version: "v1", Kind: "Revision"}

var knativeState struct {
	once   sync.Once
	failed string
	images map[string]string
}

// knativeServing installs Knative Serving v0.42.2 once per run with
// `paddlex install-standalone --components knative-serving --manifests-dir
// DIR`, from the release's serving-crds.yaml and serving-core.yaml built
// from the module, their images built from the binaries hack/testbin.sh
// built (localcluster.KnativeServingManifestsDir). The install waits for the
// activator, autoscaler, controller and webhook to become Available. It then
// starts the Kourier stand-in for the calling test, stopped when the test
// ends, and returns the images the install runs, by import path.
func knativeServing(t *testing.T, e *testenv.Env) map[string]string {
	t.Helper()
	s := &knativeState
	s.once.Do(func() {
		s.failed = "the install did not finish"
		s.images, s.failed = installKnative(t, e)
	})
	if s.failed != "" {
		t.Fatalf("install Knative Serving: %s", s.failed)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k, err := e.Cluster.StartKourierStandIn(ctx)
	if err != nil {
		t.Fatalf("start the Kourier stand-in: %v", err)
	}
	t.Cleanup(k.Stop)
	return s.images
}

func installKnative(t *testing.T, e *testenv.Env) (map[string]string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dir := t.TempDir()
	images, err := e.Cluster.KnativeServingManifestsDir(ctx, dir)
	if err != nil {
		return nil, err.Error()
	}
	core, err := os.ReadFile(filepath.Join(dir, "knative-serving", "serving-core.yaml"))
	if err != nil {
		return nil, err.Error()
	}
	// Every image the release runs, the queue-proxy's that
	// config-deployment hands to the revisions among them, is one built here.
	pushed := map[string]bool{}
	for _, ref := range images {
		pushed[ref] = true
	}
	var named []string
	for _, line := range strings.Split(string(core), "\n") {
		line = strings.TrimSpace(line)
		for _, key := range []string{"image: ", "queue-sidecar-image: "} {
			if ref, ok := strings.CutPrefix(line, key); ok {
				named = append(named, strings.Trim(ref, `"`))
			}
		}
	}
	for _, ref := range named {
		if !pushed[ref] {
			return nil, fmt.Sprintf("serving-core.yaml runs %s, which is not among the images built from the Knative module %v", ref, images)
		}
	}
	if q := images[queueImport]; q == "" || !strings.Contains(string(core), "queue-sidecar-image: "+q) {
		return nil, fmt.Sprintf("config-deployment does not hand out the queue-proxy built here (%q)", q)
	}

	start := time.Now()
	r := e.RunContext(ctx, t, "install-standalone", "--components", "knative-serving", "--manifests-dir", dir,
		"--artifact-cache", t.TempDir(), "--timeout", "12m")
	t.Logf("paddlex install-standalone --components knative-serving (%s):\n%s", time.Since(start).Round(time.Second), r)
	if r.Code != 0 {
		return nil, fmt.Sprintf("%s\nknative-serving pods:\n%s\nkubelet log:\n%s", r, podsIn(e, "knative-serving"), e.Log("kubelet", 30))
	}

	// Knative resolves each revision's image tags to digests by asking the
	// images' registries, which only containerd reaches here (on the node's
	// loopback): the serving pods' registries are listed as ones to skip,
	// as an administrator does for registries the controller cannot reach.
	skip := []string{"kind.local", "ko.local", "dev.local"}
	for _, ref := range []string{ocrImage, modelhub.DefaultImage} {
		if host, _, _ := strings.Cut(ref, "/"); !contains(skip, host) {
			skip = append(skip, host)
		}
	}
	patch := fmt.Sprintf(`{"data":{"registries-skipping-tag-resolving":%q}}`, strings.Join(skip, ","))
	if _, err := e.Clientset.CoreV1().ConfigMaps("knative-serving").Patch(ctx, "config-deployment", types.MergePatchType, []byte(patch),
		metav1.PatchOptions{FieldManager: "cluster-admin"}); err != nil {
		return nil, fmt.Sprintf("set registries-skipping-tag-resolving: %v", err)
	}
	return images, ""
}

// kourierGateway is the address of Kourier's internal gateway Service,
// which serves the cluster-local host names of every route (the Kourier
// stand-in behind it).
func kourierGateway(t *testing.T, e *testenv.Env) string {
	t.Helper()
	svc, err := e.Clientset.CoreV1().Services(localcluster.KourierNamespace).Get(context.Background(), localcluster.KourierInternalService, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + net.JoinHostPort(svc.Spec.ClusterIP, "80")
}

// serveCreate serves version of model ppocr-det, pushed to the model
// center, as service ppocr-det with `paddlex serve create` and the stand-in
// suite image, and checks that it printed the service's URL once Ready.
func serveCreate(t *testing.T, e *testenv.Env, ns, version string) {
	t.Helper()
	start := time.Now()
	r := e.Run(t, "serve", "create", "ppocr-det", "-n", ns, "--model-version", version, "--image", ocrImage, "--timeout", "8m")
	t.Logf("serve create (%s):\n%s", time.Since(start).Round(time.Second), r)
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != serviceURL(ns) {
		t.Fatalf("serve create: %s\npods:\n%s\nknative controller log:\n%s", r, podsIn(e, ns), podLog(t, e, "knative-serving", "app=controller"))
	}
}

// serviceURL is the URL Knative gives service ppocr-det: its domain
// defaults to svc.cluster.local.
func serviceURL(ns string) string { return "http://ppocr-det." + ns + ".svc.cluster.local" }

// predictThroughGateway sends a pipeline request to service ppocr-det with
// `paddlex serve predict --gateway` through Kourier's internal gateway, with
// the route's Host, and checks the stand-in server's answer: the sum of
// the feed. It returns the command's stderr.
func predictThroughGateway(t *testing.T, e *testenv.Env, ns string) string {
	t.Helper()
	gw := kourierGateway(t, e)
	start := time.Now()
	r := e.Run(t, "serve", "predict", "ppocr-det", "-n", ns, "--data", `{"x": [1, 2, 3]}`, "--gateway", gw, "--timeout", "5m")
	t.Logf("serve predict --gateway %s (%s):\n%s", gw, time.Since(start).Round(time.Second), r)
	how := fmt.Sprintf("sending to service ppocr-det through the gateway %s (--gateway) (Host: ppocr-det.%s.svc.cluster.local)", gw, ns)
	if r.Code != 0 || r.Stdout != "save_infer_model/scale_0.tmp_1: [6]\n" || !strings.Contains(r.Stderr, how) {
		t.Fatalf("serve predict through the gateway: %s\npods:\n%s\nactivator log:\n%s", r, podsIn(e, ns), podLog(t, e, "knative-serving", "app=activator"))
	}
	return r.Stderr
}

// verifiedInLogs checks with `paddlex serve logs --container verify-model`
// that a pod of revision ppocr-det-VERSION verified the archive's sha256,
// and returns the pods that did.
func verifiedInLogs(t *testing.T, e *testenv.Env, ns, version string, archive []byte) []string {
	t.Helper()
	sum := sha256.Sum256(archive)
	r := e.Run(t, "serve", "logs", "ppocr-det", "-n", ns, "--container", "verify-model")
	line := regexp.MustCompile(`(?m)^\[(ppocr-det-` + regexp.QuoteMeta(version) + `-deployment-[a-z0-9-]+)\] model ppocr-det verified: sha256 ` + hex.EncodeToString(sum[:]) + `$`)
	var pods []string
	for _, m := range line.FindAllStringSubmatch(r.Stdout, -1) {
		pods = append(pods, m[1])
	}
	if r.Code != 0 || len(pods) == 0 {
		t.Fatalf("serve logs --container verify-model shows no verification of sha256 %x: %s", sum, r)
	}
	return pods
}

// TestKnativeServesModel serves a model with the real Knative Serving: a
// serving archive pushed to the platform's MinIO with `paddlex modelhub
// push` is served with `paddlex serve create`. The real controller makes
// the revision, whose pod's init containers fetch the archive from MinIO
// (the real mc) and verify its sha256 (Debian's python3), beside Knative's
// queue-proxy; the Route becomes Ready through the Kourier stand-in.
// `paddlex serve describe` and `serve logs` show it, and `serve predict`
// gets the stand-in server's answer through a port-forward to the
// revision's pod and through the route. Once the revision has scaled to
// zero, a request through the route wakes it, through Knative's activator.
func TestKnativeServesModel(t *testing.T) {
	e := testenv.Get(t)
	images := knativeServing(t, e)
	access, secret := platform(t, e)
	ns := namespace(t, e)
	modelCenterKeys(t, e, ns, access, secret)
	claim(t, e, ns, "task-center")
	suiteImage(t, e, ocrImage)

	// A serving model as the conversion Job packs it: PP-OCR's detection
	// model with one feed and one fetch variable.
	conf := "feed_var {\n  name: \"x\"\n  alias_name: \"x\"\n  is_lod_tensor: false\n  feed_type: 1\n  shape: 3\n}\n" +
		"fetch_var {\n  name: \"save_infer_model/scale_0.tmp_1\"\n  alias_name: \"save_infer_model/scale_0.tmp_1\"\n  is_lod_tensor: false\n  fetch_type: 1\n  shape: 1\n}\n"
	ms := members(map[string]string{
		"ppocr-det/server/inference.pdmodel": "model", "ppocr-det/server/inference.pdiparams": "params",
		"ppocr-det/server/serving_server_conf.prototxt": conf, "ppocr-det/client/serving_client_conf.prototxt": conf,
	})
	sort.Slice(ms, func(i, j int) bool { return ms[i].name < ms[j].name })
	archive := tarGz(t, ms)
	sum := sha256.Sum256(archive)
	vol := localcluster.VolumeDir(ns, "task-center")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "ppocr-det.tar.gz"), archive, 0o644); err != nil {
		t.Fatal(err)
	}
	// The platform's MinIO is shared by the package's tests, and versions
	// are immutable: this test pushes a version no other test pushes.
	r := e.Run(t, "modelhub", "push", "ppocr-det-knative", "-n", ns, "--model-name", "ppocr-det", "--model-version", "knative",
		"--pvc-name", "task-center", "--framework", "PaddleOCR", "--timeout", "5m")
	if r.Code != 0 {
		t.Fatalf("modelhub push: %s\nminio log:\n%s", r, podLog(t, e, "kubeflow", "app=minio"))
	}

	serveCreate(t, e, ns, "knative")
	const rev = "ppocr-det-knative"
	ctx := context.Background()

	// What the real controllers made: the Service Ready with its
	// configuration and route, all traffic to the revision, tagged current.
	svc := e.Get(t, kube.ObjectRef{GVK: paddle.KnativeServiceGVK, Namespace: ns, Name: "ppocr-det"})
	for _, c := range []string{"Ready", "ConfigurationsReady", "RoutesReady"} {
		if cond, ok := kube.FindCondition(svc, c); !ok || cond.Status != "True" {
			t.Errorf("Service condition %s: %+v", c, cond)
		}
	}
	if got, _, _ := unstructured.NestedString(svc.Object, "status", "latestReadyRevisionName"); got != rev {
		t.Errorf("latestReadyRevisionName %q, want %s", got, rev)
	}
	traffic, _, _ := unstructured.NestedSlice(svc.Object, "status", "traffic")
	if len(traffic) != 1 || traffic[0].(map[string]any)["revisionName"] != rev || traffic[0].(map[string]any)["tag"] != "current" ||
		fmt.Sprint(traffic[0].(map[string]any)["percent"]) != "100" {
		t.Errorf("Service traffic %v", traffic)
	}
	revision := e.Get(t, kube.ObjectRef{GVK: revisionGVK, Namespace: ns, Name: rev})
	if revision == nil {
		t.Fatalf("no Revision %s/%s", ns, rev)
	}
	if cond, ok := kube.FindCondition(revision, "Ready"); !ok || cond.Status != "True" {
		t.Errorf("Revision %s Ready: %+v", rev, cond)
	}
	if l := revision.GetLabels(); l["serving.knative.dev/configuration"] != "ppocr-det" || l[serve.LabelModelVersion] != "knative" {
		t.Errorf("Revision %s labels %v", rev, l)
	}
	if own := revision.GetOwnerReferences(); len(own) != 1 || own[0].Kind != "Configuration" || own[0].Name != "ppocr-det" {
		t.Errorf("Revision %s owners %+v, want Configuration ppocr-det", rev, own)
	}
	// The Route's KIngress is of Kourier's class, made Ready by the stand-in.
	ings, err := e.Dynamic.Resource(localcluster.KIngressGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(ings.Items) != 1 || ings.Items[0].GetAnnotations()["networking.knative.dev/ingress.class"] != localcluster.KourierClass {
		t.Errorf("KIngresses of %s: %v %v", ns, ings, err)
	}

	// The revision's pod: the init containers fetched and verified the
	// archive, the model server runs beside Knative's queue-proxy.
	pods, err := e.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: serve.PodSelector("ppocr-det", rev)})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods of revision %s: %v", rev, err)
	}
	pod := pods.Items[0]
	for _, cs := range pod.Status.InitContainerStatuses {
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			t.Errorf("init container %s of pod %s: %+v", cs.Name, pod.Name, cs.State)
		}
	}
	if n := len(pod.Status.InitContainerStatuses); n != 2 {
		t.Errorf("pod %s ran %d init containers, want fetch-model and verify-model", pod.Name, n)
	}
	logOf := func(container string) string {
		b, err := e.Clientset.CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
		if err != nil {
			t.Fatalf("log of %s in pod %s: %v", container, pod.Name, err)
		}
		return string(b)
	}
	if log := logOf("verify-model"); !strings.Contains(log, "model ppocr-det verified: sha256 "+hex.EncodeToString(sum[:])) {
		t.Errorf("verify-model log:\n%s", log)
	}
	if log := logOf(serve.ServerContainer); !strings.Contains(log, fmt.Sprintf("serving ppocr-det/server on port %d", serve.DefaultPort)) {
		t.Errorf("server log:\n%s", log)
	}
	ran := map[string]string{}
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		ran[c.Name] = c.Image
	}
	if ran["queue-proxy"] != images[queueImport] {
		t.Errorf("queue-proxy runs %q, want Knative's %q", ran["queue-proxy"], images[queueImport])
	}
	if ran["fetch-model"] != modelhub.DefaultImage || ran["verify-model"] != ocrImage || ran[serve.ServerContainer] != ocrImage {
		t.Errorf("pod %s images %v", pod.Name, ran)
	}

	// The revision's pod answers through a port-forward: the Kourier
	// gateway has no address outside the cluster.
	r = e.Run(t, "serve", "predict", "ppocr-det", "-n", ns, "--data", `{"x": [1, 2, 3]}`, "--timeout", "3m")
	t.Logf("serve predict:\n%s", r)
	if r.Code != 0 || r.Stdout != "save_infer_model/scale_0.tmp_1: [6]\n" ||
		!strings.Contains(r.Stderr, "gateway kourier-system/kourier-internal has no external address") ||
		!strings.Contains(r.Stderr, "of revision "+rev) {
		t.Fatalf("serve predict through a port-forward: %s", r)
	}

	d := e.Run(t, "serve", "describe", "ppocr-det", "-n", ns)
	t.Logf("serve describe:\n%s", d)
	for _, want := range []string{"URL:         " + serviceURL(ns), "Ready:       True", "Revision:  " + rev, "Model:     ppocr-det:knative",
		"Image:     " + ocrImage, "Latest revision: created " + rev + ", ready " + rev} {
		if !strings.Contains(d.Stdout, want) {
			t.Errorf("serve describe does not show %q:\n%s", want, d.Stdout)
		}
	}
	if d.Code != 0 || !regexp.MustCompile(`(?m)^\s+`+rev+`\s+current\s+100%\s`).MatchString(d.Stdout) {
		t.Errorf("serve describe: %s", d)
	}
	if got := verifiedInLogs(t, e, ns, "knative", archive); !contains(got, pod.Name) {
		t.Errorf("serve logs shows the verification of pods %v, not of %s", got, pod.Name)
	}
	predictThroughGateway(t, e, ns)

	// Scale to zero, on: with no traffic the autoscaler scales the
	// revision to zero; a request through the route reaches the activator,
	// which wakes it.
	deployment := kube.ObjectRef{GVK: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Namespace: ns, Name: rev + "-deployment"}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	if _, err := e.Kube().Wait(wctx, deployment, kube.NewCondition("scaled to zero", func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "not found yet", nil
		}
		n, _, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
		return n == 0, fmt.Sprintf("%d replicas", n), nil
	})); err != nil {
		t.Fatalf("revision %s did not scale to zero: %v\nautoscaler log:\n%s", rev, err, podLog(t, e, "knative-serving", "app=autoscaler"))
	}
	t.Logf("revision %s scaled to zero %s after the last request", rev, time.Since(start).Round(time.Second))
	stderr := predictThroughGateway(t, e, ns)
	woke := regexp.MustCompile(`revision ` + rev + ` woke: pod (\S+) (ready|running) after `).FindStringSubmatch(stderr)
	if !strings.Contains(stderr, "revision "+rev+" is scaled to zero: the request wakes it") || woke == nil || woke[1] == pod.Name {
		t.Errorf("serve predict did not wake the revision with a new pod:\n%s\npods of the revision:\n%s", stderr, revisionPods(t, e, ns, rev))
	}
	if woke != nil && !contains(verifiedInLogs(t, e, ns, "knative", archive), woke[1]) {
		t.Errorf("the woken pod %s did not verify the archive", woke[1])
	}
}

// revisionPods describes the pods of a revision, for failure messages:
// when each was created, became ready and was deleted.
func revisionPods(t *testing.T, e *testenv.Env, ns, rev string) string {
	t.Helper()
	pods, err := e.Clientset.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: serve.PodSelector("ppocr-det", rev)})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "pod %s: created %s", p.Name, p.CreationTimestamp.Format(time.RFC3339))
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				fmt.Fprintf(&b, ", ready %s since %s", c.Status, c.LastTransitionTime.Format(time.RFC3339))
			}
		}
		if p.DeletionTimestamp != nil {
			fmt.Fprintf(&b, ", deleted %s", p.DeletionTimestamp.Format(time.RFC3339))
		}
		b.WriteString("\n")
	}
	return b.String()
}
