// Package serve renders the Serving API: a Knative Service that fetches a
// model version from the model center, verifies it and serves it with Paddle
// Serving, autoscaled (to zero by default), with named revisions that
// blue-green and canary rollouts address. Rendering and traffic maths are pure.
package serve

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/paddleflow/paddlex/pkg/image"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// Defaults of the Serving API.
const (
	// DefaultImage is a Paddle Serving runtime image.
	DefaultImage = "registry.baidubce.com/paddlepaddle/serving:0.9.0-devel"
	// DefaultPort is the port the model server listens on, as the product
	// description says (the original served on 9292 whatever it was told).
	DefaultPort = 8040
)

// Autoscaling metrics Knative's pod autoscaler (KPA) scales on.
const (
	MetricConcurrency = "concurrency"
	MetricRPS         = "rps"
)

// reservedPorts are the ports Knative's queue-proxy and profiler take in
// every serving pod; Knative refuses a container port among them.
var reservedPorts = map[int32]bool{8008: true, 8012: true, 8013: true, 8022: true, 9090: true, 9091: true}

// reservedEnv are the variables Knative sets in the serving container.
var reservedEnv = map[string]bool{"PORT": true, "K_SERVICE": true, "K_CONFIGURATION": true, "K_REVISION": true}

// Spec is the Serving API; its keys are the original API's field names,
// plus the autoscaling and resource fields paddlex adds.
type Spec struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Action    string `json:"action,omitempty"`
	// Image is the Paddle Serving runtime image; it must carry a tag or digest.
	Image string `json:"image,omitempty"`
	// ImageRegistry, when set, moves every image the renderers write onto
	// that registry (--image-registry). It is kept in the Service's spec
	// annotation, so a rollout or rollback renders the same images.
	ImageRegistry image.Registry `json:"image_registry,omitempty"`
	// ModelName is the model in the model center (default: Name).
	ModelName string `json:"model_name,omitempty"`
	// ModelVersion is the version served; the revision is named after it.
	ModelVersion string `json:"model_version"`
	// ModelTag is the model center tag (latest) ModelVersion was resolved
	// from when the Service was created or applied; the Service records it
	// (AnnotationModelTag). It is not part of the revision: a rollout or
	// rollback names its version itself.
	ModelTag string `json:"-"`
	// Endpoint is the model center's S3 endpoint.
	Endpoint string `json:"endpoint,omitempty"`
	// Secret holds the model center's keys as access-key and secret-key
	// (default data-center, as for modelhub push).
	Secret string `json:"secret,omitempty"`
	// Port is the port the model server listens on (default 8040).
	Port int32 `json:"port,omitempty"`
	// MinScale is the fewest pods kept running; 0 scales to zero when idle.
	MinScale int32 `json:"min_scale"`
	// MaxScale bounds the pods; 0 leaves it to the cluster's limit.
	MaxScale int32 `json:"max_scale,omitempty"`
	// Target is the per-pod value of Metric the autoscaler aims at; 0 keeps
	// Knative's default.
	Target int32 `json:"target,omitempty"`
	// Metric is concurrency (in-flight requests per pod) or rps.
	Metric string `json:"metric,omitempty"`
	GPU    int32  `json:"gpu,omitempty"`
	CPU    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`
	// Env are extra environment variables of the model server.
	Env map[string]string `json:"env,omitempty"`
	// Revision names the revision when it is not NAME-VERSION: `serve
	// update` serves the same version with other settings as
	// NAME-VERSION-2, -3 and so on. It is read from the Service, never from
	// a spec file.
	Revision string `json:"-"`
}

// Defaults fills unset fields.
func (s *Spec) Defaults() {
	if s.Image == "" {
		s.Image = DefaultImage
	}
	if s.ModelName == "" {
		s.ModelName = s.Name
	}
	if s.Endpoint == "" {
		s.Endpoint = modelhub.DefaultEndpoint
	}
	if s.Secret == "" {
		s.Secret = paddle.DataCenterSecret
	}
	if s.Port == 0 {
		s.Port = DefaultPort
	}
	if s.Metric == "" {
		s.Metric = MetricConcurrency
	}
	if s.Action == "" {
		s.Action = paddle.ActionApply
	}
}

