package train

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/pkg/exit"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/train"
)

func testFactory(in string) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(in), Out: &out, ErrOut: &errOut}})
	ns := "ml"
	f.ConfigFlags.Namespace = &ns
	return f, &out, &errOut
}

// parse runs `train create ARGS` up to Run and returns the options.
func parse(t *testing.T, stdin string, args ...string) (*CreateOptions, error) {
	t.Helper()
	f, _, _ := testFactory(stdin)
	var got *CreateOptions
	cmd := NewCmdCreate(f, paddle.ActionCreate, func(o *CreateOptions) error { got = o; return nil })
	cmd.Flags().String("namespace", "", "")
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.Execute()
	return got, err
}

var base = []string{"ppocr-det", "--project", "paddleocr", "--image", "paddleocr:2.1.3", "--config-path", "configs/det/det_mv3_db.yml", "--pvc-name", "task-center"}

func TestFlagsIntoSpec(t *testing.T) {
	o, err := parse(t, "", append(base,
		"--config-changes", "Global.epoch_num=10,Global.lr=0.1",
		"--config-change", "Train.loader.shape=[3,640,640]",
		"--env", "A=1,2", "--env", "B=x",
		"--node-selector", "gpu=v100", "--tolerations", "gpu:NoSchedule", "--pod-label", "team=ocr",
		"--use-visualdl", "--need-convert=false", "--ps-replicas", "0")...)
	if err != nil {
		t.Fatal(err)
	}
	s := o.Spec
	if s.Project != "PaddleOCR" || s.Namespace != "ml" || s.Action != "create" || s.WorkerReplicas != 1 || s.Backend != train.BackendPaddleOperator {
		t.Errorf("spec = %+v", s)
	}
	if got := strings.Join(s.ConfigChanges, "|"); got != "Global.epoch_num=10|Global.lr=0.1|Train.loader.shape=[3,640,640]" {
		t.Errorf("config changes = %q", got)
	}
	if s.Env["A"] != "1,2" || s.Env["B"] != "x" || s.NodeSelector["gpu"] != "v100" || s.PodLabels["team"] != "ocr" {
		t.Errorf("maps: env %v, node selector %v, pod labels %v", s.Env, s.NodeSelector, s.PodLabels)
	}
	if !s.VisualDL() || !s.Export() || s.Convert() {
		t.Errorf("switches: visualdl %v export %v convert %v", s.VisualDL(), s.Export(), s.Convert())
	}
}

func TestSpecFileWithFlagOverrides(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "spec.yaml")
	os.WriteFile(file, []byte(`name: ppocr-det
project: PaddleOCR
image: paddleocr:2.1.3
config_path: configs/det/det_mv3_db.yml
dataset: icdar2015
pvc_name: task-center
worker_replicas: 4
gpu_per_node: 2
config_changes: Global.epoch_num=10,Global.lr=0.1
use_visualdl: true
need_convert: false
`), 0o644)
	o, err := parse(t, "", "-f", file, "--worker-replicas", "2", "--backend", "training-operator")
	if err != nil {
		t.Fatal(err)
	}
	s := o.Spec
	if s.WorkerReplicas != 2 || s.GPUPerNode != 2 || s.Backend != train.BackendTrainingOperator || s.Dataset != "icdar2015" {
		t.Errorf("spec = %+v", s)
	}
	if !s.VisualDL() || s.Convert() || !s.Export() {
		t.Errorf("switches from the file lost: %+v", s)
	}
	if len(s.ConfigChanges) != 2 {
		t.Errorf("config changes = %q", s.ConfigChanges)
	}
	// A comma inside a value of the comma form, and unknown keys: exit 2.
	os.WriteFile(file, []byte("name: x\nconfig_changes: A=1,B=[1,2]\n"), 0o644)
	if _, err := parse(t, "", "-f", file); exit.Code(err) != 2 || !strings.Contains(err.Error(), "--config-change") {
		t.Errorf("comma in a value: %v", err)
	}
	os.WriteFile(file, []byte("name: x\nworkers: 2\n"), 0o644)
	if _, err := parse(t, "", "-f", file); exit.Code(err) != 2 || !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("unknown key: %v", err)
	}
}

func TestBadInputExits2(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		match string
	}{
		{[]string{"--project", "PaddleSeg"}, `--project "PaddleSeg"`},
		{[]string{"--worker-replicas", "0"}, "--worker-replicas must be at least 1"},
		{[]string{"--ps-replicas", "1"}, "PaddleOCR trains collectively only"},
		{[]string{"--gpu-per-node", "-2"}, "--gpu-per-node"},
		{[]string{"--pretrain-model", "weights.pdparams"}, "--pretrain-model"},
		{[]string{"--config-changes", "A=1,B=[1,2]"}, "--config-change"},
		{[]string{"--env", "NOVALUE"}, `--env "NOVALUE" is not KEY=VALUE`},
		{[]string{"--backend", "mpi"}, "--backend"},
	} {
		_, err := parse(t, "", append(append([]string{}, base...), tc.args...)...)
		if exit.Code(err) != 2 || !strings.Contains(err.Error(), tc.match) {
			t.Errorf("%v: err = %v, want exit 2 with %q", tc.args, err, tc.match)
		}
	}
	// A missing config path, on its own.
	if _, err := parse(t, "", "x", "--project", "PaddleOCR", "--image", "i:1", "--pvc-name", "p"); exit.Code(err) != 2 || !strings.Contains(err.Error(), "--config-path is required") {
		t.Errorf("missing config path: %v", err)
	}
}

