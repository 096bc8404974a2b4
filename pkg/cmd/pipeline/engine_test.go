package pipeline

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

// The commands' Run phases against kube.Fake: every request goes through
// the engine's Interface, so the calls it records are what a cluster would
// receive.

func fakeStreams() (cmdutil.IOStreams, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}}, &out, &errOut
}

// wfState returns the Workflow as Argo's controller would have written it,
// status included.
func wfState(t *testing.T, wf *wfv1.Workflow, phase wfv1.WorkflowPhase, nodes map[string]wfv1.NodePhase) *unstructured.Unstructured {
	t.Helper()
	wf = wf.DeepCopy()
	setNodes(wf, phase, nodes, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(wf)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func runOptions(t *testing.T, k kube.Interface, generate, watch bool) (*RunOptions, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	p, err := readPipeline("", "ppocr-det", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Complete("kubeflow")
	streams, out, errOut := fakeStreams()
	o := &RunOptions{Pipeline: p, GenerateName: generate, Watch: watch, Streams: streams, Kube: k, Now: time.Now}
	o.Apply.FieldManager = kube.FieldManager
	o.Apply.DryRun = cmdutil.DryRunNone
	return o, out, errOut
}

func hasCall(calls []string, prefix string) bool {
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

func TestRunCreatesTheWorkflowThroughTheEngine(t *testing.T) {
	k := kube.NewFake()
	o, out, errOut := runOptions(t, k, false, false)
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out.String() != "workflow.argoproj.io/ppocr-det submitted\n" || !strings.Contains(errOut.String(), "paddlex pipeline get ppocr-det -n kubeflow") {
		t.Errorf("stdout %q, stderr %q", out, errOut)
	}
	if !hasCall(k.Calls, "apply Role kubeflow/pipeline-runner-ppocr-det") || !hasCall(k.Calls, "create Workflow kubeflow/ppocr-det") {
		t.Errorf("calls: %q", k.Calls)
	}
	if k.Object(wfRef("kubeflow", "ppocr-det")) == nil {
		t.Error("workflow not stored")
	}

	// The same name again is refused, with the ways out.
	o, _, _ = runOptions(t, k, false, false)
	err := o.Run(context.Background())
	if exit.Code(err) != exit.Failed || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), "--generate-name") {
		t.Errorf("second run: %v (exit %d)", err, exit.Code(err))
	}

	// With --generate-name the run is named NAME-xxxxx before it is
	// submitted, so its own account can be named after it.
	o, out, _ = runOptions(t, k, true, false)
	o.Output.Output = "name"
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSpace(strings.TrimPrefix(out.String(), "workflow.argoproj.io/"))
	if !regexp.MustCompile(`^ppocr-det-[a-z0-9]{5}$`).MatchString(name) {
		t.Fatalf("generated name: %q", out)
	}
	// The account and its rights go first, then the run, then the run
	// takes ownership of them.
	var order []string
	for _, c := range k.Calls {
		if strings.Contains(c, "pipeline-runner-"+name) || strings.Contains(c, "Workflow kubeflow/"+name) {
			order = append(order, c)
		}
	}
	if len(order) < 3 || !strings.HasPrefix(order[0], "apply ") || !strings.HasPrefix(order[len(order)-1], "apply ") ||
		!hasCall(order, "create Workflow kubeflow/"+name) || strings.HasPrefix(order[0], "create") {
		t.Errorf("calls for the run: %q", order)
	}
	if role := k.Object(kube.ObjectRef{GVK: schema.GroupVersionKind{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}, Namespace: "kubeflow", Name: "pipeline-runner-" + name}); role == nil ||
		len(role.GetOwnerReferences()) != 1 || role.GetOwnerReferences()[0].Name != name {
		t.Errorf("the run's Role is not owned by the run: %v", role)
	}
}

func TestRunWatchDrawsEveryUpdate(t *testing.T) {
	k := kube.NewFake()
	wf := testWorkflow(t)
	wf.Namespace = "kubeflow"
	ref := wfRef("kubeflow", "ppocr-det")
	k.Changes = map[kube.ObjectRef][]*unstructured.Unstructured{ref: {
		wfState(t, wf, wfv1.WorkflowRunning, map[string]wfv1.NodePhase{"dataset": "Running", "dataset.sampleset": "Running"}),
		wfState(t, wf, wfv1.WorkflowRunning, map[string]wfv1.NodePhase{"dataset": "Succeeded", "dataset.sampleset": "Succeeded", "train": "Running", "train.paddlejob": "Running"}),
		wfState(t, wf, wfv1.WorkflowFailed, map[string]wfv1.NodePhase{"dataset": "Succeeded", "dataset.sampleset": "Succeeded", "train": "Failed", "train.paddlejob": "Failed"}),
	}}
	o, out, errOut := runOptions(t, k, false, true)
	err := o.Run(context.Background())
	if exit.Code(err) != exit.Failed || !strings.Contains(err.Error(), "at step train/paddlejob: boom") || !strings.Contains(err.Error(), "paddlex pipeline retry ppocr-det -n kubeflow") {
		t.Errorf("outcome: %v (exit %d)", err, exit.Code(err))
	}
	for _, want := range []string{"dataset/sampleset: Running", "dataset/sampleset: Succeeded", "train/paddlejob: Running", "train/paddlejob: Failed", "workflow ppocr-det: Failed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("watch lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut.String(), "step train/paddlejob failed: boom") {
		t.Errorf("stderr: %q", errOut)
	}
	if !hasCall(k.Calls, "wait Workflow kubeflow/ppocr-det") {
		t.Errorf("calls: %q", k.Calls)
	}
}

func TestRunWatchTimeoutAndDeletion(t *testing.T) {
	// No change arrives before the deadline: the engine's timeout, exit 3,
	// with the run's progress and how to keep following it.
	k := kube.NewFake()
	o, _, _ := runOptions(t, k, false, true)
	err := o.Run(context.Background())
	if exit.Code(err) != exit.Timeout || !strings.Contains(err.Error(), "last status: Pending, 0/") || !strings.Contains(err.Error(), "it keeps running: follow it with `paddlex pipeline get ppocr-det -n kubeflow`") {
		t.Errorf("timeout: %v (exit %d)", err, exit.Code(err))
	}

	k = kube.NewFake()
	k.Changes = map[kube.ObjectRef][]*unstructured.Unstructured{wfRef("kubeflow", "ppocr-det"): {nil}}
	o, _, _ = runOptions(t, k, false, true)
	err = o.Run(context.Background())
	if exit.Code(err) != exit.Failed || !strings.Contains(err.Error(), "Workflow kubeflow/ppocr-det was deleted while being watched") {
		t.Errorf("deleted: %v (exit %d)", err, exit.Code(err))
	}
}

func TestGetListDeleteThroughTheEngine(t *testing.T) {
	wf := testWorkflow(t)
	wf.Namespace = "kubeflow"
	k := kube.NewFake(wfState(t, wf, wfv1.WorkflowRunning, map[string]wfv1.NodePhase{"dataset": "Running"}))

	streams, out, _ := fakeStreams()
	g := &GetOptions{Streams: streams, Kube: k, Now: time.Now}
	g.Names, g.Namespace = []string{"ppocr-det"}, "kubeflow"
	if err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "workflow ppocr-det  Running") || !strings.Contains(out.String(), "● dataset") {
		t.Errorf("get:\n%s", out)
	}
	g.Names = []string{"nope"}
	if err := g.Run(context.Background()); exit.Code(err) != exit.Failed || !strings.Contains(err.Error(), "Workflow kubeflow/nope not found: list the runs with `paddlex pipeline list -n kubeflow`") {
		t.Errorf("get of a missing run: %v", err)
	}

	streams, out, _ = fakeStreams()
	l := &ListOptions{Namespace: "kubeflow", Streams: streams, Kube: k, Now: time.Now}
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "ppocr-det") || !strings.Contains(lines[1], "Running") {
		t.Errorf("list:\n%s", out)
	}
	// Only the runs paddlex submitted are listed.
	other := wfState(t, wf, wfv1.WorkflowRunning, nil)
	other.SetName("not-ours")
	other.SetLabels(nil)
	k.Set(other)
	out.Reset()
	if err := l.Run(context.Background()); err != nil || strings.Contains(out.String(), "not-ours") {
		t.Errorf("list: %v\n%s", err, out)
	}

	streams, out, _ = fakeStreams()
	d := &DeleteOptions{Names: []string{"ppocr-det"}, Namespace: "kubeflow", Streams: streams, Kube: k}
	if err := d.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out.String() != "workflow.argoproj.io/ppocr-det deleted\n" || k.Object(wfRef("kubeflow", "ppocr-det")) != nil {
		t.Errorf("delete: %q", out)
	}
	if err := d.Run(context.Background()); exit.Code(err) != exit.Failed || !strings.Contains(err.Error(), "not found: list the runs") {
		t.Errorf("delete of a missing run: %v", err)
	}
}

