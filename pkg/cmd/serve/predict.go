package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	modelhubcmd "github.com/paddleflow/paddlex/pkg/cmd/modelhub"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/portforward"
	"github.com/paddleflow/paddlex/pkg/serve"
	"github.com/paddleflow/paddlex/pkg/validate"
)

// Values of --gateway besides a URL.
const (
	GatewayAuto = "auto"
	GatewayNone = "none"
)

// maxAnswer bounds the answer read from the model server.
const maxAnswer = 64 << 20

// PredictOptions are the options of `serve predict`.
type PredictOptions struct {
	Name      string
	Namespace string
	File      string
	Data      string
	Image     string
	// Revision is --revision resolved to the revision's name.
	Revision string
	Tag      string
	// Fetch names the fetch variables to return (default: all).
	Fetch []string
	// ClientConfig is the model's serving_client_conf.prototxt, or a
	// directory holding it (default: read from the model center).
	ClientConfig string
	Gateway      string
	Output       string
	Timeout      time.Duration
	// DialTimeout bounds the check that the gateway answers (default 2s).
	DialTimeout time.Duration

	// input is the request as the user gave it (-f, --data), checked by
	// Complete; image is --image's bytes.
	input     map[string]json.RawMessage
	inputName string
	raw       []byte
	image     []byte
	// Body is the request sent, built by Run from the input and the
	// model's signature.
	Body []byte
	// S3 reaches the model center for the model's signature.
	S3 modelhubcmd.S3Options
	// CacheDir keeps signatures read from the model center, by archive
	// sha256 (default: the user's cache directory).
	CacheDir string

	Streams   cmdutil.IOStreams
	Kube      kube.Interface
	Clientset kubernetes.Interface
	// Forward port-forwards to a pod or a Service's pod through the API
	// server; Connect sets it, tests replace it.
	Forward func(ctx context.Context, t portforward.Target) (*portforward.Forward, error)
	// Client sends the request (default: a client without a timeout of
	// its own: --timeout bounds the whole command).
	Client *http.Client
}

