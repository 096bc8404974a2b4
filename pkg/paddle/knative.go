package paddle

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KnativeService mirrors Knative Serving's serving.knative.dev/v1 Service
// (knative.dev/serving v0.42): the fields paddlex sets and reads.
type KnativeService struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              KnativeServiceSpec   `json:"spec,omitempty"`
	Status            KnativeServiceStatus `json:"status,omitempty"`
}

// KnativeServiceSpec is the Service's revision template and traffic split.
type KnativeServiceSpec struct {
	Template RevisionTemplateSpec `json:"template"`
	Traffic  []TrafficTarget      `json:"traffic,omitempty"`
}

// RevisionTemplateSpec is the template each revision is stamped from; its
// spec is a pod spec.
type RevisionTemplateSpec struct {
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              corev1.PodSpec `json:"spec,omitempty"`
}

// TrafficTarget routes a share of the traffic to a revision, or to the
// latest ready one.
type TrafficTarget struct {
	Tag            string `json:"tag,omitempty"`
	RevisionName   string `json:"revisionName,omitempty"`
	LatestRevision *bool  `json:"latestRevision,omitempty"`
	// Percent is a pointer: 0 is a meaningful share.
	Percent *int64 `json:"percent,omitempty"`
	// URL is reported in status only, for tagged targets.
	URL string `json:"url,omitempty"`
}

// KnativeServiceStatus is what the Knative controllers report.
type KnativeServiceStatus struct {
	ObservedGeneration        *int64          `json:"observedGeneration,omitempty"`
	Conditions                []Condition     `json:"conditions,omitempty"`
	LatestReadyRevisionName   string          `json:"latestReadyRevisionName,omitempty"`
	LatestCreatedRevisionName string          `json:"latestCreatedRevisionName,omitempty"`
	URL                       string          `json:"url,omitempty"`
	Traffic                   []TrafficTarget `json:"traffic,omitempty"`
}
