// Package train renders the Training API: a PaddleJob for one of the Paddle
// suites (on paddle-operator or the Kubeflow training-operator), the Jobs that
// export and convert the trained model, and a VisualDL board. Rendering is
// pure: a Spec in, objects out.
package train

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/paddleflow/paddlex/pkg/image"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/validate"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/paddleflow/paddlex/pkg/paddle"
)

// Training backends.
const (
	BackendPaddleOperator   = "paddle-operator"
	BackendTrainingOperator = "training-operator"
)

// SchedulerVolcano is the gang scheduler --scheduler accepts.
const SchedulerVolcano = "volcano"

// Spec is the Training API; its keys are the original API's field names,
// plus the fields paddlex adds beyond it.
type Spec struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Action    string `json:"action,omitempty"`

	// Project is the suite: PaddleOCR, PaddleClas, PaddleNLP or PaddleRec.
	Project string `json:"project"`
	Image   string `json:"image"`
	// ImageRegistry, when set, moves every image the renderers write onto
	// that registry (--image-registry); spec files cannot set it.
	ImageRegistry image.Registry `json:"-"`
	// ConfigPath is the suite's config file (PaddleNLP: the training script).
	ConfigPath string `json:"config_path"`
	// Dataset is the data set under /mnt/data-center/ (see `paddlex dataset`).
	Dataset string `json:"dataset,omitempty"`
	// PVCName is the task volume, mounted at /mnt/task-center/.
	PVCName        string `json:"pvc_name"`
	WorkerReplicas int32  `json:"worker_replicas,omitempty"`
	PSReplicas     int32  `json:"ps_replicas,omitempty"`
	GPUPerNode     int32  `json:"gpu_per_node,omitempty"`
	// ConfigChanges override config keys, KEY=VALUE each; in a spec file a
	// list, or one comma-separated string when no value holds a comma.
	ConfigChanges ConfigChanges `json:"config_changes,omitempty"`
	// PretrainModel is an http(s) URL downloaded before training, or a path
	// in the task or data volume.
	PretrainModel string `json:"pretrain_model,omitempty"`
	// PretrainSHA256 is the hex sha256 the downloaded weights must have.
	PretrainSHA256 string `json:"pretrain_sha256,omitempty"`
	// TrainLabel and TestLabel are label files, relative to the data set.
	TrainLabel    string `json:"train_label,omitempty"`
	TestLabel     string `json:"test_label,omitempty"`
	UseVisualDL   *bool  `json:"use_visualdl,omitempty"`
	SaveInference *bool  `json:"save_inference,omitempty"`
	NeedConvert   *bool  `json:"need_convert,omitempty"`

	// Env is set in every training pod.
	Env map[string]string `json:"env,omitempty"`
	// CPU and Memory are each training pod's requests and limits.
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
	// Backend is paddle-operator (default) or training-operator.
	Backend string `json:"backend,omitempty"`
	// SampleSet is the cache holding Dataset (default data-center).
	SampleSet     string            `json:"sampleset,omitempty"`
	NodeSelector  map[string]string `json:"node_selector,omitempty"`
	Tolerations   []string          `json:"tolerations,omitempty"`
	PriorityClass string            `json:"priority_class,omitempty"`
	// Scheduler "volcano" gang-schedules every replica at once.
	Scheduler string `json:"scheduler,omitempty"`
	Queue     string `json:"queue,omitempty"`
	// PodLabels are added to every training pod.
	PodLabels map[string]string `json:"pod_labels,omitempty"`
	// ModelFilename and ParamsFilename name the exported model files the
	// serving conversion reads (default: the suite's names).
	ModelFilename  string `json:"model_filename,omitempty"`
	ParamsFilename string `json:"params_filename,omitempty"`
	// ServingImage runs the serving conversion; VisualDLImage the board
	// (both default to Image).
	ServingImage  string `json:"serving_image,omitempty"`
	VisualDLImage string `json:"visualdl_image,omitempty"`
}

// ConfigChanges are KEY=VALUE overrides, in order.
type ConfigChanges []string

