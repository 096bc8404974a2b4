package paddleoperator

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The resources paddle-operator serves (its CRDs at commit 667185d, the
// ones paddlex installs).
var (
	PaddleJobGVR = schema.GroupVersionResource{Group: "batch.paddlepaddle.org", Version: "v1", Resource: "paddlejobs"}
	SampleSetGVR = schema.GroupVersionResource{Group: "batch.paddlepaddle.org", Version: "v1alpha1", Resource: "samplesets"}
	SampleJobGVR = schema.GroupVersionResource{Group: "batch.paddlepaddle.org", Version: "v1alpha1", Resource: "samplejobs"}
)

// The parts of paddle-operator's API (api/v1 and api/v1alpha1 of its
// repository) the stand-in reads and writes, with the operator's field
// names. Anything else in an object is left as it is. They are declared
// here rather than taken from pkg/paddle on purpose: the stand-in plays the
// operator, so a field paddlex's own mirror misnames shows up as a pod or
// status the stand-in never makes, instead of being shared by both sides.

type paddleJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              paddleJobSpec   `json:"spec,omitempty"`
	Status            paddleJobStatus `json:"status,omitempty"`
}

type paddleJobSpec struct {
	CleanPodPolicy string        `json:"cleanPodPolicy,omitempty"`
	Intranet       string        `json:"intranet,omitempty"`
	WithGloo       *int          `json:"withGloo,omitempty"`
	SampleSetRef   *sampleSetRef `json:"sampleSetRef,omitempty"`
	PS             *resourceSpec `json:"ps,omitempty"`
	Worker         *resourceSpec `json:"worker,omitempty"`
	Heter          *resourceSpec `json:"heter,omitempty"`
	Elastic        *int          `json:"elastic,omitempty"`
}

type sampleSetRef struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	MountPath string `json:"mountPath"`
}

type resourceSpec struct {
	Replicas int                    `json:"replicas"`
	Template corev1.PodTemplateSpec `json:"template,omitempty"`
}

type paddleJobStatus struct {
	Phase              string          `json:"phase,omitempty"`
	Mode               string          `json:"mode,omitempty"`
	PS                 *resourceStatus `json:"ps,omitempty"`
	Worker             *resourceStatus `json:"worker,omitempty"`
	Heter              *resourceStatus `json:"heter,omitempty"`
	StartTime          *metav1.Time    `json:"startTime,omitempty"`
	CompletionTime     *metav1.Time    `json:"completionTime,omitempty"`
	ObservedGeneration int             `json:"observedGeneration,omitempty"`
}

type resourceStatus struct {
	Pending   int                      `json:"pending,omitempty"`
	Starting  int                      `json:"starting,omitempty"`
	Running   int                      `json:"running,omitempty"`
	Failed    int                      `json:"failed,omitempty"`
	Succeeded int                      `json:"succeeded,omitempty"`
	Unknown   int                      `json:"unknown,omitempty"`
	Refs      []corev1.ObjectReference `json:"refs,omitempty"`
}

// PaddleJob phases, roles and the names the operator gives its pods.
const (
	phasePending   = "Pending"
	phaseStarting  = "Starting"
	phaseRunning   = "Running"
	phaseCompleted = "Completed"
	phaseFailed    = "Failed"

	modePS         = "PS"
	modeCollective = "Collective"
	modeSingle     = "Single"

	resourcePS     = "ps"
	resourceWorker = "worker"
	resourceHeter  = "heter"

	// Labels and the annotation on a PaddleJob's pods.
	labelResourceName  = "paddle-res-name"
	labelResourceType  = "paddle-res-type"
	resourceAnnotation = "paddle-resource"

	intranetPodIP   = "PodIP"
	intranetService = "Service"

	cleanAlways       = "Always"
	cleanOnFailure    = "OnFailure"
	cleanOnCompletion = "OnCompletion"

	// paddlePort is the first of the trainers' ports (PADDLE_PORT of the
	// operator at 667185d); hostPortNum ports from it are theirs.
	paddlePort  = 2379
	hostPortNum = 20
)

// trainingRole is the TRAINING_ROLE of each resource.
var trainingRole = map[string]string{resourcePS: "PSERVER", resourceWorker: "TRAINER", resourceHeter: "HETER"}

type sampleSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              sampleSetSpec   `json:"spec,omitempty"`
	Status            sampleSetStatus `json:"status,omitempty"`
}

