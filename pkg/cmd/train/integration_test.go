package train_test

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{CRDs: []string{testenv.CRDsPaddle, testenv.CRDsTrainingOperator}}))
}

var (
	jobGVK = schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}
	depGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	svcGVK = schema.GroupVersionKind{Version: "v1", Kind: "Service"}
)

const fixtures = `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: task-center
spec:
  accessModes: [ReadWriteMany]
  resources:
    requests:
      storage: 10Gi
---
apiVersion: batch.paddlepaddle.org/v1alpha1
kind: SampleSet
metadata:
  name: data-center
spec:
  partitions: 1
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: default
`

// ppocr are the original's PP-OCR example values.
func ppocr(ns string, extra ...string) []string {
	return append([]string{"train", "create", "ppocr-det", "-n", ns, "--project", "PaddleOCR",
		"--image", "registry.baidubce.com/paddleflow-public/paddleocr:2.1.3-gpu-cuda10.2-cudnn7",
		"--config-path", "configs/det/det_mv3_db.yml", "--dataset", "icdar2015", "--pvc-name", "task-center",
		"--worker-replicas", "2", "--gpu-per-node", "1",
		"--config-change", "Global.epoch_num=10",
		"--pretrain-model", "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/MobileNetV3_large_x0_5_pretrained.pdparams",
		"--train-label", "train_icdar2015_label.txt", "--test-label", "test_icdar2015_label.txt",
		"--timeout", "60s"}, extra...)
}

func ref(gvk schema.GroupVersionKind, ns, name string) kube.ObjectRef {
	return kube.ObjectRef{GVK: gvk, Namespace: ns, Name: name}
}

