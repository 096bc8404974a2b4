// Package open is `paddlex open`: it reaches the platform's web UIs and a
// served model from this machine, through a port-forward over the API
// server (or the ingress gateway with --gateway), prints the local URL and
// keeps the way open until interrupted.
package open

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/portforward"
	"github.com/paddleflow/paddlex/pkg/validate"
)

// The targets of `paddlex open`, in help order.
const (
	TargetJupyterHub = "jupyterhub"
	TargetPipelines  = "pipelines"
	TargetMinIO      = "minio"
	TargetVisualDL   = "visualdl"
	TargetServe      = "serve"
)

// Targets lists the targets.
var Targets = []string{TargetJupyterHub, TargetPipelines, TargetMinIO, TargetVisualDL, TargetServe}

// NewCmdOpen returns the `open` group.
func NewCmdOpen(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "open TARGET [NAME]",
		Short: "Open a web UI or a served model on a local port",
		Long: `Reach the platform's web UIs and served models from this machine.

Each target is forwarded through the API server (as kubectl port-forward
does) to a local port on the loopback address, whose URL is printed on
stdout; the forward stays open until interrupted (Ctrl-C). --browser also
opens the URL in the default browser (never without it).

With --gateway the request goes through the installed ingress gateway
instead (Kourier's or Istio's Service), with the Host header Knative routes
by; paddlex says which gateway and host it uses.

Targets: ` + strings.Join(Targets, ", ") + `.`,
		Example: `  paddlex open jupyterhub
  paddlex open pipelines ppocr-det-x7k2p --browser
  paddlex open minio --port 9001
  paddlex open visualdl ppocr-det
  paddlex open serve ppocr-det --gateway`,
		// The root runs a group as its help, with these arguments checked.
		Args: unknownTarget,
	}
	cmd.AddCommand(
		NewCmdJupyterHub(f, nil),
		NewCmdPipelines(f, nil),
		NewCmdMinIO(f, nil),
		NewCmdVisualDL(f, nil),
		NewCmdServe(f, nil),
	)
	return cmd
}

// unknownTarget refuses a target that is no subcommand, listing the targets.
func unknownTarget(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return fmt.Errorf("unknown target %q for %q: the targets are %s", args[0], cmd.CommandPath(), strings.Join(Targets, ", "))
}

// Options are the options every target shares, and the clients they use.
type Options struct {
	// Target is the subcommand; Name its argument (RUN, TRAINING or NAME).
	Target    string
	Name      string
	Namespace string
	// Address and Port are where the local end listens (port 0 picks one).
	Address string
	Port    int
	// Browser opens the URL; Gateway goes through the ingress gateway.
	Browser bool
	Gateway bool
	// ShowToken and CopyToken hand the pipeline UI the user's token.
	ShowToken, CopyToken bool
	// Revision and Tag choose a served model's revision.
	Revision, Tag string

	Streams   cmdutil.IOStreams
	Config    *rest.Config
	Clientset kubernetes.Interface
	Kube      kube.Interface
	// Forward tunes the port-forward; tests set a Dialer.
	Forward portforward.Options
	// OpenURL opens a URL in the browser and Clipboard copies text; nil
	// uses the system's (see browser.go).
	OpenURL   func(string) error
	Clipboard func(string) error
	// Ready, when set, is called with the local URL once it is served, for
	// tests that drive a running command.
	Ready func(string)
}

// addFlags binds the flags every target has.
func addFlags(cmd *cobra.Command, o *Options) {
	cmd.Flags().StringVar(&o.Address, "address", "127.0.0.1", "local address to listen on: a loopback address (127.0.0.1, ::1 or localhost)")
	cmd.Flags().IntVar(&o.Port, "port", 0, "local port (0 picks a free one)")
	cmd.Flags().BoolVar(&o.Browser, "browser", false, "also open the URL in the default browser")
	cmd.Flags().BoolVar(&o.Gateway, "gateway", false, "go through the installed ingress gateway (Kourier or Istio) instead of a port-forward to the pod")
}

// Complete takes the argument and the namespace.
func (o *Options) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		o.Name = args[0]
	}
	o.Namespace = f.Namespace()
	return nil
}

// Validate checks the flags and names before any request.
func (o *Options) Validate() error {
	if err := validate.Name("--namespace", o.Namespace); err != nil {
		return err
	}
	if o.Name != "" {
		field := map[string]string{TargetPipelines: "RUN", TargetVisualDL: "TRAINING", TargetServe: "NAME"}[o.Target]
		if err := validate.Name(field, o.Name); err != nil {
			return err
		}
	}
	if err := validateAddress(o.Address); err != nil {
		return err
	}
	if o.Port < 0 || o.Port > 65535 {
		return exit.UsageErrorf("--port must be between 0 and 65535")
	}
	if o.ShowToken && o.CopyToken {
		return exit.UsageErrorf("--show-token and --copy-token: choose one")
	}
	if o.Revision != "" && o.Tag != "" {
		return exit.UsageErrorf("--revision and --tag: choose one")
	}
	if o.Revision != "" {
		if err := validate.Name("--revision", o.Revision); err != nil {
			return err
		}
	}
	if o.Gateway {
		switch o.Target {
		case TargetMinIO, TargetVisualDL:
			return exit.UsageErrorf("--gateway: the install does not expose %s on the ingress gateway; open it without --gateway", o.Target)
		}
		if o.Revision != "" {
			return exit.UsageErrorf("--gateway routes by the service's host or a tag's: use --tag, or --revision without --gateway")
		}
	}
	return nil
}

