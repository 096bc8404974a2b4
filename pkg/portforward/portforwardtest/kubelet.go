// Package portforwardtest is a test stand-in for the kubelet's port-forward
// endpoint, for clusters whose nodes have no kubelet (the API server alone,
// or kwok's simulated nodes). It answers the SPDY upgrade as the kubelet
// does and pipes each forwarded connection to a real TCP server the test
// runs, chosen by pod and port.
//
// It is reached either directly (Dialer, bypassing the API server) or, as a
// real client reaches a kubelet, through the API server: Node registers a
// Node whose address and kubelet port are the stand-in's, and pods bound to
// that node are forwarded by the API server to it.
package portforwardtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientportforward "k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/util/retry"
	streamhttp "k8s.io/streaming/pkg/httpstream"

	"github.com/paddleflow/paddlex/pkg/portforward"
)

// Kubelet is the stand-in. Route says where a pod's port leads; a stream
// for a pod and port without a route is reset, as the kubelet resets one
// for a port nothing listens on.
type Kubelet struct {
	// Server serves HTTPS, as a kubelet does.
	Server *httptest.Server

	mu       sync.Mutex
	routes   map[string]string
	requests []string
}

// NewKubelet starts a stand-in; Close stops it.
func NewKubelet() *Kubelet {
	k := &Kubelet{routes: map[string]string{}}
	k.Server = httptest.NewTLSServer(http.HandlerFunc(k.serve))
	return k
}

// Close stops the stand-in.
func (k *Kubelet) Close() { k.Server.Close() }

// Route sends what is forwarded to namespace/pod's port to addr.
func (k *Kubelet) Route(namespace, pod string, port int32, addr string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.routes[key(namespace, pod, strconv.Itoa(int(port)))] = addr
}

// Requests lists the "namespace/pod:port" of every forwarded connection so
// far, in order.
func (k *Kubelet) Requests() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.requests...)
}

func key(ns, pod, port string) string { return ns + "/" + pod + ":" + port }

// Dialer returns a portforward.Options.Dialer that reaches the stand-in
// directly, for tests without an API server.
func (k *Kubelet) Dialer() func(namespace, pod string) (streamhttp.Dialer, error) {
	return func(ns, pod string) (streamhttp.Dialer, error) {
		u, err := url.Parse(k.Server.URL + "/api/v1/namespaces/" + ns + "/pods/" + pod + "/portforward")
		if err != nil {
			return nil, err
		}
		return portforward.NewDialer(&rest.Config{Host: k.Server.URL, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}, u)
	}
}

// Node registers a Node named name whose only address is the stand-in's
// (127.0.0.1) and whose kubelet port is the stand-in's, so the API server
// forwards the portforward subresource of pods bound to it here. The API
// server verifies no kubelet certificate unless it was given a kubelet CA.
func (k *Kubelet) Node(ctx context.Context, cs kubernetes.Interface, name string) error {
	u, err := url.Parse(k.Server.URL)
	if err != nil {
		return err
	}
	host, portStr, err := net.SplitHostPort(u.Host)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		// Nothing is scheduled here but the pods a test binds to it.
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "paddlex.test/port-forward-stand-in", Effect: corev1.TaintEffectNoSchedule}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("register node %s: %w", name, err)
	}
	// The node controllers may write the new node first (a not-ready taint),
	// so the status goes on the latest version, again after a conflict.
	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: host}}
		node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("node %s status: %w", name, err)
	}
	return nil
}

// podOf finds the namespace and pod in a kubelet path
// (/portForward/NS/POD[/UID]) or an API server path
// (/api/v1/namespaces/NS/pods/POD/portforward).
func podOf(path string) (string, string, bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) >= 3 && parts[0] == "portForward" {
		return parts[1], parts[2], true
	}
	if len(parts) == 7 && parts[2] == "namespaces" && parts[4] == "pods" && parts[6] == "portforward" {
		return parts[3], parts[5], true
	}
	return "", "", false
}

func (k *Kubelet) serve(w http.ResponseWriter, r *http.Request) {
	ns, pod, ok := podOf(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if _, err := httpstream.Handshake(r, w, []string{clientportforward.PortForwardProtocolV1Name}); err != nil {
		return
	}
	streams := make(chan httpstream.Stream, 8)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(s httpstream.Stream, _ <-chan struct{}) error {
		streams <- s
		return nil
	})
	if conn == nil {
		return
	}
	defer conn.Close()
	for {
		select {
		case s := <-streams:
			port := s.Headers().Get(corev1.PortHeader)
			switch s.Headers().Get(corev1.StreamType) {
			case corev1.StreamTypeError:
				// No error to report: closing it tells the client so.
				s.Close()
			case corev1.StreamTypeData:
				k.mu.Lock()
				addr := k.routes[key(ns, pod, port)]
				k.requests = append(k.requests, key(ns, pod, port))
				k.mu.Unlock()
				go pipe(s, addr)
			}
		case <-conn.CloseChan():
			return
		}
	}
}

func pipe(s httpstream.Stream, addr string) {
	if addr == "" {
		s.Reset()
		return
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		s.Reset()
		return
	}
	defer c.Close()
	go func() {
		_, _ = io.Copy(c, s)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	_, _ = io.Copy(s, c)
	s.Close()
}