// completeJob plays the Job controller: a Job that ran once and succeeded.
func completeJob(t *testing.T, e *testenv.Env, r kube.ObjectRef) {
	now := time.Now().UTC().Format(time.RFC3339)
	e.SetStatus(t, r, map[string]any{
		"startTime": now, "completionTime": now, "succeeded": 1, "ready": 0, "terminating": 0,
		"conditions": []any{
			map[string]any{"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now, "lastProbeTime": now},
			map[string]any{"type": "Complete", "status": "True", "lastTransitionTime": now, "lastProbeTime": now},
		},
	})
}

// assertAbsent fails when r exists now.
func assertAbsent(t *testing.T, e *testenv.Env, r kube.ObjectRef, why string) {
	t.Helper()
	if e.Get(t, r) != nil {
		t.Fatalf("%s exists %s", r, why)
	}
}

func waitGone(t *testing.T, e *testenv.Env, r kube.ObjectRef) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for e.Get(t, r) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestTrainSucceedsThenExportsAndConverts(t *testing.T) {
	for _, tc := range []struct {
		backend string
		gvk     schema.GroupVersionKind
		running map[string]any
		done    map[string]any
	}{
		{"paddle-operator", paddle.PaddleJobGVK,
			map[string]any{"phase": "Running", "mode": "Collective", "worker": map[string]any{"running": 2}},
			map[string]any{"phase": "Completed", "worker": map[string]any{"running": 0, "succeeded": 2}}},
		{"training-operator", paddle.TrainingOperatorJobGVK,
			map[string]any{"conditions": []any{map[string]any{"type": "Running", "status": "True"}},
				"replicaStatuses": map[string]any{"Worker": map[string]any{"active": 2}}},
			map[string]any{"conditions": []any{map[string]any{"type": "Running", "status": "False"}, map[string]any{"type": "Succeeded", "status": "True"}},
				"replicaStatuses": map[string]any{"Worker": map[string]any{"active": 0, "succeeded": 2}}}},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			e := testenv.Get(t)
			ns := e.Namespace(t)
			e.Apply(t, ns, fixtures)
			progress := testenv.NewOutput()
			var r testenv.Result
			run := testenv.Background(t, func(bg *testenv.T) {
				r = e.RunWith(context.Background(), bg, func(f *cmdutil.Factory) { f.Streams.ErrOut = io.MultiWriter(f.Streams.ErrOut, progress) },
					ppocr(ns, "--backend", tc.backend, "--use-visualdl")...)
			})

			job := e.WaitFor(t, ref(tc.gvk, ns, "ppocr-det"), 20*time.Second)
			if got := job.GetLabels()[paddle.LabelTrain]; got != "ppocr-det" {
				t.Errorf("PaddleJob label %s = %q", paddle.LabelTrain, got)
			}
			// VisualDL comes with the PaddleJob, before training ends.
			e.WaitFor(t, ref(depGVK, ns, "ppocr-det-visualdl"), 10*time.Second)
			e.WaitFor(t, ref(svcGVK, ns, "ppocr-det-visualdl"), 10*time.Second)
			e.SetStatus(t, ref(tc.gvk, ns, "ppocr-det"), tc.running)
			// Once the wait has shown the job running (and gone on waiting),
			// nothing may follow it yet.
			if !progress.Await(context.Background(), run.Done(), "worker 2/2 running") {
				t.Fatalf("the wait ended without showing the workers running:\n%s", progress)
			}
			assertAbsent(t, e, ref(jobGVK, ns, "ppocr-det-inference-convert"), "while training runs")
			e.SetStatus(t, ref(tc.gvk, ns, "ppocr-det"), tc.done)

			export := e.WaitFor(t, ref(jobGVK, ns, "ppocr-det-inference-convert"), 20*time.Second)
			assertAbsent(t, e, ref(jobGVK, ns, "ppocr-det-serving-convert"), "before the export finished")
			cmd, _, _ := unstructuredStrings(export.Object, "spec", "template", "spec", "containers")
			if !strings.Contains(cmd, "Global.pretrained_model=/mnt/task-center/models/best_accuracy") {
				t.Errorf("export does not use the trained weights: %s", cmd)
			}
			completeJob(t, e, ref(jobGVK, ns, "ppocr-det-inference-convert"))
			e.WaitFor(t, ref(jobGVK, ns, "ppocr-det-serving-convert"), 20*time.Second)
			completeJob(t, e, ref(jobGVK, ns, "ppocr-det-serving-convert"))

			run.Wait()
			if r.Code != 0 {
				t.Fatalf("train create: %s", r)
			}
			if !strings.Contains(r.Stdout, "training ppocr-det succeeded: serving model /mnt/task-center/ppocr-det.tar.gz in PersistentVolumeClaim task-center") {
				t.Errorf("stdout = %q", r.Stdout)
			}
			if tc.backend == "paddle-operator" && !strings.Contains(r.Stderr, "worker 2/2 running") {
				t.Errorf("progress did not show the worker counts: %s", r.Stderr)
			}
			// Without --keep the intermediate Jobs are removed.
			waitGone(t, e, ref(jobGVK, ns, "ppocr-det-inference-convert"))
			waitGone(t, e, ref(jobGVK, ns, "ppocr-det-serving-convert"))

			list := e.Run(t, "train", "list", "-n", ns, "-o", "wide")
			if list.Code != 0 || !strings.Contains(list.Stdout, "ppocr-det") || !strings.Contains(list.Stdout, tc.backend) ||
				!strings.Contains(list.Stdout, "2/2") || !strings.Contains(list.Stdout, "PaddleOCR") {
				t.Errorf("train list -o wide: %s", list)
			}
			desc := e.Run(t, "train", "describe", "ppocr-det", "-n", ns)
			if desc.Code != 0 || !strings.Contains(desc.Stdout, "Backend:     "+tc.backend) || !strings.Contains(desc.Stdout, "http://ppocr-det-visualdl."+ns+".svc:8040/") {
				t.Errorf("train describe: %s", desc)
			}

			del := e.Run(t, "train", "delete", "ppocr-det", "-n", ns)
			if del.Code != 0 {
				t.Fatalf("train delete: %s", del)
			}
			for _, r := range []kube.ObjectRef{ref(tc.gvk, ns, "ppocr-det"), ref(depGVK, ns, "ppocr-det-visualdl"), ref(svcGVK, ns, "ppocr-det-visualdl")} {
				assertAbsent(t, e, r, "after train delete")
			}
			if again := e.Run(t, "train", "delete", "ppocr-det", "-n", ns); again.Code != 1 || !strings.Contains(again.Stderr, "no training ppocr-det") {
				t.Errorf("second delete: %s", again)
			}
		})
	}
}

func unstructuredStrings(obj map[string]any, path ...string) (string, bool, error) {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false, nil
		}
		cur = m[p]
	}
	var b strings.Builder
	for _, c := range cur.([]any) {
		for _, a := range c.(map[string]any)["command"].([]any) {
			b.WriteString(a.(string) + " ")
		}
	}
	return b.String(), true, nil
}

