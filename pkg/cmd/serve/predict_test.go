package serve_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/paddleflow/paddlex/internal/testenv"
	servecmd "github.com/paddleflow/paddlex/pkg/cmd/serve"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/modelstore"
	"github.com/paddleflow/paddlex/pkg/modelstore/s3test"
	"github.com/paddleflow/paddlex/pkg/portforward"
	"github.com/paddleflow/paddlex/pkg/portforward/portforwardtest"
	"github.com/paddleflow/paddlex/pkg/serve"
	"github.com/paddleflow/paddlex/test/standin/paddleserving"
)

// servingConf is the serving configuration paddle_serving_client.convert
// writes for a model that feeds x, float32 of any length, and fetches
// fetch.
func servingConf(fetch string) string {
	return "feed_var {\n  name: \"x\"\n  alias_name: \"x\"\n  is_lod_tensor: false\n  feed_type: 1\n  shape: -1\n}\n" +
		"fetch_var {\n  name: \"" + fetch + "\"\n  alias_name: \"" + fetch + "\"\n  is_lod_tensor: false\n  fetch_type: 1\n  shape: 1\n}\n"
}

// modelServer runs the Paddle Serving stand-in in-process on loopback,
// answering for a model that feeds x and fetches fetch.
func modelServer(t *testing.T, fetch string) *httptest.Server {
	srv := httptest.NewServer(paddleserving.MustLoad(servingConf(fetch)))
	t.Cleanup(srv.Close)
	return srv
}

// pushVersions puts versions v1 and v2 of model ocr into the model center
// srv, converted models whose fetch variables are v1_out and v2_out.
func pushVersions(t *testing.T, srv *s3test.Server) {
	t.Helper()
	st, err := modelstore.New(modelstore.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1", "v2"} {
		archive := tarGz(t, map[string]string{"ocr/server/inference.pdiparams": strings.Repeat("w", 4096), "ocr/server/serving_server_conf.prototxt": servingConf(v + "_out"),
			"ocr/client/serving_client_conf.prototxt": servingConf(v + "_out")})
		if _, err := st.Push(context.Background(), modelhub.Ref{Model: "ocr", Version: v}, archive, modelstore.PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// tarGz writes files, in the order of their names, as a .tar.gz.
func tarGz(t *testing.T, files map[string]string) string {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		_ = tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte(files[n]))
	}
	_ = tw.Close()
	_ = gz.Close()
	p := filepath.Join(t.TempDir(), "ocr.tar.gz")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// gatewayStandIn plays Knative's data plane behind the Kourier gateway:
// it routes by the Host header to a revision and, when the revision has no
// ready pod, wakes it as the activator and autoscaler would, by starting
// one (a pod the test marks running and ready through the API server),
// before proxying the request to the revision's model server.
type gatewayStandIn struct {
	cs     kubernetes.Interface
	ns     string
	models map[string]string // revision -> model server address

	mu     sync.Mutex
	routes map[string]string // host -> revision
	woken  []string
	// probeFirst starts a woken pod running but not ready, and answers
	// through it, as Knative's activator does once its own probe of the
	// pod passes, before the kubelet's readiness probe.
	probeFirst bool
}

func (g *gatewayStandIn) route(host, rev string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if rev == "" {
		delete(g.routes, host)
		return
	}
	g.routes[host] = rev
}

func (g *gatewayStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	rev := g.routes[r.Host]
	g.mu.Unlock()
	if rev == "" {
		http.Error(w, "no route for host "+r.Host, http.StatusNotFound)
		return
	}
	ctx := r.Context()
	pods, err := g.cs.CoreV1().Pods(g.ns).List(ctx, metav1.ListOptions{LabelSelector: serve.PodSelector("ocr", rev)})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	awake := false
	for i := range pods.Items {
		awake = awake || serve.PodReady(&pods.Items[i])
	}
	if !awake {
		g.mu.Lock()
		g.woken = append(g.woken, rev)
		g.mu.Unlock()
		time.Sleep(200 * time.Millisecond) // a pod takes its time to start
		g.mu.Lock()
		ready := !g.probeFirst
		g.mu.Unlock()
		if err := startRevisionPod(ctx, g.cs, g.ns, rev, rev+"-deployment-woken", ready); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
	}
	u, _ := url.Parse("http://" + g.models[rev])
	httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
}

// startServingPod creates a running, ready pod of revision rev of ocr, as
// Knative's Deployment and the kubelet would.
func startServingPod(ctx context.Context, cs kubernetes.Interface, ns, rev, name string) error {
	return startRevisionPod(ctx, cs, ns, rev, name, true)
}

// startRevisionPod creates a running pod of revision rev of ocr, ready or not yet.
func startRevisionPod(ctx context.Context, cs kubernetes.Interface, ns, rev, name string, ready bool) error {
	no := false
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			Labels: map[string]string{serve.PodLabelService: "ocr", serve.PodLabelRevision: rev}},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: &no, Containers: []corev1.Container{
			{Name: "server", Image: serve.DefaultImage, Ports: []corev1.ContainerPort{{ContainerPort: serve.DefaultPort}}},
			{Name: "queue-proxy", Image: "gcr.io/knative-releases/queue:v1", Ports: []corev1.ContainerPort{{ContainerPort: 8012}}},
		}},
	}
	if !ready {
		return createRunning(ctx, cs, p, corev1.ConditionFalse)
	}
	return createReady(ctx, cs, p)
}

