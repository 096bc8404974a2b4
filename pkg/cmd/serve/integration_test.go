package serve_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/internal/hermetic"
	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/modelstore/s3test"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/serve"
)

var servicesGVR = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}

// knative plays Knative Serving's controller for one namespace: whenever a
// Service's generation moves past what its status observed, it reports the
// template's revision as created and, unless fail says otherwise, Ready,
// with the Service URL and a URL per traffic tag, as the Route would.
type knative struct {
	e    *testenv.Env
	ns   string
	fail func(rev string) (reason, message string, failed bool)

	mu   sync.Mutex
	errs []error
	// revisions are the revisions "created", in order.
	revisions []string
}

func startKnative(t *testing.T, e *testenv.Env, ns string, fail func(rev string) (string, string, bool)) *knative {
	k := &knative{e: e, ns: ns, fail: fail}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			k.reconcileAll(ctx)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		k.mu.Lock()
		defer k.mu.Unlock()
		for _, err := range k.errs {
			t.Errorf("knative controller: %v", err)
		}
	})
	return k
}

func (k *knative) reconcileAll(ctx context.Context) {
	list, err := k.e.Dynamic.Resource(servicesGVR).Namespace(k.ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		if ctx.Err() == nil {
			k.record(err)
		}
		return
	}
	for i := range list.Items {
		k.reconcile(ctx, &list.Items[i])
	}
}

