package open_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/portforward/portforwardtest"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{CRDs: []string{testenv.CRDsKnative, testenv.CRDsArgo}}))
}

// standIn starts the kubelet stand-in and registers it as a node: the API
// server forwards the portforward subresource of pods bound to that node
// to it, as it would to a kubelet.
func standIn(t *testing.T, e *testenv.Env) (*portforwardtest.Kubelet, string) {
	t.Helper()
	k := portforwardtest.NewKubelet()
	t.Cleanup(k.Close)
	node := "stand-in-" + strings.ToLower(rand.String(6))
	if err := k.Node(context.Background(), e.Clientset, node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Clientset.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{}) })
	return k, node
}

// platformNamespace creates a namespace the install would, if missing.
func platformNamespace(t *testing.T, e *testenv.Env, name string) {
	t.Helper()
	_, err := e.Clientset.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// backend puts a Service and a Running, Ready pod bound to the stand-in's
// node, whose port the stand-in pipes to addr: the component as the
// install would run it, its process played by a real HTTP server.
func backend(t *testing.T, e *testenv.Env, k *portforwardtest.Kubelet, node, ns, service, pod string, svcPort, podPort int32, labels map[string]string, addr string) {
	t.Helper()
	ctx := context.Background()
	if service != "" {
		_, err := e.Clientset.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: service, Namespace: ns},
			Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Name: "http", Port: svcPort, TargetPort: intstr.FromInt32(podPort)}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Clientset.CoreV1().Services(ns).Delete(ctx, service, metav1.DeleteOptions{}) })
	}
	p, err := e.Clientset.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "stand-in", Ports: []corev1.ContainerPort{{ContainerPort: podPort}}}}}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zero := int64(0)
	t.Cleanup(func() {
		_ = e.Clientset.CoreV1().Pods(ns).Delete(ctx, pod, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if _, err := e.Clientset.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	k.Route(ns, pod, podPort, addr)
}

// opened is a running `paddlex open`.
type opened struct {
	URL    string
	stdout *testenv.Output
	stop   context.CancelFunc
	run    *testenv.T
	result testenv.Result
}

// open runs paddlex open in the background until it prints its URL.
func open(t *testing.T, e *testenv.Env, args ...string) *opened {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	o := &opened{stdout: testenv.NewOutput(), stop: cancel}
	o.run = testenv.Background(t, func(bg *testenv.T) {
		o.result = e.RunWith(ctx, bg, func(f *cmdutil.Factory) { f.Streams.Out = io.MultiWriter(f.Streams.Out, o.stdout) }, append([]string{"open"}, args...)...)
	})
	t.Cleanup(cancel)
	wait, done := context.WithTimeout(context.Background(), time.Minute)
	defer done()
	if !o.stdout.Await(wait, o.run.Done(), "\n") {
		cancel()
		o.run.Wait()
		t.Fatalf("paddlex open %s printed no URL:\n%s", strings.Join(args, " "), o.result)
	}
	o.URL = strings.SplitN(o.stdout.String(), "\n", 2)[0]
	return o
}

// close interrupts the command, as Ctrl-C does, and returns what it did.
func (o *opened) close(t *testing.T) testenv.Result {
	t.Helper()
	o.stop()
	o.run.Wait()
	return o.result
}

// get fetches path at the URL's origin.
func get(t *testing.T, raw, path string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Path, u.RawQuery = path, ""
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test servers' own certificates
	resp, err := c.Get(u.String())
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestOpenMinIOThroughTheAPIServer(t *testing.T) {
	e := testenv.Get(t)
	k, node := standIn(t, e)
	console := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "minio console %s", r.URL.Path) }))
	defer console.Close()
	platformNamespace(t, e, "kubeflow")
	backend(t, e, k, node, "kubeflow", "minio-service", "minio-0", 9001, 9001, map[string]string{"app": "minio"}, strings.TrimPrefix(console.URL, "http://"))

	o := open(t, e, "minio", "-n", "kubeflow")
	if !strings.HasPrefix(o.URL, "http://127.0.0.1:") {
		t.Errorf("URL %s", o.URL)
	}
	if got := get(t, o.URL, "/browser/models"); got != "minio console /browser/models" {
		t.Errorf("the console answered %q", got)
	}
	r := o.close(t)
	if r.Code != 0 || !strings.Contains(r.Stderr, "to service kubeflow/minio-service (pod kubeflow/minio-0 port 9001)") {
		t.Errorf("%s", r)
	}
	// The API server, not a shortcut, reached the stand-in.
	if got := k.Requests(); len(got) == 0 || got[0] != "kubeflow/minio-0:9001" {
		t.Errorf("the kubelet stand-in saw %v", got)
	}
}