// NewCmdPredict returns `serve predict`.
func NewCmdPredict(f *cmdutil.Factory, runF func(*PredictOptions) error) *cobra.Command {
	o := &PredictOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "predict NAME (-f FILE | --data JSON | --image FILE) [--tag T | --revision R] [--gateway URL]",
		Short: "Send a request to a served model and print its answer",
		Long: `Send a request to a served model and print its answer.

A served model runs Paddle Serving's C++ server, which answers POST
/GeneralModelService/inference with its request as JSON: one tensor per
feed, typed and shaped as the model's serving configuration says. -f (a
file, or - for stdin) and --data take the feeds as a JSON object, one field
per feed alias: {"x": [0.5, 1.5, 2.5]}. A list (nested or flat) becomes a
tensor of the feed's shape with a batch of one, as Paddle Serving's HTTP
client builds it; its values must be of the feed's type (integers for
int64 and int32, strings for string feeds). The feeds' types and shapes
come from the served version's serving_client_conf.prototxt, read from its
archive in the model center with the service's Secret (only as far as
that file; kept in the cache by the archive's sha256), or from
--client-config. --image sends an image file base64-encoded to a model
whose one feed is a string. An object with "tensor" and
"fetch_var_names" is a whole request, sent as it is. Every fetch variable
is returned unless --fetch names some.

The request goes through the cluster's ingress gateway (Kourier or Istio,
found from Knative's config-network, or --gateway URL) with the Host header
of the service's URL, or of the tag's URL with --tag, so Knative splits the
traffic and tags address their revision. When no gateway is reachable from
this machine (--gateway none says not to try), it goes through a
port-forward, on 127.0.0.1 only, to a running pod of the revision: the one
tagged current, or --tag's, or --revision's. A service scaled to zero wakes
on the request (through the gateway, or a port-forward to the gateway's pod
when it is not reachable from here); the command waits while it does,
bounded by --timeout, and says which pod woke.

The answer is printed as NAME: VALUES lines, one fetch variable a line, or
as it came with -o json. An HTTP error, or an answer with a non-zero
err_no, exits 1 with the status and the body; input that does not fit the
model's feeds exits 2 before anything is sent.`,
		Example: `  paddlex serve predict uci-housing --data '{"x": [0.0137, -0.1136, 0.2553, -0.0692, 0.0582, -0.0727, -0.1583, -0.0584, 0.6283, 0.4919, 0.1856, 0.0795, -0.0332]}'
  paddlex serve predict ppocr-det --tag candidate -f request.json -o json
  echo '{"x": [0.5, 1.5, 2.5]}' | paddlex serve predict ppocr-det -f - --fetch save_infer_model/scale_0.tmp_1
  paddlex serve predict ppocr-det --client-config ppocr-det/client --data '{"x": [1, 2, 3]}' --gateway http://192.168.1.20:31080`,
		ValidArgsFunction: cmdutil.CompleteNames(f, paddle.KnativeServiceGVK, paddle.LabelServe),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.File, "filename", "f", "", "file holding the request as JSON (- for stdin)")
	fs.StringVar(&o.Data, "data", "", "the request as JSON")
	fs.StringVar(&o.Image, "image", "", "image file to send base64-encoded to the model's one string feed")
	fs.StringVar(&o.Tag, "tag", "", "send to the revision of this traffic tag, e.g. candidate")
	fs.StringVar(&o.Revision, "revision", "", "send to this revision: NAME-VERSION, or the model version")
	fs.StringSliceVar(&o.Fetch, "fetch", nil, "fetch variables to return, by alias (default: all the model's)")
	fs.StringVar(&o.ClientConfig, "client-config", "", "the model's serving_client_conf.prototxt, or its client directory (default: read from the model center)")
	fs.StringVar(&o.Gateway, "gateway", GatewayAuto, "ingress gateway URL, e.g. http://192.168.1.20:31080; auto finds Knative's; none uses a port-forward")
	fs.StringVarP(&o.Output, "output", "o", "", "json prints the answer as it came (default: NAME: VALUES lines)")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Minute, "how long to wait for the answer, waking included")
	_ = cmd.RegisterFlagCompletionFunc("output", cmdutil.CompleteFlagFixed("json"))
	_ = cmd.RegisterFlagCompletionFunc("tag", cmdutil.CompleteFlagFixed(serve.TagCurrent, serve.TagCandidate, serve.TagPrevious))
	return cmd
}

// Complete takes NAME and the namespace and reads the request.
func (o *PredictOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	o.Revision = RevisionOf(o.Name, o.Revision)
	// The model center, read for the model's signature.
	o.S3.Complete(f)
	given := 0
	for _, s := range []string{o.File, o.Data, o.Image} {
		if s != "" {
			given++
		}
	}
	switch {
	case given == 0:
		return exit.UsageErrorf("give the request with -f FILE, -f - (stdin), --data JSON or --image FILE")
	case given > 1:
		return exit.UsageErrorf("-f, --data and --image are exclusive: give the request one way")
	}
	switch {
	case o.Image != "":
		b, err := os.ReadFile(o.Image)
		if err != nil {
			return exit.UsageErrorf("--image: %v", err)
		}
		if len(b) == 0 {
			return exit.UsageErrorf("--image %s is empty", o.Image)
		}
		o.image = b
		return nil
	case o.Data != "":
		o.raw, o.inputName = []byte(o.Data), "--data"
	default:
		var err error
		if o.File == "-" {
			o.raw, err = io.ReadAll(o.Streams.In)
		} else {
			o.raw, err = os.ReadFile(o.File)
		}
		if err != nil {
			return exit.UsageErrorf("-f %s: %v", o.File, err)
		}
		o.inputName = "-f " + o.File
	}
	in, err := serve.CheckInput(o.inputName, o.raw)
	if err != nil {
		return exit.UsageErrorf("%v", err)
	}
	o.input = in
	return nil
}

