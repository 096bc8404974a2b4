//go:build linux

// Package realnode runs paddlex's rendered workloads on a real node: a real
// kubelet, containerd and runc run the containers, a CNI bridge wires them,
// kube-proxy and CoreDNS serve Services, and every image comes from a
// registry inside the node's network namespace. `make e2e` runs it.
package realnode

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{RealNode: true}))
}

// busybox pushes the busybox image under an upstream name and returns it.
func busybox(t *testing.T) string {
	t.Helper()
	const ref = "docker.io/library/busybox:1.36"
	img, err := localcluster.BusyboxImage()
	if err != nil {
		t.Fatal(err)
	}
	if err := localcluster.PushImage(context.Background(), ref, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

// runPod runs a one-container pod to its end and returns its phase and
// log, read through the API server from the kubelet.
func runPod(t *testing.T, e *testenv.Env, ns, image string, command ...string) (corev1.PodPhase, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: image, Command: command}}},
	}
	if _, err := e.Clientset.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := e.Clientset.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=probe"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var phase corev1.PodPhase
	for ev := range w.ResultChan() {
		if p, ok := ev.Object.(*corev1.Pod); ok && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) {
			phase = p.Status.Phase
			break
		}
	}
	if phase == "" {
		t.Fatalf("pod did not finish: %v\nkubelet log:\n%s", ctx.Err(), e.Log("kubelet", 40))
	}
	rc, err := e.Clientset.CoreV1().Pods(ns).GetLogs("probe", &corev1.PodLogOptions{}).Stream(ctx)
	if err != nil {
		t.Fatalf("logs through the API server: %v", err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return phase, string(b)
}

func TestPodRunsAndLogs(t *testing.T) {
	e := testenv.Get(t)
	image := busybox(t)
	phase, log := runPod(t, e, e.Namespace(t), image, "sh", "-c", "echo hello from $(hostname); cat /proc/self/cgroup | head -1")
	if phase != corev1.PodSucceeded || !strings.Contains(log, "hello from probe") {
		t.Fatalf("phase %s, log:\n%s", phase, log)
	}
}

func TestServiceNamesResolve(t *testing.T) {
	e := testenv.Get(t)
	image := busybox(t)
	phase, log := runPod(t, e, e.Namespace(t), image, "nslookup", "kube-dns.kube-system")
	if phase != corev1.PodSucceeded || !strings.Contains(log, localcluster.ClusterDNS) {
		t.Fatalf("phase %s, log:\n%s\ncoredns log:\n%s", phase, log, e.Log("coredns", 20))
	}
}
