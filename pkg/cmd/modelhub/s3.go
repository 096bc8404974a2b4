package modelhub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/modelstore"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/portforward"
)

// S3Options say how to reach the model center from this machine.
type S3Options struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	// Prefix is the area of the model center the keys reach (a tenant's
	// NAMESPACE/); the Secret's model-prefix when the keys come from it.
	Prefix string
	// Secret is the cluster Secret read for keys not given otherwise.
	Secret    string
	Namespace string

	Streams cmdutil.IOStreams
	// Kube returns the engine, through which the Secret is read; Forward
	// port-forwards to a Service. Complete sets both from the Factory, which
	// builds clients only when they are called (keys given as flags need no
	// cluster); tests replace them.
	Kube    func() (kube.Interface, error)
	Forward func(ctx context.Context, t portforward.Target) (*portforward.Forward, error)
	// DialTimeout bounds the reachability probe (default 2s).
	DialTimeout time.Duration
}

// AddFlags binds the S3 flags. The key flags are named so that
// PADDLEX_S3_ACCESS_KEY and PADDLEX_S3_SECRET_KEY (and the config file's
// s3-access-key and s3-secret-key) set them; --access-key and --secret-key
// are accepted as the same flags.
func (o *S3Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Endpoint, "endpoint", modelhub.DefaultEndpoint, "S3 API of the model center (MinIO or any S3)")
	fs.StringVar(&o.AccessKey, "s3-access-key", "", "S3 access key (also --access-key or PADDLEX_S3_ACCESS_KEY; default: the cluster Secret's access-key)")
	fs.StringVar(&o.SecretKey, "s3-secret-key", "", "S3 secret key (also --secret-key or PADDLEX_S3_SECRET_KEY; default: the cluster Secret's secret-key)")
	fs.StringVar(&o.Secret, "secret", paddle.DataCenterSecret, "Secret in the namespace holding the S3 keys as access-key and secret-key")
	fs.StringVar(&o.Prefix, "model-prefix", "", "key prefix of your area of the model center, for keys that reach only it (default: the Secret's model-prefix, which a tenant's has)")
	normalizeKeyFlags(fs)
}

// normalizeKeyFlags makes --access-key and --secret-key spell the S3 key flags.
func normalizeKeyFlags(fs *pflag.FlagSet) {
	prev := fs.GetNormalizeFunc()
	fs.SetNormalizeFunc(func(f *pflag.FlagSet, name string) pflag.NormalizedName {
		switch name {
		case "access-key", "access_key":
			return "s3-access-key"
		case "secret-key", "secret_key":
			return "s3-secret-key"
		}
		return prev(f, name)
	})
}

// Complete wires the cluster clients, used only when needed.
func (o *S3Options) Complete(f *cmdutil.Factory) {
	o.Streams = f.Streams
	o.Namespace = f.Namespace()
	if o.Kube == nil {
		o.Kube = f.Kube
	}
	if o.Forward == nil {
		o.Forward = func(ctx context.Context, t portforward.Target) (*portforward.Forward, error) {
			cfg, err := f.RESTConfig()
			if err != nil {
				return nil, err
			}
			cs, err := f.Clientset()
			if err != nil {
				return nil, err
			}
			return portforward.Start(ctx, cfg, cs, t, portforward.Options{ErrOut: f.Streams.ErrOut})
		}
	}
}

// Validate checks the flags.
func (o *S3Options) Validate() error {
	if err := modelhub.ValidateEndpoint("--endpoint", o.Endpoint); err != nil {
		return err
	}
	if (o.AccessKey == "") != (o.SecretKey == "") {
		return exit.UsageErrorf("--s3-access-key and --s3-secret-key go together: set both, or neither to read them from Secret %s", o.Secret)
	}
	if o.Prefix != "" && (strings.HasPrefix(o.Prefix, "/") || strings.Contains(o.Prefix, "..") || strings.Contains(o.Prefix, "//")) {
		return exit.UsageErrorf("--model-prefix %q must be a relative key prefix such as NAMESPACE/, without .. or //", o.Prefix)
	}
	return validate.Subdomain("--secret", o.Secret)
}