func createReady(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod) error {
	return createRunning(ctx, cs, p, corev1.ConditionTrue)
}

// createRunning creates p running, its Ready condition as given.
func createRunning(ctx context.Context, cs kubernetes.Interface, p *corev1.Pod, ready corev1.ConditionStatus) error {
	created, err := cs.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	created.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}}
	_, err = cs.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	return err
}

// kourier installs the gateway Service and its pod in kourier-system, the
// Service exposed at external (host:port; "" for none).
func kourier(t *testing.T, cs kubernetes.Interface, external string) {
	t.Helper()
	ctx := context.Background()
	const gns = "kourier-system"
	for _, n := range []string{gns, "knative-serving"} {
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	network := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "config-network", Namespace: "knative-serving"},
		Data: map[string]string{"ingress-class": "kourier.ingress.networking.knative.dev"}}
	if _, err := cs.CoreV1().ConfigMaps("knative-serving").Create(ctx, network, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	port := int32(80)
	host := ""
	if external != "" {
		h, p, _ := net.SplitHostPort(external)
		n, _ := strconv.Atoi(p)
		host, port = h, int32(n)
	}
	app := map[string]string{"app": "3scale-kourier-gateway"}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kourier", Namespace: gns},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: app, Ports: []corev1.ServicePort{
			{Name: "http2", Port: port, TargetPort: intstr.FromInt32(8080)},
			{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443)}}},
	}
	created, err := cs.CoreV1().Services(gns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		created.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: host}}
		if _, err := cs.CoreV1().Services(gns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	no := false
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "3scale-kourier-gateway-0", Namespace: gns, Labels: app},
		Spec: corev1.PodSpec{AutomountServiceAccountToken: &no, Containers: []corev1.Container{{Name: "kourier-gateway", Image: "envoyproxy/envoy:v1",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}}
	if err := createReady(ctx, cs, pod); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().ConfigMaps("knative-serving").Delete(ctx, "config-network", metav1.DeleteOptions{})
		_ = cs.CoreV1().Services(gns).Delete(ctx, "kourier", metav1.DeleteOptions{})
		_ = cs.CoreV1().Pods(gns).Delete(ctx, pod.Name, metav1.DeleteOptions{})
	})
}

// predictEnv is where `serve predict` runs: the clients a test prepares
// on the Factory, and the test double of the kubelet port-forwards go
// through.
type predictEnv struct {
	cs      kubernetes.Interface
	prepare func(*cmdutil.Factory)
	kubelet *portforwardtest.Kubelet
	// cache keeps the signatures read from the model center.
	cache string
}