// Validate checks the flags.
func (o *PredictOptions) Validate() error {
	if err := validate.Name("NAME", o.Name); err != nil {
		return err
	}
	if err := validate.Name("--namespace", o.Namespace); err != nil {
		return err
	}
	if o.Tag != "" && o.Revision != "" {
		return exit.UsageErrorf("--tag and --revision are exclusive: a tag names its revision")
	}
	if o.Tag != "" {
		if err := validate.Name("--tag", o.Tag); err != nil {
			return err
		}
	}
	if o.Revision != "" {
		if err := validate.Name("--revision", o.Revision); err != nil {
			return err
		}
	}
	for _, f := range o.Fetch {
		if strings.TrimSpace(f) == "" {
			return exit.UsageErrorf("--fetch: an empty name")
		}
	}
	if o.ClientConfig != "" {
		if _, err := o.readClientConfig(); err != nil {
			return err
		}
	}
	switch o.Gateway {
	case GatewayAuto, GatewayNone:
	default:
		u, err := url.Parse(o.Gateway)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return exit.UsageErrorf("--gateway %q: give the gateway's http:// or https:// address without a path (e.g. http://192.168.1.20:31080), auto or none", o.Gateway)
		}
	}
	if o.Output != "" && o.Output != "json" {
		return exit.UsageErrorf("--output %q: use json, or leave it out for KEY: VALUE lines", o.Output)
	}
	if o.Timeout < 0 {
		return exit.UsageErrorf("--timeout must not be negative")
	}
	return nil
}

// RunTimeout is --timeout.
func (o *PredictOptions) RunTimeout() time.Duration { return o.Timeout }

// Connect builds the engine, the typed client and the port-forward.
func (o *PredictOptions) Connect(f *cmdutil.Factory) error {
	var err error
	if o.Kube, err = f.Kube(); err != nil {
		return err
	}
	if o.Clientset, err = f.Clientset(); err != nil {
		return err
	}
	if o.Forward == nil {
		cfg, err := f.RESTConfig()
		if err != nil {
			return err
		}
		cs := o.Clientset
		o.Forward = func(ctx context.Context, t portforward.Target) (*portforward.Forward, error) {
			return portforward.Start(ctx, cfg, cs, t, portforward.Options{ErrOut: f.Streams.ErrOut})
		}
	}
	return nil
}

// target is where a request goes: the host Knative routes by (empty when
// the gateway cannot address it) and the revision that answers.
type target struct {
	what     string
	host     string
	revision string
}

