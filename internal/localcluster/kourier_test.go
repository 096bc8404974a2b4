package localcluster

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"
)

// kingress is a KIngress as Knative's Route controller writes it for a
// Route with two revisions splitting its traffic 80/20, visible inside
// the cluster only.
const kingress = `apiVersion: networking.internal.knative.dev/v1alpha1
kind: Ingress
metadata:
  name: ocr
  namespace: team
  generation: 2
  annotations:
    networking.knative.dev/ingress.class: kourier.ingress.networking.knative.dev
spec:
  rules:
  - hosts: [ocr.team, ocr.team.svc, ocr.team.svc.cluster.local]
    visibility: ClusterLocal
    http:
      paths:
      - splits:
        - serviceName: ocr-v1
          serviceNamespace: team
          servicePort: 80
          percent: 80
          appendHeaders:
            Knative-Serving-Revision: ocr-v1
            Knative-Serving-Namespace: team
        - serviceName: ocr-v2
          serviceNamespace: team
          servicePort: 80
          percent: 20
          appendHeaders:
            Knative-Serving-Revision: ocr-v2
            Knative-Serving-Namespace: team
`

// TestKourierStandInRoutesByHost marks the KIngress Ready with Kourier's
// load balancers, and proxies by Host to the revisions' Services in the
// KIngress's proportions, with the headers it asks for; the public
// gateway does not serve a cluster-local host, and an unknown host is not
// found.
func TestKourierStandInRoutesByHost(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("Knative-Serving-Revision")+" "+r.Header.Get("Knative-Serving-Namespace")+" "+r.Host)
	}))
	defer backend.Close()
	host, port, _ := net.SplitHostPort(backend.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	var services []runtime.Object
	for _, name := range []string{"ocr-v1", "ocr-v2"} {
		services = append(services, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team"},
			Spec:       corev1.ServiceSpec{ClusterIP: host, Ports: []corev1.ServicePort{{Name: "http", Port: int32(p)}}},
		})
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(kingress), &u.Object); err != nil {
		t.Fatal(err)
	}
	// The Services listen where the backend does: the splits name its port.
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	paths, _, _ := unstructured.NestedSlice(rules[0].(map[string]any), "http", "paths")
	splits, _, _ := unstructured.NestedSlice(paths[0].(map[string]any), "splits")
	for _, s := range splits {
		s.(map[string]any)["servicePort"] = int64(p)
	}
	_ = unstructured.SetNestedSlice(paths[0].(map[string]any), splits, "splits")
	_ = unstructured.SetNestedSlice(rules[0].(map[string]any), paths, "http", "paths")
	_ = unstructured.SetNestedSlice(u.Object, rules, "spec", "rules")

	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{KIngressGVR: "IngressList"}, u.DeepCopy())
	k := &KourierStandIn{cs: fake.NewSimpleClientset(services...), dyn: dyn,
		hosts: map[string]map[string]kourierRoute{}, counts: map[string]uint64{}}
	ctx := context.Background()
	k.reconcile(ctx, u)

	got, err := dyn.Resource(KIngressGVR).Namespace("team").Get(ctx, "ocr", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !ingressReady(got) {
		t.Fatalf("KIngress not Ready at its generation: %v", got.Object["status"])
	}
	for _, lb := range []struct{ field, want string }{
		{"publicLoadBalancer", "kourier.kourier-system.svc.cluster.local"},
		{"privateLoadBalancer", "kourier-internal.kourier-system.svc.cluster.local"},
	} {
		ing, _, _ := unstructured.NestedSlice(got.Object, "status", lb.field, "ingress")
		if len(ing) != 1 || ing[0].(map[string]any)["domainInternal"] != lb.want {
			t.Errorf("status.%s: %v, want domainInternal %s", lb.field, ing, lb.want)
		}
	}

	request := func(internal bool, host string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, "http://"+host+"/", nil)
		w := httptest.NewRecorder()
		k.serve(w, req, internal)
		return w.Code, w.Body.String()
	}
	counts := map[string]int{}
	for i := 0; i < 100; i++ {
		code, body := request(true, "ocr.team.svc.cluster.local")
		if code != http.StatusOK {
			t.Fatalf("internal gateway: %d %s", code, body)
		}
		counts[body]++
	}
	if counts["ocr-v1 team ocr.team.svc.cluster.local"] != 80 || counts["ocr-v2 team ocr.team.svc.cluster.local"] != 20 {
		t.Errorf("splits of 100 requests: %v, want 80 to ocr-v1 and 20 to ocr-v2, with the Host kept", counts)
	}
	if code, body := request(false, "ocr.team.svc.cluster.local"); code != http.StatusNotFound {
		t.Errorf("public gateway, cluster-local host: %d %s", code, body)
	}
	if code, body := request(true, "other.team.svc.cluster.local"); code != http.StatusNotFound {
		t.Errorf("unknown host: %d %s", code, body)
	}
}
