package pipeline_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

func specField(t *testing.T, e *testenv.Env, ns, name, field string) any {
	t.Helper()
	obj := e.Get(t, wfRef(ns, name))
	if obj == nil {
		t.Fatalf("workflow %s gone", name)
	}
	v, _, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", field)
	return v
}

// TestSuspendResumeStopTerminate: each verb writes the field Argo's CLI
// writes, through server-side apply under its own field manager, and is
// refused, as Argo refuses it, once the run has finished.
func TestSuspendResumeStopTerminate(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	if r := e.Run(t, "pipeline", "run", "--builtin", "ppocr-det", "-n", ns); r.Code != 0 {
		t.Fatal(r)
	}
	setStatus(t, e, ns, "ppocr-det", "Running", map[string]string{"dataset": "Running", "dataset.sampleset": "Running"})
	templates := len(e.Get(t, wfRef(ns, "ppocr-det")).Object["spec"].(map[string]any)["templates"].([]any))

	r := e.Run(t, "pipeline", "suspend", "ppocr-det", "-n", ns, "--dry-run=server")
	if r.Code != 0 || r.Stdout != "workflow.argoproj.io/ppocr-det suspended (server dry run)\n" || specField(t, e, ns, "ppocr-det", "suspend") != nil {
		t.Fatalf("suspend --dry-run=server: %s", r)
	}
	r = e.Run(t, "pipeline", "suspend", "ppocr-det", "-n", ns)
	if r.Code != 0 || r.Stdout != "workflow.argoproj.io/ppocr-det suspended\n" || specField(t, e, ns, "ppocr-det", "suspend") != true {
		t.Fatalf("suspend: %s", r)
	}
	if r := e.Run(t, "pipeline", "get", "ppocr-det", "-n", ns); !strings.Contains(r.Stdout, "workflow ppocr-det  Running (Suspended)  ") {
		t.Errorf("get of a suspended run:\n%s", r.Stdout)
	}
	if r := e.Run(t, "pipeline", "list", "-n", ns); !strings.Contains(r.Stdout, "Running (Suspended)") {
		t.Errorf("list of a suspended run:\n%s", r.Stdout)
	}
	if r := e.Run(t, "pipeline", "suspend", "ppocr-det", "-n", ns); r.Code != 0 || !strings.Contains(r.Stdout, "(it was already suspended)") {
		t.Errorf("second suspend: %s", r)
	}
	r = e.Run(t, "pipeline", "resume", "ppocr-det", "-n", ns)
	if r.Code != 0 || r.Stdout != "workflow.argoproj.io/ppocr-det resumed\n" || specField(t, e, ns, "ppocr-det", "suspend") != false {
		t.Fatalf("resume: %s", r)
	}
	r = e.Run(t, "pipeline", "stop", "ppocr-det", "-n", ns)
	if r.Code != 0 || specField(t, e, ns, "ppocr-det", "shutdown") != "Stop" {
		t.Fatalf("stop: %s", r)
	}
	if r := e.Run(t, "pipeline", "get", "ppocr-det", "-n", ns); !strings.Contains(r.Stdout, "Running (Stopping)") {
		t.Errorf("get of a stopping run:\n%s", r.Stdout)
	}
	r = e.Run(t, "pipeline", "terminate", "ppocr-det", "-n", ns)
	if r.Code != 0 || r.Stdout != "workflow.argoproj.io/ppocr-det terminated\n" || specField(t, e, ns, "ppocr-det", "shutdown") != "Terminate" {
		t.Fatalf("terminate: %s", r)
	}
	// Only those fields changed, under their own manager; the submitted
	// spec is whole.
	obj := e.Get(t, wfRef(ns, "ppocr-det"))
	if n := len(obj.Object["spec"].(map[string]any)["templates"].([]any)); n != templates {
		t.Errorf("%d templates after the verbs, %d before", n, templates)
	}
	managers := map[string]bool{}
	for _, m := range obj.GetManagedFields() {
		managers[m.Manager] = true
	}
	if !managers["paddlex-control"] || !managers["paddlex"] {
		t.Errorf("field managers %v", managers)
	}
	// Argo's controller ends it; nothing is left to stop.
	setStatus(t, e, ns, "ppocr-det", "Failed", map[string]string{"dataset": "Failed", "dataset.sampleset": "Failed"})
	for _, verb := range []string{"suspend", "stop", "terminate"} {
		r := e.Run(t, "pipeline", verb, "ppocr-det", "-n", ns)
		if r.Code != 1 || !strings.Contains(r.Stderr, "has finished (Failed)") {
			t.Errorf("%s of a finished run: %s", verb, r)
		}
	}
	if r := e.Run(t, "pipeline", "stop", "nosuch", "-n", ns); r.Code != 1 || !strings.Contains(r.Stderr, "not found") || e.Get(t, wfRef(ns, "nosuch")) != nil {
		t.Errorf("stop of a missing run: %s", r)
	}
}