func TestImageWarnings(t *testing.T) {
	f, _, errOut := testFactory("")
	cmd := NewCmdCreate(f, paddle.ActionCreate, func(*CreateOptions) error { return nil })
	cmd.Flags().String("namespace", "", "")
	cmd.SetArgs([]string{"x", "--project", "PaddleOCR", "--image", "paddleocr", "--config-path", "c", "--pvc-name", "p"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "warning: image paddleocr has no tag") {
		t.Errorf("stderr = %q", errOut.String())
	}
}

func fixtures() []*unstructured.Unstructured {
	pvc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
		"metadata": map[string]any{"name": "task-center", "namespace": "ml"}}}
	set := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "batch.paddlepaddle.org/v1alpha1", "kind": "SampleSet",
		"metadata": map[string]any{"name": "data-center", "namespace": "ml"}}}
	return []*unstructured.Unstructured{pvc, set}
}

func runCreate(t *testing.T, fk *kube.Fake, cs *fake.Clientset, args ...string) (string, string, error) {
	t.Helper()
	f, out, errOut := testFactory("")
	var opts *CreateOptions
	cmd := NewCmdCreate(f, paddle.ActionCreate, func(o *CreateOptions) error { opts = o; return nil })
	cmd.Flags().String("namespace", "", "")
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		return "", "", err
	}
	opts.Kube = fk
	if cs != nil {
		opts.Clientset = cs
	}
	err := opts.Run(context.Background())
	return out.String(), errOut.String(), err
}

// playSuccess completes whatever is waited on: the PaddleJob, then Jobs.
func playSuccess(fk *kube.Fake) func(kube.ObjectRef) {
	return func(ref kube.ObjectRef) {
		obj := fk.Object(ref)
		switch ref.GVK.Kind {
		case "PaddleJob":
			obj.Object["status"] = map[string]any{"phase": "Completed"}
		case "Job":
			obj.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Complete", "status": "True"}}}
		}
		fk.Set(obj)
	}
}

func TestRunOrderAndCleanup(t *testing.T) {
	fk := kube.NewFake(fixtures()...)
	fk.OnWait = playSuccess(fk)
	out, _, err := runCreate(t, fk, nil, append(base, "--dataset", "icdar2015", "--use-visualdl")...)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"apply PaddleJob ml/ppocr-det", "apply Deployment ml/ppocr-det-visualdl", "apply Service ml/ppocr-det-visualdl",
		"wait PaddleJob ml/ppocr-det",
		"apply Job ml/ppocr-det-inference-convert", "wait Job ml/ppocr-det-inference-convert",
		"apply Job ml/ppocr-det-serving-convert", "wait Job ml/ppocr-det-serving-convert",
		"delete Job ml/ppocr-det-serving-convert", "delete Job ml/ppocr-det-inference-convert",
	}
	if got := strings.Join(fk.Calls, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if !strings.Contains(out, "training ppocr-det succeeded: serving model /mnt/task-center/ppocr-det.tar.gz") {
		t.Errorf("stdout = %q", out)
	}

	// --keep leaves the Jobs; --save-inference=false --need-convert=false runs none.
	fk = kube.NewFake(fixtures()...)
	fk.OnWait = playSuccess(fk)
	if _, _, err := runCreate(t, fk, nil, append(base, "--keep")...); err != nil {
		t.Fatal(err)
	}
	for _, c := range fk.Calls {
		if strings.HasPrefix(c, "delete") {
			t.Errorf("--keep deleted: %s", c)
		}
	}
	fk = kube.NewFake(fixtures()...)
	fk.OnWait = playSuccess(fk)
	out, _, err = runCreate(t, fk, nil, append(base, "--save-inference=false", "--need-convert=false")...)
	if err != nil || len(fk.Calls) != 2 || !strings.Contains(out, "checkpoints in /mnt/task-center/models/") {
		t.Errorf("no export: calls %q, out %q, err %v", fk.Calls, out, err)
	}
}

