package serve

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// Labels and annotations paddlex puts on a served model.
const (
	// LabelModelVersion is on each revision: the model version it serves.
	LabelModelVersion = "paddlex.io/model-version"
	// AnnotationSpec holds the Serving API spec the Service's template was
	// rendered from, so rollouts re-render it with another version.
	AnnotationSpec = "paddlex.io/serve-spec"
	// AnnotationRevisions holds the specs of the other revisions traffic
	// names, so a rollback restores the template of the revision it returns
	// to (Knative reuses the existing revision of that name).
	AnnotationRevisions = "paddlex.io/serve-revisions"
	// AnnotationModelTag records, as MODEL:TAG, the model center tag the
	// served version was resolved from (`serve create` without a version,
	// or with latest); the revision's LabelModelVersion is the version.
	AnnotationModelTag = "paddlex.io/model-tag"
)

// Knative autoscaling annotations, with their current names (releases before
// 1.0 spelled them minScale and maxScale).
const (
	AnnotationClass    = "autoscaling.knative.dev/class"
	AnnotationMetric   = "autoscaling.knative.dev/metric"
	AnnotationMinScale = "autoscaling.knative.dev/min-scale"
	AnnotationMaxScale = "autoscaling.knative.dev/max-scale"
	AnnotationTarget   = "autoscaling.knative.dev/target"
	// ClassKPA is Knative's pod autoscaler: it scales on concurrency or rps,
	// and to zero.
	ClassKPA = "kpa.autoscaling.knative.dev"
)

// Paths inside the serving pod.
const (
	modelVolume = "model"
	modelDir    = "/models"
)

// fetchScript runs in the MinIO client image: it downloads the archive and
// its metadata record with the model center's keys. Every value comes from
// an environment variable, so nothing the user typed is parsed by the shell,
// and the keys reach mc on its standard input, never in its arguments.
const fetchScript = `set -eu
printf '%s\n%s\n' "$ACCESS_KEY" "$SECRET_KEY" | mc alias set --api S3v4 model-center "$ENDPOINT" >/dev/null
# A tenant's Secret names their area of the model center (model-prefix,
# NAMESPACE/), the only part their keys reach: the objects are there.
prefix="${MODEL_PREFIX:-}"
case "$prefix" in /*|*..*) echo "model-prefix $prefix of Secret $SECRET is not a relative key prefix" >&2; exit 1 ;; esac
archive="${ARCHIVE_OBJECT%%/*}/$prefix${ARCHIVE_OBJECT#*/}"
metadata="${METADATA_OBJECT%%/*}/$prefix${METADATA_OBJECT#*/}"
mc cp --quiet "model-center/$archive" "$MODEL_DIR/$ARCHIVE" || { echo "cannot download $ENDPOINT/$archive: check that the version was pushed (paddlex modelhub versions $MODEL) and that Secret $SECRET holds the model center's keys" >&2; exit 1; }
mc cp --quiet "model-center/$metadata" "$MODEL_DIR/model.json" || { echo "cannot download $ENDPOINT/$metadata: the version has no metadata record; push it again with paddlex modelhub push" >&2; exit 1; }
`

