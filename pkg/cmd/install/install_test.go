package install_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/serve"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/paddleflow/paddlex/pkg/cmd"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
)

// run runs paddlex in-process against a fake engine.
func run(t *testing.T, k *kube.Fake, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}})
	f.KubeOverride = k
	code := cmd.Run(context.Background(), f, args, cmd.Options{Env: func(string) (string, bool) { return "", false }})
	return out.String(), errOut.String(), code
}

func fixtureCatalog(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("testdata/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInstallFlagValidation(t *testing.T) {
	cat := fixtureCatalog(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"install", "--networking", "linkerd"}, "--networking must be kourier or istio"},
		{[]string{"install", "--redis-url", "http://user:hunter2@redis:6379"}, "--redis-url must be a redis://"},
		{[]string{"install", "--redis-url", "redis://:hunter2@redis:6379/0", "--in-cluster-redis"}, "--in-cluster-redis and --redis-url are exclusive"},
		{[]string{"install", "--minio-access-key", "admin"}, "give both --minio-access-key and --minio-secret-key"},
		{[]string{"install", "--minio-access-key", "admin", "--minio-secret-key", "short"}, "--minio-secret-key must be at least 8"},
		{[]string{"install", "--components", "nope"}, `unknown component "nope"`},
		{[]string{"install", "--components", "prerequisites", "--skip", "prerequisites"}, "exclusive"},
		{[]string{"install", "--components", "minio", "--secret-namespace", "team-a"}, "--secret-namespace needs the prerequisites component"},
		{[]string{"install", "--components", "prerequisites", "--secret-namespace", "Team_A"}, "--secret-namespace"},
		{[]string{"install", "--profile", "tiny"}, `unknown profile "tiny"`},
		{[]string{"install", "--from-bundle", "/no/such.tgz"}, "--from-bundle"},
		{[]string{"install", "--dry-run=maybe"}, "--dry-run must be one of"},
		{[]string{"install", "--catalog", "/no/such/catalog.yaml"}, "--catalog"},
		{[]string{"install", "--notebook-image", "registry.example.com/paddlex-notebook"}, `--notebook-image "registry.example.com/paddlex-notebook"`},
		{[]string{"install", "--notebook-image", "Registry/Notebook:3.0"}, "--notebook-image"},
		{[]string{"install", "--notebook-idle-timeout", "30s"}, "--notebook-idle-timeout must be at least 1m"},
		{[]string{"uninstall", "--purge", "--keep-data"}, "exclusive"},
		{[]string{"status", "--component", "nope", "--catalog", cat}, `unknown component "nope"`},
		{[]string{"install", "bundle"}, "-o FILE is required"},
		{[]string{"install", "bundle", "-o", "b.tgz", "--images-from", "mirror.example"}, "--images-from and --max-image-size need --images"},
		{[]string{"install", "bundle", "-o", "b.tgz", "--images", "--max-image-size", "lots"}, `--max-image-size "lots"`},
		{[]string{"install", "bundle", "-o", "b.tgz", "--images", "--images-from", "https://mirror.example"}, "--images-from"},
		{[]string{"install", "bundle", "-o", "b.tgz", "--images", "--verify"}, "drop --images"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			k := kube.NewFake()
			_, stderr, code := run(t, k, tc.args...)
			if code != exit.Usage || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, stderr, tc.want)
			}
			if strings.Contains(stderr, "hunter2") {
				t.Error("the Redis password was printed")
			}
			if len(k.Calls) > 0 {
				t.Errorf("requests sent: %v", k.Calls)
			}
		})
	}
}

