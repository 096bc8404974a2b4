package paddleoperator

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSyncSource(t *testing.T) {
	for _, c := range []struct{ uri, endpoint, path, err string }{
		{"minio://minio-service.kubeflow:9000/datasets/icdar2015/", "http://minio-service.kubeflow:9000", "datasets/icdar2015/", ""},
		{"minio://minio-service.kubeflow:9000/datasets", "http://minio-service.kubeflow:9000", "datasets", ""},
		{"bos://paddleflow-public.hkg.bcebos.com/icdar2015/", "", "", "out of its reach"},
		{"s3://bucket/prefix/", "", "", "out of its reach"},
		{"minio://AK:SK@minio:9000/b/p/", "", "", "carries keys"},
		{"minio://minio:9000/", "", "", "names no bucket"},
		{"minio://minio:9000/b/../etc/", "", "", "'..'"},
		{"datasets/icdar2015", "", "", "not supported"},
	} {
		endpoint, path, err := syncSource(c.uri)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.uri, err, c.err)
			}
			if err != nil && strings.Contains(err.Error(), "SK") {
				t.Errorf("%s: the error shows the key: %v", c.uri, err)
			}
			continue
		}
		if err != nil || endpoint != c.endpoint || path != c.path {
			t.Errorf("%s: %q %q %v", c.uri, endpoint, path, err)
		}
	}
}

func TestSampleJobPods(t *testing.T) {
	yes := true
	owner := metav1.OwnerReference{APIVersion: "batch.paddlepaddle.org/v1alpha1", Kind: "SampleJob", Name: "icdar2015-sync", UID: "u1", Controller: &yes}
	job := &sampleJob{ObjectMeta: metav1.ObjectMeta{Name: "icdar2015-sync", Namespace: "kubeflow"}, Spec: sampleJobSpec{
		Type: jobSync, SampleSetRef: &secretRef{Name: "data-center"}, SecretRef: &secretRef{Name: "icdar2015"},
		SyncOptions: &syncOptions{Source: "minio://minio-service.kubeflow:9000/datasets/icdar2015/", Destination: "icdar2015"}}}
	pod, err := sampleJobPod(job, owner, "quay.io/minio/mc")
	if err != nil {
		t.Fatal(err)
	}
	if pod.Name != "icdar2015-sync" || pod.Namespace != "kubeflow" || metav1.GetControllerOf(pod).Name != "icdar2015-sync" {
		t.Errorf("pod %s/%s owners %v", pod.Namespace, pod.Name, pod.OwnerReferences)
	}
	c := pod.Spec.Containers[0]
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if env["DESTINATION"].Value != "/mnt/data-center/icdar2015" || env["SOURCE_PATH"].Value != "datasets/icdar2015/" ||
		env["ENDPOINT"].Value != "http://minio-service.kubeflow:9000" {
		t.Errorf("env %+v", c.Env)
	}
	// The keys come from the Secret, by reference: never on the command line.
	for _, k := range []string{"ACCESS_KEY", "SECRET_KEY"} {
		if r := env[k].ValueFrom; r == nil || r.SecretKeyRef == nil || r.SecretKeyRef.Name != "icdar2015" || env[k].Value != "" {
			t.Errorf("%s: %+v", k, env[k])
		}
	}
	if env["ACCESS_KEY"].ValueFrom.SecretKeyRef.Key != "access-key" || env["SECRET_KEY"].ValueFrom.SecretKeyRef.Key != "secret-key" {
		t.Error("the JuiceFS keys' names")
	}
	if c.VolumeMounts[0].MountPath != "/mnt/data-center" || pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-center" {
		t.Errorf("mount %+v volume %+v", c.VolumeMounts, pod.Spec.Volumes)
	}
	if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("security %+v", sc)
	}

	job.Spec.SyncOptions.Source = "bos://paddleflow-public.hkg.bcebos.com/icdar2015/"
	if _, err := sampleJobPod(job, owner, "mc"); err == nil || !strings.Contains(err.Error(), "out of its reach") {
		t.Errorf("bos source: %v", err)
	}
	job.Spec.SyncOptions.Source, job.Spec.SecretRef.Namespace = "minio://m:9000/b/", "other"
	if _, err := sampleJobPod(job, owner, "mc"); err == nil {
		t.Error("a Secret of another namespace")
	}

	job.Spec = sampleJobSpec{Type: jobWarmup, SampleSetRef: &secretRef{Name: "data-center"}, WarmupOptions: &warmupOptions{Paths: []string{"icdar2015"}}}
	pod, err = sampleJobPod(job, owner, "mc")
	if err != nil {
		t.Fatal(err)
	}
	if args := pod.Spec.Containers[0].Command; args[len(args)-1] != "/mnt/data-center/icdar2015" || args[3] != "warmup" {
		t.Errorf("warmup command %q", args)
	}
	job.Spec.WarmupOptions = nil
	if pod, _ := sampleJobPod(job, owner, "mc"); pod.Spec.Containers[0].Command[4] != "/mnt/data-center" {
		t.Errorf("warmup of the whole data: %q", pod.Spec.Containers[0].Command)
	}
	job.Spec = sampleJobSpec{Type: jobRmr, SampleSetRef: &secretRef{Name: "data-center"}}
	if _, err := sampleJobPod(job, owner, "mc"); err == nil {
		t.Error("rmr without paths")
	}
	job.Spec.RmrOptions = &pathOptions{Paths: []string{"../../etc"}}
	if _, err := sampleJobPod(job, owner, "mc"); err == nil {
		t.Error("rmr out of the data")
	}
	job.Spec.Type = "compact"
	if _, err := sampleJobPod(job, owner, "mc"); err == nil {
		t.Error("an unknown type")
	}
	if jobReason(jobSync) != "ErrorDoSyncJob" || jobReason(jobWarmup) != "ErrorDoWarmupJob" {
		t.Error("reasons")
	}
}

