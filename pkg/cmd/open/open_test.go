package open

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/portforward"
	"github.com/paddleflow/paddlex/pkg/portforward/portforwardtest"
)

func testFactory() *cmdutil.Factory {
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard}})
	ns := "ml"
	f.ConfigFlags.Namespace = &ns
	return f
}

// parse runs a target's command with runF capturing the options.
func parse(t *testing.T, newCmd func(*cmdutil.Factory, func(*Options) error) *cobra.Command, args ...string) (*Options, error) {
	t.Helper()
	var got *Options
	cmd := newCmd(testFactory(), func(o *Options) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.Execute()
	return got, err
}

func TestFlags(t *testing.T) {
	o, err := parse(t, NewCmdPipelines, "ppocr-det-x7k2p", "--port", "8080", "--address", "::1", "--browser", "--copy-token")
	if err != nil {
		t.Fatal(err)
	}
	if o.Target != TargetPipelines || o.Name != "ppocr-det-x7k2p" || o.Namespace != "ml" || o.Port != 8080 || o.Address != "::1" || !o.Browser || !o.CopyToken || o.ShowToken || o.Gateway {
		t.Errorf("options = %+v", o)
	}
	o, err = parse(t, NewCmdServe, "ppocr", "--gateway", "--tag", "candidate")
	if err != nil {
		t.Fatal(err)
	}
	if o.Target != TargetServe || o.Name != "ppocr" || !o.Gateway || o.Tag != "candidate" || o.Address != "127.0.0.1" || o.Port != 0 || o.Browser {
		t.Errorf("serve options = %+v", o)
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		newCmd func(*cmdutil.Factory, func(*Options) error) *cobra.Command
		args   []string
		want   string
	}{
		{NewCmdMinIO, []string{"--address", "0.0.0.0"}, `--address "0.0.0.0": must be a loopback address`},
		{NewCmdMinIO, []string{"--address", "10.0.0.1"}, "must be a loopback address"},
		{NewCmdMinIO, []string{"--port", "70000"}, "--port must be between 0 and 65535"},
		{NewCmdMinIO, []string{"--gateway"}, "--gateway: the install does not expose minio on the ingress gateway"},
		{NewCmdVisualDL, []string{"ppocr", "--gateway"}, "does not expose visualdl"},
		{NewCmdVisualDL, []string{"Bad_Name"}, "TRAINING"},
		{NewCmdPipelines, []string{"--show-token", "--copy-token"}, "choose one"},
		{NewCmdServe, []string{"ppocr", "--gateway", "--revision", "ppocr-00001"}, "use --tag"},
		{NewCmdServe, []string{"ppocr", "--tag", "a", "--revision", "b"}, "choose one"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			o, err := parse(t, tc.newCmd, tc.args...)
			if o != nil || exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (exit %d), want exit 2 with %q", err, exit.Code(err), tc.want)
			}
		})
	}
}

// The component names the not-installed errors give are the catalog's.
func TestComponentsAreInTheCatalog(t *testing.T) {
	cat := install.Default()
	for _, c := range []string{"jupyterhub", "argo-workflows", "minio", "knative-serving", "kourier", "istio", "net-istio"} {
		if cat.Component(c) == nil {
			t.Errorf("no component %s in the install catalog", c)
		}
	}
	for _, g := range []string{portforward.LayerKourier, portforward.LayerIstio} {
		if cat.Networking[g] == nil {
			t.Errorf("no networking layer %s in the install catalog", g)
		}
	}
}

func TestArgoFlags(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		modes  string
		secure bool
	}{
		{[]string{"server", "--namespaced"}, "client", true},
		{[]string{"server", "--auth-mode=client"}, "client", true},
		{[]string{"server", "--auth-mode=client", "--auth-mode=sso"}, "client,sso", true},
		{[]string{"server", "--auth-mode", "server", "--secure=false"}, "server", false},
		{[]string{"server", "--auth-mode=sso,client", "--secure"}, "client,sso", true},
	} {
		modes, secure, _ := argoFlags(tc.args)
		var got []string
		for _, m := range []string{"client", "server", "sso"} {
			if modes[m] {
				got = append(got, m)
			}
		}
		if strings.Join(got, ",") != tc.modes || secure != tc.secure {
			t.Errorf("%v: modes %v secure %v; want %s %v", tc.args, got, secure, tc.modes, tc.secure)
		}
	}
}

