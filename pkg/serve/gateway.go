package serve

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Gateway is the Service of Knative's ingress gateway, which routes
// requests to a served model by their Host header.
type Gateway struct {
	Namespace, Name string
	// Port is the Service's plain-HTTP port.
	Port int32
	// External is the address it is exposed at outside the cluster, if any.
	External string
}

// knownGateways are the gateway Services of Knative's networking layers,
// by ingress class.
var knownGateways = []struct{ class, namespace, name string }{
	{"kourier.ingress.networking.knative.dev", "kourier-system", "kourier"},
	{"istio.ingress.networking.knative.dev", "istio-system", "istio-ingressgateway"},
}

// FindGateway finds the gateway of the ingress class config-network names,
// or else the first known gateway installed.
func FindGateway(ctx context.Context, cs kubernetes.Interface) (*Gateway, error) {
	class := ""
	cm, err := cs.CoreV1().ConfigMaps("knative-serving").Get(ctx, "config-network", metav1.GetOptions{})
	if err == nil {
		if class = cm.Data["ingress-class"]; class == "" {
			class = cm.Data["ingress.class"]
		}
	}
	var tried []string
	for _, g := range knownGateways {
		if class != "" && g.class != class {
			continue
		}
		tried = append(tried, g.namespace+"/"+g.name)
		svc, err := cs.CoreV1().Services(g.namespace).Get(ctx, g.name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		return GatewayOf(svc), nil
	}
	if class != "" && len(tried) == 0 {
		return nil, fmt.Errorf("Knative's ingress class %s is not one paddlex knows the gateway of", class)
	}
	return nil, fmt.Errorf("no gateway Service %s", strings.Join(tried, " or "))
}

// GatewayOf reads a gateway Service: its plain-HTTP port (named http2 or
// http, else 80, else the first) and the address it is exposed at outside
// the cluster (a load balancer's, else an external IP).
func GatewayOf(svc *corev1.Service) *Gateway {
	g := &Gateway{Namespace: svc.Namespace, Name: svc.Name}
	for _, p := range svc.Spec.Ports {
		if p.Name == "http2" || p.Name == "http" || (g.Port == 0 && p.Port == 80) {
			g.Port = p.Port
		}
	}
	if g.Port == 0 && len(svc.Spec.Ports) > 0 {
		g.Port = svc.Spec.Ports[0].Port
	}
	addr := ""
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if addr = in.IP; addr == "" {
			addr = in.Hostname
		}
		if addr != "" {
			break
		}
	}
	if addr == "" && len(svc.Spec.ExternalIPs) > 0 {
		addr = svc.Spec.ExternalIPs[0]
	}
	if addr != "" && g.Port != 0 {
		g.External = "http://" + net.JoinHostPort(addr, strconv.Itoa(int(g.Port)))
	}
	return g
}