// Run sends the request and prints the answer.
func (o *PredictOptions) Run(ctx context.Context) error {
	obj, err := o.Kube.Get(ctx, serviceRef(o.Namespace, o.Name))
	if apierrors.IsNotFound(err) {
		return exit.FailedErrorf("service %s does not exist in namespace %s (list them with `paddlex serve list -n %s`)", o.Name, o.Namespace, o.Namespace)
	}
	if err != nil {
		return err
	}
	t, err := o.target(obj)
	if err != nil {
		return err
	}
	if err := o.request(ctx, obj, t.revision); err != nil {
		return err
	}
	path := serve.InferencePath

	gw, gwErr := o.gateway(ctx, t.host)
	if t.host != "" {
		base, how, reason := o.external(ctx, gw, gwErr)
		if base != "" {
			fmt.Fprintf(o.Streams.ErrOut, "sending to %s through %s (Host: %s)\n", t.what, how, t.host)
			stop := o.watchWake(ctx, t.revision)
			defer stop()
			return o.send(ctx, base, path, t.host)
		}
		if o.Gateway != GatewayNone {
			fmt.Fprintf(o.Streams.ErrOut, "no gateway reachable from here (%s)\n", reason)
		}
	} else if o.Gateway != GatewayNone {
		fmt.Fprintf(o.Streams.ErrOut, "%s has no tag, so the gateway cannot address it\n", t.what)
	}

	pod, port, err := o.readyPod(ctx, t.revision)
	if err != nil {
		return err
	}
	if pod != "" {
		fw, err := o.Forward(ctx, portforward.Target{Namespace: o.Namespace, Pod: pod, Port: port})
		if err != nil {
			return exit.PreconditionErrorf("port-forward to pod %s/%s of revision %s: %v", o.Namespace, pod, t.revision, err)
		}
		defer fw.Close()
		note := ""
		if o.Tag == "" && o.Revision == "" {
			note = "; the traffic split applies only through the gateway"
		}
		fmt.Fprintf(o.Streams.ErrOut, "sending to %s: port-forward %s:%d to pod %s port %d of revision %s%s\n",
			t.what, fw.Address, fw.LocalPort, pod, fw.RemotePort, t.revision, note)
		return o.send(ctx, strings.TrimSuffix(fw.URL(), "/"), path, "")
	}

	// Scaled to zero: a request through the gateway wakes the revision.
	if t.host == "" {
		return exit.FailedErrorf("%s has no running pod (it scaled to zero) and no tag, so no request can reach it to wake it: send to a tag (--tag) or give it a minimum scale", t.what)
	}
	if gw == nil {
		return fmt.Errorf("revision %s has no running pod (it scaled to zero), and nothing can wake it from here: %w", t.revision, gwErr)
	}
	fw, err := o.Forward(ctx, portforward.Target{Namespace: gw.Namespace, Service: gw.Name, Port: gw.Port})
	if err != nil {
		return exit.PreconditionErrorf("revision %s has no running pod (it scaled to zero), and port-forwarding to the gateway %s/%s to wake it failed: %v", t.revision, gw.Namespace, gw.Name, err)
	}
	defer fw.Close()
	fmt.Fprintf(o.Streams.ErrOut, "sending to %s through the gateway's pod %s/%s: port-forward %s:%d (Host: %s)\n",
		t.what, gw.Namespace, fw.Pod, fw.Address, fw.LocalPort, t.host)
	stop := o.watchWake(ctx, t.revision)
	defer stop()
	return o.send(ctx, strings.TrimSuffix(fw.URL(), "/"), path, t.host)
}

// target resolves --tag, --revision or the service itself.
func (o *PredictOptions) target(obj *unstructured.Unstructured) (target, error) {
	svc := serve.Read(obj)
	st := serve.StatusOf(obj)
	describe := fmt.Sprintf("`paddlex serve describe %s -n %s`", o.Name, o.Namespace)
	hostOf := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			return ""
		}
		return u.Host
	}
	switch {
	case o.Tag != "":
		var tags []string
		for _, x := range svc.Status.Traffic {
			if x.Tag == o.Tag && x.URL != "" {
				return target{what: fmt.Sprintf("tag %s of service %s (revision %s)", o.Tag, o.Name, x.RevisionName), host: hostOf(x.URL), revision: x.RevisionName}, nil
			}
			if x.Tag != "" {
				tags = append(tags, x.Tag)
			}
		}
		if _, ok := st.Traffic.Find(o.Tag); ok {
			return target{}, exit.FailedErrorf("tag %s of service %s has no URL yet: Knative has not routed it (see %s)", o.Tag, o.Name, describe)
		}
		return target{}, exit.FailedErrorf("service %s has no tag %s (its tags: %s)", o.Name, o.Tag, orNone(tags))
	case o.Revision != "":
		known := st.LatestCreated == o.Revision
		for _, r := range st.Traffic.Revisions() {
			known = known || r == o.Revision
		}
		if !known {
			return target{}, exit.FailedErrorf("service %s has no revision %s in its traffic (its revisions: %s)", o.Name, o.Revision, orNone(st.Traffic.Revisions()))
		}
		t := target{what: fmt.Sprintf("revision %s of service %s", o.Revision, o.Name), revision: o.Revision}
		for _, x := range svc.Status.Traffic {
			if x.RevisionName == o.Revision && x.Tag != "" && x.URL != "" {
				t.host = hostOf(x.URL)
				break
			}
		}
		return t, nil
	}
	if st.URL == "" {
		return target{}, exit.FailedErrorf("service %s has no URL yet: it is not ready (see %s)", o.Name, describe)
	}
	rev := ""
	if cur, ok := st.Traffic.Current(); ok {
		rev = cur.Revision
	}
	if rev == "" {
		rev = st.LatestReady
	}
	return target{what: "service " + o.Name, host: hostOf(st.URL), revision: rev}, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// gateway is Knative's ingress gateway Service for a host.
