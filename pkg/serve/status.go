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

// StatusOf summarises a Knative Service. Readiness is the Ready condition
// looked up by type, and counts only once the controller has observed the
// latest generation.
func StatusOf(obj *unstructured.Unstructured) Status {
	str := func(path ...string) string { v, _, _ := unstructured.NestedString(obj.Object, path...); return v }
	st := Status{
		URL:           str("status", "url"),
		LatestCreated: str("status", "latestCreatedRevisionName"),
		LatestReady:   str("status", "latestReadyRevisionName"),
		Traffic:       TrafficOf(obj, "spec"),
		TagURLs:       TagURLs(obj),
	}
	if c, ok := kube.FindCondition(obj, "Ready"); ok {
		st.Ready, st.Reason, st.Message = c.Status, c.Reason, c.Message
		if !kube.ObservedGenerationCurrent(obj) {
			st.Ready, st.Reason, st.Message = "Unknown", "NotObserved", "the controller has not observed the latest change yet"
		}
	}
	ann, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "template", "metadata", "annotations")
	st.MinScale, st.MaxScale = ann[AnnotationMinScale], ann[AnnotationMaxScale]
	if st.MinScale == "" {
		st.MinScale = "0"
	}
	labels, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "template", "metadata", "labels")
	st.ModelName, st.Version = labels[paddle.LabelModel], labels[LabelModelVersion]
	if cs, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers"); len(cs) > 0 {
		if c, ok := cs[0].(map[string]any); ok {
			st.Image, _ = c["image"].(string)
		}
	}
	return st
}
