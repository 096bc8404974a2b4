//go:build linux

package realnode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/internal/upstream"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

var argoOnce sync.Once

// argoWorkflows installs Argo Workflows once per run with `paddlex install
// --components argo-workflows`, from Argo's real install.yaml (kustomize
// build of manifests/cluster-install, as its release makes it), with the
// images built from the Argo module pushed under the names that file and
// the catalog use. The install waits for the controller and the server to
// become Available on the node.
func argoWorkflows(t *testing.T, e *testenv.Env) {
	t.Helper()
	var failed string
	argoOnce.Do(func() { failed = installArgo(t, e) })
	if failed != "" {
		t.Fatalf("install Argo Workflows: %s", failed)
	}
}

func installArgo(t *testing.T, e *testenv.Env) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pushed, err := e.Cluster.PushArgoImages(ctx, upstream.ArgoVersion)
	if err != nil {
		return err.Error()
	}
	installYAML, err := upstream.ArgoInstall()
	if err != nil {
		return err.Error()
	}
	// Every image the install runs, the manifests' and the catalog's (the
	// controller's default executor), is one that was pushed.
	var want []string
	for _, c := range install.Default().Components {
		if c.Name == "argo-workflows" {
			want = append(want, c.Images...)
		}
	}
	for _, doc := range strings.Split(string(installYAML), "\n---") {
		for _, line := range strings.Split(doc, "\n") {
			if ref, ok := strings.CutPrefix(strings.TrimSpace(line), "image: "); ok {
				want = append(want, ref)
			}
		}
	}
	if len(want) < 3 {
		return fmt.Sprintf("expected the controller, server and executor images, found %v", want)
	}
	for _, ref := range want {
		if !contains(pushed, ref) {
			return fmt.Sprintf("the install runs %s, which is not among the images built from the Argo module %v", ref, pushed)
		}
	}

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "argo-workflows"), 0o755); err != nil {
		return err.Error()
	}
	if err := os.WriteFile(filepath.Join(dir, "argo-workflows", "install.yaml"), installYAML, 0o644); err != nil {
		return err.Error()
	}
	r := e.RunContext(ctx, t, "install", "--components", "argo-workflows", "--manifests-dir", dir,
		"--artifact-cache", t.TempDir(), "--timeout", "4m")
	t.Logf("paddlex install --components argo-workflows:\n%s", r)
	if r.Code != 0 {
		return fmt.Sprintf("%s\nargo pods:\n%s\nkubelet log:\n%s", r, podsIn(e, "argo"), e.Log("kubelet", 30))
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// podsIn describes the pods of ns and the last lines of their logs, for
// failure messages.
func podsIn(e *testenv.Env, ns string) string {
	ctx := context.Background()
	pods, err := e.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "pod %s: %s", p.Name, p.Status.Phase)
		for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			switch {
			case cs.State.Waiting != nil:
				fmt.Fprintf(&b, "; %s waiting: %s %s", cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message)
			case cs.State.Terminated != nil:
				fmt.Fprintf(&b, "; %s exited %d: %s", cs.Name, cs.State.Terminated.ExitCode, cs.State.Terminated.Message)
			}
		}
		b.WriteString("\n")
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			log, _ := e.Clientset.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{Container: c.Name}).DoRaw(ctx)
			if len(log) > 0 {
				fmt.Fprintf(&b, "  %s log:\n%s\n", c.Name, tail(string(log), 15))
			}
		}
	}
	return b.String()
}

// taskVolume makes the PersistentVolume the run's task-volume claim
// (WORKFLOW-task-center, of storage class task-center) binds to: the node
// has no provisioner. The directory is the node's, removed with it.
func taskVolume(t *testing.T, e *testenv.Env, ns, workflow string) string {
	t.Helper()
	claim := workflow + "-" + pipeline.DefaultVolumeName
	dir := localcluster.VolumeDir(ns, claim)
	// Writable by the steps' non-root user, as localcluster.BoundClaim's
	// volumes are.
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: claim + "-" + ns},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(pipeline.DefaultVolumeSize)},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              pipeline.DefaultStorageClass,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &dirOrCreate}},
			ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: claim},
		},
	}
	if _, err := e.Clientset.CoreV1().PersistentVolumes().Create(context.Background(), pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.Clientset.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{})
	})
	return dir
}

