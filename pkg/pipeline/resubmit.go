package pipeline

import (
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// LabelResubmitOf names the Workflow a resubmit runs again.
const LabelResubmitOf = "paddlex.io/resubmit-of"

// Argo's own labels: the one its UI and CLI show a resubmit by, and those
// that describe one run (its creator, phase and archiving) and so are not
// carried over, as `argo resubmit` does not.
const (
	argoLabelPrefix   = "workflows.argoproj.io/"
	argoResubmittedOf = argoLabelPrefix + "resubmitted-from-workflow"
)

var argoRunLabels = map[string]bool{
	argoLabelPrefix + "creator":                    true,
	argoLabelPrefix + "creator-email":              true,
	argoLabelPrefix + "creator-preferred-username": true,
	argoLabelPrefix + "phase":                      true,
	argoLabelPrefix + "completed":                  true,
	argoLabelPrefix + "workflow-archiving-status":  true,
}

// Resubmit returns a new run of old, as `argo resubmit` makes one: the same
// spec, so the same parameters, templates and volumes, without the
// shutdown a stop or terminate set (nor a zero deadline that ended it),
// old's labels and annotations but those describing old's own run, and
// labels naming old. It is named by generateName, NAME-xxxxx after the
// pipeline; NameRun picks the name, and the run's own account with it.
// Any phase may be resubmitted: the new run starts from the beginning.
func Resubmit(old *wfv1.Workflow) *wfv1.Workflow {
	pipeline := old.Labels[LabelPipeline]
	if pipeline == "" {
		pipeline = old.Name
	}
	wf := &wfv1.Workflow{
		TypeMeta: metav1.TypeMeta{APIVersion: wfv1.SchemeGroupVersion.String(), Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    pipeline + "-",
			Namespace:       old.Namespace,
			Labels:          map[string]string{},
			OwnerReferences: append([]metav1.OwnerReference(nil), old.OwnerReferences...),
		},
		Spec: *old.Spec.DeepCopy(),
	}
	for k, v := range old.Labels {
		if !argoRunLabels[k] {
			wf.Labels[k] = v
		}
	}
	wf.Labels[LabelResubmitOf] = old.Name
	wf.Labels[argoResubmittedOf] = old.Name
	if len(old.Annotations) > 0 {
		wf.Annotations = map[string]string{}
		for k, v := range old.Annotations {
			wf.Annotations[k] = v
		}
	}
	wf.Spec.Shutdown = ""
	if d := wf.Spec.ActiveDeadlineSeconds; d != nil && *d == 0 {
		wf.Spec.ActiveDeadlineSeconds = nil
	}
	return wf
}

// NameRun names the run wf and, when it ran as a run's own account (Runner), gives it
// its own with the rights its templates need: the objects to apply before
// submitting. A run made with --service-account keeps that account.
func NameRun(wf *wfv1.Workflow, name string) ([]*unstructured.Unstructured, error) {
	wf.Name, wf.GenerateName = name, ""
	sa := wf.Spec.ServiceAccountName
	if sa != RunnerName && !strings.HasPrefix(sa, RunnerName+"-") {
		return nil, nil
	}
	SetRunner(wf, Runner(name))
	pipeline := wf.Labels[LabelPipeline]
	if pipeline == "" {
		pipeline = name
	}
	return RBAC(Runner(name), pipeline, wf.Namespace, wf)
}