// Connect returns the store, port-forwarding to the model center when its
// endpoint is a cluster Service this machine cannot reach. The returned
// function stops the forward.
func (o *S3Options) Connect(ctx context.Context) (*modelstore.Store, func(), error) {
	access, secret, prefix := o.AccessKey, o.SecretKey, o.Prefix
	if access == "" {
		var err error
		var secretPrefix string
		if access, secret, secretPrefix, err = o.readKeys(ctx); err != nil {
			return nil, nil, err
		}
		if prefix == "" {
			prefix = secretPrefix
		}
	}
	endpoint, stop := o.Endpoint, func() {}
	timeout := o.DialTimeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	if err := modelstore.Reachable(ctx, endpoint, timeout); err != nil {
		t, ok := ClusterService(endpoint, o.Namespace)
		if !ok {
			return nil, nil, exit.PreconditionErrorf("cannot reach the model center at %s: %v (set --endpoint to an address this machine can reach)", endpoint, err)
		}
		fw, ferr := o.Forward(ctx, t)
		if ferr != nil {
			return nil, nil, exit.PreconditionErrorf("cannot reach the model center at %s from here (%v), and port-forwarding to it failed: %v", endpoint, err, ferr)
		}
		u, _ := url.Parse(endpoint)
		u.Scheme = "http"
		if strings.HasPrefix(endpoint, "https:") {
			u.Scheme = "https"
		}
		u.Host = net.JoinHostPort(fw.Address, strconv.Itoa(fw.LocalPort))
		endpoint, stop = strings.TrimRight(u.String(), "/"), fw.Close
		fmt.Fprintf(o.Streams.ErrOut, "%s is not reachable from here: port-forwarding %s to pod %s/%s port %d through the API server\n",
			o.Endpoint, u.Host, t.Namespace, fw.Pod, fw.RemotePort)
	}
	cfg := modelstore.Config{Endpoint: endpoint, AccessKey: access, SecretKey: secret, Prefix: prefix}
	if o.Streams.ErrTTY {
		cfg.Progress = o.Streams.ErrOut
	}
	st, err := modelstore.New(cfg)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return st, stop, nil
}

// Open sets *st to the model center unless it is set already (tests set
// it), and returns the function that closes what Open started. Run calls
// it, so that a port-forward lives under Run's context and ends with Run.
func (o *S3Options) Open(ctx context.Context, st **modelstore.Store) (func(), error) {
	if *st != nil {
		return func() {}, nil
	}
	s, stop, err := o.Connect(ctx)
	if err != nil {
		return nil, err
	}
	*st = s
	return stop, nil
}

// OpensInRun is embedded by options whose Run opens the model center
// itself, through S3Options.Open.
type OpensInRun struct{}

// Connect builds nothing: the store and its port-forward belong to Run.
func (OpensInRun) Connect(*cmdutil.Factory) error { return nil }

// readKeys reads the S3 keys from the cluster Secret through the engine.
// The keys are returned, never printed: errors name the Secret, not its data.
func (o *S3Options) readKeys(ctx context.Context) (access, secret, prefix string, err error) {
	const hint = "set --s3-access-key and --s3-secret-key, or PADDLEX_S3_ACCESS_KEY and PADDLEX_S3_SECRET_KEY"
	ref := kube.ObjectRef{GVK: corev1.SchemeGroupVersion.WithKind("Secret"), Namespace: o.Namespace, Name: o.Secret}
	k, err := o.Kube()
	if err != nil {
		return "", "", "", fmt.Errorf("no S3 keys: %w; or %s", err, hint)
	}
	obj, err := k.Get(ctx, ref)
	if apierrors.IsNotFound(err) {
		return "", "", "", exit.PreconditionErrorf("no S3 keys: %s does not exist: %s", ref, hint)
	}
	if err != nil {
		// The engine's error keeps its exit code (4 for RBAC or an
		// unreachable cluster).
		return "", "", "", fmt.Errorf("no S3 keys: %w; or %s", err, hint)
	}
	var s corev1.Secret
	if err := kube.FromUnstructured(obj, &s); err != nil {
		return "", "", "", err
	}
	access, secret, prefix = string(s.Data["access-key"]), string(s.Data["secret-key"]), string(s.Data["model-prefix"])
	if access == "" || secret == "" {
		return "", "", "", exit.PreconditionErrorf("no S3 keys: %s lacks access-key or secret-key", ref)
	}
	return access, secret, prefix, nil
}

// ClusterService reports whether endpoint names a Service by its cluster
// DNS name (svc, svc.ns, svc.ns.svc or svc.ns.svc.cluster.local) and which;
// ns is the namespace of a bare name.
func ClusterService(endpoint, ns string) (portforward.Target, bool) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()) != nil {
		return portforward.Target{}, false
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return portforward.Target{}, false
		}
	}
	parts := strings.Split(strings.TrimSuffix(u.Hostname(), "."), ".")
	switch {
	case len(parts) == 1 && parts[0] != "localhost":
	case len(parts) == 2, len(parts) == 3 && parts[2] == "svc", len(parts) > 3 && parts[2] == "svc" && strings.Join(parts[3:], ".") == "cluster.local":
		ns = parts[1]
	default:
		return portforward.Target{}, false
	}
	if errs := cmdutilName(parts[0]); errs != nil || cmdutilName(ns) != nil {
		return portforward.Target{}, false
	}
	return portforward.Target{Namespace: ns, Service: parts[0], Port: int32(port)}, true
}

func cmdutilName(s string) error {
	if err := validate.Name("name", s); err != nil {
		return errors.New("invalid")
	}
	return nil
}
