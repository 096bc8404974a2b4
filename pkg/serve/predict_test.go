package serve

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestParseRequest(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{`{"key": ["image"], "value": ["aGk="]}`, `{"key":["image"],"value":["aGk="]}`, ""},
		{`{"key": ["x", "y"], "value": [[1, 2], "3"]}`, `{"key":["x","y"],"value":["[1,2]","3"]}`, ""},
		{`{"x": [0.5, 1.5], "a": "text", "n": 12345678901234567890}`, `{"key":["a","n","x"],"value":["text","12345678901234567890","[0.5,1.5]"]}`, ""},
		{`{"key": ["x"], "value": []}`, "", "1 keys but 0 values"},
		{`{"key": [], "value": []}`, "", "no keys"},
		{`{}`, "", "no fields"},
		{`[1]`, "", "not a JSON object"},
		{`null`, "", "not a JSON object"},
		{`{"x": 1} {"y": 2}`, "", "more than one JSON value"},
		{`{"x": `, "", "not a JSON object"},
	} {
		r, err := ParseRequest("--data", []byte(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), "--data: ") {
				t.Errorf("%s: err = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		b, _ := json.Marshal(r)
		if err != nil || string(b) != c.want {
			t.Errorf("%s: %s, %v; want %s", c.in, b, err, c.want)
		}
	}
	if b, _ := json.Marshal(ImageRequest([]byte("hi"))); string(b) != `{"key":["image"],"value":["aGk="]}` {
		t.Errorf("image request: %s", b)
	}
}

func TestParseResponse(t *testing.T) {
	r, ok := ParseResponse([]byte(`{"err_no": 0, "err_msg": "", "key": ["res", "n"], "value": ["[['text', [[1, 2]]]]", "1"]}`))
	if !ok || r.ErrNo != 0 || r.Lines() != "res: [['text', [[1, 2]]]]\nn: 1\n" {
		t.Errorf("%+v %v %q", r, ok, r.Lines())
	}
	if r, ok := ParseResponse([]byte(`{"err_no": 3, "err_msg": "bad"}`)); !ok || r.ErrNo != 3 || r.ErrMsg != "bad" {
		t.Errorf("%+v", r)
	}
	for _, body := range []string{`{"outputs": []}`, `not json`, `[]`} {
		if _, ok := ParseResponse([]byte(body)); ok {
			t.Errorf("%s read as a pipeline answer", body)
		}
	}
}

func TestFindGateway(t *testing.T) {
	svc := func(ns, name string, lb string, ports ...corev1.ServicePort) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Ports: ports}}
		if lb != "" {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: lb}}
		}
		return s
	}
	kourier := svc("kourier-system", "kourier", "gw.example.com", corev1.ServicePort{Name: "https", Port: 443}, corev1.ServicePort{Name: "http2", Port: 80})
	istio := svc("istio-system", "istio-ingressgateway", "", corev1.ServicePort{Name: "status-port", Port: 15021}, corev1.ServicePort{Name: "http2", Port: 80})
	istio.Spec.ExternalIPs = []string{"10.0.0.9"}
	network := func(class string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "knative-serving", Name: "config-network"}, Data: map[string]string{"ingress-class": class}}
	}
	ctx := context.Background()
	g, err := FindGateway(ctx, fake.NewClientset(kourier, istio))
	if err != nil || *g != (Gateway{Namespace: "kourier-system", Name: "kourier", Port: 80, External: "http://gw.example.com:80"}) {
		t.Errorf("no config: %+v, %v", g, err)
	}
	g, err = FindGateway(ctx, fake.NewClientset(kourier, istio, network("istio.ingress.networking.knative.dev")))
	if err != nil || *g != (Gateway{Namespace: "istio-system", Name: "istio-ingressgateway", Port: 80, External: "http://10.0.0.9:80"}) {
		t.Errorf("istio: %+v, %v", g, err)
	}
	if _, err := FindGateway(ctx, fake.NewClientset(istio, network("kourier.ingress.networking.knative.dev"))); err == nil || !strings.Contains(err.Error(), "no gateway Service kourier-system/kourier") {
		t.Errorf("kourier missing: %v", err)
	}
	if _, err := FindGateway(ctx, fake.NewClientset(network("contour.ingress.networking.knative.dev"))); err == nil || !strings.Contains(err.Error(), "contour") {
		t.Errorf("unknown class: %v", err)
	}
	g, _ = FindGateway(ctx, fake.NewClientset(svc("kourier-system", "kourier", "", corev1.ServicePort{Name: "http2", Port: 80})))
	if g.External != "" {
		t.Errorf("a gateway without an external address: %+v", g)
	}
}
