package pipeline

import (
	"fmt"
	"strings"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/paddle"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// skip is the condition that keeps a DAG task from running again; Argo
// marks it Skipped, which satisfies the tasks that depend on it.
const skip = "false"

// RetryPlan is a new Workflow that resumes a failed one.
type RetryPlan struct {
	Workflow *wfv1.Workflow
	// Skipped and Rerun name the steps and parts ("train/export") the old
	// run finished and the ones that run again.
	Skipped, Rerun []string
	// Leftovers are objects the rerun parts create that the failed run may
	// have left behind; they must go before the retry creates them again.
	Leftovers []kube.ObjectRef
	// Claim is the failed run's task volume, which the retry mounts.
	Claim string
}

// Retry plans the resubmission of a failed or errored Workflow: the same
// templates, with every step and part that succeeded skipped, the failed
// run's task volume mounted in place of a new one (it holds what those
// steps produced), and a label linking it to the old run.
func Retry(old *wfv1.Workflow) (*RetryPlan, error) {
	switch old.Status.Phase {
	case wfv1.WorkflowFailed, wfv1.WorkflowError:
	case wfv1.WorkflowSucceeded:
		return nil, exit.PreconditionErrorf("workflow %s/%s succeeded: there is nothing to retry (run the pipeline again instead)", old.Namespace, old.Name)
	default:
		phase := string(old.Status.Phase)
		if phase == "" {
			phase = "Pending"
		}
		return nil, exit.PreconditionErrorf("workflow %s/%s is %s: retry it once it has failed, or delete it first", old.Namespace, old.Name, phase)
	}
	pipeline := old.Labels[LabelPipeline]
	if pipeline == "" {
		pipeline = old.Name
	}
	wf := &wfv1.Workflow{
		TypeMeta: metav1.TypeMeta{APIVersion: wfv1.SchemeGroupVersion.String(), Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: pipeline + "-retry-",
			Namespace:    old.Namespace,
			Labels:       map[string]string{},
		},
		Spec: *old.Spec.DeepCopy(),
	}
	for k, v := range old.Labels {
		wf.Labels[k] = v
	}
	wf.Labels[LabelRetryOf] = old.Name
	if len(old.Annotations) > 0 {
		wf.Annotations = map[string]string{}
		for k, v := range old.Annotations {
			if strings.HasPrefix(k, "paddlex.io/") {
				wf.Annotations[k] = v
			}
		}
	}

	plan := &RetryPlan{Workflow: wf}
	templates := map[string]*wfv1.Template{}
	for i := range wf.Spec.Templates {
		templates[wf.Spec.Templates[i].Name] = &wf.Spec.Templates[i]
	}
	entry := templates[wf.Spec.Entrypoint]
	if entry == nil || entry.DAG == nil {
		return nil, fmt.Errorf("workflow %s/%s was not made by paddlex pipeline: its entrypoint is not a DAG", old.Namespace, old.Name)
	}
	finished := func(n Node) bool {
		return n.Phase == string(wfv1.NodeSucceeded) || n.Phase == string(wfv1.NodeSkipped)
	}
	tree := map[string]Node{}
	for _, n := range Tree(old) {
		tree[n.Name] = n
	}
	rerunTemplate := func(name string) error {
		t := templates[name]
		if t == nil || t.Resource == nil || t.Resource.Action != paddle.ActionCreate {
			return nil
		}
		obj, err := Manifest(*t)
		if err != nil {
			return err
		}
		ns := obj.GetNamespace()
		if ns == "" {
			ns = old.Namespace
		}
		plan.Leftovers = append(plan.Leftovers, kube.ObjectRef{GVK: obj.GroupVersionKind(), Namespace: ns, Name: obj.GetName()})
		return nil
	}
	for i := range entry.DAG.Tasks {
		task := &entry.DAG.Tasks[i]
		n := tree[task.Name]
		if finished(n) {
			task.When = skip
			plan.Skipped = append(plan.Skipped, task.Name)
			continue
		}
		t := templates[task.Template]
		if t == nil || t.DAG == nil {
			plan.Rerun = append(plan.Rerun, task.Name)
			if err := rerunTemplate(task.Template); err != nil {
				return nil, err
			}
			continue
		}
		parts := map[string]Node{}
		for _, c := range n.Children {
			parts[c.Name] = c
		}
		for j := range t.DAG.Tasks {
			sub := &t.DAG.Tasks[j]
			path := task.Name + "/" + sub.Name
			if finished(parts[sub.Name]) {
				sub.When = skip
				plan.Skipped = append(plan.Skipped, path)
				continue
			}
			plan.Rerun = append(plan.Rerun, path)
			if err := rerunTemplate(sub.Template); err != nil {
				return nil, err
			}
		}
	}

	// Mount the failed run's volume: it holds the finished steps' output.
	var keep []corev1.PersistentVolumeClaim
	for _, vct := range wf.Spec.VolumeClaimTemplates {
		claim := old.Name + "-" + vct.Name
		for _, v := range old.Status.PersistentVolumeClaims {
			if v.Name == vct.Name && v.PersistentVolumeClaim != nil {
				claim = v.PersistentVolumeClaim.ClaimName
			}
		}
		if plan.Claim == "" {
			plan.Claim = claim
		}
		wf.Spec.Volumes = append(wf.Spec.Volumes, corev1.Volume{Name: vct.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}})
		expr := "{{workflow.name}}-" + vct.Name
		for i := range wf.Spec.Templates {
			t := &wf.Spec.Templates[i]
			if t.Resource == nil || !strings.Contains(t.Resource.Manifest, expr) {
				continue
			}
			obj, err := Manifest(*t)
			if err != nil {
				return nil, err
			}
			replaceStrings(obj.Object, expr, claim)
			b, err := yaml.Marshal(obj.Object)
			if err != nil {
				return nil, fmt.Errorf("template %s: %w", t.Name, err)
			}
			t.Resource.Manifest = string(b)
		}
	}
	wf.Spec.VolumeClaimTemplates = keep
	if plan.Claim == "" {
		// A retry of a retry already mounts the original run's volume.
		for _, v := range wf.Spec.Volumes {
			if v.PersistentVolumeClaim != nil {
				plan.Claim = v.PersistentVolumeClaim.ClaimName
				break
			}
		}
	}
	if len(plan.Rerun) == 0 {
		return nil, exit.PreconditionErrorf("workflow %s/%s failed but every step succeeded: nothing to retry", old.Namespace, old.Name)
	}
	return plan, nil
}

// Named names the retry run and, when the failed run had an account of its
// own (Runner), gives the retry its own with the rights the retry's
// templates need: the objects to apply before submitting. A run made with
// --service-account keeps that account and needs none.
func (p *RetryPlan) Named(name string) ([]*unstructured.Unstructured, error) {
	return NameRun(p.Workflow, name)
}