// TestArgoRunsPipeline installs the real Argo Workflows and runs a
// pipeline with `paddlex pipeline run --watch`: the real workflow
// controller runs the DAG, argoexec runs the container step (its emissary)
// and the resource step (kubectl in-process) with the run's own account,
// the resource step's Job runs on the node and is owned by the Workflow,
// and the command exits 0 when the Workflow succeeds. A step broken on
// purpose then fails its run: the command exits 1 naming the step.
func TestArgoRunsPipeline(t *testing.T) {
	e := testenv.Get(t)
	argoWorkflows(t, e)
	ns := namespace(t, e)
	image := busybox(t)

	const ok = `apiVersion: paddlex.io/v1alpha1
kind: Pipeline
name: argo-steps
steps:
- name: write
  container:
    image: IMAGE
    command: [sh, -c]
    args: ["echo model-v1 > /mnt/task-center/model.txt"]
- name: check
  after: [write]
  resource:
    manifest:
      apiVersion: batch/v1
      kind: Job
      metadata:
        name: argo-check
      spec:
        backoffLimit: 0
        template:
          spec:
            restartPolicy: Never
            containers:
            - name: check
              image: IMAGE
              command: [sh, -c, "grep -x model-v1 /mnt/task-center/model.txt && echo checked"]
              volumeMounts:
              - {name: task, mountPath: /mnt/task-center}
            volumes:
            - name: task
              persistentVolumeClaim:
                claimName: "{{workflow.name}}-task-center"
    success_condition: SUCCESS
    failure_condition: FAILURE
`
	file := filepath.Join(t.TempDir(), "pipeline.yaml")
	spec := strings.NewReplacer("IMAGE", image, "SUCCESS", pipeline.JobSuccess, "FAILURE", pipeline.JobFailure).Replace(ok)
	if err := os.WriteFile(file, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	vol := taskVolume(t, e, ns, "argo-steps")
	start := time.Now()
	r := e.Run(t, "pipeline", "run", "-f", file, "-n", ns, "--watch", "--timeout", "5m")
	t.Logf("pipeline run (%s):\n%s", time.Since(start).Round(time.Second), r)
	if r.Code != 0 {
		t.Fatalf("pipeline run: %s\npods:\n%s\nargo:\n%s", r, podsIn(e, ns), podsIn(e, "argo"))
	}
	for _, step := range []string{"write", "check"} {
		if !strings.Contains(r.Stdout, step) {
			t.Errorf("the watch never showed step %s:\n%s", step, r.Stdout)
		}
	}
	// The container step wrote on the task volume; the Job read it there.
	if b, err := os.ReadFile(filepath.Join(vol, "model.txt")); err != nil || string(b) != "model-v1\n" {
		t.Errorf("model.txt on the task volume: %q %v", b, err)
	}

	wfRef := kube.ObjectRef{GVK: schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: "Workflow"}, Namespace: ns, Name: "argo-steps"}
	wf := e.Get(t, wfRef)
	if wf == nil {
		t.Fatal("the Workflow is gone")
	}
	if phase, _, _ := unstructured.NestedString(wf.Object, "status", "phase"); phase != "Succeeded" {
		t.Errorf("Workflow phase %q", phase)
	}
	// The resource step's Job exists, completed, and is owned by the
	// Workflow, as the step renders it (set_owner_reference defaults to
	// true for create), with paddlex's labels.
	job, err := e.Clientset.BatchV1().Jobs(ns).Get(context.Background(), "argo-check", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the resource step's Job: %v", err)
	}
	if job.Status.Succeeded < 1 {
		t.Errorf("Job argo-check: %+v", job.Status)
	}
	if own := job.OwnerReferences; len(own) != 1 || own[0].Kind != "Workflow" || own[0].Name != "argo-steps" || own[0].UID != wf.GetUID() {
		t.Errorf("Job argo-check owners %+v, want the Workflow %s", own, wf.GetUID())
	}
	if job.Labels["app.kubernetes.io/managed-by"] != "paddlex" || job.Labels[pipeline.LabelPipeline] != "argo-steps" {
		t.Errorf("Job argo-check labels %v", job.Labels)
	}
	logs, err := e.Clientset.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "job-name=argo-check"})
	if err != nil || len(logs.Items) != 1 {
		t.Fatalf("the Job's pod: %v %v", logs, err)
	}
	if b, _ := e.Clientset.CoreV1().Pods(ns).GetLogs(logs.Items[0].Name, &corev1.PodLogOptions{}).DoRaw(context.Background()); !strings.Contains(string(b), "checked") {
		t.Errorf("the Job's log: %s", b)
	}

	// A step broken on purpose: the command exits 1 and names it, with
	// the step's own exit.
	const broken = `apiVersion: paddlex.io/v1alpha1
kind: Pipeline
name: argo-broken
steps:
- name: write
  container:
    image: IMAGE
    command: [sh, -c]
    args: ["echo model-v1 > /mnt/task-center/model.txt"]
- name: evaluate
  after: [write]
  container:
    image: IMAGE
    command: [sh, -c]
    args: ["echo 'accuracy below threshold' >&2; exit 3"]
`
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(broken, "IMAGE", image)), 0o644); err != nil {
		t.Fatal(err)
	}
	taskVolume(t, e, ns, "argo-broken")
	r = e.Run(t, "pipeline", "run", "-f", file, "-n", ns, "--watch", "--timeout", "5m")
	t.Logf("pipeline run of the broken pipeline:\n%s", r)
	if r.Code != 1 || !strings.Contains(r.Stderr, "at step evaluate") || !strings.Contains(r.Stderr, "exit code 3") {
		t.Fatalf("the broken pipeline: %s\npods:\n%s", r, podsIn(e, ns))
	}
	// And the end of the step's own log, read from its pod's main container.
	if !regexp.MustCompile(`the last lines of pod argo-broken-evaluate-\S+ \(container main, exited with code 3[^\n]*\n\s+accuracy below threshold`).MatchString(r.Stderr) {
		t.Errorf("the broken pipeline's output lacks the step's log:\n%s", r.Stderr)
	}
}