// predict runs `serve predict` with its port-forwards going through the
// kubelet double.
func (pe *predictEnv) predict(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}})
	pe.prepare(f)
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-n" {
			ns := args[i+1]
			f.ConfigFlags.Namespace = &ns
			args = append(append([]string{}, args[:i]...), args[i+2:]...)
			break
		}
	}
	var o *servecmd.PredictOptions
	cmd := servecmd.NewCmdPredict(f, func(x *servecmd.PredictOptions) error { o = x; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.Execute(); err != nil {
		return result{out.String(), errOut.String() + err.Error(), exit.Code(err)}
	}
	if err := o.Connect(f); err != nil {
		t.Fatal(err)
	}
	cs := o.Clientset
	o.Forward = func(ctx context.Context, tg portforward.Target) (*portforward.Forward, error) {
		return portforward.Start(ctx, nil, cs, tg, portforward.Options{Dialer: pe.kubelet.Dialer()})
	}
	o.DialTimeout = time.Second
	o.CacheDir = pe.cache
	err := cmdutil.RunBounded(context.Background(), o)
	if err != nil {
		errOut.WriteString("error: " + err.Error() + "\n")
	}
	return result{out.String(), errOut.String(), exit.Code(err)}
}

// TestPredict sends requests to a served model whose revisions are Paddle
// Serving stand-ins on loopback: through the gateway and through a
// port-forward, to the service and to a canary by tag, waking a revision
// scaled to zero on both paths.
func TestPredict(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	startKnative(t, e, ns, noFailures)
	srv := s3test.Start(t)
	keys(t, e, ns, srv.AccessKey, srv.SecretKey)
	pushVersions(t, srv)
	must(t, e.Run(t, "serve", "create", "ocr", "-n", ns, "--model-version", "v1", "--endpoint", srv.Endpoint, "--timeout", "30s"), "create")
	must(t, e.Run(t, "serve", "rollout", "ocr", "-n", ns, "--model-version", "v2", "--traffic", "10", "--timeout", "30s"), "rollout")
	kc := e.Kubeconfig
	predictScenario(t, ns, e.Clientset, func(f *cmdutil.Factory) { f.ConfigFlags.KubeConfig = &kc })
}

// TestPredictWithFakeClients runs the same requests with client-go's fake
// clientset and the engine's fake holding the Service as Knative reports
// it, so the paths run where no API server is built.
func TestPredictWithFakeClients(t *testing.T) {
	const ns = "ml"
	srv := s3test.Start(t)
	pushVersions(t, srv)
	s := serve.Spec{Name: "ocr", Namespace: ns, ModelVersion: "v2", Endpoint: srv.Endpoint}
	s.Defaults()
	s1 := s
	s1.ModelVersion = "v1"
	traffic := serve.Traffic{{Revision: "ocr-v1", Percent: 90, Tag: serve.TagCurrent}, {Revision: "ocr-v2", Percent: 10, Tag: serve.TagCandidate}}
	svc := serve.RenderService(s, traffic, map[string]serve.Spec{"ocr-v1": s1})
	_ = unstructured.SetNestedSlice(svc.Object, []any{
		map[string]any{"revisionName": "ocr-v1", "percent": int64(90), "tag": "current"},
		map[string]any{"revisionName": "ocr-v2", "percent": int64(10), "tag": "candidate"}}, "spec", "traffic")
	var st []any
	for _, x := range traffic {
		st = append(st, map[string]any{"revisionName": x.Revision, "percent": x.Percent, "tag": x.Tag, "url": "http://" + x.Tag + "-ocr." + ns + ".example.com"})
	}
	_ = unstructured.SetNestedField(svc.Object, map[string]any{"url": "http://ocr." + ns + ".example.com", "traffic": st,
		"latestReadyRevisionName": "ocr-v2", "latestCreatedRevisionName": "ocr-v2"}, "status")
	secret := kube.ToUnstructured(&corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: metav1.ObjectMeta{Name: "data-center", Namespace: ns},
		Data: map[string][]byte{"access-key": []byte(srv.AccessKey), "secret-key": []byte(srv.SecretKey)}})
	k := kube.NewFake(svc, secret)
	cs := fake.NewClientset()
	predictScenario(t, ns, cs, func(f *cmdutil.Factory) { f.KubeOverride, f.ClientsetOverride = k, cs })
}

