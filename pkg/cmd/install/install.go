// Package install implements `paddlex install`, `install-standalone`,
// `install bundle`, `status` and `uninstall`: the platform on a cluster, in
// dependency order, verified ready.
package install

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/image"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/validate"
)

// SourceFlags choose the catalog and where artifacts come from; install,
// bundle, status and uninstall share them.
type SourceFlags struct {
	// CatalogFile replaces the built-in catalog (hidden; for tests and
	// private mirrors).
	CatalogFile  string
	FromBundle   string
	ManifestsDir string
	CacheDir     string
	// RequireChecksums refuses sources without a recorded sha256.
	RequireChecksums bool
}

func (s *SourceFlags) addCatalogFlag(fs *pflag.FlagSet) {
	fs.StringVar(&s.CatalogFile, "catalog", "", "component catalog file replacing the built-in one")
	_ = fs.MarkHidden("catalog")
}

func (s *SourceFlags) addFlags(fs *pflag.FlagSet) {
	s.addCatalogFlag(fs)
	fs.StringVar(&s.FromBundle, "from-bundle", "", "install from a bundle (file or directory) written by 'paddlex install bundle' (air-gapped clusters); with --image-registry, its images are pushed there first")
	fs.StringVar(&s.ManifestsDir, "manifests-dir", "", "install from a directory laid out like an unpacked bundle: DIR/COMPONENT/FILE")
	fs.StringVar(&s.CacheDir, "artifact-cache", install.DefaultCacheDir(), "where downloaded artifacts are kept")
	fs.BoolVar(&s.RequireChecksums, "require-checksums", false, "refuse any artifact without a recorded sha256 (in the catalog or the bundle's index)")
}

// checkUnverified says which sources no sha256 covers, on w, or refuses
// them (exit 4) with --require-checksums.
func (s *SourceFlags) checkUnverified(f *install.Fetcher, plan []*install.Component, say func(string)) error {
	unv := f.Unverified(plan)
	if len(unv) == 0 {
		return nil
	}
	if s.RequireChecksums {
		return exit.PreconditionErrorf("--require-checksums: no sha256 is recorded for %d artifacts:\n  %s\npin them with `paddlex install catalog pin --from-bundle BUNDLE` (a --catalog file), or install from a bundle; nothing was applied",
			len(unv), strings.Join(unv, "\n  "))
	}
	for _, u := range unv {
		say("not verified (no recorded sha256): " + u)
	}
	return nil
}

// fetchError maps a fetch failure to its exit code: a checksum mismatch or
// a missing artifact is a precondition (exit 4).
func fetchError(err error) error {
	return exit.PreconditionErrorf("%v; nothing was applied", err)
}

func (s *SourceFlags) validate() error {
	if s.FromBundle != "" && s.ManifestsDir != "" {
		return exit.UsageErrorf("--from-bundle and --manifests-dir are exclusive")
	}
	if s.ManifestsDir != "" {
		if st, err := os.Stat(s.ManifestsDir); err != nil || !st.IsDir() {
			return exit.UsageErrorf("--manifests-dir %s is not a directory", s.ManifestsDir)
		}
	}
	if s.FromBundle != "" {
		if _, err := os.Stat(s.FromBundle); err != nil {
			return exit.UsageErrorf("--from-bundle: %v", err)
		}
	}
	return nil
}

// catalog loads the catalog (exit 2 for a bad --catalog file).
func (s *SourceFlags) catalog() (*install.Catalog, error) {
	if s.CatalogFile == "" {
		return install.Default(), nil
	}
	c, err := install.LoadCatalog(s.CatalogFile)
	if err != nil {
		return nil, exit.UsageErrorf("--catalog: %v", err)
	}
	return c, nil
}

// fetcher builds the artifact fetcher.
func (s *SourceFlags) fetcher(cat *install.Catalog, progress func(string)) (*install.Fetcher, error) {
	f := &install.Fetcher{CacheDir: s.CacheDir, Dir: s.ManifestsDir, BaseDir: cat.Dir(), Progress: progress}
	if s.FromBundle != "" {
		b, err := install.OpenBundle(s.FromBundle)
		if err != nil {
			return nil, exit.UsageErrorf("--from-bundle %s: %v", s.FromBundle, err)
		}
		f.Bundle = b
	}
	return f, nil
}

