package modelhub_test

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paddleflow/paddlex/internal/testenv"
)

// The in-cluster push on the simulated cluster: the real Job controller
// creates the pod, the scheduler binds it (its PVC bound by the real PV
// controller), kwok runs it to completion, and the command waits for the
// Job and exits 0.
func TestPushJobCompletesOnTheSimulatedCluster(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	e.Apply(t, ns, `apiVersion: v1
kind: Secret
metadata:
  name: data-center
stringData:
  access-key: minio
  secret-key: minio123
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: task-`+ns+`
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteMany]
  storageClassName: ""
  hostPath: {path: /tmp/task-center}
  claimRef: {namespace: `+ns+`, name: ppocr-det}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: ppocr-det
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: task-`+ns+`
  resources: {requests: {storage: 1Gi}}`)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	r := e.RunContext(ctx, t, "modelhub", "push", "ppocr-det", "--model-name", "ppocr-det", "--model-version", "v1",
		"--pvc-name", "ppocr-det", "-n", ns, "--timeout", "60s")
	if r.Code != 0 {
		t.Fatalf("%s\nkube-controller-manager:\n%s\nkube-scheduler:\n%s\nkwok:\n%s", r,
			e.Log("kube-controller-manager", 30), e.Log("kube-scheduler", 20), e.Log("kwok", 20))
	}
	if !strings.Contains(r.Stdout, "model ppocr-det:v1 pushed from PVC ppocr-det by Job "+ns+"/ppocr-det-model-hub") ||
		!strings.Contains(r.Stdout, "http://minio-service.kubeflow:9000/model-center/ppocr-det/v1/ppocr-det.tar.gz") {
		t.Errorf("stdout:\n%s", r.Stdout)
	}
	job, err := e.Clientset.BatchV1().Jobs(ns).Get(context.Background(), "ppocr-det-model-hub", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	complete := false
	for _, c := range job.Status.Conditions {
		complete = complete || c.Type == batchv1.JobComplete && c.Status == "True"
	}
	if !complete || job.Status.Succeeded != 1 {
		t.Fatalf("job status = %+v", job.Status)
	}
	pods, _ := e.Clientset.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=ppocr-det-model-hub"})
	if len(pods.Items) != 1 || pods.Items[0].Spec.NodeName != testenv.FakeNodeName {
		t.Fatalf("pods = %d (want one, scheduled on %s)", len(pods.Items), testenv.FakeNodeName)
	}
	for _, env := range pods.Items[0].Spec.Containers[0].Env {
		if env.Value == "minio123" || env.Value == "minio" {
			t.Errorf("a key is inlined in the pod: %s", env.Name)
		}
	}

	// Pushing again replaces the finished Job with a new run.
	r = e.RunContext(ctx, t, "modelhub", "push", "ppocr-det", "--model-name", "ppocr-det", "--model-version", "v1",
		"--pvc-name", "ppocr-det", "-n", ns, "--timeout", "60s")
	if r.Code != 0 || !strings.Contains(r.Stderr, "replacing the finished") {
		t.Fatalf("second push: %s", r)
	}

	// The upload script's exit code 2 (the version exists) stops the Job at
	// once through its pod failure policy, and the command exits 2.
	r = e.RunContext(ctx, t, "modelhub", "push", "exists", "--model-name", "ppocr-det", "--model-version", "v1",
		"--pvc-name", "ppocr-det", "-n", ns, "--timeout", "60s", "--image", "example.invalid/mc:exit-2")
	if r.Code != 2 || !strings.Contains(r.Stderr, "already exists") || !strings.Contains(r.Stderr, "--force") {
		t.Fatalf("existing version: %s\nkube-controller-manager:\n%s", r, e.Log("kube-controller-manager", 20))
	}
	failed, err := e.Clientset.BatchV1().Jobs(ns).Get(context.Background(), "exists-model-hub", metav1.GetOptions{})
	if err != nil || failed.Status.Failed != 1 {
		t.Fatalf("the failed Job was retried or is gone: %v %+v", err, failed.Status)
	}

	// A missing PVC is a precondition, found before anything is applied.
	r = e.RunContext(ctx, t, "modelhub", "push", "other", "--model-name", "m", "--pvc-name", "missing", "-n", ns)
	if r.Code != 4 || !strings.Contains(r.Stderr, "--pvc-name: PersistentVolumeClaim "+ns+"/missing does not exist") {
		t.Fatalf("missing PVC: %s", r)
	}
}

// Keys read from the cluster Secret when no flag, variable or config sets them.
func TestKeysFromTheClusterSecret(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	srv := startS3(t)
	e.Apply(t, ns, `apiVersion: v1
kind: Secret
metadata:
  name: data-center
stringData:
  access-key: `+srv.AccessKey+`
  secret-key: `+srv.SecretKey)
	file, _ := writeArchive(t, 100)
	r := e.Run(t, "modelhub", "push", "m:v1", "--from-file", file, "--endpoint", srv.Endpoint, "-n", ns)
	if r.Code != 0 || strings.Contains(r.Stdout+r.Stderr, srv.SecretKey) {
		t.Fatalf("%s", r)
	}
	r = e.Run(t, "modelhub", "versions", "m", "--endpoint", srv.Endpoint, "-n", ns)
	if r.Code != 0 || !strings.Contains(r.Stdout, "v1") {
		t.Fatalf("%s", r)
	}
}
