package pipeline

import (
	"fmt"
	"sort"

	"github.com/paddleflow/paddlex/pkg/paddle"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// RoleName is the runner's Role and RoleBinding for one pipeline. Each
// pipeline has its own, so applying one pipeline's rules never takes away
// those another run in the namespace needs.
func RoleName(pipeline string) string { return RunnerName + "-" + pipeline }

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
func Rules(wf *wfv1.Workflow) ([]any, error) {
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
	rules := make([]any, 0, len(keys))
	for _, k := range keys {
		verbs := sortedKeys(need[k])
		rules = append(rules, map[string]any{
			"apiGroups": []any{k.group},
			"resources": []any{k.resource},
			"verbs":     toAny(verbs),
		})
	}
	return rules, nil
}

// RBAC renders the pipeline-runner ServiceAccount and the pipeline's Role
// and RoleBinding granting it exactly what wf's templates need.
func RBAC(pipeline, namespace string, wf *wfv1.Workflow) ([]*unstructured.Unstructured, error) {
	rules, err := Rules(wf)
	if err != nil {
		return nil, err
	}
	labels := func(withPipeline bool) map[string]any {
		l := map[string]any{kube.LabelManagedBy: kube.ManagedByValue}
		if withPipeline {
			l[LabelPipeline] = pipeline
		}
		return l
	}
	md := func(name string, withPipeline bool) map[string]any {
		return map[string]any{"name": name, "namespace": namespace, "labels": labels(withPipeline)}
	}
	sa := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ServiceAccount", "metadata": md(RunnerName, false),
	}}
	role := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": md(RoleName(pipeline), true),
		"rules": rules,
	}}
	binding := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": md(RoleName(pipeline), true),
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": RoleName(pipeline)},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": RunnerName, "namespace": namespace}},
	}}
	return []*unstructured.Unstructured{sa, role, binding}, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