// InstallOptions are the options of `install` and `install-standalone`.
type InstallOptions struct {
	Profile            string
	Components         []string
	Skip               []string
	Verify             bool
	Networking         string
	RedisURL           string
	TaskCenterRedisURL string
	// InClusterRedis allows moving JuiceFS metadata from an external Redis
	// (an earlier --redis-url) to the in-cluster one.
	InClusterRedis bool
	MinIOAccessKey string
	MinIOSecretKey string
	Domain         string
	// SecretNamespaces also get the data-center Secret (--secret-namespace).
	SecretNamespaces []string
	// NotebookIdleTimeout is when JupyterHub stops an idle notebook server.
	NotebookIdleTimeout time.Duration
	// NotebookImage is the image notebook servers run.
	NotebookImage string
	// ImageRegistry is the root's --image-registry: every image of the
	// rendered components is moved onto it.
	ImageRegistry image.Registry
	Source        SourceFlags
	Apply         cmdutil.ApplyFlags
	Output        cmdutil.OutputFlags

	Streams cmdutil.IOStreams
	Catalog *install.Catalog
	Plan    []*install.Component
	Kube    kube.Interface
}

// NewCmdInstall returns `paddlex install` (profile full) with its `bundle`
// subcommand; runF replaces Run in tests.
func NewCmdInstall(f *cmdutil.Factory, runF func(*InstallOptions) error) *cobra.Command {
	cmd := newInstallCmd(f, "install", install.ProfileFull, runF)
	cmd.AddCommand(NewCmdBundle(f, nil), NewCmdCatalog(f), NewCmdImages(f))
	return cmd
}

// NewCmdInstallStandalone returns `paddlex install-standalone`.
func NewCmdInstallStandalone(f *cmdutil.Factory, runF func(*InstallOptions) error) *cobra.Command {
	return newInstallCmd(f, "install-standalone", install.ProfileStandalone, runF)
}

func newInstallCmd(f *cmdutil.Factory, use, profile string, runF func(*InstallOptions) error) *cobra.Command {
	o := &InstallOptions{Streams: f.Streams}
	short := map[string]string{
		"install":            "Install the multi-tenant PaddlePaddle platform (profile full)",
		"install-standalone": "Install the single-user PaddlePaddle platform (profile standalone)",
	}[use]
	cmd := &cobra.Command{
		Use:   use + " [flags]",
		Short: short,
		Long: short + `.

Components are applied in dependency order with server-side apply; each is
waited for (rollouts complete, CRDs established, webhooks serving) before the
components that depend on it. Upstream artifacts are pinned release files,
downloaded once into the artifact cache and verified where the catalog (or
the bundle's index) records a sha256; a mismatch aborts with exit code 4
before anything is applied. Artifacts without a recorded sha256 are named on
stderr; --require-checksums refuses them.

The prerequisites component creates what the platform needs: Secrets
data-center and task-center (JuiceFS metadata in Redis, data in MinIO),
and StorageClass task-center; --secret-namespace also puts data-center in
the namespaces users run in. No account is granted rights for pipelines:
each pipeline run brings its own, owned by the run. MinIO keys are
generated when not given and kept only in Secrets; a re-run reuses them.

For clusters without internet, --from-bundle installs from a bundle written
by 'paddlex install bundle'; with --image-registry R every image runs from
R/PATH:TAG, and the images of a bundle written with --images are pushed to R
(digests kept) before anything is applied.

Re-running changes nothing on an installed cluster and says so; an
interrupted install finishes when run again. --verify only checks.

Components: ` + strings.Join(install.Default().Names(), ", ") + `.`,
		Example: fmt.Sprintf(`  paddlex %[1]s
  paddlex %[1]s --dry-run=client -o yaml > platform.yaml
  paddlex %[1]s --components prerequisites --redis-url redis://:secret@redis.example:6379/0
  paddlex %[1]s --components prerequisites --secret-namespace team-a
  paddlex %[1]s --skip jupyterhub --networking istio
  paddlex install --domain paddlex.example.com
  paddlex %[1]s --from-bundle paddlex-bundle.tgz
  paddlex %[1]s --from-bundle paddlex-bundle.tgz --image-registry registry.internal:5000/paddlex
  paddlex %[1]s --verify`, use),
		Args: cobra.NoArgs,
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Profile, "profile", profile, "profile to install: standalone or full")
	fs.StringSliceVar(&o.Components, "components", nil, "install only these components (comma-separated), in dependency order")
	fs.StringSliceVar(&o.Skip, "skip", nil, "leave these components out (comma-separated)")
	fs.BoolVar(&o.Verify, "verify", false, "check the installation instead of installing: exit 4 when something is not ready")
	fs.StringVar(&o.Networking, "networking", "", "Knative networking layer: kourier or istio (default kourier for standalone, istio for full)")
	fs.StringVar(&o.RedisURL, "redis-url", "", "external Redis for JuiceFS metadata, e.g. redis://:PASSWORD@HOST:6379/0, used as given (skips the in-cluster Redis)")
	fs.StringVar(&o.TaskCenterRedisURL, "task-center-redis-url", "", "Redis for task-center's metadata (default: --redis-url with the next database number)")
	fs.BoolVar(&o.InClusterRedis, "in-cluster-redis", false, "after an install with --redis-url, point JuiceFS at the in-cluster Redis instead (the metadata already in the external Redis is not moved)")
	fs.StringVar(&o.Domain, "domain", "", "host name users reach the platform at over https (the full profile's sign-in through dex and oauth2-proxy); required with the auth component")
	fs.DurationVar(&o.NotebookIdleTimeout, "notebook-idle-timeout", install.DefaultNotebookIdleTimeout, "stop a notebook server after it has been idle this long (JupyterHub's idle culler), at least 1m")
	fs.StringVar(&o.NotebookImage, "notebook-image", "", "image notebook servers run, with its tag or digest, e.g. one built from images/notebook (PaddlePaddle and paddlex); default the JupyterHub chart's")
	fs.StringVar(&o.MinIOAccessKey, "minio-access-key", "", "MinIO access key (default: the installed one, else random); prefer PADDLEX_MINIO_ACCESS_KEY")
	fs.StringSliceVar(&o.SecretNamespaces, "secret-namespace", nil, "also create the data-center Secret (the model center's keys and JuiceFS settings) in these existing namespaces, where dataset, train, modelhub and serve then run (comma-separated; prerequisites component)")
	fs.StringVar(&o.MinIOSecretKey, "minio-secret-key", "", "MinIO secret key (default: the installed one, else random); prefer PADDLEX_MINIO_SECRET_KEY")
	o.Source.addFlags(fs)
	o.Apply.AddFlags(fs, true, 30*time.Minute)
	o.Output.AddFlags(fs)
	return cmd
}