// predictScenario sends requests to service ocr in ns, whose revision
// ocr-v1 (tagged current) has a pod and ocr-v2 (candidate) scaled to zero.
func predictScenario(t *testing.T, ns string, cs kubernetes.Interface, prepare func(*cmdutil.Factory)) {

	v1, v2 := modelServer(t, "v1_out"), modelServer(t, "v2_out")
	gw := &gatewayStandIn{cs: cs, ns: ns,
		models: map[string]string{"ocr-v1": v1.Listener.Addr().String(), "ocr-v2": v2.Listener.Addr().String()},
		routes: map[string]string{
			"ocr." + ns + ".example.com":           "ocr-v1",
			"current-ocr." + ns + ".example.com":   "ocr-v1",
			"candidate-ocr." + ns + ".example.com": "ocr-v2",
		}}
	gwSrv := httptest.NewServer(gw)
	t.Cleanup(gwSrv.Close)
	kubelet := portforwardtest.NewKubelet()
	t.Cleanup(kubelet.Close)
	kubelet.Route("kourier-system", "3scale-kourier-gateway-0", 8080, gwSrv.Listener.Addr().String())
	kubelet.Route(ns, "ocr-v1-deployment-a", serve.DefaultPort, v1.Listener.Addr().String())
	kubelet.Route(ns, "ocr-v2-deployment-woken", serve.DefaultPort, v2.Listener.Addr().String())
	pe := &predictEnv{cs: cs, prepare: prepare, kubelet: kubelet, cache: t.TempDir()}
	// ocr-v1 has a pod; ocr-v2 scaled to zero.
	if err := startServingPod(context.Background(), cs, ns, "ocr-v1", "ocr-v1-deployment-a"); err != nil {
		t.Fatal(err)
	}
	kourier(t, cs, gwSrv.Listener.Addr().String())
	gwURL := "http://" + gwSrv.Listener.Addr().String()

	// 1. Through the gateway Knative's config names, with the service's host.
	r := pe.predict(t, "", "ocr", "-n", ns, "--data", `{"x": [1, 2.5]}`)
	if r.code != 0 || r.stdout != "v1_out: [3.5]\n" {
		t.Fatalf("through the gateway: %+v", r)
	}
	if want := "sending to service ocr through the gateway kourier-system/kourier at " + gwURL + " (Host: ocr." + ns + ".example.com)"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}

	// 2. The canary by tag, scaled to zero: the request wakes it.
	// Its feeds come from its own version's archive (v2 fetches v2_out).
	r = pe.predict(t, `{"x": [[4]]}`, "ocr", "-n", ns, "--tag", "candidate", "-f", "-", "-o", "json")
	var answer serve.Response
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &answer) != nil || answer.ErrNo != 0 || len(answer.Outputs) != 1 ||
		fmt.Sprint(answer.Outputs[0].Tensor[0].FloatData) != "[4]" || answer.Outputs[0].Tensor[0].AliasName != "v2_out" {
		t.Fatalf("candidate: %+v", r)
	}
	for _, w := range []string{"(Host: candidate-ocr." + ns + ".example.com)", "revision ocr-v2 is scaled to zero: the request wakes it",
		"revision ocr-v2 woke: pod ocr-v2-deployment-woken ready after"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("candidate: stderr lacks %q:\n%s", w, r.stderr)
		}
	}

	// 3. No gateway: a port-forward to the current revision's pod.
	// The signature is the one read before, from the cache.
	r = pe.predict(t, "", "ocr", "-n", ns, "--gateway", "none", "--data", `{"x": [10, 12]}`)
	if r.code != 0 || r.stdout != "v1_out: [22]\n" {
		t.Fatalf("port-forward: %+v", r)
	}
	if !strings.Contains(r.stderr, "to pod ocr-v1-deployment-a port 8040 of revision ocr-v1; the traffic split applies only through the gateway") {
		t.Errorf("port-forward: stderr:\n%s", r.stderr)
	}

	// 4. No gateway and the canary scaled to zero again: the request goes
	// to the gateway's pod, which wakes it. The answer comes, as with
	// Knative's activator, before the kubelet reports the new pod ready.
	if err := cs.CoreV1().Pods(ns).Delete(context.Background(), "ocr-v2-deployment-woken", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	gw.mu.Lock()
	gw.probeFirst = true
	gw.mu.Unlock()
	r = pe.predict(t, "", "ocr", "-n", ns, "--gateway", "none", "--revision", "v2", "--data", `{"x": [1]}`)
	if r.code != 0 || r.stdout != "v2_out: [1]\n" {
		t.Fatalf("wake through the gateway's pod: %+v", r)
	}
	if !strings.Contains(r.stderr, "through the gateway's pod kourier-system/3scale-kourier-gateway-0") ||
		!regexp.MustCompile(`revision ocr-v2 woke: pod ocr-v2-deployment-woken running after \S+, not reported ready yet`).MatchString(r.stderr) {
		t.Errorf("wake through the gateway's pod: stderr:\n%s", r.stderr)
	}
	if got := fmt.Sprint(kubelet.Requests()); !strings.Contains(got, ns+"/ocr-v1-deployment-a:8040") || !strings.Contains(got, "kourier-system/3scale-kourier-gateway-0:8080") {
		t.Errorf("port-forwards: %s", got)
	}
	gw.mu.Lock()
	if got := strings.Join(gw.woken, ","); got != "ocr-v2,ocr-v2" {
		t.Errorf("woken: %s", got)
	}
	gw.mu.Unlock()

	// 5. Errors of the model and of HTTP exit 1 with what came back.
	// Input that does not fit the model's feeds is refused before it is
	// sent (exit 2); what the server refuses exits 1 with its answer.
	r = pe.predict(t, "", "ocr", "-n", ns, "--data", `{"y": [1]}`)
	if r.code != 2 || !strings.Contains(r.stderr, `--data: "y" is not a feed of the model; its feeds: x (float32 [-1])`) {
		t.Errorf("unknown feed: %+v", r)
	}
	r = pe.predict(t, "", "ocr", "-n", ns, "--data", `{"x": ["a"]}`)
	if r.code != 2 || !strings.Contains(r.stderr, `--data: feed x (float32 [-1]): takes numbers, got "a"`) {
		t.Errorf("a string for a float32 feed: %+v", r)
	}
	img := filepath.Join(t.TempDir(), "1.jpg")
	if err := os.WriteFile(img, []byte("\xff\xd8\xff\xe0 not really a JPEG"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = pe.predict(t, "", "ocr", "-n", ns, "--image", img)
	if r.code != 2 || !strings.Contains(r.stderr, "--image: the model takes x (float32 [-1]), not one string feed") {
		t.Errorf("an image for a tensor model: %+v", r)
	}
	r = pe.predict(t, "", "ocr", "-n", ns, "--data", `{"tensor": [{"int64_data": [1], "elem_type": 0, "name": "x", "alias_name": "x", "shape": [1, 1]}], "fetch_var_names": ["v1_out"]}`)
	if r.code != 1 || !strings.Contains(r.stderr, "HTTP 500") || !strings.Contains(r.stderr, "feed var x is float32, but the tensor's elem_type is 0") {
		t.Errorf("model error: %+v", r)
	}
	// --client-config gives the feeds without the model center.
	conf := filepath.Join(t.TempDir(), "client")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "serving_client_conf.prototxt"), []byte(servingConf("v1_out")), 0o644); err != nil {
		t.Fatal(err)
	}
	r = pe.predict(t, "", "ocr", "-n", ns, "--client-config", conf, "--data", `{"x": 2}`)
	if r.code != 0 || r.stdout != "v1_out: [2]\n" {
		t.Errorf("--client-config: %+v", r)
	}
	if entries, _ := os.ReadDir(pe.cache); len(entries) != 2 {
		t.Errorf("cache holds %d signatures, want v1's and v2's", len(entries))
	}
	gw.route("ocr."+ns+".example.com", "")
	r = pe.predict(t, "", "ocr", "-n", ns, "--gateway", gwURL, "--data", `{"x": [1]}`)
	if r.code != 1 || !strings.Contains(r.stderr, "HTTP 404 Not Found") || !strings.Contains(r.stderr, "no route for host ocr."+ns+".example.com") {
		t.Errorf("HTTP error: %+v", r)
	}
	if r := pe.predict(t, "", "ocr", "-n", ns, "--tag", "previous", "--data", `{"x": [1]}`); r.code != 1 || !strings.Contains(r.stderr, "service ocr has no tag previous (its tags: current, candidate)") {
		t.Errorf("unknown tag: %+v", r)
	}
	if r := pe.predict(t, "", "nothing", "-n", ns, "--data", `{"x": [1]}`); r.code != 1 || !strings.Contains(r.stderr, "service nothing does not exist") {
		t.Errorf("unknown service: %+v", r)
	}
}

