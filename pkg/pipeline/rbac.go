package pipeline

import (
	"fmt"
	"sort"

	"github.com/paddleflow/paddlex/pkg/paddle"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// Runner names the ServiceAccount, Role and RoleBinding of one run (the
// Workflow named run). Each run has its own, granting exactly what its
// steps need, so no run holds another's rights and none outlives its run:
// they are owned by the Workflow (see OwnedBy).
func Runner(run string) string { return RunnerName + "-" + run }

// tokenSecret is the runner's token Secret: Argo mounts it into its
// executor's containers only (see SetRunner), since the Pod itself mounts
// no token.
func tokenSecret(runner string) string { return runner + ".service-account-token" }

// SetRunner makes wf run as the account runner, with no token mounted into
// the step containers: Argo's executor (which reports step results and runs
// the resource steps) gets the runner's token from its token Secret, and a
// container step gets one only when it asks (service_account_token).
func SetRunner(wf *wfv1.Workflow, runner string) {
	off := false
	wf.Spec.ServiceAccountName = runner
	wf.Spec.Executor = &wfv1.ExecutorConfig{ServiceAccountName: runner}
	wf.Spec.AutomountServiceAccountToken = &off
}

// verbsFor are the verbs Argo's executor uses for a resource action: it
// runs kubectl (apply reads, then creates or patches; delete waits for the
// object to go by watching) and reads the object while a condition is set.
func verbsFor(t wfv1.Template) []string {
	r := t.Resource
	var verbs []string
	switch r.Action {
	case paddle.ActionCreate:
		verbs = []string{"create"}
	case paddle.ActionApply:
		verbs = []string{"get", "create", "patch"}
	case paddle.ActionPatch:
		verbs = []string{"patch"}
	case paddle.ActionDelete:
		verbs = []string{"delete", "get", "list", "watch"}
	default:
		verbs = []string{r.Action}
	}
	if r.SuccessCondition != "" || r.FailureCondition != "" {
		verbs = append(verbs, "get")
	}
	return verbs
}

// Rules returns the rules the runner needs for wf: the executor's own
// (reporting task results), and per kind the verbs its resource templates
// use, merged and sorted.
func Rules(wf *wfv1.Workflow) ([]rbacv1.PolicyRule, error) {
	type key struct{ group, resource string }
	need := map[key]map[string]bool{
		{"argoproj.io", "workflowtaskresults"}: {"create": true, "patch": true},
	}
	add := func(k key, verbs ...string) {
		if need[k] == nil {
			need[k] = map[string]bool{}
		}
		for _, v := range verbs {
			need[k][v] = true
		}
	}
	for _, t := range ResourceTemplates(wf) {
		obj, err := Manifest(t)
		if err != nil {
			return nil, err
		}
		gvk := obj.GroupVersionKind()
		if gvk.Kind == "" {
			return nil, fmt.Errorf("template %s: manifest has no kind", t.Name)
		}
		plural, _ := meta.UnsafeGuessKindToResource(gvk)
		add(key{gvk.Group, plural.Resource}, verbsFor(t)...)
		if t.Resource.SetOwnerReference {
			// Owner references block the owner's deletion; clusters that
			// enforce owner reference permissions ask for this.
			add(key{"argoproj.io", "workflows/finalizers"}, "update")
		}
	}
	keys := make([]key, 0, len(need))
	for k := range need {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].group != keys[j].group {
			return keys[i].group < keys[j].group
		}
		return keys[i].resource < keys[j].resource
	})
	rules := make([]rbacv1.PolicyRule, 0, len(keys))
	for _, k := range keys {
		rules = append(rules, rbacv1.PolicyRule{
			APIGroups: []string{k.group},
			Resources: []string{k.resource},
			Verbs:     sortedKeys(need[k]),
		})
	}
	return rules, nil
}

// RBAC renders the run's ServiceAccount, its token Secret, and the Role and
// RoleBinding granting it exactly what wf's templates need, all named
// runner in namespace.
func RBAC(runner, pipeline, namespace string, wf *wfv1.Workflow) ([]*unstructured.Unstructured, error) {
	rules, err := Rules(wf)
	if err != nil {
		return nil, err
	}
	md := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{
			kube.LabelManagedBy: kube.ManagedByValue, LabelPipeline: pipeline,
		}}
	}
	sa := kube.ToUnstructured(&corev1.ServiceAccount{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: md(runner),
	})
	tokenMD := md(tokenSecret(runner))
	tokenMD.Annotations = map[string]string{corev1.ServiceAccountNameKey: runner}
	token := kube.ToUnstructured(&corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: tokenMD,
		Type: corev1.SecretTypeServiceAccountToken,
	})
	role := kube.ToUnstructured(&rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "Role"},
		ObjectMeta: md(runner), Rules: rules,
	})
	binding := kube.ToUnstructured(&rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
		ObjectMeta: md(runner),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: runner},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: runner, Namespace: namespace}},
	})
	return []*unstructured.Unstructured{sa, token, role, binding}, nil
}

// OwnedBy returns copies of objs owned by the submitted Workflow wf, so
// deleting the run deletes its account and rights with it.
func OwnedBy(objs []*unstructured.Unstructured, wf *unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		cp := o.DeepCopy()
		cp.SetOwnerReferences([]metav1.OwnerReference{{
			APIVersion: wf.GetAPIVersion(), Kind: wf.GetKind(), Name: wf.GetName(), UID: wf.GetUID(),
		}})
		out[i] = cp
	}
	return out
}