// verifyScript runs in the serving image, which has Python: it checks the
// archive's sha256 against the metadata record and unpacks it. Every member
// is checked before anything is written, on every Python (tarfile's own
// data filter exists only from 3.12 and late 3.8-3.11 releases): only
// regular files, folders and links; no absolute path, no "..", no path
// through a link in the archive, no link leading out of the model folder.
const verifyScript = `import hashlib, json, os, posixpath, sys, tarfile

def fail(msg):
    sys.stderr.write(msg + "\n")
    sys.exit(1)

def url(name):
    # The object's address in the Secret's area of the model center
    # (model-prefix: a tenant's NAMESPACE/), where fetch-model found it.
    u = os.environ[name].rsplit("/", 3)
    return u[0] + "/" + os.environ.get("MODEL_PREFIX", "") + "/".join(u[1:])

d, model = os.environ["MODEL_DIR"], os.environ["MODEL"]
archive = os.path.join(d, os.environ["ARCHIVE"])
try:
    with open(os.path.join(d, "model.json")) as f:
        want = json.load(f).get("sha256", "")
except ValueError as e:
    fail("%s is not a model record: %s" % (url("METADATA_URL"), e))
if not want:
    fail("%s records no sha256" % url("METADATA_URL"))
h = hashlib.sha256()
with open(archive, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
if h.hexdigest() != want.lower():
    fail("%s is corrupt: its sha256 is %s, model.json records %s" % (url("ARCHIVE_URL"), h.hexdigest(), want))
def walk(path, links):
    # The folders path passes through, relative to the model folder; None
    # when it leaves the folder or passes through a link of the archive.
    parts = []
    for c in path.split("/"):
        if c in ("", "."):
            continue
        if c == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(c)
        if "/".join(parts) in links:
            return None
    return parts

def check(t):
    members = t.getmembers()
    links = set()
    for m in members:
        if m.issym() or m.islnk():
            links.add(posixpath.normpath(m.name))
    for m in members:
        name = m.name
        why = ""
        if name.startswith("/"):
            why = "has an absolute path"
        elif ".." in name.split("/"):
            why = "has '..' in its path"
        elif not (m.isreg() or m.isdir() or m.issym() or m.islnk()):
            why = "is not a regular file, folder or link (a device, a FIFO or an unknown type)"
        elif walk(posixpath.dirname(name), links) is None:
            why = "has a path through a link in the archive"
        elif m.issym() and (m.linkname.startswith("/") or walk(posixpath.join(posixpath.dirname(name), m.linkname), links) is None):
            why = "is a symbolic link to %s, outside the model folder or through another link" % m.linkname
        elif m.islnk() and (m.linkname.startswith("/") or walk(m.linkname, links) is None):
            why = "is a hard link to %s, outside the model folder or through another link" % m.linkname
        if why:
            fail("%s is refused: member %s %s; nothing was unpacked: repack the model with paths inside its folder and push it as a new version" % (url("ARCHIVE_URL"), name, why))
    return members

with tarfile.open(archive) as t:
    members = check(t)
    if hasattr(tarfile, "data_filter"):
        t.extractall(d, members=members, filter="data")
    else:
        t.extractall(d, members=members)
os.remove(archive)
if not os.path.isdir(os.path.join(d, model, "server")):
    fail("%s has no %s/server/ folder: convert the model for Paddle Serving (train --need-convert)" % (url("ARCHIVE_URL"), model))
print("model %s verified: sha256 %s" % (model, want))
`

// MetadataURL is the address of the metadata record beside the archive.
func MetadataURL(endpoint, model, version string) string {
	u := modelhub.ArchiveURL(endpoint, model, version)
	return strings.TrimSuffix(u, modelhub.ArchiveName(model)) + modelhub.MetadataFile
}

// Labels returns the labels of the Service.
func (s *Spec) Labels() map[string]string {
	return map[string]string{
		kube.LabelManagedBy: kube.ManagedByValue,
		paddle.LabelServe:   s.Name,
		paddle.LabelModel:   s.ModelName,
	}
}

// Render returns the Knative Service for a create or apply: the spec's
// revision with all the traffic, tagged current.
func Render(s Spec) []*unstructured.Unstructured {
	return []*unstructured.Unstructured{RenderService(s, Initial(s.RevisionName()), nil)}
}

// RenderService returns the Knative Service whose template is s's revision,
// with traffic split as t says; others are the specs of the other revisions
// t names, recorded for a later rollback.
func RenderService(s Spec, t Traffic, others map[string]Spec) *unstructured.Unstructured {
	annotations := map[string]string{AnnotationSpec: specJSON(s)}
	if s.ModelTag != "" {
		annotations[AnnotationModelTag] = s.ModelName + ":" + s.ModelTag
	}
	if len(others) > 0 {
		m := make(map[string]json.RawMessage, len(others))
		for rev, o := range others {
			m[rev] = json.RawMessage(specJSON(o))
		}
		b, _ := json.Marshal(m)
		annotations[AnnotationRevisions] = string(b)
	}
	return kube.ToUnstructured(&paddle.KnativeService{
		TypeMeta: kube.TypeMeta(paddle.KnativeServiceGVK),
		ObjectMeta: metav1.ObjectMeta{
			Name:        s.Name,
			Namespace:   s.Namespace,
			Labels:      s.Labels(),
			Annotations: annotations,
		},
		Spec: paddle.KnativeServiceSpec{
			Template: renderTemplate(s),
			Traffic:  t.render(),
		},
	})
}