// UnmarshalJSON accepts a list, or the original API's comma-separated string.
func (c *ConfigChanges) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*c = list
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("config_changes must be a list of KEY=VALUE or one comma-separated string")
	}
	parsed, err := SplitConfigChanges(s)
	if err != nil {
		return err
	}
	*c = parsed
	return nil
}

// SplitConfigChanges splits the comma form "K=V,K=V". A piece without "="
// means a value holds a comma: that is refused, not guessed.
func SplitConfigChanges(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if !strings.Contains(p, "=") {
			return nil, fmt.Errorf("config_changes %q: %q is not KEY=VALUE; when a value holds a comma, give each change separately (--config-change KEY=VALUE, or a list in the spec file)", s, p)
		}
		out = append(out, p)
	}
	return out, nil
}

// KV is one parsed config change.
type KV struct{ Key, Value string }

// Pairs parses the changes.
func (c ConfigChanges) Pairs() []KV {
	out := make([]KV, 0, len(c))
	for _, s := range c {
		k, v, _ := strings.Cut(s, "=")
		out = append(out, KV{strings.TrimSpace(k), v})
	}
	return out
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// Bool returns a pointer to b, for Spec's optional switches.
func Bool(b bool) *bool { return &b }

// VisualDL, Export and Convert report the switches with their defaults
// (off, on, on).
func (s *Spec) VisualDL() bool { return boolOr(s.UseVisualDL, false) }
func (s *Spec) Export() bool   { return boolOr(s.SaveInference, true) }
func (s *Spec) Convert() bool  { return boolOr(s.NeedConvert, true) }

// Defaults fills unset fields.
func (s *Spec) Defaults() {
	if s.Action == "" {
		s.Action = paddle.ActionApply
	}
	if s.WorkerReplicas == 0 {
		s.WorkerReplicas = 1
	}
	if s.Backend == "" {
		s.Backend = BackendPaddleOperator
	}
	if s.SampleSet == "" {
		s.SampleSet = paddle.DefaultSampleSet
	}
	if suite, ok := Lookup(s.Project); ok {
		s.Project = suite.Name()
		m, p := suite.ModelFiles()
		if s.ModelFilename == "" {
			s.ModelFilename = m
		}
		if s.ParamsFilename == "" {
			s.ParamsFilename = p
		}
	}
	if s.ServingImage == "" {
		s.ServingImage = s.Image
	}
	if s.VisualDLImage == "" {
		s.VisualDLImage = s.Image
	}
}

// maxNameLen keeps NAME-inference-convert a valid label value, as the Job
// controller puts the Job name in a pod label.
const maxNameLen = 63 - len("-inference-convert")

// Validate checks the spec; field names are the flags users type.
func (s *Spec) Validate() error {
	if err := validate.Name("name", s.Name); err != nil {
		return err
	}
	if errs := validation.IsDNS1035Label(s.Name); len(errs) > 0 || len(s.Name) > maxNameLen {
		return exit.UsageErrorf("name %q: a training name must start with a letter, hold only lower-case letters, digits and '-', and be at most %d characters (it names the PaddleJob's pods and Jobs)", s.Name, maxNameLen)
	}
	if err := validate.Name("--namespace", s.Namespace); err != nil {
		return err
	}
	if err := validate.Action("--action", s.Action); err != nil {
		return err
	}
	if s.Action == paddle.ActionDelete {
		return nil
	}
	suite, ok := Lookup(s.Project)
	if !ok {
		return exit.UsageErrorf("--project %q is not a suite paddlex trains: use one of %s", s.Project, strings.Join(SuiteNames(), ", "))
	}
	switch s.Backend {
	case BackendPaddleOperator, BackendTrainingOperator:
	default:
		return exit.UsageErrorf("--backend must be %s or %s, not %q", BackendPaddleOperator, BackendTrainingOperator, s.Backend)
	}
	if s.Image == "" {
		return exit.UsageErrorf("--image is required, e.g. registry.baidubce.com/paddleflow-public/paddleocr:2.1.3-gpu-cuda10.2-cudnn7")
	}
	if s.ConfigPath == "" {
		return exit.UsageErrorf("--config-path is required: the %s", suite.ConfigHelp())
	}
	if err := validate.Subdomain("--pvc-name", s.PVCName); err != nil {
		return err
	}
	if s.Dataset != "" {
		if err := validate.Subdomain("--dataset", s.Dataset); err != nil {
			return err
		}
		if err := validate.Name("--sampleset", s.SampleSet); err != nil {
			return err
		}
	}
	if s.WorkerReplicas < 1 {
		return exit.UsageErrorf("--worker-replicas must be at least 1, not %d", s.WorkerReplicas)
	}
	if err := validate.AtMost("--worker-replicas", s.WorkerReplicas, validate.MaxReplicas); err != nil {
		return err
	}
	if s.PSReplicas < 0 {
		return exit.UsageErrorf("--ps-replicas must not be negative, not %d", s.PSReplicas)
	}
	if err := validate.AtMost("--ps-replicas", s.PSReplicas, validate.MaxReplicas); err != nil {
		return err
	}
	if s.PSReplicas > 0 && !suite.SupportsPS() {
		return exit.UsageErrorf("--ps-replicas: %s trains collectively only (workers, no parameter servers); drop --ps-replicas", suite.Name())
	}
	if s.GPUPerNode < 0 {
		return exit.UsageErrorf("--gpu-per-node must not be negative, not %d", s.GPUPerNode)
	}
	if err := validate.AtMost("--gpu-per-node", s.GPUPerNode, validate.MaxGPUs); err != nil {
		return err
	}
	if (s.TrainLabel != "" || s.TestLabel != "") && !suite.HasLabels() {
		return exit.UsageErrorf("--train-label/--test-label: %s reads whole data directories and takes no label files", suite.Name())
	}
	if (s.TrainLabel != "" || s.TestLabel != "") && s.Dataset == "" {
		return exit.UsageErrorf("--train-label/--test-label name files in the data set: set --dataset")
	}
	if err := validatePretrain(s.PretrainModel, s.PretrainSHA256); err != nil {
		return err
	}
	for _, c := range s.ConfigChanges {
		if k, _, ok := strings.Cut(c, "="); !ok || strings.TrimSpace(k) == "" || strings.ContainsAny(k, " \t\n") {
			return exit.UsageErrorf("--config-change %q is not KEY=VALUE", c)
		}
	}
	for _, k := range sortedKeys(s.Env) {
		if err := validate.EnvVarName("--env", k); err != nil {
			return err
		}
	}
	for flag, q := range map[string]string{"--cpu": s.CPU, "--memory": s.Memory} {
		if q == "" {
			continue
		}
		if _, err := resource.ParseQuantity(q); err != nil {
			return exit.UsageErrorf("%s %q is not a quantity, e.g. 4 or 500m (cpu), 16Gi (memory)", flag, q)
		}
	}
	for _, t := range s.Tolerations {
		if _, err := ParseToleration(t); err != nil {
			return err
		}
	}
	for _, k := range sortedKeys(s.NodeSelector) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return exit.UsageErrorf("--node-selector %q: %s", k, strings.Join(errs, "; "))
		}
	}
	for _, k := range sortedKeys(s.PodLabels) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return exit.UsageErrorf("--pod-label %q: %s", k, strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(s.PodLabels[k]); len(errs) > 0 {
			return exit.UsageErrorf("--pod-label %s=%q: %s", k, s.PodLabels[k], strings.Join(errs, "; "))
		}
	}
	if s.PriorityClass != "" {
		if err := validate.Subdomain("--priority-class", s.PriorityClass); err != nil {
			return err
		}
	}
	switch s.Scheduler {
	case "", SchedulerVolcano:
	default:
		return exit.UsageErrorf("--scheduler must be %q or empty (the default scheduler), not %q", SchedulerVolcano, s.Scheduler)
	}
	if s.Queue != "" && s.Scheduler != SchedulerVolcano {
		return exit.UsageErrorf("--queue needs --scheduler volcano")
	}
	for flag, f := range map[string]string{"--model-filename": s.ModelFilename, "--params-filename": s.ParamsFilename} {
		if f == "" || strings.ContainsAny(f, "/\x00") {
			return exit.UsageErrorf("%s %q must be a file name inside the inference directory", flag, f)
		}
	}
	return nil
}

