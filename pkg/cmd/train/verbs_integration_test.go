package train_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// rankPod plays paddle-operator: it creates a worker pod of training name
// from the GPUs its template asks, on node, in phase, ready or not.
func rankPod(t *testing.T, e *testenv.Env, ns, name string, i int, phase corev1.PodPhase, ready bool, exitCode int32) {
	t.Helper()
	ctx := context.Background()
	podName := name + "-worker-" + string(rune('0'+i))
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: podName, Namespace: ns, Labels: map[string]string{
			paddle.LabelTrain: name, kube.LabelComponent: "training", "paddlex.io/role": "worker"}},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "paddle", Image: "paddle:1",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}}}}},
	}
	pod, err := e.Clientset.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		if pod, err = e.Clientset.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status = corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}}
	if phase == corev1.PodFailed {
		pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "paddle", Image: "paddle:1",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, Reason: "Error", Message: "NCCL timeout"}}}}
	}
	if _, err := e.Clientset.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestTopAndWait: top shows a running training's ranks and GPUs from its
// pods; wait's exit code is the outcome for each --for.
func TestTopAndWait(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	e.Apply(t, ns, fixtures)
	if r := e.Run(t, ppocr(ns, "--wait=false")...); r.Code != 0 {
		t.Fatal(r)
	}
	jr := ref(paddle.PaddleJobGVK, ns, "ppocr-det")
	e.SetStatus(t, jr, map[string]any{"phase": "Starting", "worker": map[string]any{"starting": 2}})
	rankPod(t, e, ns, "ppocr-det", 0, corev1.PodRunning, true, 0)
	rankPod(t, e, ns, "ppocr-det", 1, corev1.PodPending, false, 0)

	r := e.Run(t, "train", "top", "-n", ns)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if r.Code != 0 || len(lines) != 2 {
		t.Fatalf("top: %s", r)
	}
	if f := strings.Fields(lines[1]); len(f) != 7 || f[0] != "ppocr-det" || f[1] != "Starting" || f[2] != "1/2" || f[3] != "1" || f[5] != "2" {
		t.Errorf("top row %q\n%s", lines[1], r.Stdout)
	}
	r = e.Run(t, "train", "top", "-n", ns, "-o", "wide")
	if !strings.Contains(r.Stdout, "worker-0:Running,worker-1:Pending") || !strings.Contains(r.Stdout, "node-a") || !strings.Contains(r.Stdout, "paddle-operator") {
		t.Errorf("top -o wide:\n%s", r.Stdout)
	}
	r = e.Run(t, "train", "top", "-n", ns, "-o", "json")
	var rows []struct {
		Name         string
		Ready, Total int64
		GPUs         int64
		GPUsPerPod   int64
		Ranks        []struct{ Rank, Phase string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rows); err != nil || len(rows) != 1 || rows[0].Ready != 1 || rows[0].Total != 2 || rows[0].GPUs != 2 || rows[0].GPUsPerPod != 1 || len(rows[0].Ranks) != 2 {
		t.Errorf("top -o json: %v %s", err, r.Stdout)
	}

	if r := e.Run(t, "train", "wait", "ppocr-det", "-n", ns, "--for", "condition=Running", "--timeout", "1s"); r.Code != 3 || !strings.Contains(r.Stderr, "timed out after 1s") {
		t.Errorf("wait --timeout: %s", r)
	}
	var running, finished testenv.Result
	run := testenv.Background(t, func(bg *testenv.T) {
		running = e.RunContext(context.Background(), bg, "train", "wait", "ppocr-det", "-n", ns, "--for", "condition=Running=True", "--timeout", "60s")
	})
	run2 := testenv.Background(t, func(bg *testenv.T) {
		finished = e.RunContext(context.Background(), bg, "train", "wait", "ppocr-det", "-n", ns, "--timeout", "60s")
	})
	time.Sleep(500 * time.Millisecond)
	rankPod(t, e, ns, "ppocr-det", 1, corev1.PodRunning, true, 0)
	e.SetStatus(t, jr, map[string]any{"phase": "Running", "worker": map[string]any{"running": 2}})
	run.Wait()
	if running.Code != 0 || running.Stdout != "training.paddlex.io/ppocr-det condition met\n" {
		t.Errorf("wait --for condition=Running: %s", running)
	}
	// worker-1 fails: the default wait exits 1 naming it.
	rankPod(t, e, ns, "ppocr-det", 1, corev1.PodFailed, false, 137)
	e.SetStatus(t, jr, map[string]any{"phase": "Failed", "worker": map[string]any{"running": 1, "failed": 1}})
	run2.Wait()
	if finished.Code != 1 || !strings.Contains(finished.Stderr, "training ppocr-det failed: worker-1 exited with code 137 (Error): NCCL timeout") {
		t.Errorf("wait of a failing training: %s", finished)
	}
	if r := e.Run(t, "train", "wait", "ppocr-det", "-n", ns, "--for", "condition=Failed"); r.Code != 0 {
		t.Errorf("wait --for condition=Failed of a failed training: %s", r)
	}
	if r := e.Run(t, "train", "wait", "ppocr-det", "-n", ns, "--for", "condition=Running"); r.Code != 1 {
		t.Errorf("wait --for condition=Running of a failed training: %s", r)
	}
	// Finished: top leaves it out unless --all.
	if r := e.Run(t, "train", "top", "-n", ns); r.Code != 0 || r.Stdout != "" || !strings.Contains(r.Stderr, "No running trainings found") {
		t.Errorf("top after the failure: %s", r)
	}
	if r := e.Run(t, "train", "top", "-n", ns, "--all"); !strings.Contains(r.Stdout, "ppocr-det") || !strings.Contains(r.Stdout, "Failed") {
		t.Errorf("top --all: %s", r)
	}
	if r := e.Run(t, "train", "wait", "nosuch", "-n", ns); r.Code != 1 || !strings.Contains(r.Stderr, "not found") {
		t.Errorf("wait of a missing training: %s", r)
	}
	if r := e.Run(t, "train", "wait", "nosuch", "-n", ns, "--for", "delete"); r.Code != 0 || r.Stdout != "training.paddlex.io/nosuch deleted\n" {
		t.Errorf("wait --for delete of a missing training: %s", r)
	}
	for _, args := range [][]string{
		{"train", "wait", "ppocr-det", "--for", "condition=Ready"},
		{"train", "wait", "ppocr-det", "--for", "condition=Running=False"},
		{"train", "wait", "ppocr-det", "--timeout", "-1s"},
		{"train", "top", "-o", "yaml"},
	} {
		if r := e.Run(t, append(args, "-n", "no-such-namespace")...); r.Code != 2 {
			t.Errorf("%v: %s", args, r)
		}
	}
}