// Complete loads the catalog.
func (o *InstallOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.ImageRegistry = f.ImageRegistry
	var err error
	o.Catalog, err = o.Source.catalog()
	return err
}

// Validate checks the flags and plans the install, without the cluster.
func (o *InstallOptions) Validate() error {
	if err := o.Apply.Validate(); err != nil {
		return err
	}
	if err := o.Output.Validate(); err != nil {
		return err
	}
	if err := o.Source.validate(); err != nil {
		return err
	}
	switch o.Networking {
	case "", install.NetworkingKourier, install.NetworkingIstio:
	default:
		return exit.UsageErrorf("--networking must be kourier or istio, not %q", o.Networking)
	}
	for _, u := range []struct{ flag, val string }{{"--redis-url", o.RedisURL}, {"--task-center-redis-url", o.TaskCenterRedisURL}} {
		if u.val == "" {
			continue
		}
		p, err := url.Parse(u.val)
		if err != nil || (p.Scheme != "redis" && p.Scheme != "rediss") || p.Host == "" {
			// The value may hold a password: name the flag, not the value.
			return exit.UsageErrorf("%s must be a redis:// or rediss:// URL with a host", u.flag)
		}
	}
	if o.TaskCenterRedisURL != "" && o.RedisURL == "" {
		return exit.UsageErrorf("--task-center-redis-url needs --redis-url")
	}
	if o.InClusterRedis && o.RedisURL != "" {
		return exit.UsageErrorf("--in-cluster-redis and --redis-url are exclusive")
	}
	if (o.MinIOAccessKey == "") != (o.MinIOSecretKey == "") {
		return exit.UsageErrorf("give both --minio-access-key and --minio-secret-key, or neither")
	}
	if o.MinIOAccessKey != "" && len(o.MinIOAccessKey) < 3 {
		return exit.UsageErrorf("--minio-access-key must be at least 3 characters")
	}
	if o.MinIOSecretKey != "" && len(o.MinIOSecretKey) < 8 {
		return exit.UsageErrorf("--minio-secret-key must be at least 8 characters")
	}
	if o.NotebookIdleTimeout < time.Minute {
		return exit.UsageErrorf("--notebook-idle-timeout must be at least 1m (the idle culler checks every minute at most), not %s", o.NotebookIdleTimeout)
	}
	if o.NotebookImage != "" {
		if _, err := name.ParseReference(o.NotebookImage, name.StrictValidation); err != nil {
			return exit.UsageErrorf("--notebook-image %q: %v: name the image with its tag or digest, e.g. registry.example.com/paddlex-notebook:3.0.0", o.NotebookImage, err)
		}
	}
	if len(o.Components) > 0 && len(o.Skip) > 0 {
		return exit.UsageErrorf("--components and --skip are exclusive")
	}
	plan, err := o.Catalog.Plan(install.Selection{
		Profile: o.Profile, Networking: o.Networking, Components: o.Components, Skip: o.Skip,
		ExternalRedis: o.RedisURL != "",
	})
	if err != nil {
		return exit.UsageErrorf("%v", err)
	}
	o.Plan = plan
	for _, ns := range o.SecretNamespaces {
		if err := validate.Name("--secret-namespace", ns); err != nil {
			return err
		}
	}
	if len(o.SecretNamespaces) > 0 && !o.planned("prerequisites") {
		return exit.UsageErrorf("--secret-namespace needs the prerequisites component, which creates the Secrets: add it with --components prerequisites")
	}
	if o.Domain != "" {
		if err := install.ValidateDomain(o.Domain); err != nil {
			return exit.UsageErrorf("%v", err)
		}
	}
	for _, c := range plan {
		if c.Name == "auth" && o.Domain == "" && !o.Verify {
			return exit.UsageErrorf("--domain is required with the auth component: the host name users reach the platform at, e.g. --domain paddlex.example.com (or --skip auth,tenants)")
		}
	}
	if o.Verify && o.Apply.ClientDryRun() {
		return exit.UsageErrorf("--verify and --dry-run=client are exclusive")
	}
	return nil
}

