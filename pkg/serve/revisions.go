package serve

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// RevisionGVK is Knative Serving's Revision, which its controller stamps
// from a Service's template.
var RevisionGVK = schema.GroupVersionKind{Group: "serving.knative.dev", Version: "v1", Kind: "Revision"}

// Labels Knative puts on each Revision.
const (
	LabelKnativeService       = "serving.knative.dev/service"
	LabelConfigurationGen     = "serving.knative.dev/configurationGeneration"
	revisionReadyCondition    = "Ready"
	revisionNotCreatedMessage = "named by the traffic, not created yet"
)

// RevisionRow is one revision of a served model as `serve revisions` shows it.
type RevisionRow struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	// Generation is the Service's generation that made it; 0 when the
	// revision does not exist (yet).
	Generation int64 `json:"generation,omitempty"`
	// Percent is the share of the traffic it gets, tags included.
	Percent int64    `json:"percent"`
	Tags    []string `json:"tags,omitempty"`
	// Latest says the Service's template is this revision's.
	Latest bool `json:"latest,omitempty"`
	// Ready is the Ready condition's status, "" when not reported.
	Ready   string `json:"ready,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Replicas is actual/desired pods, as Knative reports them.
	Replicas string    `json:"replicas,omitempty"`
	Created  time.Time `json:"created,omitempty"`
	// Exists is false for a revision the traffic names that Knative has
	// not created.
	Exists bool `json:"exists"`
}

// RevisionRows joins a Service's traffic with its Revisions: every Revision,
// and every revision the traffic names, newest first. A target with
// latestRevision counts for the latest ready revision.
func RevisionRows(svc *unstructured.Unstructured, revisions []unstructured.Unstructured) []RevisionRow {
	st := Read(svc)
	traffic := TrafficOf(svc, "spec")
	rows := map[string]*RevisionRow{}
	row := func(name string) *RevisionRow {
		if r, ok := rows[name]; ok {
			return r
		}
		r := &RevisionRow{Name: name}
		rows[name] = r
		return r
	}
	for i := range revisions {
		rev := &revisions[i]
		r := row(rev.GetName())
		r.Exists = true
		r.Version = rev.GetLabels()[LabelModelVersion]
		r.Generation, _ = strconv.ParseInt(rev.GetLabels()[LabelConfigurationGen], 10, 64)
		r.Created = rev.GetCreationTimestamp().Time
		if c, ok := kube.FindCondition(rev, revisionReadyCondition); ok {
			r.Ready, r.Reason, r.Message = c.Status, c.Reason, c.Message
		}
		actual, okA, _ := unstructured.NestedInt64(rev.Object, "status", "actualReplicas")
		desired, okD, _ := unstructured.NestedInt64(rev.Object, "status", "desiredReplicas")
		if okA || okD {
			r.Replicas = strconv.FormatInt(actual, 10) + "/" + strconv.FormatInt(desired, 10)
		}
	}
	for _, x := range traffic {
		name := x.Revision
		if x.Latest || name == "" {
			name = st.Status.LatestReadyRevisionName
			if name == "" {
				continue
			}
		}
		r := row(name)
		r.Percent += x.Percent
		if x.Tag != "" {
			r.Tags = append(r.Tags, x.Tag)
		}
	}
	if latest := st.Spec.Template.Name; latest != "" {
		row(latest).Latest = true
	}
	specs, _ := RevisionSpecs(svc)
	out := make([]RevisionRow, 0, len(rows))
	for _, r := range rows {
		if s, ok := specs[r.Name]; ok && r.Version == "" {
			r.Version = s.ModelVersion
		}
		if !r.Exists {
			r.Message = revisionNotCreatedMessage
		}
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Exists != b.Exists {
			return !a.Exists
		}
		if a.Generation != b.Generation {
			return a.Generation > b.Generation
		}
		if !a.Created.Equal(b.Created) {
			return a.Created.After(b.Created)
		}
		return a.Name < b.Name
	})
	return out
}

// TagList renders tags as "current,previous", or "-".
func (r RevisionRow) TagList() string {
	if len(r.Tags) == 0 {
		return "-"
	}
	return strings.Join(r.Tags, ",")
}
