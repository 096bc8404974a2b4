package paddleoperator

import (
	"fmt"
	"net/url"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The work of a sync, warmup or rmr runs in a pod of the stand-in's image
// that mounts the SampleSet's claim at dataMount(SET), as paddle-operator's
// runtime server mounts it (its RuntimeDataMountPath /mnt, then the name).

// Labels on the stand-in's work pods.
const (
	labelSampleSet = paddleLabel + "/sampleset"
	labelJobType   = paddleLabel + "/job-type"
	labelStandIn   = "paddlex.io/stand-in"
)

// dataMount is where a work pod sees the SampleSet's data.
func dataMount(set string) string { return "/mnt/" + set }

// syncSource reads a SampleJob's sync source as `juicefs sync` reads a
// MinIO address, minio://ENDPOINT/BUCKET[/PREFIX], into the S3 endpoint
// (plain http, as JuiceFS reaches MinIO) and BUCKET/PREFIX. The stand-in
// reaches no storage outside the cluster, so every other scheme is refused
// with the reason; so are keys in the address, which the operator takes
// from the SampleJob's secretRef.
func syncSource(uri string) (endpoint, bucketPath string, err error) {
	u, perr := url.Parse(uri)
	if perr != nil || !strings.Contains(uri, "://") {
		return "", "", fmt.Errorf("the format of data source uri %q is not supported", uri)
	}
	if u.Scheme != "minio" {
		return "", "", fmt.Errorf("the paddle-operator stand-in syncs only from the in-cluster MinIO (minio://ENDPOINT/BUCKET/PREFIX/): %s is out of its reach", uri)
	}
	if u.User != nil {
		return "", "", fmt.Errorf("data source %s carries keys: put them in the Secret that secretRef names (access-key, secret-key)", u.Redacted())
	}
	p := strings.TrimPrefix(u.Path, "/")
	if u.Host == "" || p == "" || strings.HasPrefix(p, "/") {
		return "", "", fmt.Errorf("data source %s names no bucket: write minio://ENDPOINT/BUCKET/PREFIX/", uri)
	}
	if cleanRel(p) == "" {
		return "", "", fmt.Errorf("data source %s has '..' in its path", uri)
	}
	return "http://" + u.Host, p, nil
}

// cleanRel returns p relative to its root, or "" when it climbs out of it.
func cleanRel(p string) string {
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return ""
		}
	}
	return p
}

// inMount is a path of the SampleSet's data, as the operator makes a
// SampleJob's relative paths absolute: under the data mount, the mount
// itself for "".
func inMount(set, p string) (string, error) {
	p = strings.TrimPrefix(p, "/")
	if p != "" && cleanRel(p) == "" {
		return "", fmt.Errorf("path %s is not valid: it has '..'", p)
	}
	if p == "" {
		return dataMount(set), nil
	}
	out := path.Join(dataMount(set), p)
	if strings.HasSuffix(p, "/") {
		out += "/"
	}
	return out, nil
}

// syncScript copies the source into the destination with MinIO's client:
// the keys come from the environment (never the command line), as `mc
// alias set` reads them from its input.
const syncScript = `set -eu
if [ -n "${ACCESS_KEY:-}" ]; then
  printf '%s\n%s\n' "$ACCESS_KEY" "${SECRET_KEY:-}" | mc alias set --api S3v4 source "$ENDPOINT" >/dev/null
else
  mc alias set --api S3v4 source "$ENDPOINT" "" "" >/dev/null
fi
mkdir -p "$DESTINATION"
mc mirror --overwrite "source/$SOURCE_PATH" "$DESTINATION"
echo "synced $SOURCE to $DESTINATION"
`

// warmupScript reads every file under each path, as a warmup loads them
// into the cache; a missing path fails it, as juicefs warmup fails.
const warmupScript = `set -eu
for p in "$@"; do
  if [ ! -e "$p" ]; then echo "path $p is not valid: no such file or directory" >&2; exit 1; fi
  find "$p" -type f -not -path '*/.*' -exec cat {} + >/dev/null
done
echo "warmed up $*"
`

