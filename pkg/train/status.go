package train

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// RoleStatus counts one role's pods as the operator reports them.
type RoleStatus struct {
	Role                                string
	Replicas                            int64
	Pending, Running, Succeeded, Failed int64
}

func (r RoleStatus) String() string {
	s := fmt.Sprintf("%s %d/%d running", r.Role, r.Running, r.Replicas)
	if r.Succeeded > 0 {
		s += fmt.Sprintf(", %d succeeded", r.Succeeded)
	}
	if r.Failed > 0 {
		s += fmt.Sprintf(", %d failed", r.Failed)
	}
	return s
}

// IsTrainingOperator reports whether obj is a kubeflow.org PaddleJob.
func IsTrainingOperator(obj *unstructured.Unstructured) bool {
	return obj.GroupVersionKind().Group == paddle.TrainingOperatorJobGVK.Group
}

// Roles reads the worker and parameter-server counts of either PaddleJob.
func Roles(obj *unstructured.Unstructured) []RoleStatus {
	n := func(m map[string]any, k string) int64 {
		switch v := m[k].(type) {
		case int64:
			return v
		case float64:
			return int64(v)
		}
		return 0
	}
	var out []RoleStatus
	if IsTrainingOperator(obj) {
		for _, r := range []struct{ key, role string }{{"Worker", "worker"}, {"Master", "ps"}} {
			spec, ok, _ := unstructured.NestedMap(obj.Object, "spec", "paddleReplicaSpecs", r.key)
			if !ok {
				continue
			}
			st, _, _ := unstructured.NestedMap(obj.Object, "status", "replicaStatuses", r.key)
			out = append(out, RoleStatus{Role: r.role, Replicas: n(spec, "replicas"),
				Running: n(st, "active"), Succeeded: n(st, "succeeded"), Failed: n(st, "failed")})
		}
		return out
	}
	for _, role := range []string{"worker", "ps"} {
		spec, ok, _ := unstructured.NestedMap(obj.Object, "spec", role)
		if !ok {
			continue
		}
		st, _, _ := unstructured.NestedMap(obj.Object, "status", role)
		out = append(out, RoleStatus{Role: role, Replicas: n(spec, "replicas"),
			Pending: n(st, "pending") + n(st, "starting"), Running: n(st, "running"),
			Succeeded: n(st, "succeeded"), Failed: n(st, "failed")})
	}
	return out
}

// Progress summarises Roles for wait lines, e.g. "worker 2/2 running, ps 1/1 running".
func Progress(obj *unstructured.Unstructured) string {
	var parts []string
	for _, r := range Roles(obj) {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ", ")
}

// Phase returns the PaddleJob's phase: status.phase for paddle-operator,
// and for the training-operator its latest true condition among Created,
// Running, Restarting, Succeeded and Failed.
func Phase(obj *unstructured.Unstructured) string {
	if !IsTrainingOperator(obj) {
		return kube.Phase(obj)
	}
	phase := ""
	for _, c := range kube.Conditions(obj) {
		if c.Status != "True" {
			continue
		}
		switch c.Type {
		case "Succeeded", "Failed":
			return c.Type
		case "Created", "Running", "Restarting":
			phase = c.Type
		}
	}
	return phase
}

// Succeeded and Failed report a finished training of either backend.
func Succeeded(obj *unstructured.Unstructured) bool {
	p := Phase(obj)
	return p == "Succeeded" || contains(paddle.PaddleJobSuccess, p)
}

// Failed reports a training that failed.
func Failed(obj *unstructured.Unstructured) bool {
	return contains(paddle.PaddleJobFailure, Phase(obj))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Condition waits for a training to finish: paddle-operator phases
// Completed/Succeed succeed and Failed/Terminated fail; training-operator
// conditions Succeeded=True succeed and Failed=True fails. Progress lines
// show the worker and ps counts.
func Condition(backend string) kube.Condition {
	if backend != BackendTrainingOperator {
		return kube.PhaseIn(paddle.PaddleJobSuccess, paddle.PaddleJobFailure, Progress)
	}
	return kube.NewCondition("condition Succeeded=True", func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "not found yet", nil
		}
		status := "no condition yet"
		if p := Phase(obj); p != "" {
			status = p
		}
		if d := Progress(obj); d != "" {
			status += " (" + d + ")"
		}
		for _, c := range kube.Conditions(obj) {
			if c.Status != "True" {
				continue
			}
			switch c.Type {
			case "Succeeded":
				return true, status, nil
			case "Failed":
				return false, status, &kube.FailedError{Ref: kube.RefOf(obj), Reason: c.Reason, Message: c.Message}
			}
		}
		return false, status, nil
	})
}
