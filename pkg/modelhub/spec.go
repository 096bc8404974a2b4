package modelhub

import (
	"encoding/json"
	"net/url"
	"path"
	"strings"

	"github.com/paddleflow/paddlex/pkg/image"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// DefaultImage is the MinIO client image the upload Job runs.
const DefaultImage = "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z"

// TaskMountPath is where the upload Job mounts the task PVC, as training does.
const TaskMountPath = "/mnt/task-center"

// Job exit codes that end the upload at once, without retries.
const (
	// JobExitExists means the version exists and --force was not given.
	JobExitExists = 2
	// JobExitNoArchive means the archive is not on the PVC.
	JobExitNoArchive = 4
)

// Spec is the ModelHub API; its keys are the original API's field names.
type Spec struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	Action    string `json:"action,omitempty"`
	// Endpoint is the S3 API of the model center (default http://minio-service.kubeflow:9000).
	Endpoint     string `json:"endpoint,omitempty"`
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version,omitempty"`
	// PVCName is the task PVC holding the archive.
	PVCName string `json:"pvc_name"`
	// ArchivePath is the archive's path on the PVC (default <model_name>.tar.gz).
	ArchivePath string `json:"archive_path,omitempty"`
	// Secret holds the S3 keys as access-key and secret-key (default data-center).
	Secret    string            `json:"secret,omitempty"`
	Framework string            `json:"framework,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	// Force overwrites an existing version.
	Force bool   `json:"force,omitempty"`
	Image string `json:"image,omitempty"`
	// ImageRegistry, when set, moves the Job's image onto that registry
	// (--image-registry); spec files cannot set it.
	ImageRegistry image.Registry `json:"-"`
}

// Defaults fills unset fields.
func (s *Spec) Defaults() {
	if s.Action == "" {
		s.Action = paddle.ActionCreate
	}
	if s.Endpoint == "" {
		s.Endpoint = DefaultEndpoint
	}
	if s.ModelVersion == "" {
		s.ModelVersion = DefaultVersion
	}
	if s.ArchivePath == "" && s.ModelName != "" {
		s.ArchivePath = ArchiveName(s.ModelName)
	}
	if s.Secret == "" {
		s.Secret = paddle.DataCenterSecret
	}
	if s.Image == "" {
		s.Image = DefaultImage
	}
}

// Validate checks the spec; field names are the flag names users type.
func (s *Spec) Validate() error {
	if err := validate.Name("NAME", s.Name); err != nil {
		return err
	}
	if err := validate.Name("NAME", s.JobName()); err != nil {
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
	if err := ValidateEndpoint("--endpoint", s.Endpoint); err != nil {
		return err
	}
	if err := ValidateModel("--model-name", s.ModelName); err != nil {
		return err
	}
	if err := ValidateVersion("--model-version", s.ModelVersion); err != nil {
		return err
	}
	if err := validate.Subdomain("--pvc-name", s.PVCName); err != nil {
		return err
	}
	if err := validate.Subdomain("--secret", s.Secret); err != nil {
		return err
	}
	p := s.ArchivePath
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") {
		return exit.UsageErrorf("--archive-path %q must be a clean path relative to the PVC's root, e.g. ppocr-det.tar.gz", p)
	}
	if s.Image == "" {
		return exit.UsageErrorf("--image must not be empty")
	}
	return nil
}

// ValidateEndpoint checks an S3 endpoint: http:// or https:// and a host.
func ValidateEndpoint(field, endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return exit.UsageErrorf("%s %q must be an http:// or https:// URL with a host, e.g. %s", field, endpoint, DefaultEndpoint)
	}
	if u.Path != "" && u.Path != "/" {
		return exit.UsageErrorf("%s %q must not have a path: the bucket %s is added to it", field, endpoint, Bucket)
	}
	return nil
}

// JobName is the upload Job's name, NAME-model-hub, as in the original.
func (s *Spec) JobName() string { return s.Name + "-model-hub" }

// Ref is the version the Job pushes.
func (s *Spec) Ref() Ref { return Ref{Model: s.ModelName, Version: s.ModelVersion} }

// Source is the metadata record's source for an archive on the PVC.
func (s *Spec) Source() string { return "pvc://" + s.PVCName + "/" + s.ArchivePath }

// uploadScript runs in the mc image. Every value comes from an environment
// variable, so nothing the user typed is parsed by the shell, and the keys
// reach mc on its standard input, never in its arguments.
const uploadScript = `set -eu
archive="` + TaskMountPath + `/$ARCHIVE_PATH"
if [ ! -f "$archive" ]; then
  echo "model archive $archive not found on PVC $PVC_NAME" >&2
  exit 4
fi
printf '%s\n%s\n' "$ACCESS_KEY" "$SECRET_KEY" | mc alias set --api S3v4 model-center "$ENDPOINT" >/dev/null
prefix="${MODEL_PREFIX:-}"
case "$prefix" in /*|*..*) echo "model-prefix $prefix of the Secret is not a relative key prefix" >&2; exit 4 ;; esac
# A tenant's keys reach only their area (MODEL_PREFIX) of a bucket the
# platform made; the platform's keys make it when it is missing.
if [ -z "$prefix" ]; then mc mb --ignore-existing "model-center/$BUCKET"; fi
dest="model-center/$BUCKET/$prefix$MODEL_NAME/$MODEL_VERSION"
if [ "$FORCE" != true ] && mc stat "$dest/$MODEL_NAME.tar.gz" >/dev/null 2>&1; then
  echo "model $MODEL_NAME:$MODEL_VERSION already exists and versions are immutable: push another version, or overwrite it with --force" >&2
  exit 2
fi
sha256=$(sha256sum "$archive" | cut -d' ' -f1)
size=$(stat -c %s "$archive")
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
mc cp --quiet "$archive" "$dest/$MODEL_NAME.tar.gz"
printf '{"sha256":"%s","size":%s,"created":"%s",%s\n' "$sha256" "$size" "$created" "${METADATA#?}" > /tmp/model.json
mc cp --quiet /tmp/model.json "$dest/model.json"
echo "pushed $MODEL_NAME:$MODEL_VERSION: $size bytes, sha256 $sha256"
`

// staticMetadata is the part of the record known before the upload, as a
// JSON object; the Job adds sha256, size and created.
func (s *Spec) staticMetadata() string {
	m := map[string]any{"model": s.ModelName, "version": s.ModelVersion, "source": s.Source()}
	if s.Framework != "" {
		m["framework"] = s.Framework
	}
	if len(s.Labels) > 0 {
		m["labels"] = s.Labels
	}
	b, _ := json.Marshal(m) // map keys are sorted: deterministic
	return string(b)
}

// labels are the labels of the Job and its pods.
func (s *Spec) labels() map[string]string {
	return map[string]string{kube.LabelManagedBy: kube.ManagedByValue, paddle.LabelModel: s.ModelName}
}

// jobGVK is the kind of the upload Job.
var jobGVK = batchv1.SchemeGroupVersion.WithKind("Job")

// RenderJob renders the upload Job NAME-model-hub: it mounts the task PVC
// and copies the archive and its model.json into the model center with mc.
func RenderJob(s Spec) *unstructured.Unstructured {
	force := "false"
	if s.Force {
		force = "true"
	}
	env := []corev1.EnvVar{
		{Name: "ENDPOINT", Value: s.Endpoint},
		{Name: "BUCKET", Value: Bucket},
		{Name: "MODEL_NAME", Value: s.ModelName},
		{Name: "MODEL_VERSION", Value: s.ModelVersion},
		{Name: "PVC_NAME", Value: s.PVCName},
		{Name: "ARCHIVE_PATH", Value: s.ArchivePath},
		{Name: "FORCE", Value: force},
		{Name: "METADATA", Value: s.staticMetadata()},
		{Name: "MC_CONFIG_DIR", Value: "/tmp/.mc"},
		secretEnv("ACCESS_KEY", s.Secret, "access-key"),
		secretEnv("SECRET_KEY", s.Secret, "secret-key"),
		// A tenant's Secret names their area of the model center.
		optionalSecretEnv("MODEL_PREFIX", s.Secret, "model-prefix"),
	}
	container := corev1.Container{
		Name:                     "mc",
		Image:                    s.ImageRegistry.Rewrite(s.Image),
		Command:                  []string{"/bin/sh", "-c", uploadScript},
		Env:                      env,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		VolumeMounts:             []corev1.VolumeMount{{Name: "task-center", MountPath: TaskMountPath, ReadOnly: true}},
	}
	failJob := func(code int32) batchv1.PodFailurePolicyRule {
		return batchv1.PodFailurePolicyRule{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			ContainerName: &container.Name, Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{code}}}
	}
	pod := corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers:    []corev1.Container{container},
		Volumes: []corev1.Volume{{Name: "task-center", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: s.PVCName, ReadOnly: true}}}},
	}
	// mc runs as a non-root user; it writes only under /tmp.
	paddle.RestrictPod(&pod)
	backoff := int32(3)
	return kube.ToUnstructured(&batchv1.Job{
		TypeMeta:   kube.TypeMeta(jobGVK),
		ObjectMeta: metav1.ObjectMeta{Name: s.JobName(), Namespace: s.Namespace, Labels: s.labels()},
		Spec: batchv1.JobSpec{
			BackoffLimit: &backoff,
			// An existing version or a missing archive will not change on
			// a retry: fail at once.
			PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{failJob(JobExitExists), failJob(JobExitNoArchive)}},
			Template:         corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: s.labels()}, Spec: pod},
		},
	})
}

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}}
}

func optionalSecretEnv(name, secret, key string) corev1.EnvVar {
	e := secretEnv(name, secret, key)
	yes := true
	e.ValueFrom.SecretKeyRef.Optional = &yes
	return e
}

// Render returns the objects a push applies: the upload Job.
func Render(s Spec) []*unstructured.Unstructured {
	return []*unstructured.Unstructured{RenderJob(s)}
}
