// Package portforward forwards a local port to a pod, or to the pod behind a
// Service, through the API server, as `kubectl port-forward` does. Commands
// use it to open web UIs and object stores that are not exposed outside the
// cluster.
package portforward

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

// Target names what to forward to: a pod, a Service whose ready backing
// pod is chosen, or the ready pods a label selector matches (a Knative
// revision's, whose Services have no selector). Port is the pod's container
// port, or for a Service the Service port (mapped through its targetPort, as
// kubectl does).
type Target struct {
	Namespace string
	Pod       string
	Service   string
	Selector  string
	Port      int32
}

func (t Target) String() string {
	switch {
	case t.Service != "":
		return fmt.Sprintf("service %s/%s port %d", t.Namespace, t.Service, t.Port)
	case t.Selector != "":
		return fmt.Sprintf("pods %s in %s port %d", t.Selector, t.Namespace, t.Port)
	}
	return fmt.Sprintf("pod %s/%s port %d", t.Namespace, t.Pod, t.Port)
}

// Options tune Start.
type Options struct {
	// LocalPort is the local port to listen on; 0 picks a free one.
	LocalPort int
	// Address is the local address to listen on (default 127.0.0.1).
	Address string
	// ErrOut receives forwarding errors; nil discards them.
	ErrOut io.Writer
	// Dialer, when set, replaces the API server connection to the pod, for tests.
	Dialer func(namespace, pod string) (streamhttp.Dialer, error)
}

// Forward is a running port-forward.
type Forward struct {
	// Pod and RemotePort are where the traffic goes.
	Pod        string
	RemotePort int32
	// LocalPort is where it is accepted.
	LocalPort int
	// Address is the local listen address.
	Address string

	cancel context.CancelFunc
	done   chan error
}

// URL returns http://ADDRESS:LOCALPORT/.
func (f *Forward) URL() string {
	return "http://" + net.JoinHostPort(f.Address, strconv.Itoa(f.LocalPort)) + "/"
}

// Done is closed (after sending the error, nil on a clean stop) when the
// forward ends: Close was called, ctx ended, or the connection to the pod broke.
func (f *Forward) Done() <-chan error { return f.done }

// Wait blocks until ctx ends (nil: the user stopped it) or the forward
// ends on its own (the error that ended it, or nil).
func (f *Forward) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-f.done:
		return err
	}
}

// Close stops forwarding and waits until the listener is closed.
func (f *Forward) Close() {
	f.cancel()
	for range f.done {
	}
}

// Start resolves the target and forwards a local port to it until ctx ends
// or Close is called. It returns once the local port is listening.
func Start(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, t Target, opts Options) (*Forward, error) {
	pod, port, err := Resolve(ctx, cs, t)
	if err != nil {
		return nil, err
	}
	dial := opts.Dialer
	if dial == nil {
		dial = func(ns, name string) (streamhttp.Dialer, error) { return APIServerDialer(cfg, cs, ns, name) }
	}
	dialer, err := dial(t.Namespace, pod)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", t.Namespace, pod, err)
	}
	addr := opts.Address
	if addr == "" {
		addr = "127.0.0.1"
	}
	errOut := opts.ErrOut
	if errOut == nil {
		errOut = io.Discard
	}
	fctx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesForStreamingWithContext(fctx, dialer, []string{addr},
		[]string{fmt.Sprintf("%d:%d", opts.LocalPort, port)}, ready, io.Discard, errOut)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("port-forward to pod %s/%s: %w", t.Namespace, pod, err)
	}
	f := &Forward{Pod: pod, RemotePort: port, Address: addr, cancel: cancel, done: make(chan error, 1)}
	go func() {
		err := pf.ForwardPorts()
		cancel()
		f.done <- err
		close(f.done)
	}()
	select {
	case <-ready:
	case err := <-f.done:
		cancel()
		if err == nil {
			err = errors.New("stopped before it was ready")
		}
		return nil, fmt.Errorf("port-forward to pod %s/%s port %d: %w", t.Namespace, pod, port, err)
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		f.Close()
		return nil, fmt.Errorf("port-forward to pod %s/%s: no local port: %v", t.Namespace, pod, err)
	}
	f.LocalPort = int(ports[0].Local)
	return f, nil
}

