package kube

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// condFunc adapts a function and a description to Condition.
type condFunc struct {
	desc  string
	check func(obj *unstructured.Unstructured) (bool, string, error)
}

func (c condFunc) Check(obj *unstructured.Unstructured) (bool, string, error) { return c.check(obj) }
func (c condFunc) String() string                                             { return c.desc }

// NewCondition builds a Condition from a check function.
func NewCondition(desc string, check func(obj *unstructured.Unstructured) (bool, string, error)) Condition {
	return condFunc{desc: desc, check: check}
}

func failed(obj *unstructured.Unstructured, reason, msg string) error {
	return &FailedError{Ref: RefOf(obj), Reason: reason, Message: msg}
}

// Phase reads status.phase.
func Phase(obj *unstructured.Unstructured) string {
	p, _, _ := unstructured.NestedString(obj.Object, "status", "phase")
	return p
}

// PhaseIn waits for status.phase to be one of success; a phase in failure
// fails the wait. Any other phase, including empty, means in progress.
// detail, when set, adds a summary of the status to progress lines.
func PhaseIn(success, failure []string, detail func(obj *unstructured.Unstructured) string) Condition {
	return Phases{Success: success, Failure: failure, Detail: detail}.Condition()
}

// Phases describes a kind whose status.phase says how it is doing.
type Phases struct {
	// Success and Failure are the phases that end the wait.
	Success, Failure []string
	// Detail, when set, summarises the status for progress lines.
	Detail func(obj *unstructured.Unstructured) string
	// Message, when set, says why a failed object failed, from the status
	// fields its kind has: phase kinds carry no common message field.
	Message func(obj *unstructured.Unstructured) string
}

// Condition waits for status.phase to be one of p.Success; a phase in
// p.Failure fails the wait with p.Message's words. Any other phase,
// including empty, means in progress.
func (p Phases) Condition() Condition {
	desc := fmt.Sprintf("phase in (%s)", strings.Join(p.Success, ","))
	return NewCondition(desc, func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "not found yet", nil
		}
		phase := Phase(obj)
		status := "phase " + phase
		if phase == "" {
			status = "phase not set yet"
		}
		if p.Detail != nil {
			if d := p.Detail(obj); d != "" {
				status += " (" + d + ")"
			}
		}
		for _, s := range p.Success {
			if phase == s {
				return true, status, nil
			}
		}
		for _, f := range p.Failure {
			if phase == f {
				msg := ""
				if p.Message != nil {
					msg = p.Message(obj)
				}
				return false, status, failed(obj, "phase "+phase, msg)
			}
		}
		return false, status, nil
	})
}

// Cond is one entry of status.conditions.
type Cond struct {
	Type, Status, Reason, Message string
}

// Conditions reads status.conditions.
func Conditions(obj *unstructured.Unstructured) []Cond {
	raw, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	out := make([]Cond, 0, len(raw))
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		s := func(k string) string { v, _ := m[k].(string); return v }
		out = append(out, Cond{Type: s("type"), Status: s("status"), Reason: s("reason"), Message: s("message")})
	}
	return out
}

// FindCondition looks a condition up by type; conditions are not ordered,
// so the last one says nothing about readiness.
func FindCondition(obj *unstructured.Unstructured, condType string) (Cond, bool) {
	for _, c := range Conditions(obj) {
		if c.Type == condType {
			return c, true
		}
	}
	return Cond{}, false
}

// ObservedGenerationCurrent reports whether status.observedGeneration has
// caught up with metadata.generation. Objects that do not report an
// observedGeneration count as current.
func ObservedGenerationCurrent(obj *unstructured.Unstructured) bool {
	og, found, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	return !found || og >= obj.GetGeneration()
}

// ObservedGeneration waits until the controller has seen the latest spec.
func ObservedGeneration() Condition {
	return NewCondition("status.observedGeneration == metadata.generation", func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "not found yet", nil
		}
		if ObservedGenerationCurrent(obj) {
			return true, "observed", nil
		}
		return false, "controller has not observed the latest generation", nil
	})
}

// ConditionTrue waits for the condition of condType to be True with the
// observed generation caught up; a False condition fails the wait.
func ConditionTrue(condType string) Condition {
	return NewCondition(fmt.Sprintf("condition %s=True", condType), func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "not found yet", nil
		}
		if !ObservedGenerationCurrent(obj) {
			return false, "controller has not observed the latest generation", nil
		}
		c, ok := FindCondition(obj, condType)
		switch {
		case !ok:
			return false, condType + " not reported yet", nil
		case c.Status == "True":
			return true, condType, nil
		case c.Status == "False":
			return false, condType + "=False", failed(obj, c.Reason, c.Message)
		default:
			status := condType + "=" + c.Status
			if c.Reason != "" {
				status += " (" + c.Reason + ")"
			}
			return false, status, nil
		}
	})
}