type sampleSetSpec struct {
	Partitions int32      `json:"partitions,omitempty"`
	Source     *source    `json:"source,omitempty"`
	SecretRef  *secretRef `json:"secretRef,omitempty"`
	NoSync     bool       `json:"noSync,omitempty"`
}

type source struct {
	URI       string     `json:"uri,omitempty"`
	SecretRef *secretRef `json:"secretRef,omitempty"`
}

type secretRef struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

type sampleSetStatus struct {
	Phase         string         `json:"phase,omitempty"`
	CacheStatus   *cacheStatus   `json:"cacheStatus,omitempty"`
	RuntimeStatus *runtimeStatus `json:"runtimeStatus,omitempty"`
	JobsName      *jobsName      `json:"jobsName,omitempty"`
}

type cacheStatus struct {
	TotalSize     string `json:"totalSize,omitempty"`
	TotalFiles    string `json:"totalFiles,omitempty"`
	CachedSize    string `json:"cachedSize,omitempty"`
	DiskSize      string `json:"diskSize,omitempty"`
	DiskUsed      string `json:"diskUsed,omitempty"`
	DiskAvail     string `json:"diskAvail,omitempty"`
	DiskUsageRate string `json:"diskUsageRate,omitempty"`
	// ErrorMassage is spelt as the operator spells it.
	ErrorMassage string `json:"errorMassage,omitempty"`
}

type runtimeStatus struct {
	RuntimeReady  string `json:"runtimeReady,omitempty"`
	SpecReplicas  *int32 `json:"specReplicas,omitempty"`
	ReadyReplicas *int32 `json:"readyReplicas,omitempty"`
}

type jobsName struct {
	SyncJobName   string `json:"syncJobName,omitempty"`
	WarmupJobName string `json:"warmupJobName,omitempty"`
}

// SampleSet phases.
const (
	setNone       = ""
	setBound      = "Bound"
	setMount      = "Mount"
	setSyncing    = "Syncing"
	setSyncFailed = "SyncFailed"
	setReady      = "Ready"
	// PartialReady is never reported: the stand-in's one runtime, the
	// node, serves every partition.
)

type sampleJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              sampleJobSpec   `json:"spec,omitempty"`
	Status            sampleJobStatus `json:"status,omitempty"`
}

type sampleJobSpec struct {
	Type          string         `json:"type,omitempty"`
	SampleSetRef  *secretRef     `json:"sampleSetRef,omitempty"`
	SecretRef     *secretRef     `json:"secretRef,omitempty"`
	Terminate     bool           `json:"terminate,omitempty"`
	SyncOptions   *syncOptions   `json:"syncOptions,omitempty"`
	WarmupOptions *warmupOptions `json:"warmupOptions,omitempty"`
	RmrOptions    *pathOptions   `json:"rmrOptions,omitempty"`
	ClearOptions  *pathOptions   `json:"clearOptions,omitempty"`
}

type syncOptions struct {
	Source      string `json:"source,omitempty"`
	Destination string `json:"destination,omitempty"`
}

type warmupOptions struct {
	Paths      []string `json:"paths,omitempty"`
	Partitions int32    `json:"partitions,omitempty"`
}

type pathOptions struct {
	Paths []string `json:"paths,omitempty"`
}

type sampleJobStatus struct {
	Phase   string `json:"phase,omitempty"`
	JobName string `json:"jobName,omitempty"`
}

// SampleJob types and phases.
const (
	jobSync   = "sync"
	jobWarmup = "warmup"
	jobRmr    = "rmr"
	jobClear  = "clear"

	jobNone      = ""
	jobPending   = "Pending"
	jobRunning   = "Running"
	jobSucceeded = "Succeeded"
	jobFailed    = "Failed"
)

// Names and values the operator's SampleSet controller uses.
const (
	paddleLabel = "paddlepaddle.org"
	// storageClassName is the class of a SampleSet's volume and claim.
	storageClassName = "paddle-operator"
	// volumeSize is the capacity the operator gives them (10Pi).
	volumeSize = "10Pi"
	// createdBy is the CreatedBy annotation's value.
	createdBy = "paddle-operator"
)

// juicefsSecretKeys are the keys the JuiceFS driver requires of a
// SampleSet's Secret before it makes the volume.
var juicefsSecretKeys = []string{"name", "storage", "metaurl", "bucket"}

// volumeLabel marks a SampleSet's volume and claim (the JuiceFS driver's
// GetLabel: paddlepaddle.org/juicefs-NAME).
func volumeLabel(sampleSet string) string { return paddleLabel + "/juicefs-" + sampleSet }
