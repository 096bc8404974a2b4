package train

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
)

func TestParseFor(t *testing.T) {
	for in, want := range map[string]string{"": ForSucceeded, "delete": ForDelete, "condition=Running": ForRunning,
		"condition=running=true": ForRunning, "condition=Failed=True": ForFailed, "condition=Succeeded": ForSucceeded} {
		if got, err := ParseFor(in); err != nil || got != want {
			t.Errorf("ParseFor(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"condition=Ready", "condition=Running=False", "jsonpath={.status}", "Running"} {
		if _, err := ParseFor(in); exit.Code(err) != exit.Usage {
			t.Errorf("ParseFor(%q): %v", in, err)
		}
	}
}

func TestWaitCondition(t *testing.T) {
	job := func(phase string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "batch.paddlepaddle.org/v1", "kind": "PaddleJob",
			"metadata": map[string]any{"name": "j", "namespace": "n"},
			"spec":     map[string]any{"worker": map[string]any{"replicas": int64(2)}},
			"status":   map[string]any{"phase": phase, "worker": map[string]any{"running": int64(1), "failed": int64(1)}}}}
	}
	check := func(target, phase string) (bool, error) {
		done, _, err := WaitCondition(target, BackendPaddleOperator).Check(job(phase))
		return done, err
	}
	var fe *kube.FailedError
	if done, err := check(ForRunning, "Running"); !done || err != nil {
		t.Errorf("running: %v %v", done, err)
	}
	if done, err := check(ForRunning, "Starting"); done || err != nil {
		t.Errorf("starting: %v %v", done, err)
	}
	if _, err := check(ForRunning, "Failed"); !errors.As(err, &fe) || fe.Message != "1 of 2 worker pods failed" {
		t.Errorf("running, failed: %v", err)
	}
	if _, err := check(ForRunning, "Completed"); exit.Code(err) != exit.Failed || errors.As(err, &fe) {
		t.Errorf("running, completed: %v", err)
	}
	if done, err := check(ForFailed, "Terminated"); !done || err != nil {
		t.Errorf("failed: %v %v", done, err)
	}
	if _, err := check(ForFailed, "Succeed"); exit.Code(err) != exit.Failed {
		t.Errorf("failed, succeeded: %v", err)
	}
	if done, err := check(ForSucceeded, "Completed"); !done || err != nil {
		t.Errorf("succeeded: %v %v", done, err)
	}
}
