package kube_test

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/kube"
)

func fakeConfigMap(v string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"data": map[string]any{"key": v}}}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace("ns")
	u.SetName("c")
	return u
}

// TestFakeWaitDeliversQueuedChanges: the Fake's Wait shows a condition each
// queued state in turn, as a watch would, and stops at the one that ends
// the wait.
func TestFakeWaitDeliversQueuedChanges(t *testing.T) {
	f := kube.NewFake(fakeConfigMap("a"))
	ref := kube.RefOf(fakeConfigMap(""))
	f.Changes = map[kube.ObjectRef][]*unstructured.Unstructured{ref: {fakeConfigMap("b"), fakeConfigMap("c"), fakeConfigMap("d")}}
	var seen []string
	cond := kube.NewCondition("key=c", func(obj *unstructured.Unstructured) (bool, string, error) {
		v, _, _ := unstructured.NestedString(obj.Object, "data", "key")
		seen = append(seen, v)
		return v == "c", "key=" + v, nil
	})
	obj, err := f.Wait(context.Background(), ref, cond)
	if err != nil {
		t.Fatal(err)
	}
	if got := obj.Object["data"].(map[string]any)["key"]; got != "c" || len(seen) != 3 || seen[0] != "a" || seen[1] != "b" {
		t.Errorf("returned key %v, the condition saw %q", got, seen)
	}
	if len(f.Changes[ref]) != 1 {
		t.Errorf("%d changes left queued, want the one after the end", len(f.Changes[ref]))
	}

	// A nil change deletes the object; an exhausted queue times out.
	f.Changes[ref] = []*unstructured.Unstructured{nil}
	_, err = f.Wait(context.Background(), ref, kube.NewCondition("absent", func(obj *unstructured.Unstructured) (bool, string, error) {
		return obj == nil, "", nil
	}))
	if err != nil || f.Object(ref) != nil {
		t.Errorf("deletion: %v, object %v", err, f.Object(ref))
	}
	_, err = f.Wait(context.Background(), ref, kube.NewCondition("present", func(obj *unstructured.Unstructured) (bool, string, error) {
		return obj != nil, "", nil
	}))
	if _, ok := err.(*kube.TimeoutError); !ok {
		t.Errorf("no change left: %v, want a timeout", err)
	}
}
