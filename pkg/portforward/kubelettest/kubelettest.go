// Package kubelettest is a test double of the kubelet's port-forward
// endpoint: what the API server proxies `kubectl port-forward` to. Tests
// point portforward.Options.Dialer at it, so the real client-go
// port-forwarding runs end to end, over SPDY, to a real server on loopback
// playing the pod.
package kubelettest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/client-go/rest"
	clientportforward "k8s.io/client-go/tools/portforward"
	streamhttp "k8s.io/streaming/pkg/httpstream"

	"github.com/paddleflow/paddlex/pkg/portforward"
)

// Kubelet answers port-forward upgrades as the kubelet does: one error
// stream and one data stream per connection, each data stream piped to the
// TCP address Route returns for the pod and port asked for.
type Kubelet struct {
	*httptest.Server
	// Route returns the address that plays namespace/pod's port; "" refuses
	// the connection.
	Route func(namespace, pod, port string) string

	mu        sync.Mutex
	forwarded []string
}

// Start starts a kubelet whose every pod plays target; set Route for more.
// It stops when the test ends.
func Start(t testing.TB, target string) *Kubelet {
	k := &Kubelet{Route: func(string, string, string) string { return target }}
	k.Server = httptest.NewServer(http.HandlerFunc(k.serve))
	t.Cleanup(k.Server.Close)
	return k
}

// Forwarded lists the "namespace/pod:port" of every data stream opened.
func (k *Kubelet) Forwarded() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.forwarded...)
}

// Dialer is a portforward.Options.Dialer that reaches the pod through this
// kubelet.
func (k *Kubelet) Dialer(namespace, pod string) (streamhttp.Dialer, error) {
	u, err := url.Parse(k.URL + "/portforward/" + namespace + "/" + pod)
	if err != nil {
		return nil, err
	}
	return portforward.NewDialer(&rest.Config{Host: k.URL}, u)
}

func (k *Kubelet) serve(w http.ResponseWriter, r *http.Request) {
	var ns, pod string
	if rest, ok := strings.CutPrefix(r.URL.Path, "/portforward/"); ok {
		ns, pod, _ = strings.Cut(rest, "/")
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
			switch s.Headers().Get(corev1.StreamType) {
			case corev1.StreamTypeError:
				s.Close()
			case corev1.StreamTypeData:
				port := s.Headers().Get(corev1.PortHeader)
				k.mu.Lock()
				k.forwarded = append(k.forwarded, ns+"/"+pod+":"+port)
				k.mu.Unlock()
				go pipe(s, k.Route(ns, pod, port))
			}
		case <-conn.CloseChan():
			return
		}
	}
}

func pipe(s httpstream.Stream, target string) {
	if target == "" {
		s.Reset()
		return
	}
	c, err := net.Dial("tcp", target)
	if err != nil {
		s.Reset()
		return
	}
	defer c.Close()
	go func() { _, _ = io.Copy(c, s) }()
	_, _ = io.Copy(s, c)
	s.Close()
}