func (k *knative) reconcile(ctx context.Context, svc *unstructured.Unstructured) {
	og, _, _ := unstructured.NestedInt64(svc.Object, "status", "observedGeneration")
	if og >= svc.GetGeneration() || svc.GetDeletionTimestamp() != nil {
		return
	}
	rev, _, _ := unstructured.NestedString(svc.Object, "spec", "template", "metadata", "name")
	k.mu.Lock()
	if len(k.revisions) == 0 || k.revisions[len(k.revisions)-1] != rev {
		k.revisions = append(k.revisions, rev)
	}
	k.mu.Unlock()
	host := svc.GetName() + "." + svc.GetNamespace() + ".example.com"
	var traffic []any
	for _, x := range serve.TrafficOf(svc, "spec") {
		t := map[string]any{"revisionName": x.Revision, "percent": x.Percent, "latestRevision": false}
		if x.Tag != "" {
			t["tag"] = x.Tag
			t["url"] = "http://" + x.Tag + "-" + host
		}
		traffic = append(traffic, t)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	cond := func(typ, status, reason, msg string) map[string]any {
		return map[string]any{"type": typ, "status": status, "reason": reason, "message": msg, "lastTransitionTime": now}
	}
	status := map[string]any{
		"observedGeneration":        svc.GetGeneration(),
		"url":                       "http://" + host,
		"latestCreatedRevisionName": rev,
		"traffic":                   traffic,
		"address":                   map[string]any{"url": "http://" + svc.GetName() + "." + svc.GetNamespace() + ".svc.cluster.local"},
	}
	// Conditions sorted by type as Knative keeps them: Ready is not last.
	if reason, msg, failed := k.fail(rev); failed {
		status["conditions"] = []any{
			cond("ConfigurationsReady", "False", reason, msg),
			cond("Ready", "False", reason, msg),
			cond("RoutesReady", "True", "", ""),
		}
	} else {
		status["latestReadyRevisionName"] = rev
		status["conditions"] = []any{
			cond("ConfigurationsReady", "True", "", ""),
			cond("Ready", "True", "", ""),
			cond("RoutesReady", "True", "", ""),
		}
	}
	patch, _ := json.Marshal(map[string]any{"status": status})
	_, err := k.e.Dynamic.Resource(servicesGVR).Namespace(svc.GetNamespace()).Patch(ctx, svc.GetName(), types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		k.record(fmt.Errorf("status of %s: %w", svc.GetName(), err))
	}
}

func (k *knative) record(err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.errs = append(k.errs, err)
}

func noFailures(string) (string, string, bool) { return "", "", false }

// modelCenterKeys creates the Secret serving pods (and modelhub push) read
// the model center's keys from, as install does.
func modelCenterKeys(t *testing.T, e *testenv.Env, ns string) {
	keys(t, e, ns, "minio", "minio123")
}

func keys(t *testing.T, e *testenv.Env, ns, access, secret string) {
	e.Apply(t, ns, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: data-center
stringData:
  access-key: %q
  secret-key: %q
`, access, secret))
}

// modelArchive writes a converted model as the training's serving-convert
// step packs it: MODEL/server/ and MODEL/client/.
func modelArchive(t *testing.T, model, content string) string {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{model + "/server/inference.pdmodel": content, model + "/client/serving_client_conf.prototxt": servingConf("save_infer_model/scale_0.tmp_1")} {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	_ = gz.Close()
	p := filepath.Join(t.TempDir(), model+".tar.gz")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startPod does what a serving pod's init containers do with the revision
// in the Service's template: fetch-model's download (here with minio-go,
// from the objects and with the keys the template names) and verify-model's
// program, run with python3. It returns the model folder.
func startPod(t *testing.T, e *testenv.Env, svc *unstructured.Unstructured, srv *s3test.Server) string {
	t.Helper()
	hermetic.LookPath(t, "python3")
	inits, _, _ := unstructured.NestedSlice(svc.Object, "spec", "template", "spec", "initContainers")
	if len(inits) != 2 {
		t.Fatalf("init containers: %v", inits)
	}
	dir := t.TempDir()
	env := func(c any) map[string]string {
		out := map[string]string{}
		for _, x := range c.(map[string]any)["env"].([]any) {
			m := x.(map[string]any)
			if v, ok := m["value"].(string); ok {
				out[m["name"].(string)] = v
				continue
			}
			ref := m["valueFrom"].(map[string]any)["secretKeyRef"].(map[string]any)
			sec, err := e.Clientset.CoreV1().Secrets(svc.GetNamespace()).Get(context.Background(), ref["name"].(string), metav1.GetOptions{})
			if err != nil {
				t.Fatalf("secret of %s: %v", m["name"], err)
			}
			out[m["name"].(string)] = string(sec.Data[ref["key"].(string)])
		}
		return out
	}
	fetch := env(inits[0])
	u, _ := url.Parse(fetch["ENDPOINT"])
	mc, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(fetch["ACCESS_KEY"], fetch["SECRET_KEY"], ""), Secure: u.Scheme == "https"})
	if err != nil {
		t.Fatal(err)
	}
	for obj, file := range map[string]string{fetch["ARCHIVE_OBJECT"]: fetch["ARCHIVE"], fetch["METADATA_OBJECT"]: "model.json"} {
		bucket, key, _ := strings.Cut(obj, "/")
		if err := mc.FGetObject(context.Background(), bucket, key, filepath.Join(dir, file), minio.GetObjectOptions{}); err != nil {
			t.Fatalf("fetch-model: %s from %s: %v", obj, srv.Endpoint, err)
		}
	}
	verify := inits[1].(map[string]any)
	args := verify["command"].([]any)
	cmd := exec.Command("python3", args[1].(string), args[2].(string))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range env(verify) {
		if k == "MODEL_DIR" {
			v = dir
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("verify-model: %v\n%s", err, out)
	}
	return dir
}

func svcRef(ns, name string) kube.ObjectRef {
	return kube.ObjectRef{GVK: paddle.KnativeServiceGVK, Namespace: ns, Name: name}
}

func trafficOf(t *testing.T, e *testenv.Env, ref kube.ObjectRef) string {
	t.Helper()
	obj := e.Get(t, ref)
	if obj == nil {
		t.Fatalf("%s is gone", ref)
	}
	return serve.TrafficOf(obj, "spec").String()
}

func templateOf(t *testing.T, obj *unstructured.Unstructured) string {
	t.Helper()
	name, _, _ := unstructured.NestedString(obj.Object, "spec", "template", "metadata", "name")
	return name
}

func must(t *testing.T, r testenv.Result, what string) testenv.Result {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("%s: %s", what, r)
	}
	return r
}

// TestServeFlow is the flow, command by command against a real API
// server with Knative Serving's own CRDs: create ppocr-det v1 until Ready,
// roll out v2 at 10%, promote, roll back.
func TestServeFlow(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	kn := startKnative(t, e, ns, noFailures)
	ref := svcRef(ns, "ppocr-det")

	// 1. The trained model goes into the model center, a real S3 server,
	// with the keys of the cluster's data-center Secret.
	srv := s3test.Start(t)
	keys(t, e, ns, srv.AccessKey, srv.SecretKey)
	for _, v := range []string{"v1", "v2"} {
		must(t, e.Run(t, "modelhub", "push", "ppocr-det:"+v, "--from-file", modelArchive(t, "ppocr-det", "weights "+v), "--endpoint", srv.Endpoint, "-n", ns), "push "+v)
	}

	// 2. serve create until Ready.
	r := must(t, e.Run(t, "serve", "create", "ppocr-det", "-n", ns, "--model-version", "v1", "--max-scale", "3", "--endpoint", srv.Endpoint, "--timeout", "30s"), "create")
	if r.Stdout != "http://ppocr-det."+ns+".example.com\n" {
		t.Errorf("create printed %q, want the URL", r.Stdout)
	}
	if !strings.Contains(r.Stderr, "ppocr-det-v1=100%(current)") {
		t.Errorf("create stderr: %s", r.Stderr)
	}

	// The API server, validating against Knative's schema, kept every field
	// paddlex rendered: nothing was pruned as unknown.
	live := e.Get(t, ref)
	s := serve.Spec{Name: "ppocr-det", Namespace: ns, ModelVersion: "v1", MaxScale: 3, Endpoint: srv.Endpoint, Action: "create"}
	s.Defaults()
	want := serve.Render(s)[0]
	for _, field := range []string{"spec"} {
		got, _ := yaml.Marshal(live.Object[field])
		exp, _ := yaml.Marshal(want.Object[field])
		if string(got) != string(exp) {
			t.Errorf("the API server changed %s:\n%s\nrendered:\n%s", field, got, exp)
		}
	}
	if live.GetAnnotations()[serve.AnnotationSpec] == "" || live.GetLabels()[paddle.LabelServe] != "ppocr-det" {
		t.Errorf("metadata: %v %v", live.GetAnnotations(), live.GetLabels())
	}
	// A pod of revision v1 finds v1 where modelhub pushed it, and it verifies.
	if dir := startPod(t, e, live, srv); dir != "" {
		if b, _ := os.ReadFile(filepath.Join(dir, "ppocr-det/server/inference.pdmodel")); string(b) != "weights v1" {
			t.Errorf("revision v1 serves %q", b)
		}
	}

	// 3. Roll out v2 at 10%.

	r = must(t, e.Run(t, "serve", "rollout", "ppocr-det", "-n", ns, "--model-version", "v2", "--traffic", "10", "--timeout", "30s"), "rollout")
	if got := trafficOf(t, e, ref); got != "ppocr-det-v1=90%(current),ppocr-det-v2=10%(candidate)" {
		t.Errorf("after rollout: %s", got)
	}
	if !strings.Contains(r.Stdout, "http://candidate-ppocr-det."+ns+".example.com") || !strings.Contains(r.Stdout, "10%") {
		t.Errorf("rollout output:\n%s", r.Stdout)
	}
	live = e.Get(t, ref)
	if templateOf(t, live) != "ppocr-det-v2" {
		t.Errorf("template after rollout: %s", templateOf(t, live))
	}
	if cand, _, _ := serve.SpecOf(live); cand.MaxScale != 3 || cand.Endpoint != srv.Endpoint {
		t.Errorf("the candidate lost the service's settings: %+v", cand)
	}
	if dir := startPod(t, e, live, srv); dir != "" {
		if b, _ := os.ReadFile(filepath.Join(dir, "ppocr-det/server/inference.pdmodel")); string(b) != "weights v2" {
			t.Errorf("revision v2 serves %q", b)
		}
	}

	r = must(t, e.Run(t, "serve", "get", "ppocr-det", "-n", ns), "get")
	for _, w := range []string{"ppocr-det-v1=90%(current),ppocr-det-v2=10%(candidate)", "http://ppocr-det." + ns + ".example.com", "True", " 3 "} {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("get lacks %q:\n%s", w, r.Stdout)
		}
	}

	// 4. Promote, then roll back.
	must(t, e.Run(t, "serve", "promote", "ppocr-det", "-n", ns, "--timeout", "30s"), "promote")
	if got := trafficOf(t, e, ref); got != "ppocr-det-v2=100%(current),ppocr-det-v1=0%(previous)" {
		t.Errorf("after promote: %s", got)
	}

	must(t, e.Run(t, "serve", "rollback", "ppocr-det", "-n", ns, "--timeout", "30s"), "rollback")
	live = e.Get(t, ref)
	if got := serve.TrafficOf(live, "spec").String(); got != "ppocr-det-v1=100%(current)" {
		t.Errorf("after rollback: %s", got)
	}
	// The template is v1's again, byte for byte, so Knative reuses that
	// revision rather than refusing a changed one under the same name.
	gotTmpl, _ := yaml.Marshal(live.Object["spec"].(map[string]any)["template"])
	wantTmpl, _ := yaml.Marshal(want.Object["spec"].(map[string]any)["template"])
	if string(gotTmpl) != string(wantTmpl) {
		t.Errorf("template after rollback:\n%s\nwant:\n%s", gotTmpl, wantTmpl)
	}

	r = must(t, e.Run(t, "serve", "describe", "ppocr-det", "-n", ns), "describe")
	for _, w := range []string{"Ready:       True", "Revision:  ppocr-det-v1", "Max:       3", "http://current-ppocr-det." + ns + ".example.com"} {
		if !strings.Contains(r.Stdout, w) {
			t.Errorf("describe lacks %q:\n%s", w, r.Stdout)
		}
	}
	kn.mu.Lock()
	revs := strings.Join(kn.revisions, ",")
	kn.mu.Unlock()
	if revs != "ppocr-det-v1,ppocr-det-v2,ppocr-det-v1" {
		t.Errorf("templates the controller saw: %s", revs)
	}

	// A rollback with nothing to roll back to changes nothing.
	if r := e.Run(t, "serve", "rollback", "ppocr-det", "-n", ns); r.Code != 1 || !strings.Contains(r.Stderr, "no revision to roll back to") {
		t.Errorf("second rollback: %s", r)
	}

	must(t, e.Run(t, "serve", "delete", "ppocr-det", "-n", ns, "--timeout", "30s"), "delete")
	if obj := e.Get(t, ref); obj != nil {
		t.Errorf("still there after delete: %v", obj.GetDeletionTimestamp())
	}
}

func TestServeReadyFalseExits1(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	startKnative(t, e, ns, func(rev string) (string, string, bool) {
		if strings.HasSuffix(rev, "-broken") {
			return "RevisionFailed", `Revision "` + rev + `" failed with message: init container fetch-model: model.json records no sha256.`, true
		}
		return "", "", false
	})
	ref := svcRef(ns, "ocr")
	if r := e.Run(t, "serve", "create", "ocr", "-n", ns, "--model-version", "v1"); r.Code != 4 || !strings.Contains(r.Stderr, "Secret "+ns+"/data-center does not exist") {
		t.Errorf("create without the model center's keys: %s", r)
	}
	modelCenterKeys(t, e, ns)

	r := e.Run(t, "serve", "create", "ocr", "-n", ns, "--model-version", "broken", "--timeout", "30s")
	if r.Code != 1 || !strings.Contains(r.Stderr, "RevisionFailed") || !strings.Contains(r.Stderr, "records no sha256") {
		t.Fatalf("create of a failing revision: %s", r)
	}
	must(t, e.Run(t, "serve", "apply", "ocr", "-n", ns, "--model-version", "v1", "--timeout", "30s"), "apply v1")

	// A failing candidate: the rollout exits 1 with Knative's reason, and
	// rollback restores the service.
	r = e.Run(t, "serve", "rollout", "ocr", "-n", ns, "--model-version", "broken", "--traffic", "20", "--timeout", "30s")
	if r.Code != 1 || !strings.Contains(r.Stderr, "RevisionFailed") || !strings.Contains(r.Stderr, "paddlex serve rollback ocr") {
		t.Fatalf("rollout of a failing revision: %s", r)
	}
	if got := trafficOf(t, e, ref); got != "ocr-v1=80%(current),ocr-broken=20%(candidate)" {
		t.Errorf("after failed rollout: %s", got)
	}
	must(t, e.Run(t, "serve", "rollback", "ocr", "-n", ns, "--timeout", "30s"), "rollback")
	if got := trafficOf(t, e, ref); got != "ocr-v1=100%(current)" {
		t.Errorf("after rollback: %s", got)
	}
	r = must(t, e.Run(t, "serve", "list", "-n", ns, "-o", "wide"), "list")
	if !strings.Contains(r.Stdout, "ocr:v1") || !strings.Contains(r.Stdout, "True") {
		t.Errorf("list:\n%s", r.Stdout)
	}
}

func TestServeDryRunServer(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	startKnative(t, e, ns, noFailures)
	modelCenterKeys(t, e, ns)
	ref := svcRef(ns, "det")

	r := must(t, e.Run(t, "serve", "create", "det", "-n", ns, "--model-version", "v1", "--gpu", "1", "--memory", "4Gi", "--env", "A=1", "--dry-run=server", "-o", "yaml"), "create --dry-run=server")
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(r.Stdout), &obj); err != nil || obj["metadata"].(map[string]any)["uid"] == nil {
		t.Fatalf("server dry run printed no object from the server: %v\n%s", err, r.Stdout)
	}
	if e.Get(t, ref) != nil {
		t.Fatal("a server dry run created the service")
	}

	must(t, e.Run(t, "serve", "create", "det", "-n", ns, "--model-version", "v1", "--timeout", "30s"), "create")
	r = must(t, e.Run(t, "serve", "rollout", "det", "-n", ns, "--model-version", "v2", "--dry-run=server"), "rollout --dry-run=server")
	if !strings.Contains(r.Stdout, "det-v1=90%(current),det-v2=10%(candidate) (server dry run)") {
		t.Errorf("rollout dry run: %s", r.Stdout)
	}
	if got := trafficOf(t, e, ref); got != "det-v1=100%(current)" {
		t.Errorf("a server dry run changed traffic: %s", got)
	}
	r = must(t, e.Run(t, "serve", "delete", "det", "-n", ns, "--dry-run=server"), "delete --dry-run=server")
	if !strings.Contains(r.Stdout, "(server dry run)") || e.Get(t, ref) == nil {
		t.Errorf("delete dry run: %s", r.Stdout)
	}
	// A Service paddlex did not make is refused by the traffic commands.
	e.Apply(t, ns, `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: foreign
spec:
  template:
    spec:
      containers:
      - image: example.com/app:1
`)
	if r := e.Run(t, "serve", "rollout", "foreign", "-n", ns, "--model-version", "v2"); r.Code != 1 || !strings.Contains(r.Stderr, "not made by paddlex serve") {
		t.Errorf("rollout of a foreign service: %s", r)
	}
}