// userToken makes a service account with the rights the pipeline UI's
// user needs here and returns a kubeconfig that signs in with its token,
// and the token.
func userToken(t *testing.T, e *testenv.Env, ns string) (string, string) {
	t.Helper()
	ctx := context.Background()
	sa, err := e.Clientset.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "alice"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	crb := "open-test-" + ns
	_, err = e.Clientset.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: crb},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: ns}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Clientset.RbacV1().ClusterRoleBindings().Delete(ctx, crb, metav1.DeleteOptions{}) })
	tr, err := e.Clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa.Name, &authv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, e.Config.CAData, 0o600); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, certificate-authority: %q}}]
users: [{name: alice, user: {token: %q}}]
contexts: [{name: x, context: {cluster: c, user: alice}}]
current-context: x
`, e.Config.Host, ca, tr.Status.Token)
	if err := os.WriteFile(kc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return kc, tr.Status.Token
}

func TestOpenPipelinesOnARunWithTheUsersOwnToken(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	k, node := standIn(t, e)
	ui := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "argo ui %s", r.URL.Path) }))
	defer ui.Close()
	platformNamespace(t, e, "argo")
	app := map[string]string{"app": "argo-server"}
	dep, err := e.Clientset.AppsV1().Deployments("argo").Create(context.Background(), &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "argo-server", Namespace: "argo"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: app}, Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: app},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "argo-server", Image: "quay.io/argoproj/argocli:v3.7.9", Args: []string{"server", "--auth-mode=client"}}}}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.Clientset.AppsV1().Deployments("argo").Delete(context.Background(), dep.Name, metav1.DeleteOptions{})
	})
	backend(t, e, k, node, "argo", "argo-server", "argo-server-0", 2746, 2746, app, strings.TrimPrefix(ui.URL, "https://"))
	e.Apply(t, ns, `apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: ppocr-det-x7k2p
  labels: {paddlex.io/pipeline: ppocr-det}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {image: busybox, command: ["true"]}
`)
	kc, token := userToken(t, e, ns)

	o := open(t, e, "pipelines", "ppocr-det-x7k2p", "-n", ns, "--kubeconfig", kc, "--show-token")
	if want := "/workflows/" + ns + "/ppocr-det-x7k2p"; !strings.HasPrefix(o.URL, "https://127.0.0.1:") || !strings.HasSuffix(o.URL, want) {
		t.Errorf("URL %s, want https://127.0.0.1:PORT%s", o.URL, want)
	}
	if got := get(t, o.URL, "/workflows/"+ns+"/ppocr-det-x7k2p"); got != "argo ui /workflows/"+ns+"/ppocr-det-x7k2p" {
		t.Errorf("the UI answered %q", got)
	}
	r := o.close(t)
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if r.Code != 0 || len(lines) != 2 || lines[1] != "Bearer "+token {
		t.Errorf("--show-token: the second line is not the kubeconfig's own token:\n%s", r)
	}
	if strings.Contains(r.Stderr, token) {
		t.Errorf("the token reached stderr")
	}

	// Without --show-token the token appears nowhere.
	o = open(t, e, "pipelines", "-n", ns, "--kubeconfig", kc)
	r = o.close(t)
	if r.Code != 0 || strings.Contains(r.Stdout+r.Stderr, token) || !strings.Contains(r.Stderr, `its login box takes "Bearer <token>"`) {
		t.Errorf("%s", r)
	}
	if got := strings.TrimSpace(r.Stdout); !strings.HasSuffix(got, "/workflows/"+ns) {
		t.Errorf("without RUN the UI opens on the namespace: %s", got)
	}

	// A run that does not exist, and a user signing in with a certificate.
	if r := e.Run(t, "open", "pipelines", "absent", "-n", ns); r.Code != 1 || !strings.Contains(r.Stderr, "pipeline run "+ns+"/absent does not exist") {
		t.Errorf("absent run: %s", r)
	}
	if r := e.Run(t, "open", "pipelines", "-n", ns, "--show-token"); r.Code != 4 || !strings.Contains(r.Stderr, "kubectl create token") {
		t.Errorf("client certificate: %s", r)
	}
}

func TestOpenServeThroughTheGatewayAndTheRevision(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	k, node := standIn(t, e)
	// The gateway routes by Host; the model server answers.
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "gateway routed %s%s", r.Host, r.URL.Path)
	}))
	defer gateway.Close()
	model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "revision ppocr-det-v2 %s", r.URL.Path) }))
	defer model.Close()

	platformNamespace(t, e, "knative-serving")
	platformNamespace(t, e, "kourier-system")
	e.Apply(t, "knative-serving", `apiVersion: v1
