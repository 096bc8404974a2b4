package localcluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// Kourier's names, as net-kourier's release installs them and Knative's
// Routes point at them.
const (
	// KourierClass is the ingress class Knative puts on the KIngresses of
	// a cluster whose config-network names Kourier.
	KourierClass = "kourier.ingress.networking.knative.dev"
	// KourierNamespace holds Kourier's gateway Services.
	KourierNamespace = "kourier-system"
	// KourierService serves the Routes visible outside the cluster.
	KourierService = "kourier"
	// KourierInternalService serves every Route inside the cluster.
	KourierInternalService = "kourier-internal"

	ingressClassAnnotation = "networking.knative.dev/ingress.class"
)

// KIngressGVR is Knative's internal Ingress (KIngress), which a networking
// layer implements.
var KIngressGVR = schema.GroupVersionResource{Group: "networking.internal.knative.dev", Version: "v1alpha1", Resource: "ingresses"}

// The parts of a KIngress the stand-in reads (knative.dev/networking's
// pkg/apis/networking/v1alpha1 IngressSpec).
type kingressSpec struct {
	Rules []struct {
		Hosts      []string `json:"hosts"`
		Visibility string   `json:"visibility"`
		HTTP       *struct {
			Paths []kingressPath `json:"paths"`
		} `json:"http"`
	} `json:"rules"`
}

type kingressPath struct {
	Path          string                 `json:"path"`
	RewriteHost   string                 `json:"rewriteHost"`
	Headers       map[string]headerMatch `json:"headers"`
	AppendHeaders map[string]string      `json:"appendHeaders"`
	Splits        []struct {
		ServiceNamespace string             `json:"serviceNamespace"`
		ServiceName      string             `json:"serviceName"`
		ServicePort      intstr.IntOrString `json:"servicePort"`
		Percent          int                `json:"percent"`
		AppendHeaders    map[string]string  `json:"appendHeaders"`
	} `json:"splits"`
}

type headerMatch struct {
	Exact string `json:"exact"`
}

// kourierRoute is one host's paths, with the visibility of its rule.
type kourierRoute struct {
	clusterLocal bool
	paths        []kingressPath
}

// KourierStandIn plays net-kourier, the networking layer of Knative
// Serving that paddlex installs by default. net-kourier's data plane is
// Envoy, a C++ program that is not on the Go module proxy, so it cannot
// run here; this stand-in does Kourier's part in its place, in the test
// process, inside the node's network namespace:
//
//   - it reconciles the KIngresses of class KourierClass that Knative's
//     Route controller creates, marking them Ready with the load balancers
//     Kourier reports (kourier and kourier-internal in kourier-system), so
//     the real Route controller points the Route's Services at them;
//   - it proxies HTTP by Host header, as Kourier's gateway does, from the
//     kourier and kourier-internal Services (whose endpoints are the
//     stand-in on the node's address) to the split's revision Service,
//     adding the headers the KIngress asks for (the activator needs
//     Knative-Serving-Revision and Knative-Serving-Namespace while a
//     revision is scaled to zero).
//
// TLS, retries, timeouts and Kourier's readiness probing are not played.
type KourierStandIn struct {
	cs  kubernetes.Interface
	dyn dynamic.Interface

	mu     sync.Mutex
	hosts  map[string]map[string]kourierRoute // KIngress namespace/name → host → route
	counts map[string]uint64                  // requests per host, for the splits

	servers []*http.Server
	cancel  context.CancelFunc
	done    chan struct{}
}

// StartKourierStandIn creates Kourier's gateway Services and starts the
// stand-in. Stop ends it.
func (e *Cluster) StartKourierStandIn(ctx context.Context) (*KourierStandIn, error) {
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(e.Config)
	if err != nil {
		return nil, err
	}
	k := &KourierStandIn{cs: cs, dyn: dyn, hosts: map[string]map[string]kourierRoute{}, counts: map[string]uint64{},
		done: make(chan struct{})}
	ports := map[string]int32{}
	for _, svc := range []string{KourierService, KourierInternalService} {
		l, err := net.Listen("tcp", net.JoinHostPort(NodeIP, "0"))
		if err != nil {
			k.Stop()
			return nil, fmt.Errorf("kourier stand-in: %w", err)
		}
		ports[svc] = int32(l.Addr().(*net.TCPAddr).Port)
		internal := svc == KourierInternalService
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { k.serve(w, r, internal) }),
			ReadHeaderTimeout: 10 * time.Second}
		k.servers = append(k.servers, srv)
		go func() { _ = srv.Serve(l) }()
	}
	if err := k.gatewayServices(ctx, ports); err != nil {
		k.Stop()
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	go func() {
		defer close(k.done)
		k.run(wctx)
	}()
	return k, nil
}

