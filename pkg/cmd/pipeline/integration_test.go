package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{CRDs: []string{testenv.CRDsArgo, testenv.CRDsPaddle, testenv.CRDsKnative}}))
}

type schemaGVK = schema.GroupVersionKind

var workflowGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}

var builtinNames = []string{
	"paddleclas-cls", "paddleclas-shitu",
	"paddlenlp-dialogue", "paddlenlp-mrc", "paddlenlp-mt", "paddlenlp-senti",
	"paddlerec-content", "paddlerec-match", "paddlerec-rank", "paddlerec-recall",
	"ppocr-det", "ppocr-layout-table", "ppocr-rec",
}

func wfRef(ns, name string) kube.ObjectRef {
	return kube.ObjectRef{GVK: paddle.WorkflowGVK, Namespace: ns, Name: name}
}

// TestServerDryRunEveryBuiltin: the API server, with Argo's full CRDs, accepts
// every built-in Workflow and every object its steps will create.
func TestServerDryRunEveryBuiltin(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	for _, name := range builtinNames {
		r := e.Run(t, "pipeline", "run", "--builtin", name, "-n", ns, "--dry-run=server")
		if r.Code != 0 {
			t.Fatalf("%s: %s", name, r)
		}
		if !strings.Contains(r.Stderr, "the API server accepts the workflow and the") || !strings.Contains(r.Stdout, "workflow.argoproj.io/"+name+" (server dry run)") {
			t.Errorf("%s: %s", name, r)
		}
	}
	// Nothing was persisted.
	if obj := e.Get(t, wfRef(ns, "ppocr-det")); obj != nil {
		t.Error("server dry run created the workflow")
	}
}

// TestClientDryRunOutputIsAccepted: what --dry-run=client -o yaml prints is
// accepted by server-side apply against the full Workflow CRD schema.
func TestClientDryRunOutputIsAccepted(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	r := e.Run(t, "pipeline", "run", "--builtin", "ppocr-det", "-n", ns, "--dry-run=client", "-o", "yaml")
	if r.Code != 0 {
		t.Fatal(r)
	}
	e.Apply(t, ns, r.Stdout)
	wf := e.Get(t, wfRef(ns, "ppocr-det"))
	if wf == nil {
		t.Fatal("workflow not applied")
	}
	// The schema kept every template: nothing was pruned as unknown.
	templates, _, _ := unstructured.NestedSlice(wf.Object, "spec", "templates")
	if len(templates) < 15 {
		t.Errorf("%d templates after apply", len(templates))
	}
}

