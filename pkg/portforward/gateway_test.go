package portforward_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"k8s.io/apimachinery/pkg/util/intstr"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/portforward"
	"github.com/paddleflow/paddlex/pkg/portforward/portforwardtest"
)

func networkConfig(data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "config-network", Namespace: "knative-serving"}, Data: data}
}

func svc(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
}

func TestFindGateway(t *testing.T) {
	for _, tc := range []struct {
		name    string
		objs    []any
		layer   string
		code    int
		errText string
	}{
		{"kourier", []any{networkConfig(map[string]string{"ingress-class": "kourier.ingress.networking.knative.dev"}), svc("kourier-system", "kourier")}, "kourier", 0, ""},
		{"istio by the legacy key", []any{networkConfig(map[string]string{"ingress.class": "istio.ingress.networking.knative.dev"}), svc("istio-system", "istio-ingressgateway")}, "istio", 0, ""},
		{"istio by default", []any{networkConfig(nil), svc("istio-system", "istio-ingressgateway")}, "istio", 0, ""},
		{"no knative", nil, "", exit.Precondition, "Knative Serving is not installed (no ConfigMap knative-serving/config-network): run `paddlex install --components knative-serving,kourier`"},
		{"no kourier", []any{networkConfig(map[string]string{"ingress-class": "kourier.ingress.networking.knative.dev"})}, "", exit.Precondition,
			"its gateway is not installed (no Service kourier-system/kourier): run `paddlex install --components knative-serving,kourier`"},
		{"no istio", []any{networkConfig(nil)}, "", exit.Precondition, "run `paddlex install --components knative-serving,istio,net-istio`"},
		{"another layer", []any{networkConfig(map[string]string{"ingress-class": "contour.ingress.networking.knative.dev"})}, "", exit.Precondition, `ingress-class "contour.ingress.networking.knative.dev"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			for _, o := range tc.objs {
				switch o := o.(type) {
				case *corev1.ConfigMap:
					_, _ = cs.CoreV1().ConfigMaps(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
				case *corev1.Service:
					_, _ = cs.CoreV1().Services(o.Namespace).Create(context.Background(), o, metav1.CreateOptions{})
				}
			}
			g, err := portforward.FindGateway(context.Background(), cs)
			if tc.errText != "" {
				if err == nil || exit.Code(err) != tc.code || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v (exit %d), want exit %d with %q", err, exit.Code(err), tc.code, tc.errText)
				}
				return
			}
			if err != nil || g.Layer != tc.layer {
				t.Fatalf("gateway = %+v, %v; want layer %s", g, err, tc.layer)
			}
		})
	}
}

func TestGatewayForClusterLocalHosts(t *testing.T) {
	cs := fake.NewClientset(networkConfig(map[string]string{"ingress-class": "kourier.ingress.networking.knative.dev"}), svc("kourier-system", "kourier"))
	g, err := portforward.FindGateway(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.For("ppocr.team-a.example.com"); got.Service != "kourier" || got.Port != 80 {
		t.Errorf("public host: %s", got)
	}
	if got := g.For("ppocr.team-a.svc.cluster.local"); got.Service != "kourier-internal" {
		t.Errorf("cluster-local host: %s", got)
	}
}

// The proxy puts the gateway's Host on every request and turns redirects to
// that host back onto itself.
func TestHostProxy(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "http://ppocr.ml.example.com/new?x=1", http.StatusFound)
			return
		}
		fmt.Fprintf(w, "host=%s path=%s", r.Host, r.URL.Path)
	}))
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	p, err := portforward.StartHostProxy("127.0.0.1", 0, u, "ppocr.ml.example.com", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(p.URL() + "predict")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "host=ppocr.ml.example.com path=/predict" {
		t.Errorf("upstream saw %q", b)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = c.Get(p.URL() + "old")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := p.URL() + "new?x=1"; resp.Header.Get("Location") != want {
		t.Errorf("Location = %s, want %s", resp.Header.Get("Location"), want)
	}
	p.Close()
	if _, err := net.DialTimeout("tcp", strings.TrimSuffix(strings.TrimPrefix(p.URL(), "http://"), "/"), time.Second); err == nil {
		t.Error("the proxy still listens after Close")
	}
}

// A selector target forwards to the oldest ready pod it matches, through
// the kubelet stand-in, to a real HTTP server.
func TestStartForwardsToASelectedPod(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "revision 00002") }))
	defer srv.Close()
	kubelet := portforwardtest.NewKubelet()
	defer kubelet.Close()
	kubelet.Route("ml", "rev-2-pod", 8012, strings.TrimPrefix(srv.URL, "http://"))
	lbl := map[string]string{"serving.knative.dev/revision": "ppocr-00002"}
	ready := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	cs := fake.NewClientset(
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "rev-2-pod", Namespace: "ml", Labels: lbl}, Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: ready}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "rev-1-pod", Namespace: "ml", Labels: map[string]string{"serving.knative.dev/revision": "ppocr-00001"}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: ready}},
	)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fw, err := portforward.Start(ctx, nil, cs, portforward.Target{Namespace: "ml", Selector: "serving.knative.dev/revision=ppocr-00002", Port: 8012},
		portforward.Options{Dialer: kubelet.Dialer()})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	resp, err := http.Get(fw.URL())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "revision 00002" {
		t.Errorf("body %q", b)
	}
	if got := kubelet.Requests(); len(got) == 0 || got[0] != "ml/rev-2-pod:8012" {
		t.Errorf("kubelet requests = %v", got)
	}
	_, err = portforward.Start(ctx, nil, cs, portforward.Target{Namespace: "ml", Selector: "serving.knative.dev/revision=ppocr-00003", Port: 8012}, portforward.Options{Dialer: kubelet.Dialer()})
	if err == nil || !strings.Contains(err.Error(), "none of its 0 pods is running and ready") {
		t.Errorf("no pod: %v", err)
	}
}

// A Service target forwards to its oldest ready pod, on the container port
// its targetPort names, until Close.
func TestStartForwardsToTheServicePod(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				io.WriteString(c, "echo "+line)
			}()
		}
	}()
	kubelet := portforwardtest.NewKubelet()
	defer kubelet.Close()
	kubelet.Route("ns", "vdl-0", 8040, echo.Addr().String())
	app := map[string]string{"app": "vdl"}
	cs := fake.NewClientset(
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "vdl-0", Namespace: "ns", Labels: app},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8040}}}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "vdl", Namespace: "ns"},
			Spec: corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}}},
	)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fw, err := portforward.Start(ctx, nil, cs, portforward.Target{Namespace: "ns", Service: "vdl", Port: 80}, portforward.Options{Dialer: kubelet.Dialer()})
	if err != nil {
		t.Fatal(err)
	}
	if fw.Pod != "vdl-0" || fw.RemotePort != 8040 || fw.LocalPort == 0 {
		t.Fatalf("forward = %+v", fw)
	}
	if want := "http://127.0.0.1:" + strconv.Itoa(fw.LocalPort) + "/"; fw.URL() != want {
		t.Errorf("URL() = %s, want %s", fw.URL(), want)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(fw.LocalPort))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "hello\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || got != "echo hello\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	if r := kubelet.Requests(); len(r) != 1 || r[0] != "ns/vdl-0:8040" {
		t.Errorf("the kubelet stand-in saw %v, want ns/vdl-0:8040", r)
	}
	fw.Close()
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("local port still accepts connections after Close")
	}
}