func TestEngineErrorsKeepTheirExitCodes(t *testing.T) {
	k := kube.NewFake()
	k.Err = kube.NoKindError(paddle.WorkflowGVK)
	streams, _, _ := fakeStreams()
	l := &ListOptions{Namespace: "kubeflow", Streams: streams, Kube: k, Now: time.Now}
	err := l.Run(context.Background())
	if exit.Code(err) != exit.Precondition || !strings.Contains(err.Error(), "paddlex install-standalone") {
		t.Errorf("list without Argo: %v (exit %d)", err, exit.Code(err))
	}
	o, _, _ := runOptions(t, k, false, false)
	if err := o.Run(context.Background()); exit.Code(err) != exit.Precondition {
		t.Errorf("run without Argo: %v (exit %d)", err, exit.Code(err))
	}
}

func TestRetryRemovesLeftoversAndResubmits(t *testing.T) {
	wf := testWorkflow(t)
	wf.Namespace = "kubeflow"
	failed := wfState(t, wf, wfv1.WorkflowFailed, map[string]wfv1.NodePhase{"dataset": "Succeeded", "train": "Failed", "train.paddlejob": "Failed"})
	k := kube.NewFake(failed)
	streams, out, errOut := fakeStreams()
	o := &RetryOptions{RerunFlags: RerunFlags{Name: "ppocr-det", Namespace: "kubeflow"}, Streams: streams, Kube: k, Now: time.Now}
	o.Apply.FieldManager = kube.FieldManager
	o.Output.Output = "name"
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "skipping dataset") || !strings.Contains(errOut.String(), "running again train/paddlejob") {
		t.Errorf("plan: %q", errOut)
	}
	name := strings.TrimSpace(strings.TrimPrefix(out.String(), "workflow.argoproj.io/"))
	if !strings.HasPrefix(name, "ppocr-det-retry-") {
		t.Fatalf("stdout %q", out)
	}
	if !hasCall(k.Calls, "delete PaddleJob kubeflow/ppocr-det") || !hasCall(k.Calls, "create Workflow kubeflow/"+name) {
		t.Errorf("calls: %q", k.Calls)
	}
	got := k.Object(wfRef("kubeflow", name))
	if got == nil || got.GetLabels()[pipeline.LabelRetryOf] != "ppocr-det" {
		t.Errorf("retry workflow: %v", got)
	}

	// A run still going is not retried.
	k.Set(wfState(t, wf, wfv1.WorkflowRunning, nil))
	if err := o.Run(context.Background()); exit.Code(err) != exit.Precondition {
		t.Errorf("retry of a running run: %v", err)
	}
}

