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
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
)

// TestMain starts the node with paddle-operator's CRDs, which the
// paddle-operator stand-in acts on (test/standin/paddleoperator).
func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{RealNode: true, CRDs: []string{testenv.CRDsPaddle}}))
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

// namespace makes a namespace for one test and waits, by watch, for its
// default service account, without which the API server admits no pod.
func namespace(t *testing.T, e *testenv.Env) string {
	t.Helper()
	ns := e.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := e.Clientset.CoreV1().ServiceAccounts(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=default"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if _, ok := ev.Object.(*corev1.ServiceAccount); ok {
			return ns
		}
	}
	t.Fatalf("no service account %s/default: %v\nkube-controller-manager log:\n%s", ns, ctx.Err(), e.Log("kube-controller-manager", 20))
	return ""
}

// claim binds PersistentVolumeClaim ns/name to a volume on the node
// (localcluster.BoundClaim) and deletes the volume when the test ends.
func claim(t *testing.T, e *testenv.Env, ns, name string) {
	t.Helper()
	pv, err := localcluster.BoundClaim(context.Background(), e.Clientset, ns, name)
	if pv != "" {
		t.Cleanup(func() {
			_ = e.Clientset.CoreV1().PersistentVolumes().Delete(context.Background(), pv, metav1.DeleteOptions{})
		})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// goBinary builds a main package of this module, statically, and returns
// the binary's path.
func goBinary(t *testing.T, pkg, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	build := exec.Command("go", "build", "-trimpath", "-o", bin, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// readFile returns a file's content.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// probeImage pushes the probe (test/realnode/probe) on busybox and returns
// its name.
func probeImage(t *testing.T) string {
	t.Helper()
	const ref = "registry.paddlex.test/probe:latest"
	base, err := localcluster.BusyboxImage()
	if err != nil {
		t.Fatal(err)
	}
	img, err := localcluster.BinaryImage(base, goBinary(t, "github.com/paddleflow/paddlex/test/realnode/probe", "probe"))
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
	return runPodSpec(t, e, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "main", Image: image, Command: command}}},
	})
}

// runPodSpec creates pod and waits, by watch, for it to end; it returns
// the phase and the log of its first container.
func runPodSpec(t *testing.T, e *testenv.Env, pod *corev1.Pod) (corev1.PodPhase, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns, name := pod.Namespace, pod.Name
	if _, err := e.Clientset.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	phase := waitPod(t, ctx, e, ns, name, func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
	}).Status.Phase
	rc, err := e.Clientset.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).Stream(ctx)
	if err != nil {
		t.Fatalf("logs through the API server: %v", err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return phase, string(b)
}

// waitPod waits, by watch, until pod ns/name satisfies done, and returns it.
func waitPod(t *testing.T, ctx context.Context, e *testenv.Env, ns, name string, done func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	w, err := e.Clientset.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		if p, ok := ev.Object.(*corev1.Pod); ok && done(p) {
			return p
		}
	}
	t.Fatalf("pod %s/%s: %v\nkubelet log:\n%s", ns, name, ctx.Err(), e.Log("kubelet", 40))
	return nil
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func TestPodRunsAndLogs(t *testing.T) {
	e := testenv.Get(t)
	image := busybox(t)
	phase, log := runPod(t, e, namespace(t, e), image, "sh", "-c", "echo hello from $(hostname); cat /proc/self/cgroup | head -1")
	if phase != corev1.PodSucceeded || !strings.Contains(log, "hello from probe") {
		t.Fatalf("phase %s, log:\n%s", phase, log)
	}
}

// TestServiceNamesResolve reaches a Service by NAME.NAMESPACE from a pod,
// as a pod reaches minio-service.kubeflow: the pod's resolver searches the
// cluster domains, CoreDNS answers behind the kube-dns Service, and
// kube-proxy's rules carry the connection to the Service's pod.
func TestServiceNamesResolve(t *testing.T) {
	e := testenv.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := namespace(t, e)
	image := busybox(t)
	labels := map[string]string{"app": "web"}
	web := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "httpd", Image: image,
			Command:        []string{"sh", "-c", "mkdir /www && echo served by $(hostname) > /www/index.html && exec httpd -f -p 8080 -h /www"},
			Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}, PeriodSeconds: 1},
		}}},
	}
	if _, err := e.Clientset.CoreV1().Pods(ns).Create(ctx, web, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: labels,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
	}
	if _, err := e.Clientset.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, ctx, e, ns, "web", ready)

	url := "http://web." + ns + "/"
	phase, log := runPod(t, e, ns, probeImage(t), "probe", "get", url)
	if phase != corev1.PodSucceeded || !strings.Contains(log, "served by web") {
		t.Fatalf("GET %s from a pod: phase %s, log:\n%s\ncoredns log:\n%s\nkube-proxy log:\n%s",
			url, phase, log, e.Log("coredns", 20), e.Log("kube-proxy", 20))
	}
}

// TestPodsReachTheAPIServer lists through the in-cluster configuration from
// a pod, as every controller paddlex installs does: the pod gets its
// service account's token and the cluster's CA, reaches the API server at
// the kubernetes Service's address, and the serving certificate names it.
func TestPodsReachTheAPIServer(t *testing.T) {
	e := testenv.Get(t)
	ctx := context.Background()
	ns := namespace(t, e)
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "read-configmaps", Namespace: ns},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list"}}},
	}
	if _, err := e.Clientset.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "read-configmaps", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "default"}},
	}
	if _, err := e.Clientset.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	phase, log := runPod(t, e, ns, probeImage(t), "probe", "configmaps")
	if phase != corev1.PodSucceeded || !strings.Contains(log, "API server https://"+localcluster.KubernetesServiceIP+":443") ||
		!strings.Contains(log, "configmap "+ns+"/kube-root-ca.crt") {
		t.Fatalf("phase %s, log:\n%s", phase, log)
	}
}