func TestBrowserAndClipboardCommands(t *testing.T) {
	u := "http://127.0.0.1:8080/"
	for _, tc := range []struct{ goos, env, want string }{
		{"linux", "", "xdg-open " + u},
		{"darwin", "", "open " + u},
		{"windows", "", "rundll32 url.dll,FileProtocolHandler " + u},
		{"linux", "firefox --new-tab", "firefox --new-tab " + u},
	} {
		if got := strings.Join(browserCommand(tc.goos, tc.env, u), " "); got != tc.want {
			t.Errorf("%s BROWSER=%q: %s, want %s", tc.goos, tc.env, got, tc.want)
		}
	}
	if got := clipboardCommands("linux", true); got[0][0] != "wl-copy" || got[1][0] != "xclip" {
		t.Errorf("wayland: %v", got)
	}
	if got := clipboardCommands("darwin", false); got[0][0] != "pbcopy" {
		t.Errorf("darwin: %v", got)
	}
}

func TestBearerToken(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("from-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// An exec plugin, as cloud providers' kubeconfigs use.
	plugin := filepath.Join(dir, "plugin")
	if err := os.WriteFile(plugin, []byte("#!/bin/sh\necho '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"from-a-plugin\"}}'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cfg  rest.Config
		want string
	}{
		{"static", rest.Config{Host: "https://k8s.invalid", BearerToken: "static-token"}, "static-token"},
		{"file", rest.Config{Host: "https://k8s.invalid", BearerTokenFile: file}, "from-a-file"},
		{"exec", rest.Config{Host: "https://k8s.invalid", ExecProvider: &clientcmdapi.ExecConfig{
			Command: plugin, APIVersion: "client.authentication.k8s.io/v1", InteractiveMode: clientcmdapi.NeverExecInteractiveMode}}, "from-a-plugin"},
		{"client certificate", rest.Config{Host: "https://k8s.invalid"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := BearerToken(&tc.cfg)
			if err != nil || got != tc.want {
				t.Fatalf("token = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func ready(pod *corev1.Pod) *corev1.Pod {
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	return pod
}

// runOpen runs o until it prints its URL, then GETs path there and stops it.
func runOpen(t *testing.T, o *Options, path string, header http.Header) (stdout, stderr, body string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	o.Streams = cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{Out: &out, ErrOut: &errOut}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	urls := make(chan string, 1)
	o.Ready = func(u string) { urls <- u }
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	select {
	case u := <-urls:
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: insecureTLS()}}
		// The URL's origin, at path.
		pu, _ := url.Parse(u)
		pu.Path, pu.RawQuery = path, ""
		req, _ := http.NewRequest(http.MethodGet, pu.String(), nil)
		for k, v := range header {
			req.Header[k] = v
		}
		resp, gerr := c.Do(req)
		if gerr != nil {
			t.Errorf("GET %s: %v", u, gerr)
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
		cancel()
		err = <-done
	case err = <-done:
	}
	return out.String(), errOut.String(), body, err
}

// An HTTP server stands behind the kubelet stand-in; the command forwards
// to MinIO's console pod and the server answers.
func TestRunMinIOThroughTheKubeletStandIn(t *testing.T) {
	console := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "minio console "+r.URL.Path) }))
	defer console.Close()
	kubelet := portforwardtest.NewKubelet()
	defer kubelet.Close()
	kubelet.Route("kubeflow", "minio-0", 9001, strings.TrimPrefix(console.URL, "http://"))
	app := map[string]string{"app": "minio"}
	cs := fake.NewClientset(
		ready(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "minio-0", Namespace: "kubeflow", Labels: app}}),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "minio-service", Namespace: "kubeflow"},
			Spec: corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{{Name: "console", Port: 9001, TargetPort: intstr.FromInt32(9001)}}}})
	o := &Options{Target: TargetMinIO, Namespace: "ml", Address: "127.0.0.1", Clientset: cs, Kube: kube.NewFake(), Forward: portforward.Options{Dialer: kubelet.Dialer()}}
	stdout, stderr, body, err := runOpen(t, o, "/browser", nil)
	if err != nil {
		t.Fatal(err, stderr)
	}
	if body != "minio console /browser" {
		t.Errorf("body = %q", body)
	}
	if !strings.HasPrefix(stdout, "http://127.0.0.1:") || strings.Count(stdout, "\n") != 1 {
		t.Errorf("stdout = %q, want the URL alone", stdout)
	}
	for _, want := range []string{"to service kubeflow/minio-service (pod kubeflow/minio-0 port 9001); press Ctrl-C to stop", "Secret data-center in namespace ml"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestRunNotInstalled(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Target: TargetJupyterHub}, "JupyterHub is not installed (no Service jhub/proxy-public): run `paddlex install --components jupyterhub`"},
		{Options{Target: TargetPipelines}, "the pipeline UI is not installed (no Service argo/argo-server): run `paddlex install --components argo-workflows`"},
		{Options{Target: TargetMinIO}, "the MinIO console is not installed (no Service kubeflow/minio-service): run `paddlex install --components minio`"},
		{Options{Target: TargetVisualDL, Name: "ppocr"}, "training ml/ppocr has no VisualDL board (no Service ppocr-visualdl): create the training with --use-visualdl"},
	} {
		t.Run(tc.o.Target, func(t *testing.T) {
			o := tc.o
			o.Namespace, o.Address, o.Clientset, o.Kube = "ml", "127.0.0.1", fake.NewClientset(), kube.NewFake()
			o.OpenURL = func(string) error { t.Error("a browser was opened"); return nil }
			_, _, _, err := runOpen(t, &o, "/", nil)
			if exit.Code(err) != exit.Precondition || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (exit %d), want exit 4 with %q", err, exit.Code(err), tc.want)
			}
		})
	}
}

