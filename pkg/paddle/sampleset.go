package paddle

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// SampleSet mirrors paddle-operator's batch.paddlepaddle.org/v1alpha1
// SampleSet: the fields paddlex sets and reads.
type SampleSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              SampleSetSpec   `json:"spec,omitempty"`
	Status            SampleSetStatus `json:"status,omitempty"`
}

// SampleSetSpec is a SampleSet's spec.
type SampleSetSpec struct {
	// Partitions is the number of cache nodes.
	Partitions int32 `json:"partitions,omitempty"`
	// NoSync leaves the cache empty until a sync SampleJob fills it.
	NoSync    bool       `json:"noSync,omitempty"`
	SecretRef *SecretRef `json:"secretRef,omitempty"`
}

// SecretRef names a Secret, in the SampleSet's namespace unless Namespace is set.
type SecretRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// SampleSetStatus is what the operator reports.
type SampleSetStatus struct {
	// Phase goes "" → Bound → Mount → (Syncing → Mount) → PartialReady → Ready,
	// or SyncFailed.
	Phase         string        `json:"phase,omitempty"`
	CacheStatus   CacheStatus   `json:"cacheStatus,omitempty"`
	RuntimeStatus RuntimeStatus `json:"runtimeStatus,omitempty"`
}

// CacheStatus reports the cache's sizes as human-readable strings.
type CacheStatus struct {
	TotalSize     string `json:"totalSize,omitempty"`
	TotalFiles    string `json:"totalFiles,omitempty"`
	CachedSize    string `json:"cachedSize,omitempty"`
	DiskSize      string `json:"diskSize,omitempty"`
	DiskUsed      string `json:"diskUsed,omitempty"`
	DiskAvail     string `json:"diskAvail,omitempty"`
	DiskUsageRate string `json:"diskUsageRate,omitempty"`
	// ErrorMessage is spelled errorMassage by the operator.
	ErrorMessage string `json:"errorMassage,omitempty"`
}

// RuntimeStatus reports the cache nodes.
type RuntimeStatus struct {
	// RuntimeReady is "ready/replicas".
	RuntimeReady  string `json:"runtimeReady,omitempty"`
	SpecReplicas  int32  `json:"specReplicas,omitempty"`
	ReadyReplicas int32  `json:"readyReplicas,omitempty"`
}

// SampleJob mirrors paddle-operator's batch.paddlepaddle.org/v1alpha1
// SampleJob: the fields paddlex sets and reads.
type SampleJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              SampleJobSpec   `json:"spec,omitempty"`
	Status            SampleJobStatus `json:"status,omitempty"`
}

// SampleJob types paddlex renders.
const (
	SampleJobSync   = "sync"
	SampleJobWarmup = "warmup"
	SampleJobRmr    = "rmr"
)

// SampleJobSpec is a SampleJob's spec: its type and that type's options.
type SampleJobSpec struct {
	Type          string         `json:"type,omitempty"`
	SampleSetRef  *LocalRef      `json:"sampleSetRef,omitempty"`
	SecretRef     *SecretRef     `json:"secretRef,omitempty"`
	SyncOptions   *SyncOptions   `json:"syncOptions,omitempty"`
	WarmupOptions *WarmupOptions `json:"warmupOptions,omitempty"`
	RmrOptions    *PathOptions   `json:"rmrOptions,omitempty"`
}

// LocalRef names an object in the same namespace.
type LocalRef struct {
	Name string `json:"name"`
}

// SyncOptions copy Source into the cache at Destination.
type SyncOptions struct {
	Source      string `json:"source"`
	Destination string `json:"destination,omitempty"`
}

// WarmupOptions load Paths into the cache nodes.
type WarmupOptions struct {
	Paths      []string `json:"paths,omitempty"`
	Partitions int32    `json:"partitions,omitempty"`
}

// PathOptions name the paths an rmr or clear job removes.
type PathOptions struct {
	Paths []string `json:"paths,omitempty"`
}

// SampleJobStatus is what the operator reports.
type SampleJobStatus struct {
	// Phase is "", Pending, Running, Succeeded or Failed.
	Phase string `json:"phase,omitempty"`
	// JobName names the job the operator posted to the SampleSet's runtime
	// server (not a Kubernetes Job); why it failed is in the SampleJob's
	// Warning events.
	JobName string `json:"jobName,omitempty"`
}