// Stop ends the stand-in: its listeners close and its KIngresses are no
// longer reconciled. The Services stay, with the cluster.
func (k *KourierStandIn) Stop() {
	for _, s := range k.servers {
		_ = s.Close()
	}
	if k.cancel != nil {
		k.cancel()
		<-k.done
	}
}

// gatewayServices makes kourier and kourier-internal, as Kourier's
// release does, with the stand-in's listeners as their endpoints.
func (k *KourierStandIn) gatewayServices(ctx context.Context, ports map[string]int32) error {
	if err := ignoreExists(k.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: KourierNamespace}}, metav1.CreateOptions{})); err != nil {
		return fmt.Errorf("create namespace %s: %w", KourierNamespace, err)
	}
	name := "http2"
	proto := corev1.ProtocolTCP
	ready := true
	for svc, port := range ports {
		labels := map[string]string{"networking.knative.dev/ingress-provider": "kourier", "paddlex.io/stand-in": "kourier"}
		s := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: svc, Namespace: KourierNamespace, Labels: labels},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
				{Name: name, Port: 80, Protocol: proto, TargetPort: intstr.FromInt32(port)},
			}},
		}
		if err := ignoreExists(k.cs.CoreV1().Services(KourierNamespace).Create(ctx, s, metav1.CreateOptions{})); err != nil {
			return fmt.Errorf("create Service %s/%s: %w", KourierNamespace, svc, err)
		}
		p := port
		slice := &discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Name: svc + "-stand-in", Namespace: KourierNamespace,
				Labels: map[string]string{discoveryv1.LabelServiceName: svc, discoveryv1.LabelManagedBy: "paddlex-localcluster"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{NodeIP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
			Ports:       []discoveryv1.EndpointPort{{Name: &name, Protocol: &proto, Port: &p}},
		}
		slices := k.cs.DiscoveryV1().EndpointSlices(KourierNamespace)
		if _, err := slices.Create(ctx, slice, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
			old, gerr := slices.Get(ctx, slice.Name, metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			slice.ResourceVersion = old.ResourceVersion
			_, err = slices.Update(ctx, slice, metav1.UpdateOptions{})
			if err != nil {
				return fmt.Errorf("update EndpointSlice %s/%s: %w", KourierNamespace, slice.Name, err)
			}
		} else if err != nil {
			return fmt.Errorf("create EndpointSlice %s/%s: %w", KourierNamespace, slice.Name, err)
		}
	}
	return nil
}

// run watches KIngresses until ctx ends, re-listing when a watch closes.
func (k *KourierStandIn) run(ctx context.Context) {
	for ctx.Err() == nil {
		list, err := k.dyn.Resource(KIngressGVR).List(ctx, metav1.ListOptions{})
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		for i := range list.Items {
			k.reconcile(ctx, &list.Items[i])
		}
		w, err := k.dyn.Resource(KIngressGVR).Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		for ev := range w.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			if ev.Type == watch.Deleted {
				k.mu.Lock()
				delete(k.hosts, u.GetNamespace()+"/"+u.GetName())
				k.mu.Unlock()
				continue
			}
			k.reconcile(ctx, u)
		}
		w.Stop()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// reconcile takes a KIngress's routes and marks it Ready, as Kourier does
// once its gateways have the configuration.
func (k *KourierStandIn) reconcile(ctx context.Context, u *unstructured.Unstructured) {
	if u.GetAnnotations()[ingressClassAnnotation] != KourierClass || u.GetDeletionTimestamp() != nil {
		return
	}
	var spec kingressSpec
	raw, _, _ := unstructured.NestedMap(u.Object, "spec")
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &spec); err != nil {
		return
	}
	hosts := map[string]kourierRoute{}
	for _, r := range spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, h := range r.Hosts {
			hosts[strings.ToLower(h)] = kourierRoute{clusterLocal: r.Visibility == "ClusterLocal", paths: r.HTTP.Paths}
		}
	}
	k.mu.Lock()
	k.hosts[u.GetNamespace()+"/"+u.GetName()] = hosts
	k.mu.Unlock()

	if ingressReady(u) {
		return
	}
	for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
		lb := func(svc string) map[string]any {
			return map[string]any{"ingress": []any{map[string]any{"domainInternal": svc + "." + KourierNamespace + ".svc.cluster.local"}}}
		}
		now := metav1.Now().UTC().Format(time.RFC3339)
		cond := func(t string) any {
			return map[string]any{"type": t, "status": "True", "lastTransitionTime": now}
		}
		u = u.DeepCopy()
		u.Object["status"] = map[string]any{
			"observedGeneration":  u.GetGeneration(),
			"conditions":          []any{cond("LoadBalancerReady"), cond("NetworkConfigured"), cond("Ready")},
			"publicLoadBalancer":  lb(KourierService),
			"privateLoadBalancer": lb(KourierInternalService),
		}
		_, err := k.dyn.Resource(KIngressGVR).Namespace(u.GetNamespace()).UpdateStatus(ctx, u, metav1.UpdateOptions{})
		if err == nil || !apierrors.IsConflict(err) {
			return
		}
		if u, err = k.dyn.Resource(KIngressGVR).Namespace(u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{}); err != nil {
			return
		}
	}
}

