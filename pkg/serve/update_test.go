package serve

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func i32(v int32) *int32 { return &v }

// TestUpdateServesTheSameVersionAsANewRevision: the revision tagged current
// is replaced by NAME-VERSION-2 with the change; shares, tags and the
// candidate stay; a second update takes -3; promote and rollback keep
// each revision's own name and settings.
func TestUpdateServesTheSameVersionAsANewRevision(t *testing.T) {
	live := Render(spec(func(s *Spec) { s.MaxScale = 3; s.Env = map[string]string{"A": "1"} }))[0]
	live.SetResourceVersion("7")
	u, err := UpdateService(live, TagCurrent, Change{MinScale: i32(1), MaxScale: i32(5), Env: map[string]string{"B": "2"}, Unset: []string{"A"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u.New.RevisionName() != "ppocr-det-v1-2" || u.New.ModelVersion != "v1" || u.New.MinScale != 1 || u.New.MaxScale != 5 || u.New.Env["B"] != "2" || u.New.Env["A"] != "" {
		t.Errorf("new spec %+v", u.New)
	}
	if got := TrafficOf(u.Service, "spec").String(); got != "ppocr-det-v1-2=100%(current)" || templateName(t, u.Service) != "ppocr-det-v1-2" {
		t.Errorf("traffic %s template %s", got, templateName(t, u.Service))
	}
	if u.Service.GetResourceVersion() != "7" {
		t.Error("the update does not carry live's resourceVersion")
	}
	ann := u.Service.Object["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)["annotations"].(map[string]any)
	if ann[AnnotationMinScale] != "1" || ann[AnnotationMaxScale] != "5" {
		t.Errorf("template annotations %v", ann)
	}
	if d := strings.Join(Diff(u.Old, u.New), "\n"); d != "env.A: 1 -> (unset)\nenv.B: (unset) -> 2\nmax_scale: 3 -> 5\nmin_scale: 0 -> 1" {
		t.Errorf("diff:\n%s", d)
	}
	// Read back, the Service names its template's revision.
	s, _, err := SpecOf(u.Service)
	if err != nil || s.RevisionName() != "ppocr-det-v1-2" {
		t.Errorf("SpecOf: %s %v", s.RevisionName(), err)
	}
	// Nothing to change.
	if _, err := UpdateService(u.Service, TagCurrent, Change{MaxScale: i32(5)}, nil); !errors.Is(err, ErrNoChange) {
		t.Errorf("same settings: %v", err)
	}
	// A name the cluster holds is skipped.
	u2, err := UpdateService(u.Service, TagCurrent, Change{Target: i32(20)}, map[string]bool{"ppocr-det-v1-3": true})
	if err != nil || u2.New.RevisionName() != "ppocr-det-v1-4" {
		t.Fatalf("second update: %v %v", u2, err)
	}

	// During a rollout: update the candidate, the current one is untouched.
	canary, _, err := RolloutService(u.Service, "v2", "", "", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	u3, err := UpdateService(canary, TagCandidate, Change{MaxScale: i32(2)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := TrafficOf(u3.Service, "spec").String(); got != "ppocr-det-v1-2=90%(current),ppocr-det-v2-2=10%(candidate)" {
		t.Errorf("candidate update: %s", got)
	}
	// Update the current one during the rollout: the candidate keeps its
	// settings, recorded, and promote restores its template.
	u4, err := UpdateService(u3.Service, TagCurrent, Change{MinScale: i32(2)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := TrafficOf(u4.Service, "spec").String(); got != "ppocr-det-v1-3=90%(current),ppocr-det-v2-2=10%(candidate)" || templateName(t, u4.Service) != "ppocr-det-v1-3" {
		t.Errorf("current update during a rollout: %s, template %s", got, templateName(t, u4.Service))
	}
	promoted, err := PromoteService(u4.Service)
	if err != nil {
		t.Fatal(err)
	}
	ps, _, _ := SpecOf(promoted)
	if templateName(t, promoted) != "ppocr-det-v2-2" || ps.MaxScale != 2 || ps.ModelVersion != "v2" {
		t.Errorf("promote after updates: template %s spec %+v", templateName(t, promoted), ps)
	}
	back, err := RollbackService(promoted)
	if err != nil {
		t.Fatal(err)
	}
	bs, _, _ := SpecOf(back)
	if got := TrafficOf(back, "spec").String(); got != "ppocr-det-v1-3=100%(current)" || templateName(t, back) != "ppocr-det-v1-3" || bs.MinScale != 2 {
		t.Errorf("rollback after updates: %s, template %s, spec %+v", got, templateName(t, back), bs)
	}
	// A new version drops the update's name.
	next, cand, err := RolloutService(back, "v3", "", "", "", 0)
	if err != nil || cand.RevisionName() != "ppocr-det-v3" || templateName(t, next) != "ppocr-det-v3" {
		t.Errorf("rollout after updates: %s %v", cand.RevisionName(), err)
	}

	if _, err := UpdateService(live, TagCandidate, Change{MaxScale: i32(2)}, nil); err == nil || !strings.Contains(err.Error(), "no revision tagged candidate") {
		t.Errorf("missing tag: %v", err)
	}
	foreign := live.DeepCopy()
	foreign.SetAnnotations(nil)
	if _, err := UpdateService(foreign, TagCurrent, Change{MaxScale: i32(2)}, nil); !errors.Is(err, ErrNotServed) {
		t.Errorf("foreign service: %v", err)
	}
}

func TestRevisionRows(t *testing.T) {
	live := Render(spec(nil))[0]
	canary, _, err := RolloutService(live, "v2", "", "", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	unstructured.SetNestedField(canary.Object, "ppocr-det-v1", "status", "latestReadyRevisionName")
	rev := func(name, version, gen, ready string, age time.Duration) unstructured.Unstructured {
		r := unstructured.Unstructured{Object: map[string]any{"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
			"status": map[string]any{"actualReplicas": int64(1), "desiredReplicas": int64(2),
				"conditions": []any{map[string]any{"type": "Ready", "status": ready, "reason": "R" + ready}}}}}
		r.SetName(name)
		r.SetLabels(map[string]string{LabelModelVersion: version, LabelConfigurationGen: gen, LabelKnativeService: "ppocr-det"})
		r.SetCreationTimestamp(metav1.NewTime(time.Unix(1e9, 0).Add(-age)))
		return r
	}
	rows := RevisionRows(canary, []unstructured.Unstructured{
		rev("ppocr-det-v0", "v0", "1", "True", 3*time.Hour),
		rev("ppocr-det-v1", "v1", "2", "True", 2*time.Hour),
	})
	if len(rows) != 3 {
		t.Fatalf("rows %+v", rows)
	}
	// The candidate, not created yet, comes first; then newest first.
	want := []struct {
		name, version, tags string
		percent             int64
		exists, latest      bool
	}{
		{"ppocr-det-v2", "v2", "candidate", 10, false, true},
		{"ppocr-det-v1", "v1", "current", 90, true, false},
		{"ppocr-det-v0", "v0", "-", 0, true, false},
	}
	for i, w := range want {
		r := rows[i]
		if r.Name != w.name || r.Version != w.version || r.TagList() != w.tags || r.Percent != w.percent || r.Exists != w.exists || r.Latest != w.latest {
			t.Errorf("row %d = %+v, want %+v", i, r, w)
		}
	}
	if rows[1].Ready != "True" || rows[1].Replicas != "1/2" || rows[1].Generation != 2 || rows[0].Message == "" {
		t.Errorf("row details %+v %+v", rows[0], rows[1])
	}
}
