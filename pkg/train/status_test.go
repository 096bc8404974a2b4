package train

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// reported returns the rendered PaddleJob of backend with status set as an
// operator reports it, numbers decoded from JSON as float64 or int64.
func reported(t *testing.T, backend string, status map[string]any) *unstructured.Unstructured {
	t.Helper()
	s := examples()["rec"]
	s.Backend, s.PSReplicas = backend, 1
	s.Defaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	obj := RenderPaddleJob(s)
	obj.Object["status"] = status
	return obj
}

func TestStatusPaddleOperator(t *testing.T) {
	obj := reported(t, BackendPaddleOperator, map[string]any{
		"phase":  "Running",
		"worker": map[string]any{"running": int64(1), "starting": float64(1)},
		"ps":     map[string]any{"running": float64(1)},
	})
	if got := Phase(obj); got != "Running" {
		t.Errorf("Phase = %q, want Running", got)
	}
	if got, want := Progress(obj), "worker 1/2 running, ps 1/1 running"; got != want {
		t.Errorf("Progress = %q, want %q", got, want)
	}
	if r := Roles(obj); len(r) != 2 || r[0].Pending != 1 {
		t.Errorf("Roles = %+v, want worker with 1 pending first", r)
	}
	if Succeeded(obj) || Failed(obj) {
		t.Error("a running job reports finished")
	}
	obj.Object["status"].(map[string]any)["phase"] = "Completed"
	if !Succeeded(obj) {
		t.Error("phase Completed is not success")
	}
	// paddle-operator has no message field: the failure says which pods failed.
	failed := reported(t, BackendPaddleOperator, map[string]any{
		"phase":  "Failed",
		"worker": map[string]any{"running": int64(1), "failed": int64(1)},
	})
	_, _, err := Condition(BackendPaddleOperator).Check(failed)
	if err == nil || !strings.HasSuffix(err.Error(), "failed: phase Failed: 1 of 2 worker pods failed") {
		t.Errorf("failed PaddleJob: err %v, want the failed pods counted", err)
	}
}

func TestStatusTrainingOperator(t *testing.T) {
	obj := reported(t, BackendTrainingOperator, map[string]any{
		"conditions": []any{
			map[string]any{"type": "Created", "status": "True"},
			map[string]any{"type": "Running", "status": "False"},
			map[string]any{"type": "Failed", "status": "True", "reason": "PaddleJobFailed", "message": "worker-0 exited 1"},
		},
		"replicaStatuses": map[string]any{
			"Worker": map[string]any{"failed": float64(1), "active": int64(1)},
		},
	})
	if got := Phase(obj); got != "Failed" {
		t.Errorf("Phase = %q, want Failed", got)
	}
	if got, want := Progress(obj), "worker 1/2 running, 1 failed, ps 0/1 running"; got != want {
		t.Errorf("Progress = %q, want %q", got, want)
	}
	if !Failed(obj) || Succeeded(obj) {
		t.Error("a job with Failed=True is not reported failed")
	}
	done, _, err := Condition(BackendTrainingOperator).Check(obj)
	var fe *kube.FailedError
	if done || !errors.As(err, &fe) || fe.Reason != "PaddleJobFailed" || fe.Message != "worker-0 exited 1" {
		t.Errorf("Condition.Check = %v, %v; want a FailedError with the condition's reason and message", done, err)
	}
}

func TestJobOfRejectsMalformedStatus(t *testing.T) {
	obj := reported(t, BackendPaddleOperator, map[string]any{"worker": "three"})
	if _, err := JobOf(obj); err == nil {
		t.Fatal("JobOf accepted a worker status that is a string")
	}
	if got := Roles(obj); len(got) != 2 || got[0].Replicas != 2 {
		t.Errorf("Roles of a malformed status = %+v, want the spec's counts", got)
	}
}

func TestJobTimesWorkerPodConditions(t *testing.T) {
	for _, backend := range []string{BackendPaddleOperator, BackendTrainingOperator} {
		t.Run(backend, func(t *testing.T) {
			status := map[string]any{"startTime": "2026-01-02T03:04:05Z", "completionTime": "2026-01-02T03:14:05Z"}
			if backend == BackendTrainingOperator {
				status["conditions"] = []any{map[string]any{"type": "Succeeded", "status": "True", "reason": "PaddleJobSucceeded"}}
			}
			s := examples()["ocr"]
			s.Backend = backend
			s.Defaults()
			obj := RenderPaddleJob(s)
			obj.Object["status"] = status
			j, err := JobOf(obj)
			if err != nil {
				t.Fatal(err)
			}
			start, end := j.Times()
			if got := end.Sub(start); got != 10*time.Minute {
				t.Errorf("Times span %s, want 10m", got)
			}
			pod := j.WorkerPod()
			if pod == nil || pod.Containers[0].Image != s.Image {
				t.Fatalf("WorkerPod = %+v, want the worker template", pod)
			}
			if q := pod.Containers[0].Resources.Limits[GPUResource]; q.String() != "2" {
				t.Errorf("GPU limit = %s, want 2", q.String())
			}
			conds := j.Conditions()
			if backend == BackendTrainingOperator && (len(conds) != 1 || conds[0].Reason != "PaddleJobSucceeded") {
				t.Errorf("Conditions = %+v", conds)
			}
			if backend == BackendPaddleOperator && len(conds) != 0 {
				t.Errorf("paddle-operator Conditions = %+v, want none", conds)
			}
		})
	}
}
