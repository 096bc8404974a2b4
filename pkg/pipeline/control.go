package pipeline

import (
	"fmt"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/exit"
)

// Actions on a running Workflow, with the Argo CLI's semantics
// (workflow/util of argo-workflows): suspend sets spec.suspend, so no new
// step starts until resume clears it; stop sets spec.shutdown to Stop, so
// running steps are killed and the exit handlers still run; terminate sets
// it to Terminate, so they are killed and no exit handler runs.
const (
	ActionSuspend   = "suspend"
	ActionResume    = "resume"
	ActionStop      = "stop"
	ActionTerminate = "terminate"
)

// ControlActions lists the actions in the order help shows them.
var ControlActions = []string{ActionSuspend, ActionResume, ActionStop, ActionTerminate}

// Finished reports a Workflow that reached a final phase.
func Finished(wf *wfv1.Workflow) bool {
	switch wf.Status.Phase {
	case wfv1.WorkflowSucceeded, wfv1.WorkflowFailed, wfv1.WorkflowError:
		return true
	}
	return false
}

// Suspended reports a Workflow whose spec.suspend holds it, as Argo's
// IsWorkflowSuspended does, or one of whose suspend steps is waiting.
func Suspended(wf *wfv1.Workflow) bool {
	if wf.Spec.Suspend != nil && *wf.Spec.Suspend {
		return true
	}
	for _, n := range wf.Status.Nodes {
		if n.IsActiveSuspendNode() {
			return true
		}
	}
	return false
}

// Control returns the server-side apply configuration that carries out
// action on wf: only the fields the action sets, with wf's resourceVersion,
// so a Workflow changed or deleted since it was read is refused rather than
// overwritten or created again. It returns nil when there is nothing to do
// (suspend of a suspended run, resume of one that is not). Like Argo, it
// refuses to suspend, stop or terminate a run that has finished.
//
// Resume sets spec.suspend to false rather than removing it: another field
// manager (argo suspend) may own the field, and Argo reads false as not
// suspended. Paddlex pipelines have no suspend steps; a Workflow from
// elsewhere whose suspend step waits is resumed by `argo resume`, which
// also marks that step done, and Control says so.
func Control(wf *wfv1.Workflow, action string) (*unstructured.Unstructured, error) {
	ref := fmt.Sprintf("workflow %s/%s", wf.Namespace, wf.Name)
	var spec map[string]any
	switch action {
	case ActionSuspend:
		if Finished(wf) {
			return nil, exit.FailedErrorf("%s has finished (%s): there is nothing to suspend", ref, wf.Status.Phase)
		}
		if wf.Spec.Suspend != nil && *wf.Spec.Suspend {
			return nil, nil
		}
		spec = map[string]any{"suspend": true}
	case ActionResume:
		for _, n := range wf.Status.Nodes {
			if n.IsActiveSuspendNode() {
				return nil, exit.FailedErrorf("%s waits in its suspend step %s, which paddlex pipelines do not have: resume it with `argo resume %s -n %s`", ref, n.DisplayName, wf.Name, wf.Namespace)
			}
		}
		if wf.Spec.Suspend == nil || !*wf.Spec.Suspend {
			return nil, nil
		}
		spec = map[string]any{"suspend": false}
	case ActionStop, ActionTerminate:
		if Finished(wf) {
			return nil, exit.FailedErrorf("%s has finished (%s): there is nothing to %s", ref, wf.Status.Phase, action)
		}
		strategy := wfv1.ShutdownStrategyStop
		if action == ActionTerminate {
			strategy = wfv1.ShutdownStrategyTerminate
		}
		spec = map[string]any{"shutdown": string(strategy)}
	default:
		return nil, exit.UsageErrorf("unknown action %q: use suspend, resume, stop or terminate", action)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": wfv1.SchemeGroupVersion.String(),
		"kind":       "Workflow",
		"metadata":   map[string]any{"name": wf.Name, "namespace": wf.Namespace, "resourceVersion": wf.ResourceVersion},
		"spec":       spec,
	}}, nil
}

// State is a run's phase as people read it: Argo's phase, with what holds
// or ends a run that has not finished (Suspended, Stopping, Terminating).
func State(wf *wfv1.Workflow) string {
	phase := string(wf.Status.Phase)
	if phase == "" {
		phase = string(wfv1.WorkflowPending)
	}
	if Finished(wf) {
		return phase
	}
	switch wf.Spec.Shutdown {
	case wfv1.ShutdownStrategyStop:
		return phase + " (Stopping)"
	case wfv1.ShutdownStrategyTerminate:
		return phase + " (Terminating)"
	}
	if Suspended(wf) {
		return phase + " (Suspended)"
	}
	return phase
}