kind: ConfigMap
metadata: {name: config-network}
data: {ingress-class: kourier.ingress.networking.knative.dev}
`)
	backend(t, e, k, node, "kourier-system", "kourier", "kourier-gateway-0", 80, 8080, map[string]string{"app": "3scale-kourier-gateway"}, strings.TrimPrefix(gateway.URL, "http://"))
	backend(t, e, k, node, ns, "", "ppocr-det-v2-deployment-0", 0, 8012, map[string]string{"serving.knative.dev/revision": "ppocr-det-v2"}, strings.TrimPrefix(model.URL, "http://"))
	e.Apply(t, ns, `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: ppocr-det
  labels: {paddlex.io/serve: ppocr-det}
spec:
  template:
    spec:
      containers:
      - image: registry.baidubce.com/paddlepaddle/serving:0.9.0-devel
`)
	ref := kube.ObjectRef{GVK: paddle.KnativeServiceGVK, Namespace: ns, Name: "ppocr-det"}
	e.SetStatus(t, ref, map[string]any{
		"url": "http://ppocr-det." + ns + ".example.com", "latestReadyRevisionName": "ppocr-det-v2", "latestCreatedRevisionName": "ppocr-det-v2",
		"traffic": []any{map[string]any{"revisionName": "ppocr-det-v2", "percent": 100, "tag": "current", "url": "http://current-ppocr-det." + ns + ".example.com"}},
	})

	o := open(t, e, "serve", "ppocr-det", "-n", ns, "--gateway")
	if got, want := get(t, o.URL, "/ocr/prediction"), "gateway routed ppocr-det."+ns+".example.com/ocr/prediction"; got != want {
		t.Errorf("through the gateway: %q, want %q", got, want)
	}
	r := o.close(t)
	if r.Code != 0 || !strings.Contains(r.Stderr, "through the Kourier gateway (service kourier-system/kourier) with Host ppocr-det."+ns+".example.com") {
		t.Errorf("%s", r)
	}

	o = open(t, e, "serve", "ppocr-det", "-n", ns, "--gateway", "--tag", "current")
	if got, want := get(t, o.URL, "/"), "gateway routed current-ppocr-det."+ns+".example.com/"; got != want {
		t.Errorf("--tag: %q, want %q", got, want)
	}
	o.close(t)

	o = open(t, e, "serve", "ppocr-det", "-n", ns)
	if got := get(t, o.URL, "/ocr/prediction"); got != "revision ppocr-det-v2 /ocr/prediction" {
		t.Errorf("to the revision: %q", got)
	}
	if r := o.close(t); r.Code != 0 || !strings.Contains(r.Stderr, "to revision ppocr-det-v2 (pod "+ns+"/ppocr-det-v2-deployment-0 port 8012)") {
		t.Errorf("%s", r)
	}

	// A revision with no pod (scaled to zero).
	r = e.Run(t, "open", "serve", "ppocr-det", "-n", ns, "--revision", "ppocr-det-v1")
	if r.Code != 1 || !strings.Contains(r.Stderr, "--gateway goes through Knative's activator, which wakes it") {
		t.Errorf("scaled to zero: %s", r)
	}
}

// Each target not installed exits 4 naming the install component; nothing
// is forwarded.
func TestOpenNotInstalledExitsFour(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"jupyterhub"}, "JupyterHub is not installed (no Service jhub/proxy-public): run `paddlex install --components jupyterhub`"},
		{[]string{"visualdl", "ppocr-det", "-n", ns}, "training " + ns + "/ppocr-det has no VisualDL board (no Service ppocr-det-visualdl): create the training with --use-visualdl"},
		{[]string{"jupyterhub", "--gateway"}, "JupyterHub is not installed"},
	} {
		r := e.Run(t, append([]string{"open"}, tc.args...)...)
		if r.Code != 4 || !strings.Contains(r.Stderr, tc.want) || r.Stdout != "" {
			t.Errorf("open %v: %s\nwant exit 4 with %q", tc.args, r, tc.want)
		}
	}
}