// Connect builds the engine, reporting into per-component progress lines.
func (o *InstallOptions) Connect(f *cmdutil.Factory) error {
	if o.Apply.ClientDryRun() {
		return nil
	}
	var err error
	o.Kube, err = connect(f)
	return err
}

// connect returns the engine with a quiet reporter: install reports per
// component rather than per object.
func connect(f *cmdutil.Factory) (kube.Interface, error) {
	k, err := f.Kube()
	if err != nil {
		return nil, err
	}
	return k.WithReporter(kube.NopReporter{}), nil
}

// RunTimeout is --timeout.
func (o *InstallOptions) RunTimeout() time.Duration { return o.Apply.Timeout }

// Run fetches, renders, applies and waits.
func (o *InstallOptions) Run(ctx context.Context) error {
	if o.Verify {
		rep, err := install.Status(ctx, o.Kube, o.Plan)
		if err != nil {
			return err
		}
		return printStatus(o.Streams, rep)
	}
	progress := install.NewProgress(o.Streams.ErrOut, o.Streams.ErrTTY)
	defer progress.Close()
	fetcher, err := o.Source.fetcher(o.Catalog, func(msg string) { progress.Print(msg) })
	if err != nil {
		return err
	}
	if err := o.Source.checkUnverified(fetcher, o.Plan, progress.Print); err != nil {
		return err
	}
	arts, err := fetcher.FetchAll(ctx, o.Plan)
	if err != nil {
		return fetchError(err)
	}
	if err := o.checkRedisMode(ctx, progress.Print); err != nil {
		return err
	}
	settings := install.Settings{Networking: o.networking(), RedisURL: o.RedisURL, TaskCenterRedisURL: o.TaskCenterRedisURL, Domain: o.Domain,
		SecretNamespaces: o.SecretNamespaces, NotebookIdleTimeout: o.NotebookIdleTimeout, NotebookImage: o.NotebookImage}
	if settings.Secrets, err = o.seeds(ctx); err != nil {
		return err
	}
	rendered, err := install.Render(o.Plan, arts, settings)
	if err != nil {
		return err
	}
	if err := install.MoveImages(rendered, o.ImageRegistry); err != nil {
		return err
	}
	if o.Apply.ClientDryRun() {
		return o.print(install.Objects(rendered))
	}
	if err := o.pushImages(ctx, fetcher.Bundle, progress.Print); err != nil {
		return err
	}
	in := &install.Installer{Kube: o.Kube.WithReporter(progress.Reporter()), Progress: progress, Apply: o.Apply.ApplyOptions(), Wait: o.Apply.Wait}
	results, err := in.Install(ctx, rendered)
	progress.Close()
	if len(results) > 0 {
		printSummary(o.Streams.Out, results, len(rendered))
	}
	if err != nil {
		if install.IsNotReady(err) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return exit.TimeoutErrorf("%v\nre-run the same command to continue; `paddlex status` shows what is not ready", err)
		}
		return err
	}
	changed := false
	for _, r := range results {
		changed = changed || r.Changed()
	}
	switch {
	case o.Apply.DryRun == cmdutil.DryRunServer:
		fmt.Fprintln(o.Streams.Out, "server dry run: nothing was persisted")
	case !changed:
		fmt.Fprintln(o.Streams.Out, "already installed: nothing changed")
	case o.Apply.Wait:
		fmt.Fprintf(o.Streams.Out, "installed %d components; all ready\n", len(results))
	default:
		fmt.Fprintf(o.Streams.Out, "applied %d components; check readiness with `paddlex status`\n", len(results))
	}
	return nil
}

