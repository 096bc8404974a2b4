// Package paddle names the custom resources of paddle-operator and the
// phases their controllers set, as documented for the platform.
package paddle

import "k8s.io/apimachinery/pkg/runtime/schema"

// Kinds rendered by paddlex.
var (
	PaddleJobGVK           = schema.GroupVersionKind{Group: "batch.paddlepaddle.org", Version: "v1", Kind: "PaddleJob"}
	SampleSetGVK           = schema.GroupVersionKind{Group: "batch.paddlepaddle.org", Version: "v1alpha1", Kind: "SampleSet"}
	SampleJobGVK           = schema.GroupVersionKind{Group: "batch.paddlepaddle.org", Version: "v1alpha1", Kind: "SampleJob"}
	TrainingOperatorJobGVK = schema.GroupVersionKind{Group: "kubeflow.org", Version: "v1", Kind: "PaddleJob"}
	KnativeServiceGVK      = schema.GroupVersionKind{Group: "serving.knative.dev", Version: "v1", Kind: "Service"}
	WorkflowGVK            = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Workflow"}
)

// SampleSet phases. PartialReady is a normal step on the way to Ready.
const (
	SampleSetReady      = "Ready"
	SampleSetSyncFailed = "SyncFailed"
)

// SampleSetSuccess and SampleSetFailure are the phase sets a wait uses.
var (
	SampleSetSuccess = []string{"Ready"}
	SampleSetFailure = []string{"SyncFailed"}
	SampleJobSuccess = []string{"Succeeded"}
	SampleJobFailure = []string{"Failed"}
	PaddleJobSuccess = []string{"Completed", "Succeed"}
	PaddleJobFailure = []string{"Failed", "Terminated"}
)

// Actions of the original APIs, each also a verb: create, apply, patch, delete.
const (
	ActionCreate = "create"
	ActionApply  = "apply"
	ActionPatch  = "patch"
	ActionDelete = "delete"
)

// Labels paddlex puts on the objects of each API, so get and delete find them.
const (
	LabelDataset = "paddlex.io/dataset"
	LabelTrain   = "paddlex.io/train"
	LabelModel   = "paddlex.io/model"
	LabelServe   = "paddlex.io/serve"
)

// DefaultSampleSet is the SampleSet every data set is cached in unless told
// otherwise, as in the original platform.
const DefaultSampleSet = "data-center"

// DataCenterSecret is the JuiceFS Secret the SampleSet cache mounts with.
const DataCenterSecret = "data-center"

// DataMountPath is where training pods see the SampleSet.
const DataMountPath = "/mnt/data-center"