func TestRunFailureNamesRank(t *testing.T) {
	fk := kube.NewFake(fixtures()...)
	fk.OnWait = func(ref kube.ObjectRef) {
		obj := fk.Object(ref)
		obj.Object["status"] = map[string]any{"phase": "Failed", "worker": map[string]any{"failed": int64(1), "succeeded": int64(2)}}
		fk.Set(obj)
	}
	pod := func(name string, code int32) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ml", Labels: map[string]string{
			paddle.LabelTrain: "ppocr-det", kube.LabelComponent: train.ComponentTraining, train.LabelRole: "worker"}}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "paddle", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: map[bool]string{true: "Completed", false: "OOMKilled"}[code == 0]}}}}
		return p
	}
	failed := pod("ppocr-det-worker-2", 137)
	failed.Status.ContainerStatuses[0].State.Terminated.Message = "LAUNCH INFO rank 2 logs to log/workerlog.0\nepoch: [1/3]\nKilled\n"
	cs := fake.NewClientset(pod("ppocr-det-worker-0", 0), pod("ppocr-det-worker-10", 0), failed, pod("ppocr-det-worker-1", 0))
	_, _, err := runCreate(t, fk, cs, base...)
	if exit.Code(err) != 1 || !strings.Contains(err.Error(), "training ppocr-det failed: worker-2 exited with code 137 (OOMKilled) (") ||
		!strings.Contains(err.Error(), "\n  pod ppocr-det-worker-2 ended with:\n    LAUNCH INFO rank 2 logs to log/workerlog.0\n    epoch: [1/3]\n    Killed\n  logs: paddlex train logs ppocr-det -n ml") {
		t.Fatalf("err = %v", err)
	}
	for _, c := range fk.Calls {
		if strings.Contains(c, "inference-convert") {
			t.Errorf("export after a failure: %s", c)
		}
	}
	// Pods gone (cleanPodPolicy): the operator's counts name the role.
	fk2 := kube.NewFake(fixtures()...)
	fk2.OnWait = func(ref kube.ObjectRef) {
		obj := fk2.Object(ref)
		obj.Object["status"] = map[string]any{"phase": "Failed", "worker": map[string]any{"failed": int64(1)}}
		fk2.Set(obj)
	}
	_, _, err = runCreate(t, fk2, fake.NewClientset(), base...)
	if exit.Code(err) != 1 || !strings.Contains(err.Error(), "1 worker pod(s) failed") {
		t.Fatalf("err = %v", err)
	}
}

// TestExportFailureShowsTheToolsMessage: an export Job that fails exits 1
// with the end of its pod's output, the tool's own error.
func TestExportFailureShowsTheToolsMessage(t *testing.T) {
	fk := kube.NewFake(fixtures()...)
	fk.OnWait = func(ref kube.ObjectRef) {
		obj := fk.Object(ref)
		switch ref.GVK.Kind {
		case "PaddleJob":
			obj.Object["status"] = map[string]any{"phase": "Completed"}
		case "Job":
			obj.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}}}
		}
		fk.Set(obj)
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ppocr-det-inference-convert-x7k2p", Namespace: "ml",
		Labels: map[string]string{"job-name": "ppocr-det-inference-convert"}}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "inference-convert", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error",
			Message: "Traceback (most recent call last):\nValueError: The /mnt/task-center/models/best_accuracy.pdparams does not exists!\n"}}}}
	_, errOut, err := runCreate(t, fk, fake.NewClientset(p), base...)
	want := "training ppocr-det succeeded, but its Job ppocr-det-inference-convert failed: pod ppocr-det-inference-convert-x7k2p exited with code 1 (Error) (" +
		"Job ml/ppocr-det-inference-convert failed: BackoffLimitExceeded)\n  pod ppocr-det-inference-convert-x7k2p ended with:\n" +
		"    Traceback (most recent call last):\n    ValueError: The /mnt/task-center/models/best_accuracy.pdparams does not exists!"
	if exit.Code(err) != 1 || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
	if !strings.Contains(errOut, "left in the cluster for inspection: Job ml/ppocr-det-inference-convert") {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestPreconditionsExit4(t *testing.T) {
	fk := kube.NewFake()
	_, _, err := runCreate(t, fk, nil, base...)
	if exit.Code(err) != 4 || !strings.Contains(err.Error(), "--pvc-name: PersistentVolumeClaim ml/task-center does not exist") {
		t.Errorf("missing PVC: %v", err)
	}
	fk = kube.NewFake(fixtures()[0])
	_, _, err = runCreate(t, fk, nil, append(base, "--dataset", "icdar2015")...)
	if exit.Code(err) != 4 || !strings.Contains(err.Error(), "--dataset: SampleSet ml/data-center does not exist") {
		t.Errorf("missing SampleSet: %v", err)
	}
	for _, c := range fk.Calls {
		if strings.HasPrefix(c, "apply") {
			t.Errorf("applied despite a missing precondition: %s", c)
		}
	}
}

func TestRankNames(t *testing.T) {
	pods := []corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "j-master-0"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "j-worker-10"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "j-ps-1"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "j-worker-2"}},
	}
	SortPods("j", pods)
	var got []string
	for i := range pods {
		got = append(got, Rank("j", &pods[i]))
	}
	if strings.Join(got, ",") != "worker-2,worker-10,ps-0,ps-1" {
		t.Errorf("ranks = %v", got)
	}
}
