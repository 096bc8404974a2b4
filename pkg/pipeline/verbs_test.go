package pipeline

import (
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/exit"
)

func ppocrDet(t *testing.T) *wfv1.Workflow {
	t.Helper()
	b, err := FindBuiltin(builtins(t), "ppocr-det")
	if err != nil {
		t.Fatal(err)
	}
	_, c := compileData(t, b.Data, nil, Options{})
	return c.Workflow
}

// TestControlSetsArgosFields: each action writes only the field the Argo
// CLI writes, with the resourceVersion it read.
func TestControlSetsArgosFields(t *testing.T) {
	running := withStatus(ppocrDet(t), "ppocr-det", wfv1.WorkflowRunning, nil)
	running.ResourceVersion = "42"
	yes := true
	suspended := running.DeepCopy()
	suspended.Spec.Suspend = &yes
	for _, c := range []struct {
		action string
		wf     *wfv1.Workflow
		field  string
		want   any
	}{
		{ActionSuspend, running, "suspend", true},
		{ActionResume, suspended, "suspend", false},
		{ActionStop, running, "shutdown", "Stop"},
		{ActionTerminate, running, "shutdown", "Terminate"},
		{ActionTerminate, suspended, "shutdown", "Terminate"},
	} {
		obj, err := Control(c.wf, c.action)
		if err != nil || obj == nil {
			t.Fatalf("%s: %v %v", c.action, obj, err)
		}
		spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
		if len(spec) != 1 || spec[c.field] != c.want {
			t.Errorf("%s: spec %v, want only %s=%v", c.action, spec, c.field, c.want)
		}
		if obj.GetResourceVersion() != "42" || obj.GetName() != "ppocr-det" || obj.GetNamespace() != "kubeflow" || obj.GetKind() != "Workflow" {
			t.Errorf("%s: %v", c.action, obj.Object["metadata"])
		}
	}
	// Nothing to do: suspend twice, resume a run that is not suspended.
	if obj, err := Control(suspended, ActionSuspend); obj != nil || err != nil {
		t.Errorf("suspend of a suspended run: %v %v", obj, err)
	}
	if obj, err := Control(running, ActionResume); obj != nil || err != nil {
		t.Errorf("resume of a running run: %v %v", obj, err)
	}
	// A finished run is refused, as Argo refuses it.
	done := withStatus(ppocrDet(t), "ppocr-det", wfv1.WorkflowSucceeded, nil)
	for _, a := range []string{ActionSuspend, ActionStop, ActionTerminate} {
		if _, err := Control(done, a); exit.Code(err) != exit.Failed || !strings.Contains(err.Error(), "has finished (Succeeded)") {
			t.Errorf("%s of a finished run: %v", a, err)
		}
	}
	// A suspend step waiting is Argo's to resume.
	waiting := running.DeepCopy()
	waiting.Status.Nodes = wfv1.Nodes{"x": {ID: "x", DisplayName: "approve", Type: wfv1.NodeTypeSuspend, Phase: wfv1.NodeRunning}}
	if _, err := Control(waiting, ActionResume); err == nil || !strings.Contains(err.Error(), "argo resume ppocr-det") {
		t.Errorf("resume with a waiting suspend step: %v", err)
	}
	if !Suspended(waiting) || State(waiting) != "Running (Suspended)" {
		t.Errorf("state %q", State(waiting))
	}
}

func TestState(t *testing.T) {
	wf := withStatus(ppocrDet(t), "r", wfv1.WorkflowRunning, nil)
	if s := State(wf); s != "Running" {
		t.Errorf("running: %q", s)
	}
	wf.Spec.Shutdown = wfv1.ShutdownStrategyStop
	if s := State(wf); s != "Running (Stopping)" {
		t.Errorf("stopping: %q", s)
	}
	wf.Status.Phase = wfv1.WorkflowFailed
	if s := State(wf); s != "Failed" {
		t.Errorf("stopped: %q", s)
	}
	wf.Status.Phase = ""
	wf.Spec.Shutdown = ""
	if s := State(wf); s != "Pending" {
		t.Errorf("new: %q", s)
	}
}

