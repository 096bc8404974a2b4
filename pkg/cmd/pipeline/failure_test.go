package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A failed run shows the end of the log of the container that failed its
// step: the Argo pod of that step (the fake clientset answers every log
// request with "fake logs"); none when no container failed.
func TestFailedStepLog(t *testing.T) {
	wf := testWorkflow(t)
	wf.Namespace = "kubeflow"
	setNodes(wf, "Failed", map[string]wfv1.NodePhase{"dataset": "Succeeded", "train": "Failed", "train.paddlejob": "Failed"}, time.Now())
	step := map[string]string{argoWorkflowLabel: wf.Name}
	ok := pod("ppocr-det-dataset-1", step, map[string]string{argoNodeAnnotation: "ppocr-det.dataset"}, "wait", "main")
	failed := pod("ppocr-det-paddlejob-2", step, map[string]string{argoNodeAnnotation: "ppocr-det.train.paddlejob"}, "wait", "main")
	failed.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "wait", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}},
		{Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Reason: "Error"}}},
	}
	cs := fake.NewSimpleClientset(ok, failed)
	got := failedStepLog(context.Background(), cs, wf)
	for _, want := range []string{"the last lines of pod ppocr-det-paddlejob-2 (container main, exited with code 3 (Error)):", "    fake logs"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
	failed.Status.ContainerStatuses = nil
	if got := failedStepLog(context.Background(), fake.NewSimpleClientset(ok, failed), wf); got != "" {
		t.Errorf("no container failed, yet:\n%s", got)
	}
	if got := failedStepLog(context.Background(), nil, wf); got != "" {
		t.Errorf("no clientset, yet:\n%s", got)
	}
}