func argoServer(args ...string) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "argo-server", Namespace: "argo"},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "argo-server", Args: args}}}}}}
}

// In client mode the token is handed over only when asked: on stdout after
// the URL, or on the clipboard; the browser opens on the run.
func TestRunPipelinesHandsTheTokenOnlyWhenAsked(t *testing.T) {
	argo := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "argo "+r.URL.Path) }))
	defer argo.Close()
	kubelet := portforwardtest.NewKubelet()
	defer kubelet.Close()
	kubelet.Route("argo", "argo-server-0", 2746, strings.TrimPrefix(argo.URL, "https://"))
	app := map[string]string{"app": "argo-server"}
	cs := fake.NewClientset(
		ready(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "argo-server-0", Namespace: "argo", Labels: app}}),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "argo-server", Namespace: "argo"},
			Spec: corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{{Port: 2746, TargetPort: intstr.FromInt32(2746)}}}},
		argoServer("server", "--auth-mode=client"))
	wf := &unstructured.Unstructured{}
	wf.SetAPIVersion("argoproj.io/v1alpha1")
	wf.SetKind("Workflow")
	wf.SetNamespace("ml")
	wf.SetName("ppocr-det-x7k2p")
	base := Options{Target: TargetPipelines, Namespace: "ml", Address: "127.0.0.1", Clientset: cs, Kube: kube.NewFake(wf),
		Config: &rest.Config{Host: "https://k8s.invalid", BearerToken: "secret-token-value"}, Forward: portforward.Options{Dialer: kubelet.Dialer()}}

	o := base
	stdout, stderr, body, err := runOpen(t, &o, "/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout+stderr, "secret-token-value") {
		t.Errorf("the token was printed unasked:\n%s\n%s", stdout, stderr)
	}
	if !strings.HasSuffix(strings.TrimSpace(stdout), "/workflows/ml") || !strings.HasPrefix(stdout, "https://127.0.0.1:") || body != "argo /" {
		t.Errorf("stdout %q body %q", stdout, body)
	}
	if !strings.Contains(stderr, `its login box takes "Bearer <token>"; --copy-token puts it on the clipboard, --show-token prints it`) {
		t.Errorf("stderr:\n%s", stderr)
	}

	o = base
	o.Name, o.ShowToken, o.Browser = "ppocr-det-x7k2p", true, true
	var opened string
	o.OpenURL = func(u string) error { opened = u; return nil }
	stdout, _, _, err = runOpen(t, &o, "/", nil)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if err != nil || len(lines) != 2 || !strings.HasSuffix(lines[0], "/workflows/ml/ppocr-det-x7k2p") || lines[1] != "Bearer secret-token-value" {
		t.Errorf("--show-token: %v, stdout:\n%s", err, stdout)
	}
	if opened != lines[0] {
		t.Errorf("browser opened %q, want %q", opened, lines[0])
	}

	o = base
	o.CopyToken = true
	var copied string
	o.Clipboard = func(s string) error { copied = s; return nil }
	stdout, stderr, _, err = runOpen(t, &o, "/", nil)
	if err != nil || copied != "Bearer secret-token-value" || strings.Contains(stdout+stderr, "secret-token-value") {
		t.Errorf("--copy-token: %v, copied %q\n%s\n%s", err, copied, stdout, stderr)
	}

	o = base
	o.Name = "missing"
	if _, _, _, err := runOpen(t, &o, "/", nil); exit.Code(err) != 1 || !strings.Contains(err.Error(), "pipeline run ml/missing does not exist") {
		t.Errorf("missing run: %v", err)
	}
	o = base
	o.ShowToken, o.Config = true, &rest.Config{Host: "https://k8s.invalid"}
	if _, _, _, err := runOpen(t, &o, "/", nil); exit.Code(err) != exit.Precondition || !strings.Contains(err.Error(), "kubectl create token") {
		t.Errorf("no token: %v", err)
	}
}

