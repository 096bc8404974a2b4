package kube

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// IsCRD reports whether obj is a CustomResourceDefinition.
func IsCRD(obj *unstructured.Unstructured) bool {
	gvk := obj.GroupVersionKind()
	return gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition"
}

// clusterScopedKinds are the kinds without a namespace that rendered stacks,
// charts and pipeline steps may contain: the built-in ones and the platform's
// own (cert-manager's ClusterIssuer). Other custom resources are told apart
// by having no namespace set.
var clusterScopedKinds = map[string]bool{
	"Namespace": true, "Node": true, "CustomResourceDefinition": true,
	"ClusterRole": true, "ClusterRoleBinding": true, "StorageClass": true, "PriorityClass": true,
	"CSIDriver": true, "PersistentVolume": true, "MutatingWebhookConfiguration": true,
	"ValidatingWebhookConfiguration": true, "APIService": true, "IngressClass": true,
	"RuntimeClass": true, "ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
	"ClusterIssuer": true,
}

// ClusterScopedKind reports whether objects of kind have no namespace. It is
// the one list paddlex keeps; the API server's discovery is the authority
// where a client is at hand.
func ClusterScopedKind(kind string) bool { return clusterScopedKinds[kind] }

// Wave numbers objects by when they must be applied.
func Wave(obj *unstructured.Unstructured) int {
	switch {
	case IsCRD(obj):
		return 0
	case obj.GetKind() == "Namespace" && obj.GroupVersionKind().Group == "":
		return 1
	case clusterScopedKinds[obj.GetKind()] || obj.GetNamespace() == "":
		return 2
	default:
		return 3
	}
}

// Waves groups the indexes of objs by Wave, in apply order; empty waves are
// dropped and input order is kept within a wave.
func Waves(objs []*unstructured.Unstructured) [][]int {
	var waves [4][]int
	for i, o := range objs {
		w := Wave(o)
		waves[w] = append(waves[w], i)
	}
	var out [][]int
	for _, w := range waves {
		if len(w) > 0 {
			out = append(out, w)
		}
	}
	return out
}

// SortForApply returns objs in apply order (stable within a wave), the order
// in which rendered stacks are printed.
func SortForApply(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, w := range Waves(objs) {
		for _, i := range w {
			out = append(out, objs[i])
		}
	}
	return out
}
