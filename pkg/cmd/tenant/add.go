package tenant

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/tenant"
)

// MinPasswordLength is the shortest password --password-file may hold.
const MinPasswordLength = 8

// AddOptions are the options of `tenant add`.
type AddOptions struct {
	Spec         tenant.Spec
	PasswordFile string
	// password is read from PasswordFile in Complete and never printed.
	password []byte
	platform
}

// NewCmdAdd returns `tenant add`.
func NewCmdAdd(f *cmdutil.Factory, runF func(*AddOptions) error) *cobra.Command {
	o := &AddOptions{}
	cmd := &cobra.Command{
		Use:   "add EMAIL",
		Short: "Give a user a namespace, rights in it only, scoped MinIO keys and a login",
		Long: `Add a tenant: the namespace (--namespace, default kubeflow-USER-DOMAIN as
Kubeflow spells it) with Pod Security and network policy, a ResourceQuota and
LimitRange when a --quota-* flag is given, the RoleBindings that make EMAIL
the namespace's admin, a MinIO user whose policy reaches only the bucket
named after the namespace, and the namespace's data-center Secret with that
user's keys. With --password-file, dex's password database gets EMAIL with
the file's password (bcrypt; the file's first line, never an argument).
Without it, the user signs in through the upstream identity provider the
install configured.

Running it again updates the tenant and keeps their keys; the quota
becomes what the --quota-* flags of that run say.`,
		Example: `  paddlex tenant add alice@example.com --password-file ./alice.pw
  paddlex tenant add bob@example.com --namespace team-bob --quota-gpu 4 --quota-cpu 32 --quota-memory 128Gi`,
		Args: cobra.ExactArgs(1),
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.Spec.Namespace, "namespace", "n", "", "the tenant's namespace (default kubeflow-USER-DOMAIN from EMAIL)")
	fs.Int64Var(&o.Spec.QuotaGPU, "quota-gpu", 0, "at most this many GPUs requested in the namespace (0: no bound)")
	fs.StringVar(&o.Spec.QuotaCPU, "quota-cpu", "", "at most this much CPU requested in the namespace, e.g. 16")
	fs.StringVar(&o.Spec.QuotaMemory, "quota-memory", "", "at most this much memory requested in the namespace, e.g. 64Gi")
	fs.StringVar(&o.PasswordFile, "password-file", "", "file whose first line is the user's dex password (at least 8 characters)")
	o.addMinIOFlag(fs)
	return cmd
}