func TestRunGetListDelete(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	r := e.Run(t, "pipeline", "run", "--builtin", "ppocr-det", "-n", ns)
	if r.Code != 0 || r.Stdout != "workflow.argoproj.io/ppocr-det submitted\n" {
		t.Fatal(r)
	}
	// The run's own account and rights are applied alongside, owned by the
	// run.
	roleRef := kube.ObjectRef{GVK: rbacGVK("Role"), Namespace: ns, Name: "pipeline-runner-ppocr-det"}
	saRef := kube.ObjectRef{GVK: coreGVK("ServiceAccount"), Namespace: ns, Name: "pipeline-runner-ppocr-det"}
	role, sa, run := e.Get(t, roleRef), e.Get(t, saRef), e.Get(t, wfRef(ns, "ppocr-det"))
	if role == nil || sa == nil {
		t.Fatalf("RBAC not applied: role %v, sa %v", role != nil, sa != nil)
	}
	for _, o := range []*unstructured.Unstructured{role, sa} {
		if refs := o.GetOwnerReferences(); len(refs) != 1 || refs[0].Kind != "Workflow" || refs[0].UID != run.GetUID() {
			t.Errorf("%s %s is not owned by the run: %v", o.GetKind(), o.GetName(), refs)
		}
	}
	if e.Get(t, kube.ObjectRef{GVK: coreGVK("ServiceAccount"), Namespace: ns, Name: "pipeline-runner"}) != nil {
		t.Error("a shared pipeline-runner account was created")
	}
	// Running it again under the same name is refused with a way out.
	r = e.Run(t, "pipeline", "run", "--builtin", "ppocr-det", "-n", ns)
	if r.Code != 1 || !strings.Contains(r.Stderr, "--generate-name") {
		t.Errorf("second run: %s", r)
	}
	r = e.Run(t, "pipeline", "run", "--builtin", "ppocr-det", "-n", ns, "--generate-name", "-o", "name", "--service-account", "default")
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "workflow.argoproj.io/ppocr-det-") {
		t.Fatal(r)
	}
	generated := strings.TrimSpace(strings.TrimPrefix(r.Stdout, "workflow.argoproj.io/"))

	r = e.Run(t, "pipeline", "get", "ppocr-det", "-n", ns)
	if r.Code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{"workflow ppocr-det  Pending  0/13", "├─ ○ dataset", "│  ├─ ○ sampleset", "└─ ○ serve", "Waiting"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("get lacks %q:\n%s", want, r.Stdout)
		}
	}
	// Argo reports progress: the view follows the nodes.
	setStatus(t, e, ns, "ppocr-det", "Running", map[string]string{"dataset": "Running", "dataset.sampleset": "Succeeded", "dataset.sync": "Running"})
	r = e.Run(t, "pipeline", "list", "-n", ns)
	if r.Code != 0 {
		t.Fatal(r)
	}
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(r.Stdout, "Running") || !strings.Contains(r.Stdout, "1/13") || !strings.Contains(r.Stdout, generated) {
		t.Errorf("list:\n%s", r.Stdout)
	}
	// get without a NAME lists, as list does.
	if g := e.Run(t, "pipeline", "get", "-n", ns); g.Code != 0 || firstColumn(g.Stdout) != firstColumn(r.Stdout) || !strings.Contains(g.Stdout, "1/13") {
		t.Errorf("get without NAME:\n%s\nlist:\n%s", g, r.Stdout)
	}
	if g := e.Run(t, "pipeline", "get", "-n", ns, "-o", "name"); g.Code != 0 || strings.Count(g.Stdout, "workflow.argoproj.io/") != 2 {
		t.Errorf("get -o name: %s", g)
	}
	g := e.Run(t, "pipeline", "get", "-n", ns, "-o", "json")
	var all struct {
		Items []struct{ Metadata struct{ Name string } }
	}
	if err := json.Unmarshal([]byte(g.Stdout), &all); g.Code != 0 || err != nil || len(all.Items) != 2 || all.Items[0].Metadata.Name != "ppocr-det" {
		t.Errorf("get -o json: %v %s", err, g)
	}
	if g := e.Run(t, "pipeline", "get", "ppocr-det", "-A", "-n", ns); g.Code != 2 || !strings.Contains(g.Stderr, "-A") {
		t.Errorf("get NAME -A: %s", g)
	}
	if d := e.Run(t, "pipeline", "delete", "ppocr-det", "-n", ns, "--force-conflicts"); d.Code != 2 || !strings.Contains(d.Stderr, "force-conflicts") {
		t.Errorf("delete --force-conflicts: %s", d)
	}
	if d := e.Run(t, "pipeline", "delete", "ppocr-det", "-n", ns, "--dry-run=server"); d.Code != 0 || !strings.Contains(d.Stdout, "(server dry run)") || e.Get(t, wfRef(ns, "ppocr-det")) == nil {
		t.Errorf("delete --dry-run=server: %s", d)
	}
	r = e.Run(t, "pipeline", "get", "ppocr-det", generated, "-n", ns)
	if r.Code != 0 || strings.Count(r.Stdout, "workflow ppocr-det") != 2 {
		t.Errorf("get of two runs: %s", r)
	}
	r = e.Run(t, "pipeline", "delete", "ppocr-det", generated, "-n", ns, "--wait")
	if r.Code != 0 || !strings.Contains(r.Stdout, "workflow.argoproj.io/ppocr-det deleted") {
		t.Fatal(r)
	}
	if e.Get(t, wfRef(ns, "ppocr-det")) != nil || e.Get(t, wfRef(ns, generated)) != nil {
		t.Error("workflows still there")
	}
	// The garbage collector takes the run's account and rights with it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, ref := range []kube.ObjectRef{roleRef, saRef} {
		if _, err := e.Kube().Wait(ctx, ref, kube.Gone()); err != nil {
			t.Errorf("%s outlives its run: %v", ref, err)
		}
	}
	r = e.Run(t, "pipeline", "get", "ppocr-det", "-n", ns)
	if r.Code != 1 || !strings.Contains(r.Stderr, "not found") {
		t.Errorf("get after delete: %s", r)
	}
}