// APIServerDialer connects to a pod's portforward subresource through the
// API server: WebSockets first, SPDY for servers that do not upgrade to them.
func APIServerDialer(cfg *rest.Config, cs kubernetes.Interface, namespace, pod string) (streamhttp.Dialer, error) {
	if cfg == nil {
		return nil, errors.New("no REST config")
	}
	u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	return NewDialer(cfg, u)
}

// NewDialer returns the dialer kubectl uses for a portforward URL.
func NewDialer(cfg *rest.Config, u *url.URL) (streamhttp.Dialer, error) {
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, err
	}
	spdyDialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	ws, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, cfg)
	if err != nil {
		return nil, err
	}
	return portforward.NewFallbackDialerForStreaming(ws, spdyDialer, func(err error) bool {
		return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)
	}), nil
}

// Resolve returns the pod and container port traffic for t goes to. For a
// Service it picks a Running, Ready pod its selector matches (the oldest, for
// a stable choice) and maps the Service port onto the pod's port.
func Resolve(ctx context.Context, cs kubernetes.Interface, t Target) (string, int32, error) {
	if t.Port <= 0 || t.Port > 65535 {
		return "", 0, fmt.Errorf("port-forward to %s: port must be between 1 and 65535", t)
	}
	if t.Pod != "" {
		pod, err := cs.CoreV1().Pods(t.Namespace).Get(ctx, t.Pod, metav1.GetOptions{})
		if err != nil {
			return "", 0, notFound(err, t, "pod")
		}
		if pod.Status.Phase != corev1.PodRunning {
			return "", 0, fmt.Errorf("port-forward to %s: pod is %s, not Running", t, pod.Status.Phase)
		}
		return pod.Name, t.Port, nil
	}
	if t.Selector != "" {
		pod, err := readyPod(ctx, cs, t, t.Selector)
		if err != nil {
			return "", 0, err
		}
		return pod.Name, t.Port, nil
	}
	if t.Service == "" {
		return "", 0, errors.New("port-forward: name a pod, a service or a selector")
	}
	svc, err := cs.CoreV1().Services(t.Namespace).Get(ctx, t.Service, metav1.GetOptions{})
	if err != nil {
		return "", 0, notFound(err, t, "service")
	}
	if len(svc.Spec.Selector) == 0 {
		return "", 0, fmt.Errorf("port-forward to %s: the service has no selector, so no pod backs it", t)
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == t.Port {
			sp = &svc.Spec.Ports[i]
		}
	}
	if sp == nil {
		return "", 0, fmt.Errorf("port-forward to %s: the service has no port %d", t, t.Port)
	}
	pod, err := readyPod(ctx, cs, t, labels.SelectorFromSet(svc.Spec.Selector).String())
	if err != nil {
		return "", 0, err
	}
	port, err := containerPort(pod, sp)
	if err != nil {
		return "", 0, fmt.Errorf("port-forward to %s: %w", t, err)
	}
	return pod.Name, port, nil
}

// readyPod picks a Running, Ready pod that selector matches: the oldest, for
// a stable choice.
func readyPod(ctx context.Context, cs kubernetes.Interface, t Target, selector string) (*corev1.Pod, error) {
	pods, err := cs.CoreV1().Pods(t.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s: list its pods: %w", t, err)
	}
	var ready []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && podReady(&p) {
			ready = append(ready, p)
		}
	}
	if len(ready) == 0 {
		return nil, fmt.Errorf("port-forward to %s: none of its %d pods is running and ready", t, len(pods.Items))
	}
	sort.Slice(ready, func(i, j int) bool {
		ti, tj := ready[i].CreationTimestamp, ready[j].CreationTimestamp
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return ready[i].Name < ready[j].Name
	})
	return &ready[0], nil
}

func notFound(err error, t Target, kind string) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("port-forward to %s: the %s does not exist", t, kind)
	}
	return fmt.Errorf("port-forward to %s: %w", t, err)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// containerPort maps a Service port onto the pod: a numeric targetPort is
// used as is (the port itself when unset), a named one is looked up among
// the pod's container ports.
func containerPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	switch {
	case sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal == 0:
		return sp.Port, nil
	case sp.TargetPort.Type == intstr.Int:
		return sp.TargetPort.IntVal, nil
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == sp.TargetPort.StrVal {
				return p.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("pod %s has no container port named %q", pod.Name, sp.TargetPort.StrVal)
}
