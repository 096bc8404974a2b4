package open

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/pipeline"
	"github.com/paddleflow/paddlex/pkg/portforward"
	"github.com/paddleflow/paddlex/pkg/train"
)

// Where the install puts each UI: the Services of JupyterHub's chart
// (proxy-public), Argo's install.yaml (argo-server, HTTPS) and paddlex's
// MinIO manifest (its console port).
var (
	hubService   = portforward.Target{Namespace: "jhub", Service: "proxy-public", Port: 80}
	argoService  = portforward.Target{Namespace: "argo", Service: "argo-server", Port: 2746}
	minioConsole = portforward.Target{Namespace: install.PlatformNamespace, Service: "minio-service", Port: 9001}
)

// queueProxyPort is Knative's queue-proxy HTTP port in every serving pod
// (networking.BackendHTTPPort): requests enter the pod there.
const queueProxyPort = 8012

// labelRevision is the label Knative puts on a revision's pods.
const labelRevision = "serving.knative.dev/revision"

// The install's ingress for its UIs when it has a --domain: an Istio
// VirtualService auth/paddlex for https://DOMAIN.
var (
	virtualServiceGVK = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1beta1", Kind: "VirtualService"}
	domainIngress     = kube.ObjectRef{GVK: virtualServiceGVK, Namespace: "auth", Name: "paddlex"}
	istioGateway      = portforward.Target{Namespace: "istio-system", Service: "istio-ingressgateway", Port: 443}
)

func newCmd(f *cmdutil.Factory, o *Options, runF func(*Options) error, cmd *cobra.Command) *cobra.Command {
	o.Streams = f.Streams
	cmd.RunE = cmdutil.PhasedRunE(f, o, runF)
	addFlags(cmd, o)
	return cmd
}

// NewCmdJupyterHub returns `open jupyterhub`.
func NewCmdJupyterHub(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{Target: TargetJupyterHub}
	return newCmd(f, o, runF, &cobra.Command{
		Use:   "jupyterhub",
		Short: "Open JupyterHub, the notebooks",
		Long: `Forward a local port to JupyterHub's proxy (Service jhub/proxy-public) and
print its URL. Without --domain the install lets the admin in with a
generated password, kept in Secret jhub/jupyterhub-admin; with --domain users
sign in through dex at https://DOMAIN/notebooks/, which --gateway prints.`,
		Example: `  paddlex open jupyterhub
  paddlex open jupyterhub --port 8000 --browser`,
		Args:              cobra.NoArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
	})
}

// NewCmdPipelines returns `open pipelines [RUN]`.
func NewCmdPipelines(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{Target: TargetPipelines}
	cmd := newCmd(f, o, runF, &cobra.Command{
		Use:   "pipelines [RUN]",
		Short: "Open the pipeline UI (Argo's), on a run when given one",
		Long: `Forward a local port to the Argo server (Service argo/argo-server, HTTPS with
its own certificate) and print the UI's URL: on the run RUN when given, else
on the namespace's runs.

The Argo server acts with the signed-in user's own rights, never its own: in
client mode its login box takes "Bearer <token>", your Kubernetes token.
--copy-token puts it on the clipboard, --show-token prints it on stdout (as
'argo auth token' does); paddlex never prints or logs it otherwise. The token
is the one your kubeconfig sends (a static token, a token file or an exec
plugin's); a user who signs in with a client certificate has none, and can
use a service account's ('kubectl create token').`,
		Example: `  paddlex open pipelines
  paddlex open pipelines ppocr-det-x7k2p --copy-token --browser`,
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: cmdutil.CompleteNames(f, paddle.WorkflowGVK, pipeline.LabelPipeline),
	})
	cmd.Flags().BoolVar(&o.ShowToken, "show-token", false, `print "Bearer <token>" for the UI's login box on stdout, after the URL`)
	cmd.Flags().BoolVar(&o.CopyToken, "copy-token", false, `put "Bearer <token>" for the UI's login box on the clipboard`)
	return cmd
}

