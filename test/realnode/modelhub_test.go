//go:build linux

package realnode

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// binaryImage pushes busybox with the testbin binary name at dest as ref.
func binaryImage(t *testing.T, e *testenv.Env, name, dest, ref string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Cluster.Bin, name))
	if err != nil {
		t.Fatalf("%v (run hack/testbin.sh node)", err)
	}
	layer, err := localcluster.Layer([]localcluster.File{{Path: dest, Mode: 0o755, Content: b}})
	if err != nil {
		t.Fatal(err)
	}
	base, err := localcluster.BusyboxImage()
	if err != nil {
		t.Fatal(err)
	}
	img, err := localcluster.Image(base, []v1.Layer{layer}, v1.Config{Entrypoint: []string{dest}})
	if err != nil {
		t.Fatal(err)
	}
	if err := localcluster.PushImage(context.Background(), ref, img); err != nil {
		t.Fatal(err)
	}
}

// TestModelhubPushRunsMC installs MinIO with paddlex install-standalone
// (its Deployment and Service, the image built from the MinIO module) and
// pushes a model version with `paddlex modelhub push`: the real
// mc, in the upload Job paddlex renders, reaches minio-service.kubeflow by
// name and uploads the archive and its record. Pushing the same version
// again fails, as versions are immutable.
func TestModelhubPushRunsMC(t *testing.T) {
	e := testenv.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	access, secret := platform(t, e)
	ns := namespace(t, e)
	modelCenterKeys(t, e, ns, access, secret)
	claim(t, e, ns, "task-center")
	archive := []byte("a serving model archive\n")
	vol := localcluster.VolumeDir(ns, "task-center")
	if err := os.MkdirAll(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "ppocr-det.tar.gz"), archive, 0o644); err != nil {
		t.Fatal(err)
	}

	push := []string{"modelhub", "push", "up", "-n", ns, "--model-name", "ppocr-det", "--model-version", "v1",
		"--pvc-name", "task-center", "--framework", "PaddleOCR", "--timeout", "5m"}
	r := e.Run(t, push...)
	if r.Code != 0 {
		t.Fatalf("modelhub push: %s\nupload pods:\n%s\nminio log:\n%s", r, podLog(t, e, ns, paddle.LabelModel+"=ppocr-det"), podLog(t, e, "kubeflow", "app=minio"))
	}

	// What landed in MinIO, read from the test through the S3 API at the
	// pod's address (the tests run in the node's network namespace).
	pods, err := e.Clientset.CoreV1().Pods("kubeflow").List(ctx, metav1.ListOptions{LabelSelector: "app=minio"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("MinIO pod: %v", err)
	}
	s3, err := minio.New(net.JoinHostPort(pods.Items[0].Status.PodIP, "9000"), &minio.Options{Creds: credentials.NewStaticV4(access, secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s3.GetObject(ctx, modelhub.Bucket, "ppocr-det/v1/ppocr-det.tar.gz", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read the pushed archive: %v", err)
	}
	if string(got) != string(archive) {
		t.Errorf("pushed archive holds %q", got)
	}
	rec, err := s3.GetObject(ctx, modelhub.Bucket, "ppocr-det/v1/model.json", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	record, err := io.ReadAll(rec)
	if err != nil {
		t.Fatalf("read model.json: %v", err)
	}
	sum := sha256.Sum256(archive)
	if !strings.Contains(string(record), `"sha256":"`+hex.EncodeToString(sum[:])+`"`) || !strings.Contains(string(record), `"framework":"PaddleOCR"`) {
		t.Errorf("model.json: %s", record)
	}

	r = e.Run(t, append([]string{"modelhub", "push", "again"}, push[3:]...)...)
	if r.Code == 0 || !strings.Contains(r.Stdout+r.Stderr, "already exists and versions are immutable") {
		t.Fatalf("pushing v1 again: %s", r)
	}
}

// podLog returns the tail of the first matching pod's log.
func podLog(t *testing.T, e *testenv.Env, ns, selector string) string {
	t.Helper()
	ctx := context.Background()
	pods, err := e.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil || len(pods.Items) == 0 {
		return "no pod"
	}
	var out strings.Builder
	for _, p := range pods.Items {
		b, _ := e.Clientset.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
		fmt.Fprintf(&out, "--- pod %s (%s):\n%s\n", p.Name, p.Status.Phase, tail(string(b), 30))
	}
	return out.String()
}
