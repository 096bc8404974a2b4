// Package pipeline reads paddlex pipeline files (apiVersion
// paddlex.io/v1alpha1, kind Pipeline), validates them, and compiles them to
// one Argo Workflow whose steps reuse the dataset, train, modelhub and serve
// renderers. It also computes retries and the step tree views show.
// Everything here is pure: no clients, no clock, no randomness.
package pipeline

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/paddleflow/paddlex/pkg/dataset"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/serve"
	"github.com/paddleflow/paddlex/pkg/train"
)

// The pipeline file's version and kind.
const (
	APIVersion = "paddlex.io/v1alpha1"
	Kind       = "Pipeline"
)

// Defaults of the shared task volume, the original platform's VolumeOp.
const (
	DefaultVolumeName   = "task-center"
	DefaultStorageClass = "task-center"
	DefaultVolumeSize   = "10Gi"
	DefaultAccessMode   = string(corev1.ReadWriteMany)
	// DefaultMountPath is where container steps see the task volume, as
	// training and upload pods do.
	DefaultMountPath = "/mnt/task-center"
)

// RunnerName prefixes the ServiceAccount each run has (Runner) unless
// --service-account names another.
const RunnerName = "pipeline-runner"

// Labels on workflows.
const (
	// LabelPipeline names the pipeline a Workflow runs.
	LabelPipeline = "paddlex.io/pipeline"
	// LabelRetryOf names the Workflow a retry resubmits.
	LabelRetryOf = "paddlex.io/retry-of"
	// AnnotationDescription carries the pipeline's description.
	AnnotationDescription = "paddlex.io/description"
)

// Step kinds: the key each step sets.
const (
	KindDataset   = "dataset"
	KindTrain     = "train"
	KindModelHub  = "modelhub"
	KindServe     = "serve"
	KindContainer = "container"
	KindResource  = "resource"
)

// Kinds lists the step kinds in the order the file format documents them.
var Kinds = []string{KindDataset, KindTrain, KindModelHub, KindServe, KindContainer, KindResource}

// EntrypointName is the Workflow's top DAG template; no step may take it.
const EntrypointName = "main"

// Pipeline is one pipeline file.
type Pipeline struct {
	APIVersion  string `json:"apiVersion"`
	Kind        string `json:"kind"`
	Name        string `json:"name"`
	Namespace   string `json:"namespace,omitempty"`
	Description string `json:"description,omitempty"`
	// Volume is the task volume every step shares.
	Volume Volume `json:"volume,omitempty"`
	// Params are values steps use as {{params.NAME}}.
	Params map[string]any `json:"params,omitempty"`
	Steps  []Step         `json:"steps"`
}

// Volume is the shared task volume, a volumeClaimTemplate of the Workflow.
type Volume struct {
	// Name names the claim template; the claim is WORKFLOW-NAME.
	Name         string `json:"name,omitempty"`
	StorageClass string `json:"storage_class,omitempty"`
	Size         string `json:"size,omitempty"`
	// AccessMode is ReadWriteMany unless a single node runs every step.
	AccessMode string `json:"access_mode,omitempty"`
}

// Step is one node of the pipeline's graph; exactly one kind is set.
type Step struct {
	Name string `json:"name"`
	// After names the steps that must succeed first.
	After     []string       `json:"after,omitempty"`
	Dataset   *dataset.Spec  `json:"dataset,omitempty"`
	Train     *train.Spec    `json:"train,omitempty"`
	ModelHub  *modelhub.Spec `json:"modelhub,omitempty"`
	Serve     *serve.Spec    `json:"serve,omitempty"`
	Container *Container     `json:"container,omitempty"`
	Resource  *Resource      `json:"resource,omitempty"`
}

// Container is a step that runs one container.
type Container struct {
	Image   string          `json:"image"`
	Command []string        `json:"command,omitempty"`
	Args    []string        `json:"args,omitempty"`
	Env     []corev1.EnvVar `json:"env,omitempty"`
	// VolumeMounts default to the task volume at /mnt/task-center.
	VolumeMounts []VolumeMount `json:"volume_mounts,omitempty"`
	// ServiceAccountToken mounts the run's service account token, for a
	// step that calls the Kubernetes API itself; by default a container
	// step has none.
	ServiceAccountToken bool `json:"service_account_token,omitempty"`
}

// VolumeMount mounts the task volume (its name) or an existing claim, such
// as a SampleSet's (data-center), into a container step.
type VolumeMount struct {
	Name      string `json:"name"`
	MountPath string `json:"mount_path"`
	SubPath   string `json:"sub_path,omitempty"`
	ReadOnly  bool   `json:"read_only,omitempty"`
}

// Resource is a step that creates, applies, patches or deletes one object
// and waits on it.
type Resource struct {
	// Action is create (default), apply, patch or delete.
	Action   string         `json:"action,omitempty"`
	Manifest map[string]any `json:"manifest"`
	// SuccessCondition and FailureCondition are Argo's label-selector
	// expressions over the object, e.g. "status.phase == Succeeded".
	SuccessCondition string `json:"success_condition,omitempty"`
	FailureCondition string `json:"failure_condition,omitempty"`
	// SetOwnerReference makes the Workflow own the object, so deleting the
	// run deletes it (default: true for create).
	SetOwnerReference *bool `json:"set_owner_reference,omitempty"`
}

// Kind returns the step's kind, or "" when none is set.
func (s *Step) Kind() string {
	if k := s.kinds(); len(k) > 0 {
		return k[0]
	}
	return ""
}

func (s *Step) kinds() []string {
	var out []string
	for _, k := range []struct {
		name string
		set  bool
	}{
		{KindDataset, s.Dataset != nil}, {KindTrain, s.Train != nil}, {KindModelHub, s.ModelHub != nil},
		{KindServe, s.Serve != nil}, {KindContainer, s.Container != nil}, {KindResource, s.Resource != nil},
	} {
		if k.set {
			out = append(out, k.name)
		}
	}
	return out
}

// Step returns the step named name.
func (p *Pipeline) Step(name string) (*Step, bool) {
	for i := range p.Steps {
		if p.Steps[i].Name == name {
			return &p.Steps[i], true
		}
	}
	return nil, false
}

// Defaults fills unset pipeline fields; namespace is the one the command
// resolved when the file sets none.
func (p *Pipeline) Defaults() {
	if p.Volume.Name == "" {
		p.Volume.Name = DefaultVolumeName
	}
	if p.Volume.StorageClass == "" {
		p.Volume.StorageClass = DefaultStorageClass
	}
	if p.Volume.Size == "" {
		p.Volume.Size = DefaultVolumeSize
	}
	if p.Volume.AccessMode == "" {
		p.Volume.AccessMode = DefaultAccessMode
	}
}

// ClaimExpr is the task volume's claim name as Argo resolves it at run
// time: a volumeClaimTemplate's claim is WORKFLOW-NAME-TEMPLATE-NAME.
func (p *Pipeline) ClaimExpr() string { return "{{workflow.name}}-" + p.Volume.Name }

// Suite returns the suite the pipeline trains (its first train step's
// project), or "".
func (p *Pipeline) Suite() string {
	for _, s := range p.Steps {
		if s.Train != nil {
			if suite, ok := train.Lookup(s.Train.Project); ok {
				return suite.Name()
			}
			return s.Train.Project
		}
	}
	return ""
}

type (
	datasetSpec  = dataset.Spec
	trainSpec    = train.Spec
	modelhubSpec = modelhub.Spec
	serveSpec    = serve.Spec
)