// firstColumn is the first field of each line of a table.
func firstColumn(table string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(table), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			b.WriteString(f[0] + "\n")
		}
	}
	return b.String()
}

func rbacGVK(kind string) (gvk schemaGVK) {
	gvk.Group, gvk.Version, gvk.Kind = "rbac.authorization.k8s.io", "v1", kind
	return
}

func coreGVK(kind string) (gvk schemaGVK) {
	gvk.Version, gvk.Kind = "v1", kind
	return
}

// setStatus plays Argo's controller: it writes the workflow's phase and
// node statuses (Workflows have no status subresource).
func setStatus(t *testing.T, e *testenv.Env, ns, name, phase string, nodes map[string]string) {
	t.Helper()
	st := map[string]any{"phase": phase, "startedAt": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}
	if phase == "Succeeded" || phase == "Failed" || phase == "Error" {
		st["finishedAt"] = time.Now().UTC().Format(time.RFC3339)
	}
	m := map[string]any{}
	for n, ph := range nodes {
		id := name + "-" + strings.ReplaceAll(n, ".", "-")
		node := map[string]any{"id": id, "name": name + "." + n, "displayName": n[strings.LastIndex(n, ".")+1:],
			"type": "Pod", "phase": ph, "startedAt": time.Now().Add(-30 * time.Second).UTC().Format(time.RFC3339)}
		if ph == "Failed" {
			node["message"] = "failure condition 'status.phase in (Failed,Terminated)' evaluated true"
		}
		if ph == "Succeeded" || ph == "Failed" {
			node["finishedAt"] = time.Now().UTC().Format(time.RFC3339)
		}
		m[id] = node
	}
	st["nodes"] = m
	patch, _ := json.Marshal(map[string]any{"status": st})
	_, err := e.Dynamic.Resource(workflowGVR).Namespace(ns).Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		t.Fatalf("set status of workflow %s: %v", name, err)
	}
}

// waitForWorkflow waits for the command under test to create a workflow of
// the pipeline and returns its name.
func waitForWorkflow(t *testing.T, e *testenv.Env, ns, selector string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		l, err := e.Dynamic.Resource(workflowGVR).Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
		if err == nil && len(l.Items) > 0 {
			return l.Items[0].GetName()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no workflow %s in %s", selector, ns)
	return ""
}

var succeedAll = []map[string]string{
	{"dataset": "Running", "dataset.sampleset": "Running"},
	{"dataset": "Succeeded", "dataset.sampleset": "Succeeded", "dataset.sync": "Succeeded", "dataset.warmup": "Succeeded",
		"dataset.cleanup-sync": "Succeeded", "dataset.cleanup-warmup": "Succeeded", "train": "Running", "train.paddlejob": "Running"},
}

// play advances the workflow through states, then sets its final phase.
// After state i it calls shown(i), when set, to return once the command
// under test has shown that state: a watch may legitimately miss a state
// replaced before it looked, so a test that asserts on one waits for it.
func play(t *testing.T, e *testenv.Env, ns, name string, states []map[string]string, final string, finalNodes map[string]string, shown func(i int)) {
	t.Helper()
	acc := map[string]string{}
	for i, s := range states {
		for k, v := range s {
			acc[k] = v
		}
		setStatus(t, e, ns, name, "Running", acc)
		if shown != nil {
			shown(i)
		}
	}
	for k, v := range finalNodes {
		acc[k] = v
	}
	setStatus(t, e, ns, name, final, acc)
}

func TestWatchSucceeded(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	out := testenv.NewOutput()
	var r testenv.Result
	run := testenv.Background(t, func(bg *testenv.T) {
		r = e.RunWith(context.Background(), bg, func(f *cmdutil.Factory) { f.Streams.Out = io.MultiWriter(f.Streams.Out, out) },
			"pipeline", "run", "--builtin", "ppocr-det", "-n", ns, "--generate-name", "--watch", "--timeout", "60s")
	})
	name := waitForWorkflow(t, e, ns, pipeline.LabelPipeline+"=ppocr-det")
	all := map[string]string{}
	for _, p := range []string{"train", "train.paddlejob", "train.export", "train.convert", "train.visualdl-deployment", "train.visualdl-service",
		"modelhub", "modelhub.upload", "modelhub-latest", "modelhub-latest.upload", "serve", "serve.service"} {
		all[p] = "Succeeded"
	}
	// The Running states are asserted below: the next state is written
	// only once the watch has shown the one before.
	shown := []string{"dataset/sampleset: Running", "train/paddlejob: Running"}
	play(t, e, ns, name, succeedAll, "Succeeded", all, func(i int) {
		if !out.Await(context.Background(), run.Done(), shown[i]) {
			t.Fatalf("the watch ended without showing %q:\n%s", shown[i], out)
		}
	})
	run.Wait()
	if r.Code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{"dataset/sampleset: Running", "dataset/sampleset: Succeeded", "train/paddlejob: Running", "serve/service: Succeeded", "workflow " + name + ": Succeeded"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("watch output lacks %q:\n%s", want, r.Stdout)
		}
	}
	// One line per change: a step reported Running once, however many updates.
	if n := strings.Count(r.Stdout, "train/paddlejob: Running"); n != 1 {
		t.Errorf("train/paddlejob Running reported %d times", n)
	}
}