// The warmup and rmr scripts run as the pods run them, with sh.
func TestPathScriptsRun(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "icdar2015")
	if err := os.MkdirAll(filepath.Join(data, "imgs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"train_icdar2015_label.txt", "imgs/img_1.jpg"} {
		if err := os.WriteFile(filepath.Join(data, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(script string, args ...string) (string, error) {
		out, err := exec.Command(sh, append([]string{"-c", script, "job"}, args...)...).CombinedOutput()
		return string(out), err
	}
	if out, err := run(warmupScript, data); err != nil || !strings.Contains(out, "warmed up "+data) {
		t.Errorf("warmup: %v %s", err, out)
	}
	if out, err := run(warmupScript, filepath.Join(dir, "missing")); err == nil || !strings.Contains(out, "is not valid") {
		t.Errorf("warmup of a missing path: %v %s", err, out)
	}
	if out, err := run(rmrScript, filepath.Join(dir, "missing")); err == nil || !strings.Contains(out, "is not valid") {
		t.Errorf("rmr of a missing path: %v %s", err, out)
	}
	if out, err := run(rmrScript, data); err != nil {
		t.Errorf("rmr: %v %s", err, out)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("rmr left %s: %v", data, err)
	}
}

func TestSampleSetVolume(t *testing.T) {
	set := &sampleSet{ObjectMeta: metav1.ObjectMeta{Name: "data-center", Namespace: "kubeflow"}, Spec: sampleSetSpec{Partitions: 1}}
	pv, pvc := sampleSetVolume(set, "/var/lib/node/volumes/kubeflow/data-center")
	if pv.Name != "data-center" || pvc.Name != "data-center" || pvc.Namespace != "kubeflow" {
		t.Errorf("names %s %s/%s", pv.Name, pvc.Namespace, pvc.Name)
	}
	if pv.Labels["paddlepaddle.org/juicefs-data-center"] != "true" || pvc.Spec.Selector.MatchLabels["paddlepaddle.org/juicefs-data-center"] != "true" {
		t.Errorf("labels %v selector %v", pv.Labels, pvc.Spec.Selector)
	}
	if pv.Spec.StorageClassName != "paddle-operator" || *pvc.Spec.StorageClassName != "paddle-operator" ||
		pv.Spec.AccessModes[0] != corev1.ReadWriteMany || pvc.Spec.AccessModes[0] != corev1.ReadWriteMany {
		t.Errorf("class or modes: %+v %+v", pv.Spec, pvc.Spec)
	}
	size := pv.Spec.Capacity[corev1.ResourceStorage]
	if size.Cmp(resource.MustParse("10Pi")) != 0 || pv.Spec.HostPath.Path != "/var/lib/node/volumes/kubeflow/data-center" ||
		pv.Spec.ClaimRef.Namespace != "kubeflow" || pv.Annotations["CreatedBy"] != "paddle-operator" {
		t.Errorf("volume %+v", pv.Spec)
	}
	secret := &corev1.Secret{Data: map[string][]byte{"name": nil, "storage": nil, "access-key": nil}}
	if m := missingKeys(secret); strings.Join(m, ",") != "metaurl,bucket" {
		t.Errorf("missing %v", m)
	}
	if st := setRuntimeStatus(3); st.RuntimeReady != "3/3" || *st.ReadyReplicas != 3 {
		t.Errorf("runtime %+v", st)
	}
}

func TestCacheStatus(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1000: "1000 B", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), make([]byte, 2048), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d", "b"), make([]byte, 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	st := dirCacheStatus(dir)
	if st.TotalSize != "3.0 KiB" || st.CachedSize != "3.0 KiB" || st.TotalFiles != "2" || st.ErrorMassage != "" || st.DiskSize == "" {
		t.Errorf("status %+v", st)
	}
}

func TestPodOutcome(t *testing.T) {
	p := &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Message: "mc: <ERROR> Unable to read from `source/datasets/icdar2015/`\n"}}}}}}
	done, failed, msg := podOutcome(p)
	if !done || !failed || msg != "exit code 1: mc: <ERROR> Unable to read from `source/datasets/icdar2015/`" {
		t.Errorf("%v %v %q", done, failed, msg)
	}
	if done, _, _ := podOutcome(&corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning}}); done {
		t.Error("a running pod is done")
	}
	if done, failed, _ := podOutcome(&corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}); !done || failed {
		t.Error("succeeded")
	}
	if !runtimeUp(setReady) || !runtimeUp(setMount) || runtimeUp(setBound) || runtimeUp(setNone) {
		t.Error("runtimeUp")
	}
}