// TestWaitExitCodeIsTheOutcome: wait attaches to a run already going and
// exits 0, 1 naming the failing step, or 3 on --timeout; a finished run
// returns at once.
func TestWaitExitCodeIsTheOutcome(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	for _, name := range []string{"ppocr-det", "ppocr-rec"} {
		if r := e.Run(t, "pipeline", "run", "--builtin", name, "-n", ns); r.Code != 0 {
			t.Fatal(r)
		}
	}
	if r := e.Run(t, "pipeline", "wait", "ppocr-det", "-n", ns, "--timeout", "1s"); r.Code != 3 || !strings.Contains(r.Stderr, "timed out after 1s") {
		t.Errorf("wait --timeout: %s", r)
	}
	var ok, failed testenv.Result
	run := testenv.Background(t, func(bg *testenv.T) {
		ok = e.RunContext(context.Background(), bg, "pipeline", "wait", "ppocr-det", "-n", ns, "--timeout", "60s")
	})
	run2 := testenv.Background(t, func(bg *testenv.T) {
		failed = e.RunContext(context.Background(), bg, "pipeline", "wait", "ppocr-rec", "-n", ns, "--timeout", "60s", "-o", "json")
	})
	play(t, e, ns, "ppocr-det", succeedAll, "Succeeded", map[string]string{"train": "Succeeded", "serve": "Succeeded"}, nil)
	play(t, e, ns, "ppocr-rec", succeedAll, "Failed", map[string]string{"train": "Failed", "train.paddlejob": "Failed"}, nil)
	run.Wait()
	run2.Wait()
	if ok.Code != 0 || !strings.HasPrefix(ok.Stdout, "workflow "+ns+"/ppocr-det Succeeded") {
		t.Errorf("wait of a run that succeeds: %s", ok)
	}
	var out struct{ Workflow, Phase, FailedStep string }
	if failed.Code != 1 || json.Unmarshal([]byte(failed.Stdout), &out) != nil || out.Phase != "Failed" || out.FailedStep != "train/paddlejob" ||
		!strings.Contains(failed.Stderr, "step train/paddlejob failed") || !strings.Contains(failed.Stderr, "paddlex pipeline retry ppocr-rec") {
		t.Errorf("wait of a run that fails: %s", failed)
	}
	// Finished: at once, with the same outcome.
	if r := e.Run(t, "pipeline", "wait", "ppocr-rec", "-n", ns, "-o", "name"); r.Code != 1 || r.Stdout != "workflow.argoproj.io/ppocr-rec\n" {
		t.Errorf("wait of a failed run: %s", r)
	}
	if r := e.Run(t, "pipeline", "wait", "nosuch", "-n", ns); r.Code != 1 || !strings.Contains(r.Stderr, "not found") {
		t.Errorf("wait of a missing run: %s", r)
	}
}

// TestWatchAttaches: watch follows a run it did not submit, a line per
// change, and exits with its outcome.
func TestWatchAttaches(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	if r := e.Run(t, "pipeline", "run", "--builtin", "ppocr-det", "-n", ns); r.Code != 0 {
		t.Fatal(r)
	}
	out := testenv.NewOutput()
	var r testenv.Result
	run := testenv.Background(t, func(bg *testenv.T) {
		r = e.RunWith(context.Background(), bg, func(f *cmdutil.Factory) { f.Streams.Out = io.MultiWriter(f.Streams.Out, out) },
			"pipeline", "watch", "ppocr-det", "-n", ns, "--timeout", "60s")
	})
	shown := []string{"dataset/sampleset: Running", "train/paddlejob: Running"}
	play(t, e, ns, "ppocr-det", succeedAll, "Failed", map[string]string{"train": "Failed", "train.paddlejob": "Failed"}, func(i int) {
		if !out.Await(context.Background(), run.Done(), shown[i]) {
			t.Fatalf("the watch ended without showing %q:\n%s", shown[i], out)
		}
	})
	run.Wait()
	if r.Code != 1 || !strings.Contains(r.Stdout, "train/paddlejob: Failed") || !strings.Contains(r.Stdout, "workflow ppocr-det: Failed") ||
		!strings.Contains(r.Stderr, "step train/paddlejob failed") {
		t.Errorf("watch: %s", r)
	}
}