// TestResubmitCopiesTheRun: the same spec without the shutdown, the user's
// labels but not Argo's per-run ones, and a new account of its own.
func TestResubmitCopiesTheRun(t *testing.T) {
	old := withStatus(ppocrDet(t), "ppocr-det", wfv1.WorkflowFailed, map[string]wfv1.NodePhase{"train": "Failed"})
	old.Spec.Shutdown = wfv1.ShutdownStrategyTerminate
	zero := int64(0)
	old.Spec.ActiveDeadlineSeconds = &zero
	old.Labels["team"] = "ocr"
	old.Labels["workflows.argoproj.io/completed"] = "true"
	old.Labels["workflows.argoproj.io/phase"] = "Failed"
	old.Annotations = map[string]string{AnnotationDescription: "d"}
	wf := Resubmit(old)
	if wf.GenerateName != "ppocr-det-" || wf.Name != "" || wf.Namespace != "kubeflow" {
		t.Errorf("meta %s %s %s", wf.GenerateName, wf.Name, wf.Namespace)
	}
	if wf.Spec.Shutdown != "" || wf.Spec.ActiveDeadlineSeconds != nil {
		t.Errorf("shutdown %q deadline %v carried over", wf.Spec.Shutdown, wf.Spec.ActiveDeadlineSeconds)
	}
	if len(wf.Spec.Templates) != len(old.Spec.Templates) || len(wf.Spec.VolumeClaimTemplates) != 1 {
		t.Errorf("spec not carried over")
	}
	want := map[string]string{LabelPipeline: "ppocr-det", "team": "ocr", LabelResubmitOf: "ppocr-det",
		"workflows.argoproj.io/resubmitted-from-workflow": "ppocr-det", "app.kubernetes.io/managed-by": "paddlex"}
	if len(wf.Labels) != len(want) {
		t.Errorf("labels %v", wf.Labels)
	}
	for k, v := range want {
		if wf.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, wf.Labels[k], v)
		}
	}
	if wf.Annotations[AnnotationDescription] != "d" || wf.Status.Phase != "" || len(wf.Status.Nodes) != 0 {
		t.Errorf("annotations %v status %v", wf.Annotations, wf.Status.Phase)
	}
	// The old run is untouched.
	if old.Spec.Shutdown == "" || old.Labels[LabelResubmitOf] != "" {
		t.Error("Resubmit changed the old run")
	}
	rbac, err := NameRun(wf, "ppocr-det-abcde")
	if err != nil || len(rbac) != 4 {
		t.Fatalf("rbac %d %v", len(rbac), err)
	}
	if wf.Name != "ppocr-det-abcde" || wf.Spec.ServiceAccountName != "pipeline-runner-ppocr-det-abcde" || rbac[0].GetName() != "pipeline-runner-ppocr-det-abcde" {
		t.Errorf("named %s account %s rbac %s", wf.Name, wf.Spec.ServiceAccountName, rbac[0].GetName())
	}
	// A run made with --service-account keeps it.
	old.Spec.ServiceAccountName = "ci"
	wf = Resubmit(old)
	if rbac, _ := NameRun(wf, "ppocr-det-xyz12"); rbac != nil || wf.Spec.ServiceAccountName != "ci" {
		t.Errorf("--service-account run: %v %s", rbac, wf.Spec.ServiceAccountName)
	}
}

func TestLint(t *testing.T) {
	b, _ := FindBuiltin(builtins(t), "ppocr-det")
	r := Lint(b.Data, "det.yaml", "kubeflow")
	if !r.Valid || r.Pipeline != "ppocr-det" || len(r.Findings) != 0 {
		t.Errorf("built-in: %+v", r)
	}
	bad := strings.Replace(string(b.Data), "after: [dataset]", "after: [nosuch]", 1)
	if bad == string(b.Data) {
		t.Fatal("the built-in has no after: [dataset] to break")
	}
	r = Lint([]byte(bad), "bad.yaml", "kubeflow")
	if r.Valid || len(r.Findings) != 1 || r.Findings[0].Severity != SeverityError || !strings.Contains(r.Findings[0].Message, `no step named "nosuch"`) {
		t.Errorf("bad: %+v", r)
	}
	if strings.HasPrefix(r.Findings[0].Message, "bad.yaml") {
		t.Errorf("the file is named twice: %q", r.Findings[0].Message)
	}
	r = Lint([]byte("apiVersion: paddlex.io/v1alpha1\nkind: Pipeline\nname: x\nsteps: []\nbogus: 1\n"), "k.yaml", "kubeflow")
	if r.Valid || !strings.Contains(r.Findings[0].Message, "bogus") {
		t.Errorf("unknown key: %+v", r)
	}
	gap := `apiVersion: paddlex.io/v1alpha1
kind: Pipeline
name: gap
steps:
- name: train
  train: {project: PaddleOCR, image: 'paddleocr:2.1', config_path: c.yml, dataset: icdar2015}
`
	r = Lint([]byte(gap), "gap.yaml", "kubeflow")
	if !r.Valid || len(r.Findings) != 1 || r.Findings[0].Severity != SeverityWarning || !strings.Contains(r.Findings[0].Message, "icdar2015") {
		t.Errorf("gap: %+v", r)
	}
	err := LintError([]LintResult{{File: "a", Valid: true}, {File: "b"}})
	if exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), "1 of 2 pipeline files have errors: b") {
		t.Errorf("LintError: %v", err)
	}
}
