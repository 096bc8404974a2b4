package pipeline

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

func pod(name string, labels, annotations map[string]string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kubeflow", Labels: labels, Annotations: annotations}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
	}
	return p
}

func TestLogsSelectsAStepsPods(t *testing.T) {
	wf := testWorkflow(t)
	obj, err := pipeline.WorkflowObject(wf)
	if err != nil {
		t.Fatal(err)
	}
	k := kube.NewFake(obj)
	argo := func(node string) map[string]string {
		return map[string]string{argoNodeAnnotation: "ppocr-det." + node}
	}
	wfLabel := map[string]string{argoWorkflowLabel: "ppocr-det"}
	cs := fake.NewSimpleClientset(
		pod("ppocr-det-train-paddlejob-1", wfLabel, argo("train.paddlejob"), "wait", "main"),
		pod("ppocr-det-dataset-sync-2", wfLabel, argo("dataset.sync"), "wait", "main"),
		pod("ppocr-det-worker-0", map[string]string{"paddlex.io/train": "ppocr-det"}, nil, "paddle"),
		pod("ppocr-det-inference-convert-x", map[string]string{"batch.kubernetes.io/job-name": "ppocr-det-inference-convert", "paddlex.io/train": "ppocr-det"}, nil, "inference-convert"),
		pod("ppocr-det-model-hub-y", map[string]string{"batch.kubernetes.io/job-name": "ppocr-det-model-hub"}, nil, "mc"),
		pod("other", map[string]string{"paddlex.io/train": "other"}, nil, "paddle"),
	)
	f, out, _ := testFactory()
	o := &LogsOptions{Name: "ppocr-det", Step: "train", Namespace: "kubeflow", Tail: -1, Streams: f.Streams,
		Kube: k, Clientset: cs}
	if err := o.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"[train/paddlejob/ppocr-det-train-paddlejob-1] fake logs", "[train/ppocr-det-worker-0] fake logs", "[train/ppocr-det-inference-convert-x] fake logs"} {
		if !strings.Contains(got, want) {
			t.Errorf("logs lack %q:\n%s", want, got)
		}
	}
	for _, not := range []string{"dataset", "model-hub", "other"} {
		if strings.Contains(got, not) {
			t.Errorf("logs of another step (%s):\n%s", not, got)
		}
	}
	o.Step = "nosuch"
	if err := o.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "steps: dataset, train") {
		t.Errorf("unknown step: %v", err)
	}
}