func renderTemplate(s Spec) paddle.RevisionTemplateSpec {
	labels := s.Labels()
	labels[LabelModelVersion] = s.ModelVersion
	annotations := map[string]string{
		AnnotationClass:    ClassKPA,
		AnnotationMetric:   s.Metric,
		AnnotationMinScale: strconv.Itoa(int(s.MinScale)),
	}
	if s.MaxScale > 0 {
		annotations[AnnotationMaxScale] = strconv.Itoa(int(s.MaxScale))
	}
	if s.Target > 0 {
		annotations[AnnotationTarget] = strconv.Itoa(int(s.Target))
	}
	mount := []corev1.VolumeMount{{Name: modelVolume, MountPath: modelDir}}

	modelEnv := []corev1.EnvVar{
		envVar("MODEL", s.ModelName),
		envVar("MODEL_DIR", modelDir),
		envVar("ARCHIVE", modelhub.ArchiveName(s.ModelName)),
		envVar("ARCHIVE_URL", modelhub.ArchiveURL(s.Endpoint, s.ModelName, s.ModelVersion)),
		envVar("METADATA_URL", MetadataURL(s.Endpoint, s.ModelName, s.ModelVersion)),
		// A tenant's Secret names their area of the model center.
		optionalSecretEnv("MODEL_PREFIX", s.Secret, "model-prefix"),
	}
	fetchEnv := append([]corev1.EnvVar{}, modelEnv...)
	fetchEnv = append(fetchEnv,
		envVar("ENDPOINT", strings.TrimRight(s.Endpoint, "/")),
		envVar("ARCHIVE_OBJECT", modelhub.Bucket+"/"+modelhub.ArchiveKey(s.ModelName, s.ModelVersion)),
		envVar("METADATA_OBJECT", modelhub.Bucket+"/"+modelhub.MetadataKey(s.ModelName, s.ModelVersion)),
		envVar("SECRET", s.Secret),
		envVar("MC_CONFIG_DIR", "/tmp/.mc"),
		secretEnv("ACCESS_KEY", s.Secret, "access-key"),
		secretEnv("SECRET_KEY", s.Secret, "secret-key"),
	)
	fetch := corev1.Container{
		Name:                     "fetch-model",
		Image:                    s.ImageRegistry.Rewrite(modelhub.DefaultImage),
		Command:                  []string{"/bin/sh", "-c", fetchScript},
		Env:                      fetchEnv,
		VolumeMounts:             mount,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	verify := corev1.Container{
		Name:                     "verify-model",
		Image:                    s.ImageRegistry.Rewrite(s.Image),
		Command:                  []string{"python3", "-c", verifyScript},
		Env:                      modelEnv,
		VolumeMounts:             mount,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}

	server := corev1.Container{
		Name:  "server",
		Image: s.ImageRegistry.Rewrite(s.Image),
		Command: []string{"python3", "-m", "paddle_serving_server.serve",
			"--model", s.ModelName + "/server", "--port", strconv.Itoa(int(s.Port))},
		WorkingDir: modelDir,
		Ports:      []corev1.ContainerPort{{ContainerPort: s.Port, Protocol: corev1.ProtocolTCP}},
		// Without periodSeconds Knative's queue-proxy probes aggressively
		// while a pod starts, which shortens every scale from zero.
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
			TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(s.Port)}}},
		VolumeMounts:             mount,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		Resources:                resources(s),
	}
	if _, ok := s.Env["HOME"]; !ok {
		// Paddle caches under HOME, which must be writable by the
		// non-root user, unlike the image's.
		server.Env = append(server.Env, envVar("HOME", paddle.HomeDir))
	}
	for _, k := range sortedKeys(s.Env) {
		server.Env = append(server.Env, envVar(k, s.Env[k]))
	}

	pod := corev1.PodSpec{
		InitContainers: []corev1.Container{fetch, verify},
		Containers:     []corev1.Container{server},
		Volumes:        []corev1.Volume{{Name: modelVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
	}
	// Knative takes no pod-level securityContext unless its
	// kubernetes.podspec-securitycontext feature is on, so each container
	// carries the restricted settings; the emptyDir is writable by any user.
	paddle.RestrictContainers(&pod)
	return paddle.RevisionTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{
			Name:        s.RevisionName(),
			Labels:      labels,
			Annotations: annotations,
		},
		Spec: pod,
	}
}