// pushImages copies the images of a bundle written with --images onto
// --image-registry, before anything is applied: the applied objects name
// them there.
func (o *InstallOptions) pushImages(ctx context.Context, b *install.Bundle, say func(string)) error {
	reg := o.ImageRegistry
	switch {
	case b == nil:
		return nil
	case len(b.Index.Images) == 0:
		if reg != "" {
			say(fmt.Sprintf("the bundle holds no images: the cluster pulls from %s what was copied there (`paddlex install images --image-registry %s` lists them)", reg, reg))
		}
		return nil
	case reg == "":
		say(fmt.Sprintf("the bundle's %d images are not pushed: give --image-registry to push them to the registry the cluster pulls from", len(b.Index.Images)))
		return nil
	case o.Apply.DryRun == cmdutil.DryRunServer:
		say(fmt.Sprintf("server dry run: the bundle's %d images are not pushed to %s", len(b.Index.Images), reg))
		return nil
	}
	dir, done, err := b.ImageLayout("")
	if err != nil {
		return exit.PreconditionErrorf("--from-bundle %s: %v; nothing was applied", o.Source.FromBundle, err)
	}
	defer done()
	want := b.ImageDigests()
	say(fmt.Sprintf("pushing the bundle's %d images to %s", len(want), reg))
	pushed, err := image.Push(ctx, dir, reg, want, image.PushOptions{Progress: say})
	if err != nil {
		return exit.PreconditionErrorf("push the bundle's images to --image-registry %s: %v\nnothing was applied; fix the registry (reachable, credentials in ~/.docker/config.json) and run the command again", reg, err)
	}
	got := map[string]bool{}
	for _, p := range pushed {
		got[p.Source] = true
	}
	var missing []string
	for ref := range want {
		if !got[ref] {
			missing = append(missing, ref)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return exit.PreconditionErrorf("--from-bundle %s: the index records images its layout does not hold: %s; nothing was applied", o.Source.FromBundle, strings.Join(missing, ", "))
	}
	say(fmt.Sprintf("pushed %d images to %s", len(pushed), reg))
	return nil
}

func (o *InstallOptions) networking() string {
	if o.Networking != "" {
		return o.Networking
	}
	if n := o.Catalog.DefaultNetworking[o.Profile]; n != "" {
		return n
	}
	return install.NetworkingKourier
}

// checkRedisMode compares the Redis mode the cluster records with this
// run's: re-running without --redis-url after an install with one would
// point JuiceFS at an empty in-cluster Redis, so that takes
// --in-cluster-redis. A client dry run does not read the cluster.
func (o *InstallOptions) checkRedisMode(ctx context.Context, say func(string)) error {
	if o.Kube == nil || (!o.planned("prerequisites") && !o.planned("redis")) {
		return nil
	}
	dc, err := o.Kube.Get(ctx, kube.ObjectRef{GVK: secretGVK, Namespace: install.PlatformNamespace, Name: "data-center"})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the installed Redis mode: %w", err)
	}
	switch mode := install.RedisMode(dc); {
	case mode == install.RedisExternal && o.RedisURL == "" && !o.InClusterRedis:
		return exit.UsageErrorf("the installed platform keeps JuiceFS metadata in an external Redis: pass --redis-url with it again, or --in-cluster-redis to switch to the in-cluster Redis (the metadata in the external Redis is not moved); nothing was applied")
	case mode == install.RedisExternal && o.InClusterRedis:
		say("switching JuiceFS metadata from the external Redis to the in-cluster Redis (--in-cluster-redis)")
	case mode == install.RedisInCluster && o.RedisURL != "":
		say("switching JuiceFS metadata from the in-cluster Redis to the one given with --redis-url")
	}
	return nil
}

