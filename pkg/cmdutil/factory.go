package cmdutil

import (
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/image"

	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// DefaultNamespace is where the platform's controllers watch.
const DefaultNamespace = "kubeflow"

// IOStreams are the standard streams of a command, with terminal detection.
type IOStreams struct {
	genericiooptions.IOStreams
	// OutTTY and ErrTTY say whether stdout and stderr are terminals: tables
	// and live progress for people, plain lines for scripts.
	OutTTY, ErrTTY bool
}

// SystemStreams returns the process's streams.
func SystemStreams() IOStreams {
	return IOStreams{
		IOStreams: genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr},
		OutTTY:    isTerminal(os.Stdout),
		ErrTTY:    isTerminal(os.Stderr),
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Factory builds the clients a command needs, lazily: only Complete phases
// call it, so flag parsing and validation never touch kubeconfig.
type Factory struct {
	ConfigFlags *genericclioptions.ConfigFlags
	Streams     IOStreams
	// ImageRegistry is --image-registry (or the config key image-registry):
	// the registry every rendered image is moved onto.
	ImageRegistry image.Registry

	// KubeOverride and ClientsetOverride, when set, are returned instead of
	// clients built from ConfigFlags: tests pre-set fakes here.
	KubeOverride      kube.Interface
	ClientsetOverride kubernetes.Interface

	mu        sync.Mutex
	kube      kube.Interface
	repMu     sync.Mutex // apart from mu: warnings print while mu is held
	reporter  *kube.ProgressReporter
	clientset kubernetes.Interface
	warn      *warningPrinter
}

// NewFactory returns a Factory reading cluster access from flags.
func NewFactory(streams IOStreams) *Factory {
	cf := genericclioptions.NewConfigFlags(true)
	f := &Factory{ConfigFlags: cf, Streams: streams}
	// One handler for every client the Factory builds, so a warning is
	// printed once per command whichever client received it.
	f.warn = &warningPrinter{seen: map[string]bool{}, print: func(s string) { f.Reporter().Print(s) }}
	cf.WrapConfigFn = func(c *rest.Config) *rest.Config {
		// client-go's default of 5 QPS would turn a 1000-object install into
		// minutes; the API server's priority and fairness protects it.
		c.QPS, c.Burst = 500, 1000
		// Deprecations and admission webhooks' messages reach the user on
		// stderr, as kubectl prints them, instead of client-go's default of
		// klog, which main silences.
		c.WarningHandler = f.warn
		return c
	}
	return f
}

// warningPrinter prints each distinct API server warning once, through the
// progress reporter so live progress lines stay intact.
type warningPrinter struct {
	print func(string)
	mu    sync.Mutex
	seen  map[string]bool
}

// HandleWarningHeader implements rest.WarningHandler. Code 299 is the one
// "Miscellaneous persistent warning" the API server sends.
func (w *warningPrinter) HandleWarningHeader(code int, _ string, message string) {
	if code != 299 || message == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen[message] {
		return
	}
	w.seen[message] = true
	w.print("Warning: " + message)
}

// RESTConfig returns the client configuration from kubeconfig and flags.
func (f *Factory) RESTConfig() (*rest.Config, error) {
	c, err := f.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, exit.PreconditionErrorf("no cluster to talk to: %v (set --kubeconfig or KUBECONFIG, or run `make demo` for a local one)", err)
	}
	return c, nil
}

// Namespace resolves the namespace: -n, then PADDLEX_NAMESPACE and the config
// file (mapped onto -n at the root), then the kubeconfig context's namespace
// when it sets one, then, in a pod without a kubeconfig (a tenant's
// notebook server, a CI job), the pod's own namespace, as kubectl does;
// then kubeflow.
func (f *Factory) Namespace() string {
	if f.ConfigFlags.Namespace != nil && *f.ConfigFlags.Namespace != "" {
		return *f.ConfigFlags.Namespace
	}
	loader := f.ConfigFlags.ToRawKubeConfigLoader()
	raw, err := loader.RawConfig()
	if err == nil && len(raw.Contexts) == 0 && inCluster() {
		// No kubeconfig in a pod: client-go's in-cluster namespace
		// (POD_NAMESPACE, else the service account's namespace file).
		if ns, _, err := loader.Namespace(); err == nil && ns != "" {
			return ns
		}
	}
	if err == nil {
		ctxName := raw.CurrentContext
		if f.ConfigFlags.Context != nil && *f.ConfigFlags.Context != "" {
			ctxName = *f.ConfigFlags.Context
		}
		if c, ok := raw.Contexts[ctxName]; ok && c.Namespace != "" {
			return c.Namespace
		}
	}
	return DefaultNamespace
}

// inCluster says whether this process runs in a pod with a service account
// token, as client-go's in-cluster configuration needs.
func inCluster() bool {
	_, err := rest.InClusterConfig()
	return err == nil
}

// Reporter returns the progress reporter writing to stderr.
func (f *Factory) Reporter() *kube.ProgressReporter {
	f.repMu.Lock()
	defer f.repMu.Unlock()
	if f.reporter == nil {
		f.reporter = kube.NewReporter(f.Streams.ErrOut, f.Streams.ErrTTY)
	}
	return f.reporter
}

// Kube returns the engine.
func (f *Factory) Kube() (kube.Interface, error) {
	if f.KubeOverride != nil {
		return f.KubeOverride, nil
	}
	rep := f.Reporter()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kube != nil {
		return f.kube, nil
	}
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("clientset: %w", err)
	}
	mapper, err := f.ConfigFlags.ToRESTMapper()
	if err != nil {
		return nil, exit.PreconditionErrorf("discover the cluster's kinds: %v", err)
	}
	f.kube = &kube.Client{Dynamic: dyn, Clientset: cs, Mapper: mapper, Reporter: rep}
	return f.kube, nil
}

// Clientset returns a typed client, for pods, logs, events and port-forwards.
func (f *Factory) Clientset() (kubernetes.Interface, error) {
	if f.ClientsetOverride != nil {
		return f.ClientsetOverride, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.clientset != nil {
		return f.clientset, nil
	}
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("clientset: %w", err)
	}
	f.clientset = cs
	return cs, nil
}