// Complete takes EMAIL, the default namespace and the password file.
func (o *AddOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Spec.Email = strings.TrimSpace(args[0])
	if !cmd.Flags().Changed("namespace") {
		o.Spec.Namespace = tenant.NamespaceFor(o.Spec.Email)
	}
	if o.PasswordFile != "" {
		b, err := os.ReadFile(o.PasswordFile)
		if err != nil {
			return exit.UsageErrorf("--password-file: %v", err)
		}
		o.password = []byte(strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r"))
	}
	return nil
}

// Validate checks the arguments without the cluster.
func (o *AddOptions) Validate() error {
	if err := o.Spec.Validate(); err != nil {
		return err
	}
	if err := o.validateMinIOFlag(); err != nil {
		return err
	}
	if o.PasswordFile != "" && len(o.password) < MinPasswordLength {
		return exit.UsageErrorf("--password-file %s: the password on its first line is shorter than %d characters", o.PasswordFile, MinPasswordLength)
	}
	if len(o.password) > 72 {
		return exit.UsageErrorf("--password-file %s: the password is longer than 72 bytes, which bcrypt cannot hash", o.PasswordFile)
	}
	return nil
}

// Connect builds the clients.
func (o *AddOptions) Connect(f *cmdutil.Factory) error { return o.connect(f) }

// Run adds the tenant: the MinIO user first, so the Secret never names keys
// that do not work; then the namespace and its objects; then the login.
func (o *AddOptions) Run(ctx context.Context) error {
	s := o.Spec
	if err := o.prepare(ctx, &s); err != nil {
		return err
	}
	var hash []byte
	if o.password != nil {
		var err error
		if hash, err = bcrypt.GenerateFromPassword(o.password, bcrypt.DefaultCost); err != nil {
			return err
		}
		// Dex must be there before anything is made.
		if _, err := o.Kube.List(ctx, tenant.DexPasswordGVK, kube.ListOptions{Namespace: tenant.DexNamespace}); err != nil {
			if noKind(err) || apierrors.IsNotFound(err) {
				return exit.PreconditionErrorf("--password-file: dex's password database (kind Password, dex.coreos.com/v1) is not in the cluster: install the auth component with `paddlex install --domain HOST`, or add the user through your identity provider; nothing was applied")
			}
			return err
		}
	}
	adm, stop, err := o.admin(ctx)
	if err != nil {
		return err
	}
	defer stop()
	if err := adm.Ensure(ctx, s); err != nil {
		return fmt.Errorf("%w; nothing was applied to the cluster: run the command again", err)
	}
	objs := tenant.Render(s)
	if hash != nil {
		objs = append(objs, tenant.RenderDexPassword(s.Email, hash))
	}
	if _, err := o.Kube.Apply(ctx, objs, kube.ApplyOptions{}); err != nil {
		return fmt.Errorf("%w; MinIO user %s was made and part of the namespace may be applied: run the command again to finish, or `paddlex tenant remove %s --purge`", err, s.S3User(), s.Email)
	}
	fmt.Fprintf(o.Streams.Out, "tenant %s added: namespace %s, MinIO user %s (bucket %s), Secret %s/%s\n",
		s.Email, s.Namespace, s.S3User(), s.Bucket(), s.Namespace, paddle.DataCenterSecret)
	if hash != nil {
		fmt.Fprintf(o.Streams.Out, "%s signs in through dex with the password from %s\n", s.Email, o.PasswordFile)
	}
	return nil
}

// prepare completes s from the cluster: the tenant's existing keys and
// database on a re-run, else new keys and a free database.
func (o *AddOptions) prepare(ctx context.Context, s *tenant.Spec) error {
	// Every namespace a tenant had keeps its Redis database: a tenant
	// removed without --purge keeps their data sets' metadata there.
	items, err := o.Kube.List(ctx, namespaceGVK, kube.ListOptions{LabelSelector: tenant.LabelTenant})
	if err != nil {
		return err
	}
	var used []int
	for i := range items {
		t, current := tenant.FromNamespace(&items[i])
		if !current {
			var removed bool
			if t, removed = tenant.FromRemovedNamespace(&items[i]); !removed {
				continue
			}
		}
		if current && items[i].GetDeletionTimestamp() == nil && strings.EqualFold(t.Email, s.Email) && t.Namespace != s.Namespace {
			return exit.UsageErrorf("%s is already a tenant, in namespace %s: leave out --namespace, or remove the tenant first", s.Email, t.Namespace)
		}
		if t.Namespace != s.Namespace && items[i].GetDeletionTimestamp() == nil {
			used = append(used, t.RedisDB)
		}
	}
	existing, err := o.Kube.Get(ctx, kube.ObjectRef{GVK: namespaceGVK, Name: s.Namespace})
	switch {
	case apierrors.IsNotFound(err):
		existing = nil
	case err != nil:
		return err
	}
	if existing != nil && existing.GetDeletionTimestamp() != nil {
		return exit.PreconditionErrorf("namespace %s is being deleted: add the tenant once it is gone (kubectl wait --for=delete namespace/%s), or into another --namespace; nothing was applied", s.Namespace, s.Namespace)
	}
	if existing != nil {
		t, ok := tenant.FromNamespace(existing)
		if !ok {
			// A tenant removed without --purge comes back with new keys.
			t, ok = tenant.FromRemovedNamespace(existing)
			if ok && strings.EqualFold(t.Email, s.Email) {
				s.RedisDB = t.RedisDB
				existing = nil
				ok = true
			}
		}
		if existing != nil && !ok {
			return exit.UsageErrorf("--namespace %s exists and is not a tenant's: choose another namespace", s.Namespace)
		}
		if existing != nil && !strings.EqualFold(t.Email, s.Email) {
			return exit.UsageErrorf("--namespace %s belongs to tenant %s: choose another namespace", s.Namespace, t.Email)
		}
	}
	platform, err := o.secretData(ctx, install.PlatformNamespace, paddle.DataCenterSecret, "install the prerequisites component (paddlex install --components prerequisites)")
	if err != nil {
		return err
	}
	platformURL := string(platform["metaurl"])
	platformDB, ok := tenant.DatabaseOf(platformURL)
	if !ok {
		return exit.PreconditionErrorf("the metaurl of Secret %s/%s names no Redis database: a tenant's data sets need one of their own", install.PlatformNamespace, paddle.DataCenterSecret)
	}
	if existing != nil {
		data, err := o.secretData(ctx, s.Namespace, paddle.DataCenterSecret, "run `paddlex tenant remove "+s.Email+"` and add the tenant again")
		if err != nil {
			return err
		}
		s.AccessKey, s.SecretKey = string(data["access-key"]), string(data["secret-key"])
		t, _ := tenant.FromNamespace(existing)
		s.RedisDB = t.RedisDB
	} else if s.RedisDB == 0 {
		if s.RedisDB, err = tenant.FreeDatabase(platformDB, used); err != nil {
			return err
		}
	}
	if s.AccessKey == "" || s.SecretKey == "" {
		s.AccessKey = s.Namespace
		if s.SecretKey, err = install.RandomSecret(40); err != nil {
			return err
		}
	}
	s.Endpoint = o.Endpoint
	s.MetaURL, err = tenant.MetaURL(platformURL, s.RedisDB)
	return err
}