// Through the gateway the served model's host goes in the Host header.
func TestRunServeThroughTheGateway(t *testing.T) {
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "routed "+r.Host+r.URL.Path) }))
	defer gw.Close()
	kubelet := portforwardtest.NewKubelet()
	defer kubelet.Close()
	kubelet.Route("kourier-system", "kourier-gw", 8080, strings.TrimPrefix(gw.URL, "http://"))
	app := map[string]string{"app": "3scale-kourier-gateway"}
	cs := fake.NewClientset(
		ready(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "kourier-gw", Namespace: "kourier-system", Labels: app}}),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "kourier", Namespace: "kourier-system"},
			Spec: corev1.ServiceSpec{Selector: app, Ports: []corev1.ServicePort{{Name: "http2", Port: 80, TargetPort: intstr.FromInt32(8080)}}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "config-network", Namespace: "knative-serving"}, Data: map[string]string{"ingress-class": "kourier.ingress.networking.knative.dev"}})
	ksvc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Service",
		"metadata": map[string]any{"name": "ppocr", "namespace": "ml"},
		"status": map[string]any{"url": "http://ppocr.ml.example.com", "latestReadyRevisionName": "ppocr-v2",
			"traffic": []any{map[string]any{"tag": "candidate", "revisionName": "ppocr-v3", "url": "http://candidate-ppocr.ml.example.com", "percent": int64(0)}}},
	}}
	o := &Options{Target: TargetServe, Name: "ppocr", Namespace: "ml", Address: "127.0.0.1", Gateway: true, Clientset: cs, Kube: kube.NewFake(ksvc),
		Forward: portforward.Options{Dialer: kubelet.Dialer()}}
	_, stderr, body, err := runOpen(t, o, "/ocr/prediction", nil)
	if err != nil || body != "routed ppocr.ml.example.com/ocr/prediction" {
		t.Fatalf("%v: body %q\n%s", err, body, stderr)
	}
	if !strings.Contains(stderr, "through the Kourier gateway (service kourier-system/kourier) with Host ppocr.ml.example.com") {
		t.Errorf("stderr:\n%s", stderr)
	}
	o.Tag = "candidate"
	if _, _, body, err := runOpen(t, o, "/", nil); err != nil || body != "routed candidate-ppocr.ml.example.com/" {
		t.Errorf("--tag: %v, body %q", err, body)
	}
	// Without --gateway: the revision's pod, into queue-proxy's port.
	o.Gateway, o.Tag = false, ""
	_, _, _, err = runOpen(t, o, "/", nil)
	if err == nil || !strings.Contains(err.Error(), "pods serving.knative.dev/revision=ppocr-v2 in ml port 8012: none of its 0 pods is running and ready") ||
		!strings.Contains(err.Error(), "--gateway goes through Knative's activator") {
		t.Errorf("scaled to zero: %v", err)
	}
	o.Name = "absent"
	if _, _, _, err := runOpen(t, o, "/", nil); exit.Code(err) != 1 || !strings.Contains(err.Error(), "served model ml/absent: it does not exist") {
		t.Errorf("absent: %v", err)
	}
}

func insecureTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} } //nolint:gosec // the test servers' own certificates