// Bad input to predict is named, exit 2, before any call.
func TestPredictRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "empty.jpg")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{}, "give the request with -f FILE"},
		{[]string{"--data", "{}", "--image", "x.jpg"}, "-f, --data and --image are exclusive"},
		{[]string{"--data", "[1]"}, "--data: not a JSON object"},
		{[]string{"-f", filepath.Join(dir, "missing.json")}, "-f " + filepath.Join(dir, "missing.json") + ": open"},
		{[]string{"--image", img}, "--image " + img + " is empty"},
		{[]string{"--data", `{"x":1}`, "--tag", "candidate", "--revision", "v2"}, "--tag and --revision are exclusive"},
		{[]string{"--data", `{"x":1}`, "--gateway", "ftp://gw"}, `--gateway "ftp://gw"`},
		{[]string{"--data", `{"x":1}`, "--gateway", "http://gw:80/path"}, `--gateway "http://gw:80/path"`},
		{[]string{"--data", `{"x":1}`, "-o", "yaml"}, `--output "yaml"`},
		{[]string{"--data", `{"x":1}`, "--client-config", filepath.Join(dir, "missing")}, "--client-config: open"},
		{[]string{"--data", `{"x":1}`, "--client-config", img}, "not a Paddle Serving model configuration"},
		{[]string{"--data", `{"tensor": []}`}, `a request with "tensor" needs "fetch_var_names"`},
	} {
		r := run(t, nil, append([]string{"serve", "predict", "ocr"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: %+v, want exit 2 naming %q", c.args, r, c.want)
		}
	}
}
