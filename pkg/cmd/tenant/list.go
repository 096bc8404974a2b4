package tenant

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/tenant"
)

// ListOptions are the options of `tenant list`.
type ListOptions struct {
	cmdutil.NoArgs
	Output string
	platform
}

// Listed is a tenant as `tenant list -o json|yaml` prints it. The keys
// are not in it: the secret key stays in the tenant's Secret.
type Listed struct {
	Email     string `json:"email"`
	Namespace string `json:"namespace"`
	S3User    string `json:"s3User"`
	Bucket    string `json:"bucket"`
	// Quota is the namespace's bound on requests (cpu, memory and
	// nvidia.com/gpu), empty without one.
	Quota map[string]string `json:"quota,omitempty"`
}

// NewCmdList returns `tenant list`.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	o := &ListOptions{}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the tenants, their namespaces, MinIO users and quotas",
		Long: `List the current tenants: each user's e-mail address, namespace, MinIO user,
bucket and quota (requests of CPU, memory and GPUs). Tenants removed without
--purge are not listed. -o json|yaml prints the same as records.`,
		Example: `  paddlex tenant list
  paddlex tenant list -o json`,
		Args: cobra.NoArgs,
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "output format: json or yaml (default: a table)")
	return cmd
}

// Validate checks --output.
func (o *ListOptions) Validate() error {
	switch o.Output {
	case "", "json", "yaml":
		return nil
	}
	return exit.UsageErrorf("--output must be json or yaml, not %q", o.Output)
}

// Connect builds the clients.
func (o *ListOptions) Connect(f *cmdutil.Factory) error { return o.connect(f) }

// Run prints a row (or a record) per tenant.
func (o *ListOptions) Run(ctx context.Context) error {
	items, err := o.tenants(ctx)
	if err != nil {
		return err
	}
	listed := []Listed{}
	for i := range items {
		s, ok := tenant.FromNamespace(&items[i])
		if !ok {
			continue
		}
		q, err := o.quota(ctx, s.Namespace)
		if err != nil {
			return err
		}
		listed = append(listed, Listed{Email: s.Email, Namespace: s.Namespace, S3User: s.S3User(), Bucket: s.Bucket(), Quota: q})
	}
	sort.Slice(listed, func(i, j int) bool { return listed[i].Email < listed[j].Email })
	switch o.Output {
	case "json":
		b, err := json.MarshalIndent(listed, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.Streams.Out, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(listed)
		if err != nil {
			return err
		}
		_, err = o.Streams.Out.Write(b)
		return err
	}
	if len(listed) == 0 {
		fmt.Fprintln(o.Streams.ErrOut, "No tenants: add one with `paddlex tenant add EMAIL`.")
		return nil
	}
	t := cmdutil.NewTable(o.Streams.Out, "EMAIL", "NAMESPACE", "S3-USER", "BUCKET", "QUOTA")
	for _, l := range listed {
		var parts []string
		for _, r := range quotaResources {
			if v, ok := l.Quota[r]; ok {
				parts = append(parts, r+"="+v)
			}
		}
		t.Row(l.Email, l.Namespace, cmdutil.OrNone(l.S3User), l.Bucket, cmdutil.OrNone(strings.Join(parts, ",")))
	}
	return t.Flush()
}

// quotaResources are the resources a tenant's quota bounds, as listed.
var quotaResources = []string{"cpu", "memory", "nvidia.com/gpu"}

// quota reads the namespace's tenant quota, or nil.
func (o *ListOptions) quota(ctx context.Context, ns string) (map[string]string, error) {
	obj, err := o.Kube.Get(ctx, kube.ObjectRef{GVK: corev1.SchemeGroupVersion.WithKind("ResourceQuota"), Namespace: ns, Name: "tenant-quota"})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var q corev1.ResourceQuota
	if err := kube.FromUnstructured(obj, &q); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range quotaResources {
		if v, ok := q.Spec.Hard[corev1.ResourceName("requests."+r)]; ok {
			out[r] = v.String()
		}
	}
	return out, nil
}