type gateway struct {
	Namespace, Name string
	// Port is the Service's plain-HTTP port.
	Port int32
	// External is http://ADDRESS:PORT when a load balancer exposes the
	// Service outside the cluster.
	External string
}

// gateway finds the gateway of Knative's networking layer that serves
// host, and the address it is exposed at, if any.
func (o *PredictOptions) gateway(ctx context.Context, host string) (*gateway, error) {
	g, err := portforward.FindGateway(ctx, o.Clientset)
	if err != nil {
		return nil, err
	}
	tg := g.For(host)
	svc, err := o.Clientset.CoreV1().Services(tg.Namespace).Get(ctx, tg.Service, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read the %s gateway's Service %s/%s: %w", g.Title(), tg.Namespace, tg.Service, err)
	}
	gw := &gateway{Namespace: tg.Namespace, Name: tg.Service, Port: tg.Port}
	for _, p := range svc.Spec.Ports {
		if p.Name == "http2" || p.Name == "http" {
			gw.Port = p.Port
			break
		}
	}
	if addr := portforward.ExternalAddress(svc); addr != "" {
		gw.External = "http://" + net.JoinHostPort(addr, strconv.Itoa(int(gw.Port)))
	}
	return gw, nil
}

// external returns the gateway address to send to from here, how it was
// chosen, or why there is none.
func (o *PredictOptions) external(ctx context.Context, gw *gateway, gwErr error) (base, how, reason string) {
	switch o.Gateway {
	case GatewayNone:
		return "", "", "--gateway none"
	case GatewayAuto:
	default:
		return strings.TrimSuffix(o.Gateway, "/"), "the gateway " + strings.TrimSuffix(o.Gateway, "/") + " (--gateway)", ""
	}
	if gw == nil {
		return "", "", gwErr.Error()
	}
	if gw.External == "" {
		return "", "", fmt.Sprintf("gateway %s/%s has no external address", gw.Namespace, gw.Name)
	}
	timeout := o.DialTimeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	u, _ := url.Parse(gw.External)
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return "", "", fmt.Sprintf("gateway %s/%s at %s: %v", gw.Namespace, gw.Name, gw.External, err)
	}
	c.Close()
	return gw.External, fmt.Sprintf("the gateway %s/%s at %s", gw.Namespace, gw.Name, gw.External), ""
}

// readyPod returns a running, ready pod of the revision (the oldest) and
// its model server's port; no pod when it scaled to zero.
func (o *PredictOptions) readyPod(ctx context.Context, rev string) (string, int32, error) {
	if rev == "" {
		return "", 0, exit.FailedErrorf("service %s routes no traffic to a named revision yet (see `paddlex serve describe %s -n %s`)", o.Name, o.Name, o.Namespace)
	}
	l, err := o.Clientset.CoreV1().Pods(o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: serve.PodSelector(o.Name, rev)})
	if err != nil {
		return "", 0, fmt.Errorf("list the pods of revision %s: %w", rev, err)
	}
	pods := l.Items
	serve.SortPods(pods)
	for i := range pods {
		p := &pods[i]
		if !serve.PodReady(p) {
			continue
		}
		for _, c := range p.Spec.Containers {
			if c.Name == serve.ServerContainer && len(c.Ports) > 0 {
				return p.Name, c.Ports[0].ContainerPort, nil
			}
		}
		return "", 0, exit.FailedErrorf("pod %s of revision %s has no %s container with a port: it was not made by paddlex serve", p.Name, rev, serve.ServerContainer)
	}
	return "", 0, nil
}

