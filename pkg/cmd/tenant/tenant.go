// Package tenant implements `paddlex tenant`: the users of the multi-tenant
// profile, each with a namespace, rights and object-store keys of their own.
package tenant

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	modelhubcmd "github.com/paddleflow/paddlex/pkg/cmd/modelhub"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/modelstore"
	"github.com/paddleflow/paddlex/pkg/portforward"
	"github.com/paddleflow/paddlex/pkg/tenant"
)

// NewCmdTenant returns the tenant command group.
func NewCmdTenant(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tenant",
		Aliases: []string{"tenants"},
		Short:   "Add, list and remove the users of the multi-tenant platform",
		Long: `A tenant is a user of the multi-tenant profile (paddlex install --domain ...):
a namespace of their own, where they may do everything (the admin role) and
nowhere else; ingress denied but for their own pods and the platform; Pod
Security baseline enforced and restricted warned; optionally a quota; a
data-center Secret with MinIO keys that reach only their own bucket (never
MinIO's root keys); and, with --password-file, a dex login.

The user signs in through dex with their e-mail address, which is the name
the API server knows them by.`,
		Example: `  paddlex tenant add alice@example.com --password-file ./alice.pw --quota-gpu 2 --quota-cpu 16 --quota-memory 64Gi
  paddlex tenant list
  paddlex tenant remove alice@example.com
  paddlex tenant remove alice@example.com --purge`,
	}
	cmd.AddCommand(NewCmdAdd(f, nil), NewCmdList(f, nil), NewCmdRemove(f, nil))
	return cmd
}

var (
	namespaceGVK = corev1.SchemeGroupVersion.WithKind("Namespace")
	secretGVK    = corev1.SchemeGroupVersion.WithKind("Secret")
)

// platform is what tenant commands read from the installed platform.
type platform struct {
	Kube    kube.Interface
	Forward func(ctx context.Context, t portforward.Target) (*portforward.Forward, error)
	// NewAdmin opens the object store's admin API with the root keys;
	// tests replace it.
	NewAdmin func(endpoint, accessKey, secretKey string) (tenant.Admin, error)
	// Endpoint is MinIO's in-cluster address, which tenants' Secrets name.
	Endpoint string
	// AdminEndpoint is MinIO's address from this machine (--minio-endpoint);
	// Endpoint, port-forwarded when it is not reachable, by default.
	AdminEndpoint string
	Streams       cmdutil.IOStreams
}

// addMinIOFlag binds --minio-endpoint, for the commands that reach MinIO's
// admin API.
func (p *platform) addMinIOFlag(fs *pflag.FlagSet) {
	fs.StringVar(&p.AdminEndpoint, "minio-endpoint", "", "MinIO's S3 API as this machine reaches it, e.g. https://minio.example.com (default: "+tenant.DefaultEndpoint+", port-forwarded when not reachable)")
}

// validateMinIOFlag checks --minio-endpoint.
func (p *platform) validateMinIOFlag() error {
	if p.AdminEndpoint == "" {
		return nil
	}
	u, err := url.Parse(p.AdminEndpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return exit.UsageErrorf("--minio-endpoint %q is not an http:// or https:// address of a host (and port), e.g. https://minio.example.com", p.AdminEndpoint)
	}
	return nil
}