// rmrScript removes the paths, as the operator's rmr job does (after
// checking each exists).
const rmrScript = `set -eu
for p in "$@"; do
  if [ ! -e "$p" ]; then echo "path $p is not valid: no such file or directory" >&2; exit 1; fi
done
rm -rf "$@"
echo "removed $*"
`

// workPod is the pod that does one job on a SampleSet's data: the
// stand-in's image running script with args, as a non-root user, the
// SampleSet's claim mounted at dataMount.
func workPod(owner metav1.OwnerReference, ns, name, set, jobType, image, script string, args []string, env []corev1.EnvVar) *corev1.Pod {
	no, yes := false, true
	uid := int64(1000)
	env = append([]corev1.EnvVar{{Name: "HOME", Value: "/tmp"}, {Name: "MC_CONFIG_DIR", Value: "/tmp/.mc"}}, env...)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, OwnerReferences: []metav1.OwnerReference{owner},
			Labels: map[string]string{labelSampleSet: set, labelJobType: jobType, labelStandIn: "paddle-operator"}},
		Spec: corev1.PodSpec{
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: &no,
			SecurityContext: &corev1.PodSecurityContext{RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid, RunAsNonRoot: &yes,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name:    jobType,
				Image:   image,
				Command: append([]string{"sh", "-c", script, jobType}, args...),
				Env:     env,
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no,
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				VolumeMounts:             []corev1.VolumeMount{{Name: "data", MountPath: dataMount(set)}},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: set}}}},
		},
	}
}

// syncPod is the pod of a sync from uri into destination (relative to the
// SampleSet's data) with the keys of Secret keys (in the pod's namespace;
// "" for none).
func syncPod(owner metav1.OwnerReference, ns, name, set, image, uri, destination, keys string) (*corev1.Pod, error) {
	endpoint, bucketPath, err := syncSource(uri)
	if err != nil {
		return nil, err
	}
	dst, err := inMount(set, destination)
	if err != nil {
		return nil, err
	}
	env := []corev1.EnvVar{{Name: "SOURCE", Value: uri}, {Name: "ENDPOINT", Value: endpoint}, {Name: "SOURCE_PATH", Value: bucketPath},
		{Name: "DESTINATION", Value: dst}}
	if keys != "" {
		yes := true
		for _, k := range []struct{ env, key string }{{"ACCESS_KEY", "access-key"}, {"SECRET_KEY", "secret-key"}} {
			env = append(env, corev1.EnvVar{Name: k.env, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: keys}, Key: k.key, Optional: &yes}}})
		}
	}
	return workPod(owner, ns, name, set, jobSync, image, syncScript, nil, env), nil
}

// pathsPod is the pod of a warmup or rmr job on paths relative to the
// SampleSet's data (the whole of it for none, for a warmup).
func pathsPod(owner metav1.OwnerReference, ns, name, set, jobType, image string, paths []string) (*corev1.Pod, error) {
	script := warmupScript
	if jobType == jobRmr {
		script = rmrScript
		if len(paths) == 0 {
			return nil, fmt.Errorf("rmr job option paths not set")
		}
	}
	if len(paths) == 0 {
		paths = []string{""}
	}
	var abs []string
	for _, p := range paths {
		a, err := inMount(set, p)
		if err != nil {
			return nil, err
		}
		abs = append(abs, a)
	}
	return workPod(owner, ns, name, set, jobType, image, script, abs, nil), nil
}

// podOutcome reads a work pod: done when it has ended, with its
// termination message when it failed.
func podOutcome(p *corev1.Pod) (done, failed bool, message string) {
	switch p.Status.Phase {
	case corev1.PodSucceeded:
		return true, false, ""
	case corev1.PodFailed:
		msg := p.Status.Message
		for _, c := range p.Status.ContainerStatuses {
			if t := c.State.Terminated; t != nil {
				msg = strings.TrimSpace(fmt.Sprintf("exit code %d: %s", t.ExitCode, strings.TrimSpace(t.Message)))
			}
		}
		return true, true, msg
	}
	return false, false, ""
}