// watchWake reports, when the revision has no ready pod, that the request
// wakes it, and when its first pod is ready. The returned function stops
// the watch.
func (o *PredictOptions) watchWake(ctx context.Context, rev string) func() {
	if rev == "" {
		return func() {}
	}
	sel := serve.PodSelector(o.Name, rev)
	l, err := o.Clientset.CoreV1().Pods(o.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return func() {}
	}
	for i := range l.Items {
		if serve.PodReady(&l.Items[i]) {
			return func() {}
		}
	}
	fmt.Fprintf(o.Streams.ErrOut, "revision %s is scaled to zero: the request wakes it; waiting (up to --timeout %s)\n", rev, o.Timeout)
	wctx, cancel := context.WithCancel(ctx)
	w, err := o.Clientset.CoreV1().Pods(o.Namespace).Watch(wctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: l.ResourceVersion})
	if err != nil {
		cancel()
		return func() {}
	}
	start := time.Now()
	done := make(chan struct{})
	reported := false
	report := func(pod string) {
		fmt.Fprintf(o.Streams.ErrOut, "revision %s woke: pod %s ready after %s\n", rev, pod, time.Since(start).Round(100*time.Millisecond))
		reported = true
	}
	go func() {
		defer close(done)
		defer w.Stop()
		for {
			select {
			case <-wctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				if ev.Type != watch.Added && ev.Type != watch.Modified {
					continue
				}
				if p, ok := ev.Object.(*corev1.Pod); ok && serve.PodReady(p) {
					report(p.Name)
					return
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
		if reported {
			return
		}
		// The answer can come before the watch delivers the pod's
		// readiness: look once more.
		lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer lcancel()
		l, err := o.Clientset.CoreV1().Pods(o.Namespace).List(lctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return
		}
		serve.SortPods(l.Items)
		for i := range l.Items {
			if serve.PodReady(&l.Items[i]) {
				report(l.Items[i].Name)
				return
			}
		}
		// Knative's activator probes a new pod itself and sends it the
		// request once that probe passes, before the kubelet's readiness
		// probe (every 10s unless the revision sets its period) marks it
		// ready: the pod that woke runs, not ready yet.
		for i := range l.Items {
			if p := &l.Items[i]; p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
				fmt.Fprintf(o.Streams.ErrOut, "revision %s woke: pod %s running after %s, not reported ready yet (Knative's activator sends to a new pod once its own probe passes, before the kubelet's)\n",
					rev, p.Name, time.Since(start).Round(100*time.Millisecond))
				return
			}
		}
	}
}

// send posts the request and prints the answer.
func (o *PredictOptions) send(ctx context.Context, base, path, host string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(o.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if host != "" {
		req.Host = host
	}
	client := o.Client
	if client == nil {
		client = &http.Client{}
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			// No exit code of its own: the phased driver names --timeout.
			return fmt.Errorf("no answer from %s: %w", o.Name, ctx.Err())
		}
		return exit.FailedErrorf("POST %s%s: %v", base, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("reading the answer of %s: %w", o.Name, ctx.Err())
		}
		return exit.FailedErrorf("reading the answer of %s: %v", o.Name, err)
	}
	if len(body) > maxAnswer {
		return exit.FailedErrorf("the answer of %s is larger than %d MiB", o.Name, maxAnswer>>20)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return exit.FailedErrorf("POST %s: HTTP %s\n%s", path, resp.Status, strings.TrimRight(string(body), "\n"))
	}
	answer, ok := serve.ParseResponse(body)
	if ok && answer.ErrNo != 0 {
		return exit.FailedErrorf("POST %s: HTTP %s, but the model answered err_no %d: %s\n%s", path, resp.Status, answer.ErrNo, answer.ErrMsg, strings.TrimRight(string(body), "\n"))
	}
	if o.Output == "json" || !ok {
		if len(body) > 0 && body[len(body)-1] != '\n' {
			body = append(body, '\n')
		}
		_, err = o.Streams.Out.Write(body)
		return err
	}
	_, err = io.WriteString(o.Streams.Out, answer.Lines())
	return err
}