var (
	versionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// Validate checks the spec; field names are the flag names users type.
func (s *Spec) Validate() error {
	if err := validate.Name("name", s.Name); err != nil {
		return err
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
	if err := ValidateImage("--image", s.Image); err != nil {
		return err
	}
	if err := validate.Subdomain("--model-name", s.ModelName); err != nil {
		return err
	}
	if err := ValidateVersion(s.Name, s.ModelVersion); err != nil {
		return err
	}
	if err := modelhub.ValidateEndpoint("--endpoint", s.Endpoint); err != nil {
		return err
	}
	if err := validate.Subdomain("--secret", s.Secret); err != nil {
		return err
	}
	if s.Port < 1 || s.Port > 65535 {
		return exit.UsageErrorf("--port %d is out of range: use 1-65535 (default %d)", s.Port, DefaultPort)
	}
	if reservedPorts[s.Port] {
		return exit.UsageErrorf("--port %d is reserved by Knative's queue-proxy (8008, 8012, 8013, 8022, 9090, 9091): choose another, e.g. %d", s.Port, DefaultPort)
	}
	if s.MinScale < 0 {
		return exit.UsageErrorf("--min-scale must not be negative, not %d (0 scales to zero when idle)", s.MinScale)
	}
	if s.MaxScale < 0 {
		return exit.UsageErrorf("--max-scale must not be negative, not %d (0 means no limit)", s.MaxScale)
	}
	if err := validate.AtMost("--min-scale", s.MinScale, validate.MaxReplicas); err != nil {
		return err
	}
	if err := validate.AtMost("--max-scale", s.MaxScale, validate.MaxReplicas); err != nil {
		return err
	}
	if s.MaxScale > 0 && s.MinScale > s.MaxScale {
		return exit.UsageErrorf("--min-scale %d is greater than --max-scale %d", s.MinScale, s.MaxScale)
	}
	if s.Target < 0 {
		return exit.UsageErrorf("--target must not be negative, not %d", s.Target)
	}
	if err := validate.AtMost("--target", s.Target, validate.MaxTarget); err != nil {
		return err
	}
	if s.Metric != MetricConcurrency && s.Metric != MetricRPS {
		return exit.UsageErrorf("--metric %q: use concurrency or rps", s.Metric)
	}
	if s.GPU < 0 {
		return exit.UsageErrorf("--gpu must not be negative, not %d", s.GPU)
	}
	if err := validate.AtMost("--gpu", s.GPU, validate.MaxGPUs); err != nil {
		return err
	}
	for _, q := range []struct{ flag, val string }{{"--cpu", s.CPU}, {"--memory", s.Memory}} {
		if q.val == "" {
			continue
		}
		v, err := resource.ParseQuantity(q.val)
		if err != nil || v.Sign() <= 0 {
			return exit.UsageErrorf("%s %q is not a positive quantity, e.g. 500m or 2 for CPU, 4Gi for memory", q.flag, q.val)
		}
	}
	for _, k := range sortedKeys(s.Env) {
		if err := validate.EnvVarName("--env", k); err != nil {
			return err
		}
		if reservedEnv[k] {
			return exit.UsageErrorf("--env %s: Knative sets this variable itself; choose another name", k)
		}
	}
	return nil
}

// ValidateVersion checks a model version: it names a model center folder
// and, as NAME-<version>, the revision that serves it.
func ValidateVersion(name, version string) error {
	switch {
	case version == "":
		return exit.UsageErrorf("--model-version is required: the version pushed to the model center, e.g. v1 (list them with `paddlex modelhub versions MODEL`)")
	case version == modelhub.DefaultVersion:
		return exit.UsageErrorf("--model-version %s moves when a new version is tagged, but a revision serves one fixed version: give the version itself (list them with `paddlex modelhub versions MODEL`)", version)
	case !versionRE.MatchString(version):
		return exit.UsageErrorf("--model-version %q: use letters, digits, '.', '_' and '-'", version)
	}
	rev := RevisionName(name, version)
	if errs := validation.IsDNS1035Label(rev); len(errs) > 0 {
		return exit.UsageErrorf("--model-version %q: the revision name %q is not valid: %s (shorten NAME or the version)", version, rev, strings.Join(errs, "; "))
	}
	return nil
}

// ValidateImage requires an image reference with a tag or digest, so that a
// revision always runs the same bytes.
func ValidateImage(field, image string) error {
	if image == "" {
		return exit.UsageErrorf("%s is required", field)
	}
	if strings.ContainsAny(image, " \t\n") {
		return exit.UsageErrorf("%s %q must not contain spaces", field, image)
	}
	if strings.Contains(image, "@sha256:") {
		return nil
	}
	last := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(last, ":")
	if i < 0 {
		return exit.UsageErrorf("%s %q has no tag: name the version, e.g. %s:0.9.0-devel, so every pod of a revision runs the same image", field, image, image)
	}
	if i == len(last)-1 {
		return exit.UsageErrorf("%s %q has an empty tag", field, image)
	}
	return nil
}

// Warnings lists questionable but valid choices to tell the user about.
func (s Spec) Warnings() []string {
	var w []string
	if strings.HasSuffix(s.Image, ":latest") {
		w = append(w, fmt.Sprintf("--image %s: the latest tag moves, so pods of one revision may run different images; pin a version", s.Image))
	}
	return w
}

// RevisionName is the Knative revision serving version: NAME-<version>,
// lower-cased, with '.' and '_' turned into '-' as revision names require.
func RevisionName(name, version string) string {
	v := strings.ToLower(version)
	v = strings.NewReplacer(".", "-", "_", "-").Replace(v)
	return name + "-" + v
}

// RevisionName is the revision this spec renders: Revision when set,
// otherwise NAME-VERSION.
func (s *Spec) RevisionName() string {
	if s.Revision != "" {
		return s.Revision
	}
	return RevisionName(s.Name, s.ModelVersion)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