// ingressReady says the KIngress is Ready at its generation.
func ingressReady(u *unstructured.Unstructured) bool {
	if g, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration"); g != u.GetGeneration() {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// serve proxies one request as Kourier's gateway would: the Host picks
// the rule (the public gateway serves only rules visible outside the
// cluster), the path and headers pick the path, the percentages the split.
func (k *KourierStandIn) serve(w http.ResponseWriter, r *http.Request, internal bool) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	k.mu.Lock()
	var route kourierRoute
	found := false
	for _, hosts := range k.hosts {
		if rt, ok := hosts[host]; ok && (internal || !rt.clusterLocal) {
			route, found = rt, true
			break
		}
	}
	var path *kingressPath
	if found {
	paths:
		for i := range route.paths {
			p := &route.paths[i]
			if !strings.HasPrefix(r.URL.Path, p.Path) {
				continue
			}
			for name, m := range p.Headers {
				if r.Header.Get(name) != m.Exact {
					continue paths
				}
			}
			path = p
			break
		}
	}
	n := k.counts[host]
	k.counts[host]++
	k.mu.Unlock()
	if path == nil || len(path.Splits) == 0 {
		http.Error(w, "no route for host "+host, http.StatusNotFound)
		return
	}
	// The splits' percentages add up to 100: request n goes to the split
	// whose share covers n mod 100.
	split := path.Splits[len(path.Splits)-1]
	at := int(n % 100)
	for _, s := range path.Splits {
		if at < s.Percent {
			split = s
			break
		}
		at -= s.Percent
	}
	svc, err := k.cs.CoreV1().Services(split.ServiceNamespace).Get(r.Context(), split.ServiceName, metav1.GetOptions{})
	if err != nil {
		http.Error(w, fmt.Sprintf("service %s/%s: %v", split.ServiceNamespace, split.ServiceName, err), http.StatusServiceUnavailable)
		return
	}
	port := int32(0)
	for _, p := range svc.Spec.Ports {
		if (split.ServicePort.Type == intstr.Int && p.Port == split.ServicePort.IntVal) ||
			(split.ServicePort.Type == intstr.String && p.Name == split.ServicePort.StrVal) {
			port = p.Port
		}
	}
	if port == 0 || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		http.Error(w, fmt.Sprintf("service %s/%s has no cluster address for port %s", split.ServiceNamespace, split.ServiceName, split.ServicePort.String()),
			http.StatusServiceUnavailable)
		return
	}
	target := &url.URL{Scheme: "http", Host: net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(port)))}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = r.Host
			if path.RewriteHost != "" {
				pr.Out.Host = path.RewriteHost
			}
			for h, v := range path.AppendHeaders {
				pr.Out.Header.Set(h, v)
			}
			for h, v := range split.AppendHeaders {
				pr.Out.Header.Set(h, v)
			}
			pr.SetXForwarded()
		},
	}
	proxy.ServeHTTP(w, r)
}