// writeCatalog writes a catalog whose one upstream artifact comes from url.
func writeCatalog(t *testing.T, url, sum string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "catalog.yaml")
	data := fmt.Sprintf(`components:
- builtin: namespaces
- name: web
  version: v1.0.0
  sources:
  - url: %s
    sha256: %q
profiles:
  standalone: [namespaces, web]
  full: [namespaces, web]
`, url, sum)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const webManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: kubeflow
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example/web:1
`

func TestInstallChecksumMismatchAppliesNothing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, webManifest)
	}))
	defer srv.Close()
	cat := writeCatalog(t, srv.URL+"/web.yaml", strings.Repeat("ab", 32))
	k := kube.NewFake()
	_, stderr, code := run(t, k, "install-standalone", "--catalog", cat, "--artifact-cache", t.TempDir())
	for _, want := range []string{"sha256 mismatch", srv.URL + "/web.yaml", "expected " + strings.Repeat("ab", 32), "actual " + install.Sum([]byte(webManifest)), "nothing was applied"} {
		if code != exit.Precondition || !strings.Contains(stderr, want) {
			t.Fatalf("want exit 4 and %q; exit %d, stderr:\n%s", want, code, stderr)
		}
	}
	for _, c := range k.Calls {
		if strings.HasPrefix(c, "apply") || strings.HasPrefix(c, "delete") {
			t.Errorf("something was applied: %v", k.Calls)
			break
		}
	}

	// With the right checksum the same install goes through the engine.
	good := writeCatalog(t, srv.URL+"/web.yaml", install.Sum([]byte(webManifest)))
	k = kube.NewFake()
	stdout, stderr, code := run(t, k, "install-standalone", "--catalog", good, "--artifact-cache", t.TempDir(), "--wait=false")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(strings.Join(k.Calls, "\n"), "apply Deployment kubeflow/web") || !strings.Contains(stdout, "web") {
		t.Errorf("calls %v\nstdout %s", k.Calls, stdout)
	}

	// Waits report into the component's progress line: the engine was
	// given install's reporter.
	k = kube.NewFake()
	_, stderr, _ = run(t, k, "install-standalone", "--catalog", good, "--artifact-cache", t.TempDir())
	if !strings.Contains(stderr, "waiting for deployment kubeflow/web") {
		t.Errorf("no wait progress in the component's line:\n%s", stderr)
	}
}

func TestInstallClientDryRunPrintsTheStack(t *testing.T) {
	k := kube.NewFake()
	stdout, stderr, code := run(t, k, "install-standalone", "--catalog", fixtureCatalog(t), "--dry-run=client", "-o", "yaml",
		"--minio-access-key", "visible-key", "--minio-secret-key", "visible-secret")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if len(k.Calls) > 0 {
		t.Errorf("a client dry run contacted the cluster: %v", k.Calls)
	}
	crd := strings.Index(stdout, "kind: CustomResourceDefinition")
	deploy := strings.Index(stdout, "kind: Deployment")
	if crd < 0 || deploy < 0 || crd > deploy {
		t.Errorf("CRDs must come first and workloads follow:\n%s", stdout)
	}
	for _, want := range []string{"name: task-center", "provisioner: csi.juicefs.com", "REDACTED", "app.kubernetes.io/part-of: paddlex"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	// Pipelines bring their own accounts: the install grants none.
	if strings.Contains(stdout, "pipeline-runner") {
		t.Error("the install creates a shared pipeline-runner account")
	}
	if strings.Contains(stdout+stderr, "visible-secret") || strings.Contains(stdout, "dmlzaWJsZS1zZWNyZXQ=") {
		t.Error("the MinIO secret key was printed")
	}
}

func TestBundleThenInstallFromBundle(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle.tgz")
	stdout, stderr, code := run(t, kube.NewFake(), "install", "bundle", "-o", bundle, "--catalog", fixtureCatalog(t), "--artifact-cache", filepath.Join(dir, "cache"))
	if code != 0 || !strings.Contains(stdout, "wrote "+bundle) {
		t.Fatalf("bundle: exit %d\n%s%s", code, stdout, stderr)
	}
	b, err := install.OpenBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Index.Components) != 2 {
		t.Errorf("bundle index: %+v", b.Index)
	}
	// A catalog whose sources cannot be reached installs from the bundle.
	k := kube.NewFake()
	stdout, stderr, code = run(t, k, "install", "--catalog", fixtureCatalog(t), "--from-bundle", bundle, "--dry-run=client", "-o", "name")
	if code != 0 || !strings.Contains(stdout, "deployment.apps/web") {
		t.Fatalf("install --from-bundle: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestInstallSaysWhatIsNotVerified(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, webManifest)
	}))
	defer srv.Close()
	cat := writeCatalog(t, srv.URL+"/web.yaml", "")
	k := kube.NewFake()
	_, stderr, code := run(t, k, "install-standalone", "--catalog", cat, "--artifact-cache", t.TempDir(), "--dry-run=client", "-o", "name")
	if code != 0 || !strings.Contains(stderr, "not verified (no recorded sha256): "+srv.URL+"/web.yaml") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	// --require-checksums refuses it before anything is fetched or applied.
	k = kube.NewFake()
	_, stderr, code = run(t, k, "install-standalone", "--catalog", cat, "--artifact-cache", t.TempDir(), "--require-checksums")
	if code != exit.Precondition || !strings.Contains(stderr, "--require-checksums") || !strings.Contains(stderr, srv.URL+"/web.yaml") {
		t.Fatalf("--require-checksums: exit %d, stderr:\n%s", code, stderr)
	}
	for _, c := range k.Calls {
		if strings.HasPrefix(c, "apply") {
			t.Errorf("applied despite --require-checksums: %v", k.Calls)
		}
	}
}

func TestBundleVerifyAndPin(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, webManifest)
	}))
	defer srv.Close()
	dir := t.TempDir()
	unpinned := writeCatalog(t, srv.URL+"/web.yaml", "")
	bundle := filepath.Join(dir, "bundle.tgz")
	stdout, stderr, code := run(t, kube.NewFake(), "install", "bundle", "-o", bundle, "--catalog", unpinned, "--artifact-cache", filepath.Join(dir, "cache"))
	sum := install.Sum([]byte(webManifest))
	if code != 0 || !strings.Contains(stdout, sum+"  "+srv.URL+"/web.yaml") {
		t.Fatalf("bundle: exit %d\n%s%s", code, stdout, stderr)
	}
	// --verify refuses an unpinned catalog entry by default, accepts it when told.
	_, stderr, code = run(t, kube.NewFake(), "install", "bundle", "--verify", "-o", bundle, "--catalog", unpinned)
	if code != exit.Precondition || !strings.Contains(stderr, "--require-checksums") {
		t.Fatalf("verify, unpinned: exit %d\n%s", code, stderr)
	}
	if _, stderr, code = run(t, kube.NewFake(), "install", "bundle", "--verify", "--require-checksums=false", "-o", bundle, "--catalog", unpinned); code != 0 {
		t.Fatalf("verify without --require-checksums: exit %d\n%s", code, stderr)
	}
	// pin prints the lines that pin it; a catalog with them verifies.
	pins, stderr, code := run(t, kube.NewFake(), "install", "catalog", "pin", "--from-bundle", bundle)
	want := fmt.Sprintf("pins:\n  %q: %s\n", srv.URL+"/web.yaml", sum)
	if code != 0 || pins != want {
		t.Fatalf("pin: exit %d, stdout %q, want %q\n%s", code, pins, want, stderr)
	}
	goLines, _, code := run(t, kube.NewFake(), "install", "catalog", "pin", "--from-bundle", bundle, "-o", "go")
	if code != 0 || goLines != fmt.Sprintf("\t%q: %q,\n", srv.URL+"/web.yaml", sum) {
		t.Errorf("pin -o go: exit %d, %q", code, goLines)
	}
	data, err := os.ReadFile(unpinned)
	if err != nil {
		t.Fatal(err)
	}
	pinned := filepath.Join(dir, "pinned.yaml")
	if err := os.WriteFile(pinned, append(data, pins...), 0o644); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, code = run(t, kube.NewFake(), "install", "bundle", "--verify", "-o", bundle, "--catalog", pinned); code != 0 || !strings.Contains(stdout, "1 artifacts of 2 components verified") {
		t.Fatalf("verify, pinned: exit %d\n%s%s", code, stdout, stderr)
	}
	// A bundle whose file differs from the pin fails the check.
	other := writeCatalog(t, srv.URL+"/web.yaml", strings.Repeat("cd", 32))
	if _, stderr, code = run(t, kube.NewFake(), "install", "bundle", "--verify", "-o", bundle, "--catalog", other); code != exit.Precondition || !strings.Contains(stderr, "sha256 mismatch") {
		t.Errorf("verify, wrong pin: exit %d\n%s", code, stderr)
	}
	if _, stderr, code = run(t, kube.NewFake(), "install", "catalog", "pin"); code != exit.Usage || !strings.Contains(stderr, "--from-bundle is required") {
		t.Errorf("pin without --from-bundle: exit %d\n%s", code, stderr)
	}
}

// TestInstallFullDryRunSignsUsersIn prints the full profile from the real
// Argo install.yaml and Knative files (stand-ins for the artifacts this
// machine cannot fetch) and checks what the platform exposes: no Argo
// server acting with its own rights, no oauth2-proxy that protects
// nothing, no JupyterHub dummy authenticator.
func TestInstallFullDryRunSignsUsersIn(t *testing.T) {
	dir, skip := realManifestsDir(t)
	args := []string{"install", "--manifests-dir", dir, "--artifact-cache", t.TempDir(), "--dry-run=client", "-o", "yaml", "--domain", "paddlex.example.com"}
	if len(skip) > 0 {
		args = append(args, "--skip", strings.Join(skip, ","))
	}
	k := kube.NewFake()
	stdout, stderr, code := run(t, k, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, bad := range []string{"--auth-mode=server", "static://200", "authenticator_class: dummy", "--cookie-secure=false"} {
		if strings.Contains(stdout, bad) {
			t.Errorf("the full profile contains %s", bad)
		}
	}
	for _, want := range []string{"--auth-mode=client", "--auth-mode=sso", "--cookie-secure=true",
		"--redirect-url=https://paddlex.example.com/oauth2-proxy/callback", "issuer: https://paddlex.example.com/dex",
		"--upstream=https://argo-server.argo.svc.cluster.local:2746/"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the full profile lacks %s", want)
		}
	}

	// Without --domain the full profile cannot sign anyone in: refused
	// before anything is fetched or applied.
	k = kube.NewFake()
	_, stderr, code = run(t, k, "install", "--manifests-dir", dir, "--dry-run=client", "-o", "yaml")
	if code != exit.Usage || !strings.Contains(stderr, "--domain is required") {
		t.Errorf("without --domain: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = run(t, k, "install", "--domain", "https://paddlex.example.com/", "--dry-run=client")
	if code != exit.Usage || !strings.Contains(stderr, "--domain") {
		t.Errorf("a URL as --domain: exit %d, stderr %q", code, stderr)
	}
}

// TestInstallImagesFromTheRealArtifacts lists the images of the standalone
// profile from the real Argo and Knative files: upstream controllers,
// MinIO, Redis, Paddle Serving, the MinIO client and the suites' images.
func TestInstallImagesFromTheRealArtifacts(t *testing.T) {
	dir, skip := realManifestsDir(t)
	args := []string{"install", "images", "--profile", "standalone", "--manifests-dir", dir, "--artifact-cache", t.TempDir()}
	if len(skip) > 0 {
		args = append(args, "--skip", strings.Join(skip, ","))
	}
	stdout, stderr, code := run(t, kube.NewFake(), args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if !sort.StringsAreSorted(lines) {
		t.Errorf("not sorted:\n%s", stdout)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] || strings.ContainsAny(l, " \t") {
			t.Errorf("line %q repeated or not one image", l)
		}
		seen[l] = true
	}
	for _, want := range []string{"quay.io/argoproj/workflow-controller:v3.7.9", "quay.io/argoproj/argocli:v3.7.9", "quay.io/argoproj/argoexec:v3.7.9",
		serve.DefaultImage, modelhub.DefaultImage, "registry.baidubce.com/paddleflow-public/paddleocr:", "minio/minio", "redis"} {
		found := false
		for _, l := range lines {
			found = found || strings.Contains(l, want)
		}
		if !found {
			t.Errorf("no image %s in:\n%s", want, stdout)
		}
	}
	stdout, _, code = run(t, kube.NewFake(), append(args, "--image-registry", "mirror.example:5000")...)
	if code != 0 || !strings.Contains(stdout, serve.DefaultImage+" mirror.example:5000/paddlepaddle/serving:") {
		t.Errorf("with --image-registry: exit %d\n%s", code, stdout)
	}
}
