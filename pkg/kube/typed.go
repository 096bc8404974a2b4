package kube

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TypeMeta returns the apiVersion and kind of gvk, for a typed object.
func TypeMeta(gvk schema.GroupVersionKind) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind}
}

// ToUnstructured converts a typed object (a k8s.io/api type or one of the
// mirrors in pkg/paddle, with its TypeMeta set) into the unstructured form the
// engine applies. It is the one place where renderers' typed objects become
// maps.
//
// The typed structs carry empty values that JSON tags cannot leave out (a zero
// creationTimestamp, empty resources and strategy blocks, the status); they
// are dropped here so the rendered bytes hold only what paddlex sets, and a
// server-side apply does not claim ownership of fields paddlex never set.
// Status belongs to the controllers: it is never applied.
//
// The types are paddlex's own and hold no values the converter rejects, so a
// failure is a programming error and panics.
func ToUnstructured(obj any) *unstructured.Unstructured {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		panic(fmt.Sprintf("convert %T to unstructured: %v", obj, err))
	}
	delete(m, "status")
	prune(m)
	u := &unstructured.Unstructured{Object: m}
	if u.GetAPIVersion() == "" || u.GetKind() == "" {
		panic(fmt.Sprintf("convert %T to unstructured: TypeMeta is not set", obj))
	}
	return u
}

// FromUnstructured reads obj into a typed object, for reading status and spec
// back through the same types the renderers build with.
func FromUnstructured(obj *unstructured.Unstructured, into any) error {
	if obj == nil {
		return fmt.Errorf("read %T: no object", into)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, into); err != nil {
		return fmt.Errorf("read %s: %w", RefOf(obj), err)
	}
	return nil
}

// emptyDropped are the keys whose empty object carries no meaning in what
// paddlex renders. Other empty objects stay: `emptyDir: {}` asks for a volume.
var emptyDropped = map[string]bool{"resources": true, "strategy": true}

// prune removes nulls (a zero metav1.Time is null) and the empty blocks in
// emptyDropped, depth first so a block emptied by the pass goes too.
func prune(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			prune(x)
			if len(x) == 0 && emptyDropped[k] {
				delete(m, k)
			}
		case []any:
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					prune(em)
				}
			}
		}
	}
}