func (o *InstallOptions) planned(name string) bool {
	for _, c := range o.Plan {
		if c.Name == name {
			return true
		}
	}
	return false
}

// seeds fills every generated value: the flags first, then what the
// cluster already stores (so a re-run keeps working credentials), then new
// random values. A client dry run does not read the cluster.
func (o *InstallOptions) seeds(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	if o.MinIOAccessKey != "" {
		out[install.SeedMinIOAccessKey] = o.MinIOAccessKey
		out[install.SeedMinIOSecretKey] = o.MinIOSecretKey
	}
	cache := map[string]*unstructured.Unstructured{}
	for _, c := range o.Catalog.Components {
		for _, s := range c.Seeds {
			if out[s.Key] != "" || o.Kube == nil {
				continue
			}
			obj, ok := cache[s.Secret]
			if !ok {
				ns, name, _ := strings.Cut(s.Secret, "/")
				var err error
				obj, err = o.Kube.Get(ctx, kube.ObjectRef{GVK: secretGVK, Namespace: ns, Name: name})
				if err != nil && !apierrors.IsNotFound(err) {
					return nil, fmt.Errorf("read the installed credentials: %w", err)
				}
				if err != nil {
					obj = nil
				}
				cache[s.Secret] = obj
			}
			if obj == nil {
				continue
			}
			if v, _, _ := unstructured.NestedString(obj.Object, "data", s.Field); v != "" {
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil || len(b) == 0 {
					continue
				}
				val := string(b)
				if s.URLPassword && install.RedisMode(obj) == install.RedisExternal {
					// The password of an external Redis is not the
					// in-cluster Redis's to reuse.
					continue
				}
				if s.URLPassword {
					u, err := url.Parse(val)
					if err != nil || u.User == nil {
						continue
					}
					val, _ = u.User.Password()
				}
				if val != "" {
					out[s.Key] = val
				}
			}
		}
	}
	for _, c := range o.Catalog.Components {
		for _, s := range c.Seeds {
			if out[s.Key] != "" {
				continue
			}
			v, err := install.RandomSecret(32)
			if err != nil {
				return nil, err
			}
			out[s.Key] = v
		}
	}
	if o.RedisURL != "" {
		return out, nil
	}
	if out[install.SeedRedisPassword] == "" {
		v, err := install.RandomSecret(32)
		if err != nil {
			return nil, err
		}
		out[install.SeedRedisPassword] = v
	}
	return out, nil
}

// print writes what a client dry run would apply. Secret values are
// redacted: credentials never reach the terminal or logs.
func (o *InstallOptions) print(objs []*unstructured.Unstructured) error {
	objs = kube.SortForApply(objs)
	redacted := make([]*unstructured.Unstructured, len(objs))
	for i, obj := range objs {
		redacted[i] = redact(obj)
	}
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, redacted)
	}
	for _, obj := range redacted {
		fmt.Fprintf(o.Streams.Out, "%s/%s (%s) would be applied (dry run)\n", strings.ToLower(obj.GetKind()), obj.GetName(), obj.GetLabels()[install.LabelComponent])
	}
	return nil
}

// redact replaces Secret values with a marker.
func redact(obj *unstructured.Unstructured) *unstructured.Unstructured {
	if obj.GetKind() != "Secret" || obj.GroupVersionKind().Group != "" {
		return obj
	}
	cp := obj.DeepCopy()
	for _, field := range []string{"data", "stringData"} {
		m, ok, _ := unstructured.NestedMap(cp.Object, field)
		if !ok {
			continue
		}
		for k := range m {
			m[k] = "REDACTED"
		}
		_ = unstructured.SetNestedMap(cp.Object, m, field)
	}
	return cp
}

func printSummary(w io.Writer, results []install.Result, planned int) {
	t := cmdutil.NewTable(w, "COMPONENT", "VERSION", "OBJECTS", "CHANGES", "WORKLOADS", "TIME", "RESULT")
	for _, r := range results {
		result := "ready"
		if r.Err != nil {
			result = "failed"
		}
		t.Row(r.Component.Name, r.Component.Version, fmt.Sprint(r.Objects), r.Summary(), fmt.Sprint(r.Workloads),
			r.Elapsed.Round(time.Second).String(), result)
	}
	_ = t.Flush()
	if len(results) < planned {
		fmt.Fprintf(w, "%d of %d components not reached\n", planned-len(results), planned)
	}
}
