package tenant

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/tenant"
)

// ListOptions are the options of `tenant list`.
type ListOptions struct {
	cmdutil.NoArgs
	platform
}

// NewCmdList returns `tenant list`.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	o := &ListOptions{}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the tenants, their namespaces, MinIO users and quotas",
		Long: `List the current tenants: each user's e-mail address, namespace, MinIO user,
bucket and quota (requests of CPU, memory and GPUs). Tenants removed without
--purge are not listed.`,
		Example: `  paddlex tenant list`,
		Args:    cobra.NoArgs,
		RunE:    cmdutil.PhasedRunE(f, o, runF),
	}
}

// Validate checks nothing: list takes no flags of its own.
func (o *ListOptions) Validate() error { return nil }

// Connect builds the clients.
func (o *ListOptions) Connect(f *cmdutil.Factory) error { return o.connect(f) }

// Run prints a row per tenant.
func (o *ListOptions) Run(ctx context.Context) error {
	items, err := o.tenants(ctx)
	if err != nil {
		return err
	}
	var specs []tenant.Spec
	for i := range items {
		if s, ok := tenant.FromNamespace(&items[i]); ok {
			specs = append(specs, s)
		}
	}
	if len(specs) == 0 {
		fmt.Fprintln(o.Streams.ErrOut, "No tenants: add one with `paddlex tenant add EMAIL`.")
		return nil
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].Email < specs[j].Email })
	t := cmdutil.NewTable(o.Streams.Out, "EMAIL", "NAMESPACE", "S3-USER", "BUCKET", "QUOTA")
	for _, s := range specs {
		q, err := o.quota(ctx, s.Namespace)
		if err != nil {
			return err
		}
		t.Row(s.Email, s.Namespace, cmdutil.OrNone(s.S3User()), s.Bucket(), q)
	}
	return t.Flush()
}

// quota describes the namespace's tenant quota, or "<none>".
func (o *ListOptions) quota(ctx context.Context, ns string) (string, error) {
	obj, err := o.Kube.Get(ctx, kube.ObjectRef{GVK: corev1.SchemeGroupVersion.WithKind("ResourceQuota"), Namespace: ns, Name: "tenant-quota"})
	if apierrors.IsNotFound(err) {
		return cmdutil.OrNone(""), nil
	}
	if err != nil {
		return "", err
	}
	var q corev1.ResourceQuota
	if err := kube.FromUnstructured(obj, &q); err != nil {
		return "", err
	}
	var parts []string
	for _, r := range []corev1.ResourceName{corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, "requests.nvidia.com/gpu"} {
		if v, ok := q.Spec.Hard[r]; ok {
			parts = append(parts, strings.TrimPrefix(string(r), "requests.")+"="+v.String())
		}
	}
	return strings.Join(parts, ","), nil
}
