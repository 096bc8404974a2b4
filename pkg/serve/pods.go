package serve

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Labels Knative Serving puts on every pod of a revision.
const (
	PodLabelService  = "serving.knative.dev/service"
	PodLabelRevision = "serving.knative.dev/revision"
)

// ServerContainer is the serving container of each pod; Knative adds its
// queue-proxy beside it.
const ServerContainer = "server"

// PodSelector selects the pods of a served model's revisions, or of one
// revision when rev is set.
func PodSelector(name, rev string) string {
	set := labels.Set{PodLabelService: name}
	if rev != "" {
		set[PodLabelRevision] = rev
	}
	return labels.SelectorFromSet(set).String()
}

// SortPods orders pods by revision, then by age (oldest first), then name,
// so output that lists them is stable.
func SortPods(pods []corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := &pods[i], &pods[j]
		if ra, rb := a.Labels[PodLabelRevision], b.Labels[PodLabelRevision]; ra != rb {
			return ra < rb
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

// PodReady reports whether a pod runs and its Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