// TestWarningsDuringFollowKeepTheTreeWhole: a Warning event of the run is
// printed above the live tree, which is taken off and drawn again below it.
func TestWarningsDuringFollowKeepTheTreeWhole(t *testing.T) {
	wf := testWorkflow(t)
	var out bytes.Buffer
	v := newView(&out, true, false, time.Now)
	setNodes(wf, "Running", map[string]wfv1.NodePhase{"dataset": "Running"}, time.Now())
	v.update(wf)
	lines := strings.Count(out.String(), "\n")
	out.Reset()
	r := &followReporter{v: v, errOut: &out}
	r.Warning(wfRef("kubeflow", "ppocr-det"), "FailedCreate", "quota exceeded")
	v.close()
	got := out.String()
	want := "\x1b[" + itoa(lines) + "A\x1b[Jwarning: workflow ppocr-det: FailedCreate: quota exceeded\n\x1b[2Kworkflow ppocr-det"
	if !strings.HasPrefix(got, want) {
		t.Errorf("output %q, want it to start %q", got, want)
	}
	// Plain output: just the line.
	out.Reset()
	v = newView(&out, false, false, time.Now)
	(&followReporter{v: v, errOut: &out}).Warning(wfRef("kubeflow", "ppocr-det"), "FailedCreate", "quota exceeded")
	if out.String() != "warning: workflow ppocr-det: FailedCreate: quota exceeded\n" {
		t.Errorf("plain: %q", out.String())
	}
}
