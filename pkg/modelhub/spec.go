package modelhub

import (
	"encoding/json"
	"net/url"
	"path"
	"strings"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

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
mc mb --ignore-existing "model-center/$BUCKET"
dest="model-center/$BUCKET/$MODEL_NAME/$MODEL_VERSION"
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
func (s *Spec) labels() map[string]any {
	return map[string]any{kube.LabelManagedBy: kube.ManagedByValue, paddle.LabelModel: s.ModelName}
}

// RenderJob renders the upload Job NAME-model-hub: it mounts the task PVC
// and copies the archive and its model.json into the model center with mc.
func RenderJob(s Spec) *unstructured.Unstructured {
	force := "false"
	if s.Force {
		force = "true"
	}
	env := []any{
		map[string]any{"name": "ENDPOINT", "value": s.Endpoint},
		map[string]any{"name": "BUCKET", "value": Bucket},
		map[string]any{"name": "MODEL_NAME", "value": s.ModelName},
		map[string]any{"name": "MODEL_VERSION", "value": s.ModelVersion},
		map[string]any{"name": "PVC_NAME", "value": s.PVCName},
		map[string]any{"name": "ARCHIVE_PATH", "value": s.ArchivePath},
		map[string]any{"name": "FORCE", "value": force},
		map[string]any{"name": "METADATA", "value": s.staticMetadata()},
		map[string]any{"name": "MC_CONFIG_DIR", "value": "/tmp/.mc"},
		secretEnv("ACCESS_KEY", s.Secret, "access-key"),
		secretEnv("SECRET_KEY", s.Secret, "secret-key"),
	}
	container := map[string]any{
		"name":                     "mc",
		"image":                    s.Image,
		"command":                  []any{"/bin/sh", "-c", uploadScript},
		"env":                      env,
		"terminationMessagePolicy": "FallbackToLogsOnError",
		"volumeMounts":             []any{map[string]any{"name": "task-center", "mountPath": TaskMountPath, "readOnly": true}},
		"securityContext":          map[string]any{"allowPrivilegeEscalation": false},
	}
	failJob := func(code int64) any {
		return map[string]any{"action": "FailJob", "onExitCodes": map[string]any{
			"containerName": "mc", "operator": "In", "values": []any{code}}}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "batch/v1",
		"kind":       "Job",
		"metadata":   map[string]any{"name": s.JobName(), "namespace": s.Namespace, "labels": s.labels()},
		"spec": map[string]any{
			"backoffLimit": int64(3),
			// An existing version or a missing archive will not change on
			// a retry: fail at once.
			"podFailurePolicy": map[string]any{"rules": []any{failJob(JobExitExists), failJob(JobExitNoArchive)}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": s.labels()},
				"spec": map[string]any{
					"restartPolicy": "Never",
					"containers":    []any{container},
					"volumes": []any{map[string]any{"name": "task-center",
						"persistentVolumeClaim": map[string]any{"claimName": s.PVCName, "readOnly": true}}},
				},
			},
		},
	}}
}

func secretEnv(name, secret, key string) any {
	return map[string]any{"name": name, "valueFrom": map[string]any{
		"secretKeyRef": map[string]any{"name": secret, "key": key}}}
}

// Render returns the objects a push applies: the upload Job.
func Render(s Spec) []*unstructured.Unstructured {
	return []*unstructured.Unstructured{RenderJob(s)}
}
