package train

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// Job is a training read back through the types it is rendered with: Paddle
// for a paddle-operator PaddleJob, Kubeflow for a training-operator one.
type Job struct {
	Paddle   *paddle.PaddleJob
	Kubeflow *paddle.KubeflowPaddleJob
}

// JobOf reads a PaddleJob of either backend.
func JobOf(obj *unstructured.Unstructured) (Job, error) {
	if IsTrainingOperator(obj) {
		j := &paddle.KubeflowPaddleJob{}
		return Job{Kubeflow: j}, kube.FromUnstructured(obj, j)
	}
	j := &paddle.PaddleJob{}
	return Job{Paddle: j}, kube.FromUnstructured(obj, j)
}

// Read reads obj for summaries (get, describe, wait lines), which
// show what they can of an object whose status does not fit the types (an
// operator of another version) rather than fail on it.
func Read(obj *unstructured.Unstructured) Job {
	j, _ := JobOf(obj)
	return j
}

// Roles reads the worker and parameter-server counts of either PaddleJob.
func Roles(obj *unstructured.Unstructured) []RoleStatus {
	return Read(obj).Roles()
}

// Roles reads the worker and parameter-server counts.
func (j Job) Roles() []RoleStatus {
	var out []RoleStatus
	if k := j.Kubeflow; k != nil {
		for _, r := range []struct{ key, role string }{{paddle.ReplicaWorker, "worker"}, {paddle.ReplicaMaster, "ps"}} {
			spec, ok := k.Spec.PaddleReplicaSpecs[r.key]
			if !ok || spec == nil {
				continue
			}
			rs := RoleStatus{Role: r.role}
			if spec.Replicas != nil {
				rs.Replicas = int64(*spec.Replicas)
			}
			if st := k.Status.ReplicaStatuses[r.key]; st != nil {
				rs.Running, rs.Succeeded, rs.Failed = int64(st.Active), int64(st.Succeeded), int64(st.Failed)
			}
			out = append(out, rs)
		}
		return out
	}
	p := j.Paddle
	if p == nil {
		return nil
	}
	for _, r := range []struct {
		role string
		spec *paddle.ResourceSpec
		st   *paddle.ResourceStatus
	}{{"worker", p.Spec.Worker, p.Status.Worker}, {"ps", p.Spec.PS, p.Status.PS}} {
		if r.spec == nil {
			continue
		}
		rs := RoleStatus{Role: r.role, Replicas: int64(r.spec.Replicas)}
		if st := r.st; st != nil {
			rs.Pending, rs.Running = int64(st.Pending+st.Starting), int64(st.Running)
			rs.Succeeded, rs.Failed = int64(st.Succeeded), int64(st.Failed)
		}
		out = append(out, rs)
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

// FailedPods says which roles' pods failed, from the counts paddle-operator
// reports (it has no message field): "1 of 2 worker pods failed".
func FailedPods(obj *unstructured.Unstructured) string {
	var parts []string
	for _, r := range Roles(obj) {
		if r.Failed > 0 {
			parts = append(parts, fmt.Sprintf("%d of %d %s pods failed", r.Failed, r.Replicas, r.Role))
		}
	}
	return strings.Join(parts, ", ")
}

// Phase returns the PaddleJob's phase: status.phase for paddle-operator,
// and for the training-operator its latest true condition among Created,
// Running, Restarting, Succeeded and Failed.
func Phase(obj *unstructured.Unstructured) string {
	return Read(obj).Phase()
}

// Phase returns the job's phase, as Phase does.
func (j Job) Phase() string {
	if j.Kubeflow == nil {
		if j.Paddle == nil {
			return ""
		}
		return j.Paddle.Status.Phase
	}
	phase := ""
	for _, c := range j.Kubeflow.Status.Conditions {
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

// Finish returns the true Succeeded or Failed condition of a
// training-operator job, if it has finished.
func (j Job) Finish() (paddle.Condition, bool) {
	if j.Kubeflow == nil {
		return paddle.Condition{}, false
	}
	for _, c := range j.Kubeflow.Status.Conditions {
		if c.Status == "True" && (c.Type == "Succeeded" || c.Type == "Failed") {
			return c, true
		}
	}
	return paddle.Condition{}, false
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
		return kube.Phases{Success: paddle.PaddleJobSuccess, Failure: paddle.PaddleJobFailure, Detail: Progress, Message: FailedPods}.Condition()
	}
	return kube.NewCondition("condition Succeeded=True", func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "not found yet", nil
		}
		j := Read(obj)
		status := "no condition yet"
		if p := j.Phase(); p != "" {
			status = p
		}
		if d := Progress(obj); d != "" {
			status += " (" + d + ")"
		}
		c, done := j.Finish()
		switch {
		case !done:
			return false, status, nil
		case c.Type == "Succeeded":
			return true, status, nil
		default:
			return false, status, &kube.FailedError{Ref: kube.RefOf(obj), Reason: c.Reason, Message: c.Message}
		}
	})
}

// Times returns when the training started and finished; each is zero until
// the operator reports it.
func (j Job) Times() (start, end time.Time) {
	var s, e *metav1.Time
	switch {
	case j.Kubeflow != nil:
		s, e = j.Kubeflow.Status.StartTime, j.Kubeflow.Status.CompletionTime
	case j.Paddle != nil:
		s, e = j.Paddle.Status.StartTime, j.Paddle.Status.CompletionTime
	}
	if s != nil {
		start = s.Time
	}
	if e != nil {
		end = e.Time
	}
	return start, end
}

// WorkerPod returns the workers' pod spec, or nil when the job has none.
func (j Job) WorkerPod() *corev1.PodSpec {
	switch {
	case j.Kubeflow != nil:
		if r := j.Kubeflow.Spec.PaddleReplicaSpecs[paddle.ReplicaWorker]; r != nil {
			return &r.Template.Spec
		}
	case j.Paddle != nil && j.Paddle.Spec.Worker != nil:
		return &j.Paddle.Spec.Worker.Template.Spec
	}
	return nil
}

// Conditions returns the training-operator's conditions; paddle-operator
// reports a phase only.
func (j Job) Conditions() []paddle.Condition {
	if j.Kubeflow == nil {
		return nil
	}
	return j.Kubeflow.Status.Conditions
}