// CRDEstablished waits for a CustomResourceDefinition to be served.
func CRDEstablished() Condition {
	return NewCondition("condition Established=True", func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "not found yet", nil
		}
		if c, ok := FindCondition(obj, "Established"); ok && c.Status == "True" {
			return true, "established", nil
		}
		if c, ok := FindCondition(obj, "NamesAccepted"); ok && c.Status == "False" {
			return false, "names not accepted", failed(obj, c.Reason, c.Message)
		}
		return false, "not established yet", nil
	})
}

// DeploymentAvailable waits for a Deployment's rollout to complete: the
// latest generation observed, every replica updated and available.
func DeploymentAvailable() Condition {
	return NewCondition("rollout complete", func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "not found yet", nil
		}
		if !ObservedGenerationCurrent(obj) {
			return false, "rollout not observed yet", nil
		}
		if c, ok := FindCondition(obj, "Progressing"); ok && c.Reason == "ProgressDeadlineExceeded" {
			return false, "progress deadline exceeded", failed(obj, c.Reason, c.Message)
		}
		want, found, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
		if !found {
			want = 1
		}
		get := func(k string) int64 { v, _, _ := unstructured.NestedInt64(obj.Object, "status", k); return v }
		updated, available, total := get("updatedReplicas"), get("availableReplicas"), get("replicas")
		status := fmt.Sprintf("%d/%d available", available, want)
		if updated < want || total > updated || available < want {
			return false, status, nil
		}
		return true, status, nil
	})
}

// StatefulSetReady waits until every replica of a StatefulSet is ready and updated.
func StatefulSetReady() Condition {
	return NewCondition("all replicas ready", func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "not found yet", nil
		}
		if !ObservedGenerationCurrent(obj) {
			return false, "rollout not observed yet", nil
		}
		want, found, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
		if !found {
			want = 1
		}
		get := func(k string) int64 { v, _, _ := unstructured.NestedInt64(obj.Object, "status", k); return v }
		ready, updated := get("readyReplicas"), get("updatedReplicas")
		status := fmt.Sprintf("%d/%d ready", ready, want)
		return ready >= want && updated >= want, status, nil
	})
}

// DaemonSetReady waits until every scheduled pod of a DaemonSet is updated and available.
func DaemonSetReady() Condition {
	return NewCondition("all pods available", func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "not found yet", nil
		}
		if !ObservedGenerationCurrent(obj) {
			return false, "rollout not observed yet", nil
		}
		get := func(k string) int64 { v, _, _ := unstructured.NestedInt64(obj.Object, "status", k); return v }
		want, updated, available := get("desiredNumberScheduled"), get("updatedNumberScheduled"), get("numberAvailable")
		status := fmt.Sprintf("%d/%d available", available, want)
		return updated >= want && available >= want, status, nil
	})
}

// JobComplete waits for a batch Job to finish, scanning all its conditions:
// Complete=True succeeds, Failed=True fails.
func JobComplete() Condition {
	return NewCondition("condition Complete=True", func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "not found yet", nil
		}
		for _, c := range Conditions(obj) {
			if c.Status != "True" {
				continue
			}
			switch c.Type {
			case "Complete":
				return true, "complete", nil
			case "Failed":
				return false, "failed", failed(obj, c.Reason, c.Message)
			}
		}
		get := func(k string) int64 { v, _, _ := unstructured.NestedInt64(obj.Object, "status", k); return v }
		return false, fmt.Sprintf("active %d, succeeded %d, failed %d", get("active"), get("succeeded"), get("failed")), nil
	})
}

// Gone waits until the object no longer exists.
func Gone() Condition {
	return NewCondition("deleted", func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return true, "deleted", nil
		}
		return false, "deleting", nil
	})
}

// ReadyFor returns the readiness condition paddlex uses for well-known
// workload kinds, and false for kinds it has none for.
func ReadyFor(kind string) (Condition, bool) {
	switch kind {
	case "Deployment":
		return DeploymentAvailable(), true
	case "StatefulSet":
		return StatefulSetReady(), true
	case "DaemonSet":
		return DaemonSetReady(), true
	case "Job":
		return JobComplete(), true
	case "CustomResourceDefinition":
		return CRDEstablished(), true
	}
	return nil, false
}
