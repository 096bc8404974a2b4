package serve

import (
	"errors"

	"github.com/paddleflow/paddlex/pkg/image"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ErrNotServed reports a Knative Service that paddlex serve did not render.
var ErrNotServed = errors.New("not made by paddlex serve (it has no " + AnnotationSpec + " annotation)")

// RolloutService returns live with a new candidate revision serving version
// (and img, when set) at percent of the traffic, its images on reg when
// set (--image-registry). The candidate keeps every other setting of the
// Service's template. tag, when set, is the model center tag version was
// resolved from, which the Service records.
func RolloutService(live *unstructured.Unstructured, version, tag, img string, reg image.Registry, percent int64) (*unstructured.Unstructured, Spec, error) {
	tmpl, specs, traffic, err := state(live)
	if err != nil {
		return nil, Spec{}, err
	}
	next := tmpl
	next.ModelVersion, next.ModelTag, next.Revision = version, tag, ""
	if img != "" {
		next.Image = img
	}
	if reg != "" {
		next.ImageRegistry = reg
	}
	t, err := Rollout(traffic, next.RevisionName(), percent)
	if err != nil {
		return nil, next, err
	}
	return finish(live, next, t, specs), next, nil
}

// PromoteService returns live with all traffic on its candidate.
func PromoteService(live *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	tmpl, specs, traffic, err := state(live)
	if err != nil {
		return nil, err
	}
	t, err := Promote(traffic)
	if err != nil {
		return nil, err
	}
	if s, ok := specs[t[0].Revision]; ok {
		tmpl = s
	}
	return finish(live, tmpl, t, specs), nil
}

// RollbackService returns live with all traffic back on the revision that
// served before, and that revision's template restored, so that Knative's
// latest revision is the one serving and not the one abandoned.
func RollbackService(live *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	tmpl, specs, traffic, err := state(live)
	if err != nil {
		return nil, err
	}
	t, err := Rollback(traffic)
	if err != nil {
		return nil, err
	}
	if s, ok := specs[t[0].Revision]; ok {
		tmpl = s
	}
	return finish(live, tmpl, t, specs), nil
}

func state(live *unstructured.Unstructured) (Spec, map[string]Spec, Traffic, error) {
	tmpl, ok, err := SpecOf(live)
	if err != nil {
		return Spec{}, nil, nil, err
	}
	if !ok {
		return Spec{}, nil, nil, ErrNotServed
	}
	specs, err := RevisionSpecs(live)
	if err != nil {
		return Spec{}, nil, nil, err
	}
	return tmpl, specs, TrafficOf(live, "spec"), nil
}

// finish renders the Service, recording the specs of the revisions traffic
// names besides the template's, and carries live's resourceVersion so that
// a concurrent change makes the apply fail instead of being overwritten.
func finish(live *unstructured.Unstructured, tmpl Spec, t Traffic, specs map[string]Spec) *unstructured.Unstructured {
	others := map[string]Spec{}
	for _, rev := range t.Revisions() {
		if s, ok := specs[rev]; ok && rev != tmpl.RevisionName() {
			others[rev] = s
		}
	}
	tmpl.Namespace = live.GetNamespace()
	obj := RenderService(tmpl, t, others)
	obj.SetResourceVersion(live.GetResourceVersion())
	return obj
}
