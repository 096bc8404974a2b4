package paddle

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PaddleJob mirrors paddle-operator's batch.paddlepaddle.org/v1 PaddleJob:
// the fields paddlex sets and reads, named as in the operator's CRD.
type PaddleJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PaddleJobSpec   `json:"spec,omitempty"`
	Status            PaddleJobStatus `json:"status,omitempty"`
}

// PaddleJobSpec is a PaddleJob's spec. Worker only is collective mode; PS
// present is parameter-server mode.
type PaddleJobSpec struct {
	// CleanPodPolicy is Always, Never, OnFailure or OnCompletion.
	CleanPodPolicy string `json:"cleanPodPolicy,omitempty"`
	// Intranet is PodIP, Service or Host.
	Intranet string `json:"intranet,omitempty"`
	// WithGloo is 0 off, 1 for workers, 2 for servers.
	WithGloo         *int32            `json:"withGloo,omitempty"`
	SampleSetRef     *SampleSetRef     `json:"sampleSetRef,omitempty"`
	SchedulingPolicy *SchedulingPolicy `json:"schedulingPolicy,omitempty"`
	PS               *ResourceSpec     `json:"ps,omitempty"`
	Worker           *ResourceSpec     `json:"worker,omitempty"`
}

// SampleSetRef names the SampleSet the operator mounts into each pod's
// first container at MountPath.
type SampleSetRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	MountPath string `json:"mountPath"`
}

// SchedulingPolicy is the Volcano gang-scheduling policy of either
// PaddleJob.
type SchedulingPolicy struct {
	MinAvailable  *int32 `json:"minAvailable,omitempty"`
	Queue         string `json:"queue,omitempty"`
	PriorityClass string `json:"priorityClass,omitempty"`
}

// ResourceSpec is one role of a PaddleJob.
type ResourceSpec struct {
	Replicas int32                  `json:"replicas"`
	Template corev1.PodTemplateSpec `json:"template"`
}

// PaddleJobStatus is what the operator reports.
type PaddleJobStatus struct {
	// Phase is Pending, Starting, Running, Completed, Failed or Terminating.
	Phase              string          `json:"phase,omitempty"`
	Mode               string          `json:"mode,omitempty"`
	PS                 *ResourceStatus `json:"ps,omitempty"`
	Worker             *ResourceStatus `json:"worker,omitempty"`
	StartTime          *metav1.Time    `json:"startTime,omitempty"`
	CompletionTime     *metav1.Time    `json:"completionTime,omitempty"`
	ObservedGeneration int64           `json:"observedGeneration,omitempty"`
}

// ResourceStatus counts one role's pods.
type ResourceStatus struct {
	Pending   int32 `json:"pending,omitempty"`
	Starting  int32 `json:"starting,omitempty"`
	Running   int32 `json:"running,omitempty"`
	Failed    int32 `json:"failed,omitempty"`
	Succeeded int32 `json:"succeeded,omitempty"`
	Unknown   int32 `json:"unknown,omitempty"`
}

// KubeflowPaddleJob mirrors the Kubeflow training-operator's kubeflow.org/v1
// PaddleJob (github.com/kubeflow/training-operator v1.9.3): the fields
// paddlex sets and reads.
type KubeflowPaddleJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              KubeflowPaddleJobSpec `json:"spec,omitempty"`
	Status            KubeflowJobStatus     `json:"status,omitempty"`
}

// Replica types of a kubeflow.org PaddleJob; Master replicas are the
// parameter servers.
const (
	ReplicaMaster = "Master"
	ReplicaWorker = "Worker"
)

// KubeflowPaddleJobSpec is the training-operator PaddleJob's spec.
type KubeflowPaddleJobSpec struct {
	RunPolicy          RunPolicy               `json:"runPolicy"`
	PaddleReplicaSpecs map[string]*ReplicaSpec `json:"paddleReplicaSpecs"`
}

// RunPolicy is the training-operator's policy shared by every job kind.
type RunPolicy struct {
	CleanPodPolicy   *string           `json:"cleanPodPolicy,omitempty"`
	SchedulingPolicy *SchedulingPolicy `json:"schedulingPolicy,omitempty"`
}

// ReplicaSpec is one replica type of a training-operator job.
type ReplicaSpec struct {
	Replicas      *int32                 `json:"replicas,omitempty"`
	Template      corev1.PodTemplateSpec `json:"template,omitempty"`
	RestartPolicy string                 `json:"restartPolicy,omitempty"`
}

// KubeflowJobStatus is what the training-operator reports.
type KubeflowJobStatus struct {
	Conditions      []Condition               `json:"conditions,omitempty"`
	ReplicaStatuses map[string]*ReplicaStatus `json:"replicaStatuses,omitempty"`
	StartTime       *metav1.Time              `json:"startTime,omitempty"`
	CompletionTime  *metav1.Time              `json:"completionTime,omitempty"`
}

// ReplicaStatus counts one replica type's pods.
type ReplicaStatus struct {
	Active    int32 `json:"active,omitempty"`
	Succeeded int32 `json:"succeeded,omitempty"`
	Failed    int32 `json:"failed,omitempty"`
}

// Condition is a status condition as the training-operator and Knative
// report it.
type Condition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}
