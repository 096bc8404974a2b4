// Package e2e_test trains through the real Kubeflow training-operator on the
// simulated cluster: kwok plays the training processes, the real Job
// controller runs the export and conversion Jobs.
package e2e_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{TrainingOperator: true}))
}

var jobGVK = schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}

// taskVolume creates the task PVC bound to a PersistentVolume, so the
// scheduler places pods that mount it.
func taskVolume(t *testing.T, e *testenv.Env, ns string) {
	t.Helper()
	pv, err := localcluster.BoundClaim(context.Background(), e.Clientset, ns, "task-center")
	if pv != "" {
		t.Cleanup(func() {
			_ = e.Clientset.CoreV1().PersistentVolumes().Delete(context.Background(), pv, metav1.DeleteOptions{})
		})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// ppocr are the original's PP-OCR example values, on the training-operator.
func ppocr(ns string, extra ...string) []string {
	return append([]string{"train", "create", "ppocr-det", "-n", ns, "--project", "PaddleOCR", "--backend", "training-operator",
		"--image", "registry.baidubce.com/paddleflow-public/paddleocr:2.1.3-gpu-cuda10.2-cudnn7",
		"--config-path", "configs/det/det_mv3_db.yml", "--pvc-name", "task-center",
		"--worker-replicas", "2", "--gpu-per-node", "1", "--config-change", "Global.epoch_num=10",
		"--pretrain-model", "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/MobileNetV3_large_x0_5_pretrained.pdparams",
		"--timeout", "120s"}, extra...)
}

func logs(e *testenv.Env) string {
	var b strings.Builder
	for _, c := range []string{"training-operator", "kube-controller-manager", "kwok"} {
		b.WriteString("--- " + c + "\n" + e.Log(c, 25) + "\n")
	}
	return b.String()
}

func TestTrainingOperatorRunSucceeds(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	taskVolume(t, e, ns)

	r := e.Run(t, ppocr(ns)...)
	if r.Code != 0 {
		t.Fatalf("train create: %s\n%s", r, logs(e))
	}
	if !strings.Contains(r.Stdout, "training ppocr-det succeeded: serving model /mnt/task-center/ppocr-det.tar.gz") {
		t.Errorf("stdout = %q", r.Stdout)
	}
	job := e.Get(t, kube.ObjectRef{GVK: paddle.TrainingOperatorJobGVK, Namespace: ns, Name: "ppocr-det"})
	var seen []string
	for _, c := range kube.Conditions(job) {
		if c.Status == "True" || c.Type == "Running" {
			seen = append(seen, c.Type)
		}
	}
	if got := strings.Join(seen, ","); !strings.Contains(got, "Running") || !strings.Contains(got, "Succeeded") {
		t.Errorf("the operator's conditions = %s, want Running then Succeeded", got)
	}
	// The export and conversion Jobs ran through the Job controller and were removed.
	for _, name := range []string{"ppocr-det-inference-convert", "ppocr-det-serving-convert"} {
		deadline := time.Now().Add(30 * time.Second)
		for e.Get(t, kube.ObjectRef{GVK: jobGVK, Namespace: ns, Name: name}) != nil {
			if time.Now().After(deadline) {
				t.Fatalf("Job %s was not removed after it succeeded", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The worker pods stay for logs, with the pod status per rank.
	d := e.Run(t, "train", "describe", "ppocr-det", "-n", ns)
	if d.Code != 0 || !strings.Contains(d.Stdout, "worker-0") || !strings.Contains(d.Stdout, "worker-1") || !strings.Contains(d.Stdout, "Succeeded") {
		t.Errorf("describe: %s", d)
	}
	if del := e.Run(t, "train", "delete", "ppocr-det", "-n", ns); del.Code != 0 {
		t.Errorf("delete: %s", del)
	}
}

func TestTrainingOperatorRunFails(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	taskVolume(t, e, ns)

	r := e.Run(t, ppocr(ns, "--pod-label", "paddlex.test/outcome=fail")...)
	if r.Code != 1 {
		t.Fatalf("a failing training must exit 1: %s\n%s", r, logs(e))
	}
	if !strings.Contains(r.Stderr, "training ppocr-det failed: worker-") || !strings.Contains(r.Stderr, "exited with code 1 (Error): RuntimeError: CUDA out of memory") {
		t.Errorf("stderr does not name the failing rank: %s", r.Stderr)
	}
	if e.Get(t, kube.ObjectRef{GVK: jobGVK, Namespace: ns, Name: "ppocr-det-inference-convert"}) != nil {
		t.Error("the export Job was created after a failed training")
	}
}
