package serve

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// Status is what get and describe show of a served model.
type Status struct {
	URL string
	// Ready is the Ready condition's status (True, False, Unknown) or "" when
	// the controller has not reported it for the latest generation.
	Ready, Reason, Message string
	MinScale, MaxScale     string
	LatestCreated          string
	LatestReady            string
	ModelName, Version     string
	Image                  string
	Traffic                Traffic
	TagURLs                map[string]string
}

// ServiceOf reads a Knative Service through its type.
func ServiceOf(obj *unstructured.Unstructured) (*paddle.KnativeService, error) {
	svc := &paddle.KnativeService{}
	return svc, kube.FromUnstructured(obj, svc)
}

// Read reads a Knative Service for summaries (get, describe, traffic),
// which show what they can of one that does not fit the type rather than
// fail on it.
func Read(obj *unstructured.Unstructured) *paddle.KnativeService {
	svc, _ := ServiceOf(obj)
	return svc
}

// StatusOf summarises a Knative Service. Readiness is the Ready condition
// looked up by type, and counts only once the controller has observed the
// latest generation.
func StatusOf(obj *unstructured.Unstructured) Status {
	svc := Read(obj)
	st := Status{
		URL:           svc.Status.URL,
		LatestCreated: svc.Status.LatestCreatedRevisionName,
		LatestReady:   svc.Status.LatestReadyRevisionName,
		Traffic:       trafficOf(svc.Spec.Traffic),
		TagURLs:       tagURLs(svc),
	}
	for _, c := range svc.Status.Conditions {
		if c.Type != "Ready" {
			continue
		}
		st.Ready, st.Reason, st.Message = c.Status, c.Reason, c.Message
		// A Service that reports no observedGeneration counts as current.
		if og := svc.Status.ObservedGeneration; og != nil && *og < svc.Generation {
			st.Ready, st.Reason, st.Message = "Unknown", "NotObserved", "the controller has not observed the latest change yet"
		}
		break
	}
	tmpl := svc.Spec.Template
	st.MinScale, st.MaxScale = tmpl.Annotations[AnnotationMinScale], tmpl.Annotations[AnnotationMaxScale]
	if st.MinScale == "" {
		st.MinScale = "0"
	}
	st.ModelName, st.Version = tmpl.Labels[paddle.LabelModel], tmpl.Labels[LabelModelVersion]
	if cs := tmpl.Spec.Containers; len(cs) > 0 {
		st.Image = cs[0].Image
	}
	return st
}