// validateAddress accepts loopback addresses only: whoever reaches the port
// acts with the forward's rights, as kubectl port-forward's default does.
func validateAddress(a string) error {
	if a == "localhost" {
		return nil
	}
	ip := net.ParseIP(a)
	if ip == nil || !ip.IsLoopback() {
		return exit.UsageErrorf("--address %q: must be a loopback address (127.0.0.1, ::1 or localhost): anyone who reaches the port reaches the UI", a)
	}
	return nil
}

// Connect builds the clients.
func (o *Options) Connect(f *cmdutil.Factory) error {
	var err error
	if o.Config, err = f.RESTConfig(); err != nil {
		return err
	}
	if o.Clientset, err = f.Clientset(); err != nil {
		return err
	}
	o.Kube, err = f.Kube()
	return err
}

// Run plans the way to the target, opens it and holds it until ctx ends.
func (o *Options) Run(ctx context.Context) error {
	p, err := o.plan(ctx)
	if err != nil {
		return err
	}
	for _, n := range p.before {
		fmt.Fprintln(o.Streams.ErrOut, n)
	}
	if p.direct != "" {
		// The gateway serves it at its own address: nothing to forward.
		fmt.Fprintln(o.Streams.Out, p.direct)
		return o.after(p, p.direct)
	}
	return o.forward(ctx, p)
}

// forward opens the port-forward (and, for a Host header, the local proxy
// in front of it), prints the URL and waits.
func (o *Options) forward(ctx context.Context, p *plan) error {
	opts := o.Forward
	opts.Address, opts.LocalPort, opts.ErrOut = o.Address, o.Port, o.Streams.ErrOut
	if p.host != "" {
		// The proxy takes the user's address and port; the forward behind
		// it listens on a free loopback port.
		opts.Address, opts.LocalPort = "127.0.0.1", 0
	}
	if opts.Address == "localhost" {
		opts.Address = "127.0.0.1"
	}
	fw, err := portforward.Start(ctx, o.Config, o.Clientset, p.target, opts)
	if err != nil {
		return p.fail(err)
	}
	defer fw.Close()
	base, via := fw.URL(), fmt.Sprintf("pod %s/%s port %d", p.target.Namespace, fw.Pod, fw.RemotePort)
	var proxyDone <-chan error
	if p.host != "" {
		up, _ := url.Parse(fw.URL())
		addr := o.Address
		if addr == "localhost" {
			addr = "127.0.0.1"
		}
		hp, err := portforward.StartHostProxy(addr, o.Port, up, p.host, o.Streams.ErrOut)
		if err != nil {
			return fmt.Errorf("open %s: %w", p.what, err)
		}
		defer hp.Close()
		base, proxyDone = hp.URL(), hp.Done()
		via += ", with Host " + p.host
	}
	u := localURL(base, p.scheme, p.path)
	fmt.Fprintln(o.Streams.Out, u)
	fmt.Fprintf(o.Streams.ErrOut, "forwarding %s to %s (%s); press Ctrl-C to stop\n", u, p.via, via)
	if err := o.after(p, u); err != nil {
		return err
	}
	if o.Ready != nil {
		o.Ready(u)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-proxyDone:
		if err != nil {
			return fmt.Errorf("open %s: local proxy stopped: %w", o.Target, err)
		}
		return nil
	case err := <-fw.Done():
		if err != nil {
			return fmt.Errorf("open %s: port-forward ended: %w", o.Target, err)
		}
		return fmt.Errorf("open %s: port-forward to %s ended", o.Target, via)
	}
}

// localURL is base (http://ADDRESS:PORT/) with scheme and path.
func localURL(base, scheme, path string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Scheme, u.Path = scheme, path
	return u.String()
}

// after hands over the token as asked, prints the notes that follow the URL
// and opens the browser.
func (o *Options) after(p *plan, u string) error {
	if p.token != "" && o.ShowToken {
		// Asked for on the command line, as with `argo auth token`.
		fmt.Fprintln(o.Streams.Out, p.token)
	}
	if p.token != "" && o.CopyToken {
		copyText := o.Clipboard
		if copyText == nil {
			copyText = CopyToClipboard
		}
		if err := copyText(p.token); err != nil {
			return exit.PreconditionErrorf("--copy-token: %v: use --show-token, or install one", err)
		}
		fmt.Fprintln(o.Streams.ErrOut, `"Bearer <your token>" is on the clipboard: paste it into the UI's login box`)
	}
	for _, n := range p.after {
		fmt.Fprintln(o.Streams.ErrOut, n)
	}
	if !o.Browser {
		return nil
	}
	open := o.OpenURL
	if open == nil {
		open = OpenBrowser
	}
	if err := open(u); err != nil {
		fmt.Fprintf(o.Streams.ErrOut, "warning: could not open a browser (%v): open %s yourself\n", err, u)
	}
	return nil
}

// plan is how a target is reached.
type plan struct {
	// what names the target in messages; via the Service (or pods) reached.
	what, via string
	// target is forwarded to; scheme and path make the URL.
	target       portforward.Target
	scheme, path string
	// host, when set, is the Host header a local proxy puts on every request.
	host string
	// direct is a URL the gateway serves itself: nothing is forwarded.
	direct string
	// before and after are notes printed before and after the URL.
	before, after []string
	// hint follows a failed forward.
	hint string
	// token is "Bearer <token>" for the pipeline UI's login box, handed
	// over as --show-token or --copy-token asks.
	token string
}

// fail turns a port-forward error into the command's error.
func (p *plan) fail(err error) error {
	msg := fmt.Sprintf("open %s: %v", p.what, err)
	if p.hint != "" {
		msg += " (" + p.hint + ")"
	}
	if exit.Code(err) != exit.Failed {
		return exit.WithCode(exit.Code(err), fmt.Errorf("%s", msg))
	}
	return fmt.Errorf("%s", msg)
}