func TestWatchFailedExits1(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	var r testenv.Result
	run := testenv.Background(t, func(bg *testenv.T) {
		r = e.RunContext(context.Background(), bg, "pipeline", "run", "--builtin", "ppocr-det", "-n", ns, "--watch", "-o", "json")
	})
	name := waitForWorkflow(t, e, ns, pipeline.LabelPipeline+"=ppocr-det")
	play(t, e, ns, name, succeedAll, "Failed", map[string]string{"train": "Failed", "train.paddlejob": "Failed"}, nil)
	run.Wait()
	if r.Code != 1 {
		t.Fatal(r)
	}
	if !strings.Contains(r.Stderr, "step train/paddlejob failed: failure condition") || !strings.Contains(r.Stderr, "paddlex pipeline retry ppocr-det") {
		t.Errorf("failure not explained:\n%s", r.Stderr)
	}
	// -o json --watch: one JSON object per line.
	var sawFailed bool
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		var ev struct{ Workflow, Step, Phase, Message string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if ev.Step == "train/paddlejob" && ev.Phase == "Failed" && ev.Message != "" {
			sawFailed = true
		}
	}
	if !sawFailed {
		t.Errorf("no JSON line for the failed step:\n%s", r.Stdout)
	}
}

func TestWatchTimeoutExits3(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	r := e.Run(t, "pipeline", "run", "--builtin", "paddlerec-rank", "-n", ns, "--watch", "--timeout", "1s")
	if r.Code != 3 || !strings.Contains(r.Stderr, "timed out after 1s") {
		t.Fatal(r)
	}
}

func TestRetrySkipsSucceededSteps(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	if r := e.Run(t, "pipeline", "run", "--builtin", "ppocr-det", "-n", ns); r.Code != 0 {
		t.Fatal(r)
	}
	// Still running: nothing to retry yet.
	if r := e.Run(t, "pipeline", "retry", "ppocr-det", "-n", ns); r.Code != 4 {
		t.Errorf("retry of a pending run: %s", r)
	}
	// The failed run left its PaddleJob behind.
	e.Apply(t, ns, `apiVersion: batch.paddlepaddle.org/v1
kind: PaddleJob
metadata:
  name: ppocr-det
spec:
  worker:
    replicas: 1
    template:
      spec:
        containers: [{name: paddle, image: paddle:2}]
`)
	play(t, e, ns, "ppocr-det", succeedAll, "Failed", map[string]string{"train": "Failed", "train.paddlejob": "Failed", "train.visualdl-deployment": "Succeeded", "train.visualdl-service": "Succeeded"}, nil)
	r := e.Run(t, "pipeline", "retry", "ppocr-det", "-n", ns, "-o", "name")
	if r.Code != 0 {
		t.Fatal(r)
	}
	if !strings.Contains(r.Stderr, "skipping dataset, train/visualdl-deployment, train/visualdl-service; running again train/paddlejob, train/export") {
		t.Errorf("plan: %s", r.Stderr)
	}
	if e.Get(t, kube.ObjectRef{GVK: paddle.PaddleJobGVK, Namespace: ns, Name: "ppocr-det"}) != nil {
		t.Error("the failed run's PaddleJob was not removed before the retry")
	}
	name := strings.TrimSpace(strings.TrimPrefix(r.Stdout, "workflow.argoproj.io/"))
	obj := e.Get(t, wfRef(ns, name))
	if obj == nil {
		t.Fatalf("retry workflow %q not found", name)
	}
	if obj.GetLabels()[pipeline.LabelRetryOf] != "ppocr-det" || !strings.HasPrefix(name, "ppocr-det-retry-") {
		t.Errorf("retry %s labels %v", name, obj.GetLabels())
	}
	wf, err := pipeline.FromObject(obj)
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range wf.Spec.Templates[0].DAG.Tasks {
		if (task.Name == "dataset") != (task.When == "false") {
			t.Errorf("task %s when %q", task.Name, task.When)
		}
	}
	if len(wf.Spec.VolumeClaimTemplates) != 0 || len(wf.Spec.Volumes) != 1 || wf.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "ppocr-det-task-center" {
		t.Errorf("retry does not mount the failed run's volume: %+v %+v", wf.Spec.VolumeClaimTemplates, wf.Spec.Volumes)
	}
	r = e.Run(t, "pipeline", "get", name, "-n", ns)
	if r.Code != 0 || !strings.Contains(r.Stdout, "retry of ppocr-det") {
		t.Errorf("get retry: %s", r)
	}
	r = e.Run(t, "pipeline", "list", "-n", ns, "-o", "wide")
	if !strings.Contains(r.Stdout, "RETRY-OF") || !strings.Contains(r.Stdout, fmt.Sprintf("%s ", name)) {
		t.Errorf("list wide:\n%s", r.Stdout)
	}
}

