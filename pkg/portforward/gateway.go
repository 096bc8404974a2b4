package portforward

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/paddleflow/paddlex/pkg/exit"
)

// Knative Serving's network configuration: the ingress class names the
// networking layer whose gateway routes to services.
const (
	KnativeNamespace     = "knative-serving"
	KnativeNetworkConfig = "config-network"
	ingressClassKey      = "ingress-class"
	// ingressClassLegacyKey is the key Knative read before 1.x, still honoured.
	ingressClassLegacyKey = "ingress.class"
)

// Networking layers, as the install's --networking names them.
const (
	LayerKourier = "kourier"
	LayerIstio   = "istio"
)

// Gateway is the ingress gateway of Knative Serving's networking layer: the
// Service that routes a request to a Knative Service by its Host header.
type Gateway struct {
	// Layer is LayerKourier or LayerIstio.
	Layer string
	// External serves the hosts of public routes and Local those of
	// cluster-local ones (NAME.NS.svc.cluster.local); both on HTTP port 80.
	External, Local Target
	// Components are the install components that provide the layer.
	Components string
}

// gateways are where net-kourier's kourier.yaml and net-istio's istio.yaml
// (the releases the install pins) put their gateways' Services.
var gateways = map[string]Gateway{
	LayerKourier: {
		Layer:      LayerKourier,
		External:   Target{Namespace: "kourier-system", Service: "kourier", Port: 80},
		Local:      Target{Namespace: "kourier-system", Service: "kourier-internal", Port: 80},
		Components: "knative-serving,kourier",
	},
	LayerIstio: {
		Layer:      LayerIstio,
		External:   Target{Namespace: "istio-system", Service: "istio-ingressgateway", Port: 80},
		Local:      Target{Namespace: "istio-system", Service: "knative-local-gateway", Port: 80},
		Components: "knative-serving,istio,net-istio",
	},
}

// For returns the Service that serves host: the local gateway for a
// cluster-local host, the external one otherwise.
func (g Gateway) For(host string) Target {
	if strings.HasSuffix(host, ".svc.cluster.local") || strings.HasSuffix(host, ".svc") {
		return g.Local
	}
	return g.External
}

// Title is the layer's name for messages.
func (g Gateway) Title() string {
	if g.Layer == LayerIstio {
		return "Istio"
	}
	return "Kourier"
}

// FindGateway returns the gateway of the networking layer Knative Serving is
// configured with (ConfigMap knative-serving/config-network, key
// ingress-class), after checking that its external Service exists. A missing
// Knative Serving or gateway is a precondition error naming the install
// components that provide it.
func FindGateway(ctx context.Context, cs kubernetes.Interface) (Gateway, error) {
	cm, err := cs.CoreV1().ConfigMaps(KnativeNamespace).Get(ctx, KnativeNetworkConfig, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return Gateway{}, exit.PreconditionErrorf("Knative Serving is not installed (no ConfigMap %s/%s): run `paddlex install --components %s`",
			KnativeNamespace, KnativeNetworkConfig, gateways[LayerKourier].Components)
	case err != nil:
		return Gateway{}, fmt.Errorf("read Knative's network configuration %s/%s: %w", KnativeNamespace, KnativeNetworkConfig, err)
	}
	class := cm.Data[ingressClassKey]
	if class == "" {
		class = cm.Data[ingressClassLegacyKey]
	}
	layer, err := layerOf(class)
	if err != nil {
		return Gateway{}, err
	}
	g := gateways[layer]
	if _, err := cs.CoreV1().Services(g.External.Namespace).Get(ctx, g.External.Service, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return g, exit.PreconditionErrorf("Knative Serving routes through %s (ingress-class %s), but its gateway is not installed (no Service %s/%s): run `paddlex install --components %s`",
				g.Title(), orDefault(class), g.External.Namespace, g.External.Service, g.Components)
		}
		return g, fmt.Errorf("read the %s gateway's Service %s/%s: %w", g.Title(), g.External.Namespace, g.External.Service, err)
	}
	return g, nil
}

// layerOf maps an ingress class onto a networking layer; Knative's default
// (no class set) is Istio's.
func layerOf(class string) (string, error) {
	switch {
	case class == "" || strings.HasPrefix(class, "istio."):
		return LayerIstio, nil
	case strings.HasPrefix(class, "kourier."):
		return LayerKourier, nil
	}
	return "", exit.PreconditionErrorf("Knative Serving's ingress-class %q (ConfigMap %s/%s) is neither Kourier's nor Istio's, the networking layers paddlex installs; reach the service through that layer's own gateway",
		class, KnativeNamespace, KnativeNetworkConfig)
}

func orDefault(class string) string {
	if class == "" {
		return "unset, so Istio's"
	}
	return class
}

// ExternalAddress returns the address a LoadBalancer Service is reachable
// at outside the cluster (its first ingress IP or host name), or "".
func ExternalAddress(svc *corev1.Service) string {
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			return in.IP
		}
		if in.Hostname != "" {
			return in.Hostname
		}
	}
	return ""
}
