package serve

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/internal/golden"
)

func templateName(t *testing.T, obj *unstructured.Unstructured) string {
	t.Helper()
	name, _, _ := unstructured.NestedString(obj.Object, "spec", "template", "metadata", "name")
	return name
}

func TestTransitions(t *testing.T) {
	live := Render(spec(func(s *Spec) { s.MaxScale = 3 }))[0]
	live.SetResourceVersion("7")

	canary, cand, err := RolloutService(live, "v2", "", "serving:0.9.1", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if cand.RevisionName() != "ppocr-det-v2" || cand.MaxScale != 3 || cand.Image != "serving:0.9.1" {
		t.Errorf("candidate spec = %+v", cand)
	}
	if canary.GetResourceVersion() != "7" {
		t.Errorf("resourceVersion = %q, want live's", canary.GetResourceVersion())
	}
	golden.AssertObjects(t, "testdata/rollout.golden.yaml", []*unstructured.Unstructured{canary})

	promoted, err := PromoteService(canary)
	if err != nil {
		t.Fatal(err)
	}
	if got := TrafficOf(promoted, "spec").String(); got != "ppocr-det-v2=100%(current),ppocr-det-v1=0%(previous)" || templateName(t, promoted) != "ppocr-det-v2" {
		t.Errorf("promote: %s, template %s", got, templateName(t, promoted))
	}

	back, err := RollbackService(promoted)
	if err != nil {
		t.Fatal(err)
	}
	if got := TrafficOf(back, "spec").String(); got != "ppocr-det-v1=100%(current)" {
		t.Errorf("rollback: %s", got)
	}
	// The template returns to v1 exactly as first rendered, so Knative
	// reuses the existing revision instead of refusing a changed one.
	want := Render(spec(func(s *Spec) { s.MaxScale = 3 }))[0]
	if string(golden.YAML(t, []*unstructured.Unstructured{{Object: map[string]any{"t": back.Object["spec"].(map[string]any)["template"]}}})) !=
		string(golden.YAML(t, []*unstructured.Unstructured{{Object: map[string]any{"t": want.Object["spec"].(map[string]any)["template"]}}})) {
		t.Errorf("rollback template differs from v1's")
	}
	if _, ok := back.GetAnnotations()[AnnotationRevisions]; ok {
		t.Errorf("rollback keeps specs of revisions without traffic: %v", back.GetAnnotations())
	}

	// Rolling back a canary drops the candidate and restores the template.
	aborted, err := RollbackService(canary)
	if err != nil {
		t.Fatal(err)
	}
	if got := TrafficOf(aborted, "spec").String(); got != "ppocr-det-v1=100%(current)" || templateName(t, aborted) != "ppocr-det-v1" {
		t.Errorf("abort: %s, template %s", got, templateName(t, aborted))
	}

	if _, err := PromoteService(live); !errors.Is(err, ErrNoCandidate) {
		t.Errorf("promote without candidate: %v", err)
	}
	foreign := live.DeepCopy()
	foreign.SetAnnotations(nil)
	if _, _, err := RolloutService(foreign, "v2", "", "", "", 10); !errors.Is(err, ErrNotServed) {
		t.Errorf("foreign service: %v", err)
	}
}