// TestResubmitRunsTheSameSpecAgain: a new run named after the pipeline,
// labelled as a resubmit, with the old spec and its own account.
func TestResubmitRunsTheSameSpecAgain(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	if r := e.Run(t, "pipeline", "run", "--builtin", "ppocr-det", "-n", ns, "--set", "params.version=v7"); r.Code != 0 {
		t.Fatal(r)
	}
	setStatus(t, e, ns, "ppocr-det", "Running", nil)
	if r := e.Run(t, "pipeline", "stop", "ppocr-det", "-n", ns); r.Code != 0 {
		t.Fatal(r)
	}
	setStatus(t, e, ns, "ppocr-det", "Failed", map[string]string{"train": "Failed"})

	r := e.Run(t, "pipeline", "resubmit", "ppocr-det", "-n", ns, "--dry-run=client", "-o", "yaml")
	if r.Code != 0 || !strings.Contains(r.Stdout, "generateName: ppocr-det-") || !strings.Contains(r.Stdout, "paddlex.io/resubmit-of: ppocr-det") || strings.Contains(r.Stdout, "shutdown") {
		t.Errorf("resubmit --dry-run=client:\n%s", r)
	}
	r = e.Run(t, "pipeline", "resubmit", "ppocr-det", "-n", ns, "-o", "name")
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "workflow.argoproj.io/ppocr-det-") {
		t.Fatal(r)
	}
	name := strings.TrimSpace(strings.TrimPrefix(r.Stdout, "workflow.argoproj.io/"))
	old, obj := e.Get(t, wfRef(ns, "ppocr-det")), e.Get(t, wfRef(ns, name))
	if obj == nil {
		t.Fatalf("%s not created", name)
	}
	if obj.GetLabels()[pipeline.LabelResubmitOf] != "ppocr-det" || obj.GetLabels()["workflows.argoproj.io/resubmitted-from-workflow"] != "ppocr-det" || obj.GetLabels()[pipeline.LabelPipeline] != "ppocr-det" {
		t.Errorf("labels %v", obj.GetLabels())
	}
	oldSpec, newSpec := old.Object["spec"].(map[string]any), obj.Object["spec"].(map[string]any)
	if newSpec["shutdown"] != nil || len(newSpec["templates"].([]any)) != len(oldSpec["templates"].([]any)) {
		t.Errorf("spec: shutdown %v, %d templates", newSpec["shutdown"], len(newSpec["templates"].([]any)))
	}
	oldTemplates, _ := json.Marshal(oldSpec["templates"])
	newTemplates, _ := json.Marshal(newSpec["templates"])
	if string(oldTemplates) != string(newTemplates) || !strings.Contains(string(newTemplates), "v7") {
		t.Error("the resubmit's templates differ from the run's, or lost its parameter")
	}
	// Its own account, owned by it.
	sa := e.Get(t, kube.ObjectRef{GVK: coreGVK("ServiceAccount"), Namespace: ns, Name: "pipeline-runner-" + name})
	if sa == nil || newSpec["serviceAccountName"] != "pipeline-runner-"+name {
		t.Fatalf("account: %v %v", sa != nil, newSpec["serviceAccountName"])
	}
	if refs := sa.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != obj.GetUID() {
		t.Errorf("the resubmit's account is not owned by it: %v", refs)
	}
	if r := e.Run(t, "pipeline", "get", name, "-n", ns); !strings.Contains(r.Stdout, "resubmit of ppocr-det") {
		t.Errorf("get: %s", r)
	}
	if r := e.Run(t, "pipeline", "resubmit", "nosuch", "-n", ns); r.Code != 1 || !strings.Contains(r.Stderr, "not found") {
		t.Errorf("resubmit of a missing run: %s", r)
	}
}

// TestLintFileForCI: lint runs offline, exit 2 naming the file.
func TestLintFileForCI(t *testing.T) {
	e := testenv.Get(t)
	file := t.TempDir() + "/gap.yaml"
	if err := os.WriteFile(file, []byte(gapPipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.Run(t, "pipeline", "lint", file)
	if r.Code != 0 || !strings.Contains(r.Stdout, file+`: warning: step "train": train: no earlier dataset step provides dataset "icdar2015"`) || !strings.Contains(r.Stdout, file+": pipeline gap is valid") {
		t.Errorf("lint: %s", r)
	}
	bad := t.TempDir() + "/bad.yaml"
	os.WriteFile(bad, []byte(strings.Replace(gapPipeline, "after: [prepare, config]", "after: [prepare, prepare]", 1)), 0o644)
	r = e.Run(t, "pipeline", "lint", file, bad)
	if r.Code != 2 || !strings.Contains(r.Stdout, bad+`: error: step "train": after: "prepare" is listed twice`) || !strings.Contains(r.Stderr, "1 of 2 pipeline files have errors: "+bad) {
		t.Errorf("lint of a bad file: %s", r)
	}
}
