package modelhub

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/spdy"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	clientportforward "k8s.io/client-go/tools/portforward"
	streamhttp "k8s.io/streaming/pkg/httpstream"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/modelstore/s3test"
	"github.com/paddleflow/paddlex/pkg/portforward"
)

func TestClusterService(t *testing.T) {
	for _, c := range []struct {
		endpoint string
		want     portforward.Target
		ok       bool
	}{
		{"http://minio-service.kubeflow:9000", portforward.Target{Namespace: "kubeflow", Service: "minio-service", Port: 9000}, true},
		{"http://minio-service.kubeflow.svc:9000", portforward.Target{Namespace: "kubeflow", Service: "minio-service", Port: 9000}, true},
		{"http://minio.team-a.svc.cluster.local", portforward.Target{Namespace: "team-a", Service: "minio", Port: 80}, true},
		{"https://minio:9443", portforward.Target{Namespace: "ns", Service: "minio", Port: 9443}, true},
		{"http://127.0.0.1:9000", portforward.Target{}, false},
		{"http://localhost:9000", portforward.Target{}, false},
		{"https://s3.us-east-1.amazonaws.com", portforward.Target{}, false},
	} {
		got, ok := ClusterService(c.endpoint, "ns")
		if ok != c.ok || got != c.want {
			t.Errorf("ClusterService(%s) = %+v, %v; want %+v, %v", c.endpoint, got, ok, c.want, c.ok)
		}
	}
}

// fakeKubelet answers a portforward upgrade as the kubelet does, piping the
// data stream to target.
func fakeKubelet(t *testing.T, target string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
					go func() {
						c, err := net.Dial("tcp", target)
						if err != nil {
							s.Reset()
							return
						}
						defer c.Close()
						go io.Copy(c, s)
						io.Copy(s, c)
						s.Close()
					}()
				}
			case <-conn.CloseChan():
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// An endpoint that is a cluster Service this machine cannot resolve is
// reached through a port-forward to the Service's pod, with the keys read
// from the cluster Secret, and the user is told.
func TestConnectPortForwardsToTheClusterService(t *testing.T) {
	s3 := s3test.Start(t)
	u, _ := url.Parse(s3.Endpoint)
	kubelet := fakeKubelet(t, u.Host)
	app := map[string]string{"app": "minio"}
	cs := fake.NewClientset(
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "minio-0", Namespace: "kubeflow", Labels: app},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "minio", Ports: []corev1.ContainerPort{{Name: "s3", ContainerPort: 9000}}}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "minio-service", Namespace: "kubeflow"},
			Spec:       corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{{Port: 9000, TargetPort: intstr.FromString("s3")}}},
		},
	)
	// The Secret is read through the engine.
	k := kube.NewFake(kube.ToUnstructured(&corev1.Secret{
		TypeMeta:   kube.TypeMeta(corev1.SchemeGroupVersion.WithKind("Secret")),
		ObjectMeta: metav1.ObjectMeta{Name: "data-center", Namespace: "kubeflow"},
		Data:       map[string][]byte{"access-key": []byte(s3.AccessKey), "secret-key": []byte(s3.SecretKey)},
	}))
	var errOut bytes.Buffer
	o := &S3Options{
		Endpoint: "http://minio-service.kubeflow:9000", Secret: "data-center", Namespace: "kubeflow",
		Streams: cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{Out: io.Discard, ErrOut: &errOut}},
		Kube:    func() (kube.Interface, error) { return k, nil },
		Forward: func(ctx context.Context, tg portforward.Target) (*portforward.Forward, error) {
			return portforward.Start(ctx, nil, cs, tg, portforward.Options{Dialer: func(ns, pod string) (streamhttp.Dialer, error) {
				u, _ := url.Parse(kubelet.URL + "/api/v1/namespaces/" + ns + "/pods/" + pod + "/portforward")
				return portforward.NewDialer(&rest.Config{Host: kubelet.URL}, u)
			}})
		},
		DialTimeout: time.Second,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, stop, err := o.Connect(ctx)
	if err != nil {
		if strings.Contains(err.Error(), "cannot reach") && !strings.Contains(err.Error(), "port-forward") {
			t.Skipf("minio-service.kubeflow resolves here: %v", err)
		}
		t.Fatal(err)
	}
	defer stop()
	if !strings.Contains(errOut.String(), "http://minio-service.kubeflow:9000 is not reachable from here: port-forwarding 127.0.0.1:") ||
		!strings.Contains(errOut.String(), "to pod kubeflow/minio-0 port 9000 through the API server") {
		t.Errorf("stderr = %q", errOut.String())
	}
	if !strings.HasPrefix(st.Endpoint(), "http://127.0.0.1:") {
		t.Errorf("store endpoint = %s", st.Endpoint())
	}
	if _, err := st.List(ctx, ""); err != nil {
		t.Fatalf("list through the forward: %v", err)
	}

	// Without the Secret, the missing keys are a precondition, named.
	empty := kube.NewFake()
	o.Kube = func() (kube.Interface, error) { return empty, nil }
	_, _, err = o.Connect(ctx)
	if exit.Code(err) != exit.Precondition || !strings.Contains(err.Error(), "Secret kubeflow/data-center does not exist") || !strings.Contains(err.Error(), "PADDLEX_S3_ACCESS_KEY") {
		t.Errorf("no keys: %v", err)
	}
}

// TestKeysFromTheSecretThroughTheEngine: the Secret's keys are read through
// the engine; a Secret without them, or an engine refusal, is a
// precondition that names the Secret and never its data.
func TestKeysFromTheSecretThroughTheEngine(t *testing.T) {
	secret := func(data map[string][]byte) *kube.Fake {
		return kube.NewFake(kube.ToUnstructured(&corev1.Secret{
			TypeMeta:   kube.TypeMeta(corev1.SchemeGroupVersion.WithKind("Secret")),
			ObjectMeta: metav1.ObjectMeta{Name: "keys", Namespace: "team"},
			Data:       data,
		}))
	}
	o := &S3Options{Secret: "keys", Namespace: "team"}
	o.Kube = func() (kube.Interface, error) {
		return secret(map[string][]byte{"access-key": []byte("AKIA-EXAMPLE"), "secret-key": []byte("s3cr3t-value"), "model-prefix": []byte("team/")}), nil
	}
	access, sec, prefix, err := o.readKeys(context.Background())
	if err != nil || access != "AKIA-EXAMPLE" || sec != "s3cr3t-value" || prefix != "team/" {
		t.Errorf("keys = %q %q %q, %v", access, sec, prefix, err)
	}

	o.Kube = func() (kube.Interface, error) {
		return secret(map[string][]byte{"access-key": []byte("AKIA-EXAMPLE")}), nil
	}
	_, _, _, err = o.readKeys(context.Background())
	if exit.Code(err) != exit.Precondition || !strings.Contains(err.Error(), "Secret team/keys lacks access-key or secret-key") || strings.Contains(err.Error(), "AKIA-EXAMPLE") {
		t.Errorf("incomplete Secret: %v", err)
	}

	refusing := kube.NewFake()
	refusing.Err = &kube.PreconditionError{Reason: kube.ReasonForbidden, Err: errors.New("get Secret team/keys: RBAC forbids get on secrets in namespace team")}
	o.Kube = func() (kube.Interface, error) { return refusing, nil }
	_, _, _, err = o.readKeys(context.Background())
	if exit.Code(err) != exit.Precondition || !kube.IsForbidden(err) || !strings.Contains(err.Error(), "RBAC forbids") || !strings.Contains(err.Error(), "--s3-access-key") {
		t.Errorf("forbidden: %v", err)
	}
}
