package tenant

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/tenant"
)

// RemoveOptions are the options of `tenant remove`.
type RemoveOptions struct {
	Email string
	Purge bool
	platform
}

// NewCmdRemove returns `tenant remove`.
func NewCmdRemove(f *cmdutil.Factory, runF func(*RemoveOptions) error) *cobra.Command {
	o := &RemoveOptions{}
	cmd := &cobra.Command{
		Use:     "remove EMAIL",
		Aliases: []string{"rm", "delete"},
		Short:   "Take a tenant's access away; with --purge, their namespace and bucket too",
		Long: `Remove a tenant's access: their RoleBindings, their notebooks' service
account, their dex login, their MinIO user and policy, and their data-center
Secret. Their namespace, what runs in
it and their bucket stay, for an admin to look at or hand over. With --purge
the namespace (and everything in it) and the bucket (and every object in it)
are deleted too.`,
		Example: `  paddlex tenant remove alice@example.com
  paddlex tenant remove alice@example.com --purge`,
		Args: cobra.ExactArgs(1),
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().BoolVar(&o.Purge, "purge", false, "also delete the namespace with everything in it, and the bucket with every object in it")
	o.addMinIOFlag(cmd.Flags())
	return cmd
}

// Complete takes EMAIL.
func (o *RemoveOptions) Complete(_ *cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Email = args[0]
	return nil
}

// Validate checks EMAIL.
func (o *RemoveOptions) Validate() error {
	s := tenant.Spec{Email: o.Email, Namespace: "x"}
	if err := s.Validate(); err != nil {
		return err
	}
	return o.validateMinIOFlag()
}

// Connect builds the clients.
func (o *RemoveOptions) Connect(f *cmdutil.Factory) error { return o.connect(f) }

// Run removes the access, then with --purge the namespace and bucket.
func (o *RemoveOptions) Run(ctx context.Context) error {
	s, ok, err := o.find(ctx, o.Email)
	if err != nil {
		return err
	}
	if !ok {
		return exit.PreconditionErrorf("%s is not a tenant (see `paddlex tenant list`)", o.Email)
	}
	adm, stop, err := o.admin(ctx)
	if err != nil {
		return err
	}
	defer stop()
	if err := adm.Remove(ctx, s, o.Purge); err != nil {
		return fmt.Errorf("%w; nothing was removed from the cluster: run the command again", err)
	}
	rb := rbacv1.SchemeGroupVersion.WithKind("RoleBinding")
	refs := []kube.ObjectRef{
		{GVK: rb, Namespace: s.Namespace, Name: "namespace-owner"},
		{GVK: rb, Namespace: s.Namespace, Name: "namespace-owner-paddle"},
		{GVK: corev1.SchemeGroupVersion.WithKind("Secret"), Namespace: s.Namespace, Name: paddle.DataCenterSecret},
		// Its tokens die with it, also in a notebook still running (which
		// the hub may still stop: its own binding stays).
		{GVK: corev1.SchemeGroupVersion.WithKind("ServiceAccount"), Namespace: s.Namespace, Name: tenant.NotebookAccount},
	}
	// Deletes are in the foreground: a RoleBinding still grants until it
	// is gone, so the access is waited for before saying it is removed.
	if err := o.Kube.Delete(ctx, refs, kube.DeleteOptions{IgnoreNotFound: true, Wait: true}); err != nil {
		return fmt.Errorf("%w; the MinIO user is removed already: run the command again to finish", err)
	}
	// The login goes last: dex may not be installed (an upstream
	// identity provider signs users in instead).
	login := kube.ObjectRef{GVK: tenant.DexPasswordGVK, Namespace: tenant.DexNamespace, Name: tenant.DexPasswordName(s.Email)}
	if err := o.Kube.Delete(ctx, []kube.ObjectRef{login}, kube.DeleteOptions{IgnoreNotFound: true, Wait: true}); err != nil && !noKind(err) {
		return fmt.Errorf("%w; the tenant's access is removed but for the dex login: run the command again", err)
	}
	if o.Purge {
		// The namespace controller empties the namespace, which may take
		// a while; it is not listed as a tenant meanwhile.
		if err := o.Kube.Delete(ctx, []kube.ObjectRef{{GVK: namespaceGVK, Name: s.Namespace}}, kube.DeleteOptions{IgnoreNotFound: true}); err != nil {
			return fmt.Errorf("%w; the tenant's access and bucket are removed already: run the command again to delete the namespace", err)
		}
		fmt.Fprintf(o.Streams.Out, "tenant %s removed: bucket %s deleted, namespace %s deleting with everything in it\n", s.Email, s.Bucket(), s.Namespace)
		return nil
	}
	if err := o.unmark(ctx, s); err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.Streams.Out, "tenant %s removed: no rights, keys or login remain; namespace %s and bucket %s are kept (--purge deletes them)\n", s.Email, s.Namespace, s.Bucket())
	return err
}

// unmark relabels a removed tenant's namespace: it is no longer listed, and
// MinIO's network policy no longer admits its pods. A later `tenant add` of
// the same user takes it back.
func (o *RemoveOptions) unmark(ctx context.Context, s tenant.Spec) error {
	ns := tenant.Render(s)[0]
	labels := ns.GetLabels()
	labels[tenant.LabelTenant] = tenant.Removed
	ns.SetLabels(labels)
	_, err := o.Kube.Apply(ctx, []*unstructured.Unstructured{ns}, kube.ApplyOptions{})
	return err
}
