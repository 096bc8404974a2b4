//go:build linux

package realnode

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
)

// rendered returns the Jobs `paddlex train create --dry-run=client` prints,
// by name: the bytes it would apply.
func rendered(t *testing.T, e *testenv.Env, args ...string) map[string]*unstructured.Unstructured {
	t.Helper()
	r := e.Run(t, append(args, "--dry-run=client", "-o", "yaml")...)
	if r.Code != 0 {
		t.Fatalf("render: %s", r)
	}
	jobs := map[string]*unstructured.Unstructured{}
	for _, doc := range strings.Split(r.Stdout, "\n---") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil || u.GetKind() != "Job" {
			continue
		}
		jobs[u.GetName()] = u
	}
	return jobs
}

// runJob applies a Job and waits, by watch, for it to complete or fail;
// it returns the final Job and its pod's log through the API server.
func runJob(t *testing.T, e *testenv.Env, job *unstructured.Unstructured) (*batchv1.Job, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e.Apply(t, "", mustYAML(t, job))
	ns, name := job.GetNamespace(), job.GetName()
	w, err := e.Clientset.BatchV1().Jobs(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var done *batchv1.Job
	for ev := range w.ResultChan() {
		j, ok := ev.Object.(*batchv1.Job)
		if !ok {
			continue
		}
		for _, c := range j.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				done = j
			}
		}
		if done != nil {
			break
		}
	}
	if done == nil {
		t.Fatalf("Job %s/%s did not finish: %v\nkubelet log:\n%s", ns, name, ctx.Err(), e.Log("kubelet", 30))
	}
	pods, err := e.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + name})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods of Job %s: %v", name, err)
	}
	rc, err := e.Clientset.CoreV1().Pods(ns).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{}).Stream(ctx)
	if err != nil {
		t.Fatalf("logs of %s through the API server: %v", pods.Items[0].Name, err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return done, string(b)
}

func mustYAML(t *testing.T, u *unstructured.Unstructured) string {
	t.Helper()
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func succeeded(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// TestExportAndConvertJobsRun runs the export and serving-conversion Jobs
// paddlex renders for the PP-OCR example on the real node: the stand-in
// suite's export_model.py and paddle_serving_client.convert run the
// rendered command lines against the task volume, and the convert Job's
// shell packs the serving model with tar.
func TestExportAndConvertJobsRun(t *testing.T) {
	e := testenv.Get(t)
	ns := namespace(t, e)
	claim(t, e, ns, "task-center")
	suiteImage(t, e, ocrImage)
	// What training leaves on the task volume.
	vol := localcluster.VolumeDir(ns, "task-center")
	if err := os.MkdirAll(filepath.Join(vol, "models"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "models", "best_accuracy.pdparams"), []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}

	jobs := rendered(t, e, "train", "create", "ppocr-det", "-n", ns, "--project", "PaddleOCR", "--backend", "training-operator",
		"--image", ocrImage, "--config-path", "configs/det/det_mv3_db.yml", "--pvc-name", "task-center",
		"--worker-replicas", "1", "--config-change", "Global.epoch_num=10")
	for _, name := range []string{"ppocr-det-inference-convert", "ppocr-det-serving-convert"} {
		job := jobs[name]
		if job == nil {
			t.Fatalf("no Job %s rendered; got %v", name, jobs)
		}
		done, log := runJob(t, e, job)
		if !succeeded(done) {
			t.Fatalf("Job %s failed: %+v\nlog:\n%s", name, done.Status, log)
		}
		t.Logf("Job %s completed; log:\n%s", name, log)
		if name == "ppocr-det-inference-convert" && !strings.Contains(log, "inference model is saved to /mnt/task-center/inference/inference") {
			t.Errorf("export log:\n%s", log)
		}
	}

	f, err := os.Open(filepath.Join(vol, "ppocr-det.tar.gz"))
	if err != nil {
		t.Fatalf("the convert Job left no archive: %v", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	if got := strings.Join(names, "\n"); !strings.Contains(got, "ppocr-det/server/inference.pdmodel") ||
		!strings.Contains(got, "ppocr-det/client/serving_client_conf.prototxt") {
		t.Errorf("archive holds:\n%s", got)
	}
}