// NewCmdMinIO returns `open minio`.
func NewCmdMinIO(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{Target: TargetMinIO}
	return newCmd(f, o, runF, &cobra.Command{
		Use:   "minio",
		Short: "Open the MinIO console of the model center",
		Long: `Forward a local port to the MinIO console (Service kubeflow/minio-service,
port 9001) and print its URL. Sign in with the model center keys of your
namespace's data-center Secret.`,
		Example:           `  paddlex open minio`,
		Args:              cobra.NoArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
	})
}

// NewCmdVisualDL returns `open visualdl TRAINING`.
func NewCmdVisualDL(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{Target: TargetVisualDL}
	return newCmd(f, o, runF, &cobra.Command{
		Use:   "visualdl TRAINING",
		Short: "Open a training's VisualDL board",
		Long: `Forward a local port to the VisualDL board of the training TRAINING (Service
TRAINING-visualdl) and print its URL, as 'paddlex train visualdl' does. The
training must have been created with --use-visualdl.`,
		Example:           `  paddlex open visualdl ppocr-det --browser`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeBoards(f),
	})
}

// NewCmdServe returns `open serve NAME`.
func NewCmdServe(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	o := &Options{Target: TargetServe}
	cmd := newCmd(f, o, runF, &cobra.Command{
		Use:   "serve NAME",
		Short: "Open a served model's endpoint",
		Long: `Forward a local port to the served model NAME and print its URL.

Without --gateway the forward goes to a pod of the model's latest ready
revision (or --revision, or the revision --tag names), into Knative's
queue-proxy as the gateway's requests do. A revision scaled to zero has no
pod: --gateway goes through Knative's ingress gateway (Kourier's or Istio's,
as Knative is configured), whose activator wakes it, with the Host header of
the service's URL (or of the tag's URL with --tag).`,
		Example: `  paddlex open serve ppocr-det
  paddlex open serve ppocr-det --gateway
  paddlex open serve ppocr-det --gateway --tag candidate`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: cmdutil.CompleteNames(f, paddle.KnativeServiceGVK, paddle.LabelServe),
	})
	cmd.Flags().StringVar(&o.Revision, "revision", "", "forward to this revision's pod (without --gateway)")
	cmd.Flags().StringVar(&o.Tag, "tag", "", "the revision a traffic tag names (with --gateway, its tagged URL)")
	return cmd
}