// Warnings returns advice about a valid spec: images without a pinned tag.
func (s *Spec) Warnings() []string {
	var out []string
	seen := map[string]bool{}
	for _, img := range []string{s.Image, s.ServingImage, s.VisualDLImage} {
		if img == "" || seen[img] {
			continue
		}
		seen[img] = true
		name := img
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:]
		}
		switch {
		case strings.Contains(img, "@"):
		case !strings.Contains(name, ":"):
			out = append(out, fmt.Sprintf("image %s has no tag: it means :latest, which changes under you; pin a tag or digest", img))
		case strings.HasSuffix(name, ":latest"):
			out = append(out, fmt.Sprintf("image %s uses :latest, which changes under you; pin a tag or digest", img))
		}
	}
	return out
}

func validatePretrain(p, sha string) error {
	if sha != "" {
		if len(sha) != 64 || strings.Trim(strings.ToLower(sha), "0123456789abcdef") != "" {
			return exit.UsageErrorf("--pretrain-sha256 %q is not a sha256: give the 64 hex digits of the weights file's digest (sha256sum FILE)", sha)
		}
		if !strings.HasPrefix(p, "http://") && !strings.HasPrefix(p, "https://") {
			return exit.UsageErrorf("--pretrain-sha256 checks downloaded weights: it needs an https:// --pretrain-model")
		}
	}
	if p == "" {
		return nil
	}
	if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
		u, err := url.Parse(p)
		if err != nil || u.Host == "" || u.Path == "" || strings.HasSuffix(u.Path, "/") {
			return exit.UsageErrorf("--pretrain-model %q is not a URL of a file", p)
		}
		// Plain http can be altered on the way; the model center is reached
		// inside the cluster.
		if u.Scheme == "http" && u.Host != modelCenterHost() {
			return exit.UsageErrorf("--pretrain-model %q is plain http://, which anyone on the way can alter: use its https:// address (or a copy in the model center, %s)", p, modelhub.DefaultEndpoint)
		}
		return nil
	}
	for _, root := range []string{TaskMountPath, paddle.DataMountPath + "/"} {
		if strings.HasPrefix(p, root) && !strings.Contains(p, "..") {
			return nil
		}
	}
	return exit.UsageErrorf("--pretrain-model %q must be an http(s) URL or a path under %s or %s/", p, TaskMountPath, paddle.DataMountPath)
}

// ParseToleration reads a toleration in the form `kubectl taint` writes
// taints: "KEY=VALUE:EFFECT", "KEY:EFFECT" (any value) or "KEY" (any value,
// any effect).
func ParseToleration(s string) (corev1.Toleration, error) {
	bad := exit.UsageErrorf("--tolerations %q: write KEY=VALUE:EFFECT, KEY:EFFECT or KEY (EFFECT is NoSchedule, PreferNoSchedule or NoExecute)", s)
	kv, effect, hasEffect := strings.Cut(s, ":")
	key, value, hasValue := strings.Cut(kv, "=")
	if key == "" || len(validation.IsQualifiedName(key)) > 0 {
		return corev1.Toleration{}, bad
	}
	t := corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists}
	if hasValue {
		t.Operator, t.Value = corev1.TolerationOpEqual, value
	}
	if hasEffect {
		switch e := corev1.TaintEffect(effect); e {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
			t.Effect = e
		default:
			return corev1.Toleration{}, bad
		}
	}
	return t, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// modelCenterHost is the host:port of the in-cluster model center.
func modelCenterHost() string {
	u, err := url.Parse(modelhub.DefaultEndpoint)
	if err != nil {
		return ""
	}
	return u.Host
}