// connect wires the platform's clients from the Factory.
func (p *platform) connect(f *cmdutil.Factory) error {
	p.Streams = f.Streams
	if p.Endpoint == "" {
		p.Endpoint = tenant.DefaultEndpoint
	}
	if p.NewAdmin == nil {
		p.NewAdmin = func(endpoint, ak, sk string) (tenant.Admin, error) { return tenant.NewMinIO(endpoint, ak, sk) }
	}
	if p.Forward == nil {
		p.Forward = func(ctx context.Context, t portforward.Target) (*portforward.Forward, error) {
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
	if p.Kube != nil {
		return nil
	}
	k, err := f.Kube()
	p.Kube = k
	return err
}

// secretData reads a Secret's data; a missing Secret is a precondition.
func (p *platform) secretData(ctx context.Context, ns, name, fix string) (map[string][]byte, error) {
	ref := kube.ObjectRef{GVK: secretGVK, Namespace: ns, Name: name}
	obj, err := p.Kube.Get(ctx, ref)
	if apierrors.IsNotFound(err) {
		return nil, exit.PreconditionErrorf("%s does not exist: %s", ref, fix)
	}
	if err != nil {
		return nil, err
	}
	var s corev1.Secret
	if err := kube.FromUnstructured(obj, &s); err != nil {
		return nil, err
	}
	return s.Data, nil
}

// admin opens MinIO's admin API with the root keys from the platform's
// Secret, port-forwarding when the in-cluster address is not reachable
// from here. The keys stay in this process.
func (p *platform) admin(ctx context.Context) (tenant.Admin, func(), error) {
	root, err := p.secretData(ctx, install.PlatformNamespace, "minio-credentials", "install the minio component (paddlex install --components minio)")
	if err != nil {
		return nil, nil, err
	}
	ak, sk := string(root["accesskey"]), string(root["secretkey"])
	if ak == "" || sk == "" {
		return nil, nil, exit.PreconditionErrorf("Secret %s/minio-credentials lacks accesskey or secretkey: run `paddlex install --components minio`", install.PlatformNamespace)
	}
	endpoint, stop := p.Endpoint, func() {}
	if p.AdminEndpoint != "" {
		endpoint = strings.TrimRight(p.AdminEndpoint, "/")
	}
	if err := modelstore.Reachable(ctx, endpoint, 2*time.Second); err != nil {
		t, ok := modelhubcmd.ClusterService(endpoint, install.PlatformNamespace)
		if !ok {
			return nil, nil, exit.PreconditionErrorf("cannot reach MinIO at %s: %v; set --minio-endpoint to an address of MinIO this machine reaches, or leave it out to port-forward to %s", endpoint, err, p.Endpoint)
		}
		fw, ferr := p.Forward(ctx, t)
		if ferr != nil {
			return nil, nil, exit.PreconditionErrorf("cannot reach MinIO at %s from here (%v), and port-forwarding to it failed: %v; check that MinIO runs (kubectl -n %s get pods -l app=minio), or set --minio-endpoint", endpoint, err, ferr, t.Namespace)
		}
		wanted := endpoint
		u, _ := url.Parse(endpoint)
		u.Host = net.JoinHostPort(fw.Address, strconv.Itoa(fw.LocalPort))
		endpoint, stop = u.Scheme+"://"+u.Host, fw.Close
		fmt.Fprintf(p.Streams.ErrOut, "%s is not reachable from here: port-forwarding %s to pod %s/%s port %d through the API server\n",
			wanted, u.Host, t.Namespace, fw.Pod, fw.RemotePort)
	}
	a, err := p.NewAdmin(endpoint, ak, sk)
	if err != nil {
		stop()
		return nil, nil, err
	}
	return a, stop, nil
}

// tenants lists the tenant namespaces; one being deleted (removed with
// --purge) is no longer a tenant's.
func (p *platform) tenants(ctx context.Context) ([]unstructured.Unstructured, error) {
	items, err := p.Kube.List(ctx, namespaceGVK, kube.ListOptions{LabelSelector: tenant.LabelTenant + "=true"})
	if err != nil {
		return nil, err
	}
	out := items[:0]
	for _, it := range items {
		if it.GetDeletionTimestamp() == nil {
			out = append(out, it)
		}
	}
	return out, nil
}

// find returns the tenant of email, or ok false.
func (p *platform) find(ctx context.Context, email string) (tenant.Spec, bool, error) {
	items, err := p.tenants(ctx)
	if err != nil {
		return tenant.Spec{}, false, err
	}
	for i := range items {
		if s, ok := tenant.FromNamespace(&items[i]); ok && strings.EqualFold(s.Email, email) {
			return s, true, nil
		}
	}
	return tenant.Spec{}, false, nil
}

// noKind reports an error saying the cluster does not serve the kind, as
// the engine or the REST mapper says it.
func noKind(err error) bool {
	var pe *kube.PreconditionError
	return meta.IsNoMatchError(err) || errors.As(err, &pe) && pe.Reason == kube.ReasonNoKind
}