// completeBoards completes the trainings that have a VisualDL board.
func completeBoards(f *cmdutil.Factory) cobra.CompletionFunc {
	svc := schema.GroupVersionKind{Version: "v1", Kind: "Service"}
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if !cmdutil.AcceptsAnotherArg(cmd, args) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		objs := cmdutil.ListForCompletion(f, cmd, kube.LabelComponent+"="+train.ComponentVisualDL, svc)
		return cmdutil.FilterCompletions(cmdutil.LabelValues(objs, paddle.LabelTrain), args, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// plan works out how the target is reached, checking that it is installed.
func (o *Options) plan(ctx context.Context) (*plan, error) {
	switch o.Target {
	case TargetJupyterHub:
		return o.planJupyterHub(ctx)
	case TargetPipelines:
		return o.planPipelines(ctx)
	case TargetMinIO:
		return o.planMinIO(ctx)
	case TargetVisualDL:
		return o.planVisualDL(ctx)
	case TargetServe:
		return o.planServe(ctx)
	}
	return nil, exit.UsageErrorf("unknown target %q: the targets are %s", o.Target, strings.Join(Targets, ", "))
}

// installed checks that a component's Service exists: a missing one means
// the component is not installed.
func (o *Options) installed(ctx context.Context, t portforward.Target, what, component string) (*corev1.Service, error) {
	svc, err := o.Clientset.CoreV1().Services(t.Namespace).Get(ctx, t.Service, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, exit.PreconditionErrorf("%s is not installed (no Service %s/%s): run `paddlex install --components %s`", what, t.Namespace, t.Service, component)
	case apierrors.IsForbidden(err):
		return nil, exit.PreconditionErrorf("open %s: %v", what, err)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	return svc, nil
}

// domain returns the host the install serves its UIs at (--domain), or ""
// when it has none (no Istio, no VirtualService auth/paddlex).
func (o *Options) domain(ctx context.Context) string {
	vs, err := o.Kube.Get(ctx, domainIngress)
	if err != nil {
		return ""
	}
	hosts, _, _ := unstructured.NestedStringSlice(vs.Object, "spec", "hosts")
	if len(hosts) == 0 {
		return ""
	}
	return hosts[0]
}

// viaDomain plans a UI the gateway serves at https://DOMAIN: nothing is
// forwarded (sign-in through dex redirects to that address), the URL is
// printed with the gateway's address.
func (o *Options) viaDomain(ctx context.Context, what, domain, path string) (*plan, error) {
	if domain == "" {
		return nil, exit.PreconditionErrorf("--gateway: this install does not expose %s on the ingress gateway: it has no --domain (`paddlex install --profile full --domain HOST` serves the UIs at https://HOST); open it without --gateway", what)
	}
	gw, err := o.installed(ctx, istioGateway, "the Istio ingress gateway", "istio")
	if err != nil {
		return nil, err
	}
	note := fmt.Sprintf("%s is served by the Istio ingress gateway (Service %s/%s) at https://%s", what, istioGateway.Namespace, istioGateway.Service, domain)
	if addr := portforward.ExternalAddress(gw); addr != "" {
		note += fmt.Sprintf("; the gateway's address is %s: %s must resolve to it", addr, domain)
	} else {
		note += fmt.Sprintf("; the gateway has no external address yet: %s must resolve to an address that reaches it", domain)
	}
	return &plan{what: what, direct: "https://" + domain + path, before: []string{note}}, nil
}

func (o *Options) planJupyterHub(ctx context.Context) (*plan, error) {
	const what = "JupyterHub"
	if _, err := o.installed(ctx, hubService, what, "jupyterhub"); err != nil {
		return nil, err
	}
	domain := o.domain(ctx)
	if o.Gateway {
		return o.viaDomain(ctx, what, domain, install.NotebooksPath)
	}
	p := &plan{what: what, via: "service " + hubService.Namespace + "/" + hubService.Service, target: hubService, scheme: "http", path: "/",
		hint: "`paddlex status` shows whether JupyterHub is ready"}
	if domain != "" {
		p.path = install.NotebooksPath
		p.after = append(p.after, fmt.Sprintf("sign-in goes through dex at https://%s, which sends the browser there: --gateway prints that address", domain))
	} else {
		p.after = append(p.after, fmt.Sprintf("sign in as %s with the password in Secret jhub/jupyterhub-admin:\n  kubectl -n jhub get secret jupyterhub-admin -o jsonpath='{.data.password}' | base64 -d", install.HubAdminUser))
	}
	return p, nil
}

func (o *Options) planPipelines(ctx context.Context) (*plan, error) {
	const what = "the pipeline UI"
	if _, err := o.installed(ctx, argoService, what, "argo-workflows"); err != nil {
		return nil, err
	}
	path := "/workflows/" + o.Namespace
	if o.Name != "" {
		_, err := o.Kube.Get(ctx, kube.ObjectRef{GVK: paddle.WorkflowGVK, Namespace: o.Namespace, Name: o.Name})
		switch {
		case kube.IsNoKind(err):
			return nil, exit.PreconditionErrorf("Argo Workflows is not installed (no kind Workflow): run `paddlex install --components argo-workflows`")
		case apierrors.IsNotFound(err):
			return nil, fmt.Errorf("open %s: pipeline run %s/%s does not exist (`paddlex pipeline list -n %s` lists the runs)", what, o.Namespace, o.Name, o.Namespace)
		case err != nil:
			return nil, fmt.Errorf("open %s: %w", what, err)
		}
		path += "/" + o.Name
	}
	if o.Gateway {
		return o.viaDomain(ctx, what, o.domain(ctx), path)
	}
	modes, secure, err := o.argoServer(ctx)
	if err != nil {
		return nil, err
	}
	p := &plan{what: what, via: "service argo/argo-server", target: argoService, scheme: "https", path: path,
		hint: "`paddlex status` shows whether Argo Workflows is ready"}
	if !secure {
		p.scheme = "http"
	} else {
		p.after = append(p.after, "the Argo server answers HTTPS with its own certificate: the browser asks once to trust it")
	}
	if modes["server"] {
		p.after = append(p.after, "warning: the Argo server runs with --auth-mode=server: whoever reaches it acts with its own rights; paddlex installs it with --auth-mode=client")
	}
	if !modes["client"] {
		if modes["sso"] {
			p.after = append(p.after, "sign in with SSO (dex): it sends the browser to the install's --domain")
		}
		if o.ShowToken || o.CopyToken {
			return nil, exit.PreconditionErrorf("--show-token/--copy-token: the Argo server does not take tokens (its --auth-mode is not client)")
		}
		return p, nil
	}
	if err := o.handToken(p); err != nil {
		return nil, err
	}
	return p, nil
}

// handToken arranges for the user's own token to reach the UI's login box:
// printed or copied only when asked, else a note says how.
func (o *Options) handToken(p *plan) error {
	if !o.ShowToken && !o.CopyToken {
		p.after = append(p.after, `the pipeline UI signs you in with your own Kubernetes token: its login box takes "Bearer <token>"; --copy-token puts it on the clipboard, --show-token prints it`)
		return nil
	}
	tok, err := BearerToken(o.Config)
	if err != nil {
		return exit.PreconditionErrorf("--show-token/--copy-token: %v", err)
	}
	if tok == "" {
		return exit.PreconditionErrorf("--show-token/--copy-token: your kubeconfig user signs in without a bearer token (a client certificate, most likely), which the pipeline UI cannot take: sign in with a service account's token (`kubectl create token NAME -n %s`)", o.Namespace)
	}
	if o.Config.Impersonate.UserName != "" {
		p.after = append(p.after, fmt.Sprintf("warning: --as %s does not reach the UI: the token signs in as its own user", o.Config.Impersonate.UserName))
	}
	p.token = "Bearer " + tok
	return nil
}

// argoServer reads the Argo server's auth modes and whether it serves HTTPS
// from its Deployment's arguments (Argo's defaults: client mode, HTTPS).
func (o *Options) argoServer(ctx context.Context) (map[string]bool, bool, error) {
	dep, err := o.Clientset.AppsV1().Deployments(argoService.Namespace).Get(ctx, argoService.Service, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, false, exit.PreconditionErrorf("the pipeline UI is not installed (no Deployment argo/argo-server): run `paddlex install --components argo-workflows`")
	case err != nil:
		return nil, false, fmt.Errorf("open the pipeline UI: read Deployment argo/argo-server: %w", err)
	}
	var args []string
	for _, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == "argo-server" || len(dep.Spec.Template.Spec.Containers) == 1 {
			args = append(c.Command, c.Args...)
		}
	}
	return argoFlags(args)
}

// argoFlags reads --auth-mode (repeatable; "client" when absent) and
// --secure (true when absent) as the Argo server parses them.
func argoFlags(args []string) (map[string]bool, bool, error) {
	modes, secure := map[string]bool{}, true
	for i := 0; i < len(args); i++ {
		name, val, hasVal := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") {
			continue
		}
		switch name {
		case "auth-mode":
			if !hasVal && i+1 < len(args) {
				i++
				val = args[i]
			}
			for _, m := range strings.Split(val, ",") {
				modes[strings.TrimSpace(m)] = true
			}
		case "secure":
			secure = !hasVal || val == "true"
		}
	}
	if len(modes) == 0 {
		modes["client"] = true
	}
	return modes, secure, nil
}

func (o *Options) planMinIO(ctx context.Context) (*plan, error) {
	const what = "the MinIO console"
	if _, err := o.installed(ctx, minioConsole, what, "minio"); err != nil {
		return nil, err
	}
	return &plan{what: what, via: "service " + minioConsole.Namespace + "/" + minioConsole.Service, target: minioConsole, scheme: "http", path: "/",
		after: []string{fmt.Sprintf("sign in with your model center keys: access-key and secret-key of Secret %s in namespace %s", paddle.DataCenterSecret, o.Namespace)},
		hint:  "`paddlex status` shows whether MinIO is ready"}, nil
}

func (o *Options) planVisualDL(ctx context.Context) (*plan, error) {
	what := "VisualDL of " + o.Name
	t := portforward.Target{Namespace: o.Namespace, Service: o.Name + "-visualdl", Port: train.VisualDLPort}
	_, err := o.Clientset.CoreV1().Services(t.Namespace).Get(ctx, t.Service, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, exit.PreconditionErrorf("training %s/%s has no VisualDL board (no Service %s): create the training with --use-visualdl (`paddlex train describe %s -n %s` shows its switches)",
			o.Namespace, o.Name, t.Service, o.Name, o.Namespace)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	return &plan{what: what, via: "service " + t.Namespace + "/" + t.Service, target: t, scheme: "http", path: "/",
		hint: fmt.Sprintf("`paddlex train describe %s -n %s` shows the board's pod", o.Name, o.Namespace)}, nil
}

func (o *Options) planServe(ctx context.Context) (*plan, error) {
	what := "served model " + o.Namespace + "/" + o.Name
	obj, err := o.Kube.Get(ctx, kube.ObjectRef{GVK: paddle.KnativeServiceGVK, Namespace: o.Namespace, Name: o.Name})
	switch {
	case kube.IsNoKind(err):
		return nil, exit.PreconditionErrorf("Knative Serving is not installed (no kind %s): run `paddlex install --components knative-serving,kourier`", paddle.KnativeServiceGVK.GroupKind())
	case apierrors.IsNotFound(err):
		return nil, fmt.Errorf("open %s: it does not exist (`paddlex serve get -n %s` lists the served models)", what, o.Namespace)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	svc := &paddle.KnativeService{}
	if err := kube.FromUnstructured(obj, svc); err != nil {
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	if o.Gateway {
		return o.serveGateway(ctx, what, svc)
	}
	rev, err := revisionOf(svc, o.Revision, o.Tag)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", what, err)
	}
	t := portforward.Target{Namespace: o.Namespace, Selector: labelRevision + "=" + rev, Port: queueProxyPort}
	return &plan{what: what, via: "revision " + rev, target: t, scheme: "http", path: "/",
		hint: "a revision scaled to zero has no pod: --gateway goes through Knative's activator, which wakes it"}, nil
}

// revisionOf picks the revision: the one given, the one a tag routes to,
// else the latest ready.
func revisionOf(svc *paddle.KnativeService, revision, tag string) (string, error) {
	if revision != "" {
		return revision, nil
	}
	if tag != "" {
		for _, t := range svc.Status.Traffic {
			if t.Tag == tag && t.RevisionName != "" {
				return t.RevisionName, nil
			}
		}
		return "", exit.UsageErrorf("--tag %q: the service routes no traffic by that tag (`paddlex serve traffic %s` shows the tags)", tag, svc.Name)
	}
	if svc.Status.LatestReadyRevisionName == "" {
		return "", errors.New("it has no ready revision yet (`paddlex serve describe " + svc.Name + "` says why)")
	}
	return svc.Status.LatestReadyRevisionName, nil
}

// serveGateway plans a served model through Knative's gateway, with the
// Host header of its URL (or its tag's).
func (o *Options) serveGateway(ctx context.Context, what string, svc *paddle.KnativeService) (*plan, error) {
	raw := svc.Status.URL
	if o.Tag != "" {
		raw = ""
		for _, t := range svc.Status.Traffic {
			if t.Tag == o.Tag {
				raw = t.URL
			}
		}
		if raw == "" {
			return nil, exit.UsageErrorf("--tag %q: the service has no URL for that tag (`paddlex serve traffic %s -n %s` shows the tags)", o.Tag, o.Name, o.Namespace)
		}
	}
	if raw == "" {
		return nil, fmt.Errorf("open %s: Knative has given it no URL yet (`paddlex serve describe %s -n %s` says why)", what, o.Name, o.Namespace)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("open %s: its URL %q has no host", what, raw)
	}
	g, err := portforward.FindGateway(ctx, o.Clientset)
	if err != nil {
		return nil, err
	}
	t := g.For(u.Hostname())
	via := fmt.Sprintf("the %s gateway (service %s/%s)", g.Title(), t.Namespace, t.Service)
	return &plan{what: what, via: via, target: t, scheme: "http", path: "/", host: u.Hostname(),
		before: []string{fmt.Sprintf("through %s with Host %s, as Knative routes %s", via, u.Hostname(), raw)},
		hint:   "`paddlex status` shows whether Knative's networking layer is ready"}, nil
}