func TestTrainFailureNamesTheFailingRank(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	e.Apply(t, ns, fixtures)
	var r testenv.Result
	run := testenv.Background(t, func(bg *testenv.T) { r = e.Run(bg, ppocr(ns)...) })
	jr := ref(paddle.PaddleJobGVK, ns, "ppocr-det")
	e.WaitFor(t, jr, 20*time.Second)

	// The operator's pods: worker-0 fine, worker-1 crashed.
	ctx := context.Background()
	for i, code := range []int32{0, 1} {
		name := "ppocr-det-worker-" + string(rune('0'+i))
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
				paddle.LabelTrain: "ppocr-det", kube.LabelComponent: "training", "paddlex.io/role": "worker"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "paddle", Image: "paddle:1"}}},
		}
		created, err := e.Clientset.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		phase, reason := corev1.PodSucceeded, "Completed"
		if code != 0 {
			phase, reason = corev1.PodFailed, "Error"
		}
		created.Status = corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{Name: "paddle", Image: "paddle:1",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: "CUDA out of memory"}}}}}
		if code == 0 {
			created.Status.ContainerStatuses[0].State.Terminated.Message = ""
		}
		if _, err := e.Clientset.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.SetStatus(t, jr, map[string]any{"phase": "Running", "worker": map[string]any{"running": 2}})
	e.SetStatus(t, jr, map[string]any{"phase": "Failed", "worker": map[string]any{"succeeded": 1, "failed": 1}})

	run.Wait()
	if r.Code != 1 {
		t.Fatalf("a failed training must exit 1: %s", r)
	}
	if !strings.Contains(r.Stderr, "training ppocr-det failed: worker-1 exited with code 1 (Error): CUDA out of memory") {
		t.Errorf("stderr does not name the failing rank: %s", r.Stderr)
	}
	assertAbsent(t, e, ref(jobGVK, ns, "ppocr-det-inference-convert"), "after a failed training")
}

func TestTrainPreconditionsAndReapply(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)

	r := e.Run(t, ppocr(ns)...)
	if r.Code != 4 || !strings.Contains(r.Stderr, "--pvc-name: PersistentVolumeClaim "+ns+"/task-center does not exist") {
		t.Errorf("missing PVC: %s", r)
	}
	e.Apply(t, ns, strings.SplitN(fixtures, "---", 2)[0])
	r = e.Run(t, ppocr(ns)...)
	if r.Code != 4 || !strings.Contains(r.Stderr, "--dataset: SampleSet "+ns+"/data-center does not exist") {
		t.Errorf("missing SampleSet: %s", r)
	}
	assertAbsent(t, e, ref(paddle.PaddleJobGVK, ns, "ppocr-det"), "after a failed precondition")

	// Bad input never reaches the cluster.
	r = e.Run(t, "train", "create", "x", "-n", ns, "--project", "PaddleOCR", "--image", "i:1", "--config-path", "c", "--pvc-name", "task-center", "--gpu-per-node", "-1")
	if r.Code != 2 || !strings.Contains(r.Stderr, "--gpu-per-node") {
		t.Errorf("negative GPUs: %s", r)
	}

	e.Apply(t, ns, fixtures)
	apply := func() testenv.Result {
		args := ppocr(ns, "--wait=false", "--use-visualdl")
		args[1] = "apply"
		return e.Run(t, args...)
	}
	if r := apply(); r.Code != 0 {
		t.Fatalf("apply: %s", r)
	}
	first := e.Get(t, ref(paddle.PaddleJobGVK, ns, "ppocr-det"))
	if r := apply(); r.Code != 0 {
		t.Fatalf("second apply: %s", r)
	}
	second := e.Get(t, ref(paddle.PaddleJobGVK, ns, "ppocr-det"))
	if first.GetResourceVersion() != second.GetResourceVersion() || second.GetGeneration() != 1 {
		t.Errorf("re-applying the same spec changed the PaddleJob: resourceVersion %s -> %s, generation %d",
			first.GetResourceVersion(), second.GetResourceVersion(), second.GetGeneration())
	}
	if r := e.Run(t, ppocr(ns)...); r.Code != 1 || !strings.Contains(r.Stderr, "already exists") {
		t.Errorf("create over an existing training: %s", r)
	}
	// A config change holding shell syntax is stored as data.
	args := ppocr(ns, "--wait=false", "--config-change", "Global.x=1; rm -rf /")
	args[1] = "apply"
	if r := e.Run(t, args...); r.Code != 0 {
		t.Fatalf("apply: %s", r)
	}
	cmd, _, _ := unstructuredStrings(e.Get(t, ref(paddle.PaddleJobGVK, ns, "ppocr-det")).Object, "spec", "worker", "template", "spec", "containers")
	if !strings.Contains(cmd, `'Global.x=1; rm -rf /'`) {
		t.Errorf("the change is not quoted as one word: %s", cmd)
	}
}