// GPUResource is the extended resource the NVIDIA device plugin advertises.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// resources requests CPU and memory, caps memory so the pod is killed
// predictably rather than the node, and limits GPUs as the device plugin
// requires. The spec has passed Validate, so the quantities parse.
func resources(s Spec) corev1.ResourceRequirements {
	var r corev1.ResourceRequirements
	set := func(l *corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
		if *l == nil {
			*l = corev1.ResourceList{}
		}
		(*l)[name] = q
	}
	if s.CPU != "" {
		set(&r.Requests, corev1.ResourceCPU, resource.MustParse(s.CPU))
	}
	if s.Memory != "" {
		q := resource.MustParse(s.Memory)
		set(&r.Requests, corev1.ResourceMemory, q)
		set(&r.Limits, corev1.ResourceMemory, q)
	}
	if s.GPU > 0 {
		set(&r.Limits, GPUResource, *resource.NewQuantity(int64(s.GPU), resource.DecimalSI))
	}
	return r
}

func envVar(name, value string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, Value: value}
}

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}}
}

// optionalSecretEnv is secretEnv of a key the Secret may lack: the
// variable is then unset.
func optionalSecretEnv(name, secret, key string) corev1.EnvVar {
	e := secretEnv(name, secret, key)
	yes := true
	e.ValueFrom.SecretKeyRef.Optional = &yes
	return e
}

// specJSON records a spec without what the Service itself says (name,
// namespace) and without the action that applied it.
func specJSON(s Spec) string {
	s.Name, s.Namespace, s.Action = "", "", ""
	b, _ := json.Marshal(s)
	return string(b)
}

// SpecOf reads back the spec a Service's template was rendered from; ok is
// false when paddlex did not render it.
func SpecOf(obj *unstructured.Unstructured) (Spec, bool, error) {
	raw, ok := obj.GetAnnotations()[AnnotationSpec]
	if !ok {
		return Spec{}, false, nil
	}
	var s Spec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return Spec{}, true, fmt.Errorf("annotation %s of %s is not a serving spec: %w", AnnotationSpec, kube.RefOf(obj), err)
	}
	s.Name, s.Namespace = obj.GetName(), obj.GetNamespace()
	if rev, _, _ := unstructured.NestedString(obj.Object, "spec", "template", "metadata", "name"); rev != "" && rev != RevisionName(s.Name, s.ModelVersion) {
		s.Revision = rev
	}
	return s, true, nil
}

// RevisionSpecs returns the spec of every revision the Service records,
// by revision name: the template's and those of AnnotationRevisions.
func RevisionSpecs(obj *unstructured.Unstructured) (map[string]Spec, error) {
	out := map[string]Spec{}
	s, ok, err := SpecOf(obj)
	if err != nil || !ok {
		return out, err
	}
	if raw, ok := obj.GetAnnotations()[AnnotationRevisions]; ok {
		var m map[string]Spec
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return nil, fmt.Errorf("annotation %s of %s is not a set of serving specs: %w", AnnotationRevisions, kube.RefOf(obj), err)
		}
		for rev, o := range m {
			o.Name, o.Namespace = obj.GetName(), obj.GetNamespace()
			if rev != RevisionName(o.Name, o.ModelVersion) {
				o.Revision = rev
			}
			out[rev] = o
		}
	}
	out[s.RevisionName()] = s
	return out, nil
}