func TestBadInputExits2BeforeAnyRequest(t *testing.T) {
	e := testenv.Get(t)
	for _, args := range [][]string{
		{"pipeline", "run"},
		{"pipeline", "run", "--builtin", "ppocr-det", "-f", "x.yaml"},
		{"pipeline", "run", "--builtin", "nope"},
		{"pipeline", "run", "--builtin", "ppocr-det", "--set", "train.epochs=3"},
		{"pipeline", "run", "--builtin", "ppocr-det", "--watch", "--dry-run=server"},
		{"pipeline", "run", "--builtin", "ppocr-det", "-o", "wide"},
		{"pipeline", "get", "Bad_Name"},
		{"pipeline", "init"},
		{"pipeline", "init", "--suite", "paddleseg"},
		{"pipeline", "builtins", "-o", "yaml"},
	} {
		// The namespace does not exist: a request would fail otherwise.
		r := e.Run(t, append(args, "-n", "no-such-namespace")...)
		if r.Code != 2 {
			t.Errorf("%v: %s", args, r)
		}
	}
}

const gapPipeline = `apiVersion: paddlex.io/v1alpha1
kind: Pipeline
name: gap
steps:
- name: prepare
  container:
    image: busybox:1.37
    command: [sh, -c, "ls /mnt/task-center"]
- name: config
  resource:
    action: apply
    manifest: {apiVersion: v1, kind: ConfigMap, metadata: {name: settings}, data: {epochs: "3"}}
- name: train
  after: [prepare, config]
  train: {project: PaddleOCR, image: 'paddleocr:2.1', config_path: c.yml, dataset: icdar2015}
`

// TestDatasetGapWarnsUnlessTheClusterHasIt: a train step whose data set no
// earlier step provides is a warning, silenced when the cluster holds it.
func TestDatasetGapWarnsUnlessTheClusterHasIt(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	file := t.TempDir() + "/gap.yaml"
	if err := os.WriteFile(file, []byte(gapPipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.Run(t, "pipeline", "run", "-f", file, "-n", ns, "--dry-run=server")
	if r.Code != 0 || !strings.Contains(r.Stderr, `warning: step "train": train: no earlier dataset step provides dataset "icdar2015", and the cluster has none`) {
		t.Fatalf("no warning: %s", r)
	}
	// Container and resource steps pass the same server dry run.
	if !strings.Contains(r.Stderr, "the API server accepts the workflow and the 4 objects its steps create") {
		t.Errorf("dry run: %s", r.Stderr)
	}
	e.Apply(t, ns, `apiVersion: batch.paddlepaddle.org/v1alpha1
kind: SampleSet
metadata:
  name: icdar2015
spec:
  partitions: 1
`)
	r = e.Run(t, "pipeline", "run", "-f", file, "-n", ns, "--dry-run=server")
	if r.Code != 0 || strings.Contains(r.Stderr, "warning:") {
		t.Errorf("warning with the data set in the cluster: %s", r)
	}
}
