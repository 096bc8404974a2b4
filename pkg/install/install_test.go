package install_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/internal/golden"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
)

// chartArchive packs testdata/chart as a chart archive.
func chartArchive(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	err := filepath.WalkDir("testdata/chart", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata/chart", p)
		if err := tw.WriteHeader(&tar.Header{Name: "fixturehub/" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// standIns replaces every upstream artifact with a small stand-in: a
// ConfigMap naming the artifact, or the fixture chart for chart sources.
// Goldens then pin what paddlex itself renders: order, our manifests,
// generated Secrets, labels, and the chart path.
func standIns(t testing.TB, plan []*install.Component) map[string][][]byte {
	out := map[string][][]byte{}
	for _, c := range plan {
		for i, s := range c.Sources {
			if s.Chart != nil {
				out[c.Name] = append(out[c.Name], chartArchive(t))
				continue
			}
			ns := "default"
			if len(c.Namespaces) > 0 {
				ns = c.Namespaces[0]
			}
			out[c.Name] = append(out[c.Name], fmt.Appendf(nil, `apiVersion: v1
kind: ConfigMap
metadata:
  name: %s-upstream-%d
  namespace: %s
data:
  artifact: %s
`, c.Name, i, ns, s.URL))
		}
	}
	return out
}

// fixtureDomain is the --domain of the full profile in tests.
const fixtureDomain = "paddlex.example.com"

func fixedSettings(profile, networking string) install.Settings {
	s := install.Settings{Networking: networking, Secrets: map[string]string{
		install.SeedMinIOAccessKey: "fixture-access", install.SeedMinIOSecretKey: "fixture-secret-key",
		install.SeedRedisPassword: "fixture-redis", install.SeedHubProxyToken: "fixture-token",
		install.SeedHubCookieSecret: "fixture-cookie", install.SeedAuthClientSecret: "fixture-client",
		install.SeedAuthCookieSecret: "fixture-cookie-secret-0123456789", install.SeedArgoSSOClientSecret: "fixture-argo-client",
		install.SeedHubOAuthClientSecret: "fixture-hub-client", install.SeedHubAdminPassword: "fixture-hub-admin-password-0123456789",
	}}
	if profile == install.ProfileFull {
		s.Domain = fixtureDomain
	}
	return s
}

func TestRenderProfilesGolden(t *testing.T) {
	cat := install.Default()
	if err := cat.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ profile, networking string }{
		{install.ProfileStandalone, install.NetworkingKourier},
		{install.ProfileFull, install.NetworkingIstio},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			plan, err := cat.Plan(install.Selection{Profile: tc.profile})
			if err != nil {
				t.Fatal(err)
			}
			rs, err := install.Render(plan, standIns(t, plan), fixedSettings(tc.profile, tc.networking))
			if err != nil {
				t.Fatal(err)
			}
			objs := install.Objects(rs)
			for _, o := range objs {
				l := o.GetLabels()
				if l[kube.LabelPartOf] != "paddlex" || l[kube.LabelManagedBy] != "paddlex" || l[install.LabelComponent] == "" || l[install.LabelVersion] == "" {
					t.Errorf("%s %s lacks the paddlex labels: %v", o.GetKind(), o.GetName(), l)
				}
			}
			golden.AssertObjects(t, "testdata/"+tc.profile+".golden.yaml", objs)
			// Rendering is deterministic.
			again, err := install.Render(plan, standIns(t, plan), fixedSettings(tc.profile, tc.networking))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(golden.YAML(t, objs), golden.YAML(t, install.Objects(again))) {
				t.Error("two renders differ")
			}
		})
	}
}

func names(comps []*install.Component) string {
	var out []string
	for _, c := range comps {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

func TestPlan(t *testing.T) {
	cat := install.Default()
	for _, tc := range []struct {
		name string
		sel  install.Selection
		want string
	}{
		{"standalone", install.Selection{Profile: "standalone"},
			"namespaces,knative-serving,kourier,argo-workflows,minio,redis,juicefs-csi,paddle-operator,jupyterhub,prerequisites"},
		{"standalone on istio", install.Selection{Profile: "standalone", Networking: "istio"},
			"namespaces,istio,knative-serving,net-istio,argo-workflows,minio,redis,juicefs-csi,paddle-operator,jupyterhub,prerequisites"},
		{"full", install.Selection{Profile: "full"},
			"namespaces,istio,knative-serving,net-istio,argo-workflows,minio,redis,juicefs-csi,paddle-operator,jupyterhub,prerequisites,auth,tenants"},
		{"external redis", install.Selection{Profile: "standalone", ExternalRedis: true},
			"namespaces,knative-serving,kourier,argo-workflows,minio,juicefs-csi,paddle-operator,jupyterhub,prerequisites"},
		{"skip", install.Selection{Profile: "standalone", Skip: []string{"jupyterhub", "kourier"}},
			"namespaces,knative-serving,argo-workflows,minio,redis,juicefs-csi,paddle-operator,prerequisites"},
		{"components exactly", install.Selection{Components: []string{"prerequisites"}}, "prerequisites"},
		{"components ordered", install.Selection{Components: []string{"kourier", "knative-serving"}}, "knative-serving,kourier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := cat.Plan(tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(plan); got != tc.want {
				t.Errorf("plan:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	if _, err := cat.Plan(install.Selection{Profile: "tiny"}); err == nil || !strings.Contains(err.Error(), "unknown profile") {
		t.Errorf("unknown profile: %v", err)
	}
	if _, err := cat.Plan(install.Selection{Components: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "unknown component") {
		t.Errorf("unknown component: %v", err)
	}
	cyc := &install.Catalog{Components: []*install.Component{{Name: "a", DependsOn: []string{"b"}}, {Name: "b", DependsOn: []string{"a"}}}}
	if err := cyc.Validate(); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
}

func TestPrerequisitesSecrets(t *testing.T) {
	cat := install.Default()
	plan, _ := cat.Plan(install.Selection{Components: []string{"prerequisites"}})
	s := fixedSettings(install.ProfileStandalone, "kourier")
	s.RedisURL = "redis://:p%40ss@redis.example:6379/4"
	objs, err := install.RenderComponent(plan[0], nil, s)
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{}
	for _, o := range objs {
		if o.GetKind() == "Secret" {
			v, _, _ := unstructured.NestedString(o.Object, "data", "metaurl")
			meta[o.GetName()] = v
		}
	}
	// base64 of the URL exactly as given, and the next database for task-center.
	if meta["data-center"] != "cmVkaXM6Ly86cCU0MHNzQHJlZGlzLmV4YW1wbGU6NjM3OS80" {
		t.Errorf("data-center metaurl = %s", meta["data-center"])
	}
	if meta["task-center"] != "cmVkaXM6Ly86cCU0MHNzQHJlZGlzLmV4YW1wbGU6NjM3OS81" {
		t.Errorf("task-center metaurl = %s", meta["task-center"])
	}
	s.RedisURL = "redis://redis.example:6379/0?x=1"
	if _, err := install.RenderComponent(plan[0], nil, s); err == nil {
		t.Error("a Redis URL with a query needs --task-center-redis-url")
	}

	// --secret-namespace: data-center, the same, in the users' namespaces.
	s.RedisURL = ""
	s.SecretNamespaces = []string{"team-a", install.PlatformNamespace, "team-b"}
	objs, err = install.RenderComponent(plan[0], nil, s)
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	data := map[string]any{}
	for _, o := range objs {
		if o.GetKind() == "Secret" {
			secrets = append(secrets, o.GetNamespace()+"/"+o.GetName())
			data[o.GetNamespace()+"/"+o.GetName()], _, _ = unstructured.NestedMap(o.Object, "data")
		}
	}
	if got := strings.Join(secrets, " "); got != "kubeflow/data-center team-a/data-center team-b/data-center kubeflow/task-center" {
		t.Errorf("secrets = %s", got)
	}
	if !reflect.DeepEqual(data["team-a/data-center"], data["kubeflow/data-center"]) || data["team-a/data-center"] == nil {
		t.Errorf("team-a's data-center differs from kubeflow's")
	}
	for ns, want := range map[string]string{"kubeflow": "paddlex install --components prerequisites", "": "paddlex install --components prerequisites",
		"team-a": "paddlex install --components prerequisites --secret-namespace team-a"} {
		if got := install.PrerequisitesCommand(ns); got != want {
			t.Errorf("PrerequisitesCommand(%q) = %q", ns, got)
		}
	}
}

// artifactServer serves fixture artifacts on loopback and counts requests.
func artifactServer(t *testing.T, files map[string][]byte) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		data, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestFetchDownloadCacheAndChecksum(t *testing.T) {
	manifest := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: default\n")
	srv, hits := artifactServer(t, map[string][]byte{"/v1/app.yaml": manifest})
	good := install.Source{URL: srv.URL + "/v1/app.yaml", SHA256: install.Sum(manifest)}
	cache := t.TempDir()
	f := &install.Fetcher{CacheDir: cache}
	ctx := context.Background()

	data, err := f.Fetch(ctx, "app", good)
	if err != nil || !bytes.Equal(data, manifest) {
		t.Fatalf("download: %v", err)
	}
	if _, err := f.Fetch(ctx, "app", good); err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 1 {
		t.Errorf("%d downloads, want 1: the second fetch must come from the cache", hits.Load())
	}
	// A corrupt cache entry is fetched again.
	entries, _ := filepath.Glob(filepath.Join(cache, "artifacts", "*", "app.yaml"))
	if len(entries) != 1 {
		t.Fatalf("cache entries: %v", entries)
	}
	os.WriteFile(entries[0], []byte("tampered"), 0o644)
	if data, err := f.Fetch(ctx, "app", good); err != nil || !bytes.Equal(data, manifest) || hits.Load() != 2 {
		t.Errorf("corrupt cache: err %v, hits %d", err, hits.Load())
	}

	bad := install.Source{URL: srv.URL + "/v1/app.yaml", SHA256: strings.Repeat("0", 64)}
	_, err = (&install.Fetcher{CacheDir: t.TempDir()}).Fetch(ctx, "app", bad)
	var ce *install.ChecksumError
	if !errors.As(err, &ce) || ce.Got != install.Sum(manifest) {
		t.Fatalf("checksum mismatch: %v", err)
	}
	missing := install.Source{URL: srv.URL + "/v1/nope.yaml"}
	if _, err := f.Fetch(ctx, "app", missing); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing artifact: %v", err)
	}
}

func TestBundleRoundTrip(t *testing.T) {
	a := []byte("kind: ConfigMap\napiVersion: v1\nmetadata: {name: a, namespace: default}\n")
	b := []byte("kind: ConfigMap\napiVersion: v1\nmetadata: {name: b, namespace: default}\n")
	srv, hits := artifactServer(t, map[string][]byte{"/a/install.yaml": a, "/b/install.yaml": b})
	comps := []*install.Component{
		{Name: "alpha", Version: "v1", Sources: []install.Source{{URL: srv.URL + "/a/install.yaml", SHA256: install.Sum(a)}}},
		{Name: "beta", Version: "v2", Sources: []install.Source{{URL: srv.URL + "/b/install.yaml"}}},
		{Name: "own", Version: "v1"},
	}
	var buf bytes.Buffer
	idx, err := install.WriteBundle(context.Background(), &buf, &install.Fetcher{CacheDir: t.TempDir()}, comps, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Components) != 2 || idx.Components[1].Artifacts[0].SHA256 != install.Sum(b) {
		t.Errorf("index: %+v", idx)
	}
	var again bytes.Buffer
	if _, err := install.WriteBundle(context.Background(), &again, &install.Fetcher{CacheDir: t.TempDir()}, comps, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("bundles of the same artifacts differ")
	}
	bundle, err := install.ReadBundle(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	before := hits.Load()
	got, err := (&install.Fetcher{Bundle: bundle}).FetchAll(context.Background(), comps)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got["alpha"][0], a) || !bytes.Equal(got["beta"][0], b) || hits.Load() != before {
		t.Errorf("bundle contents differ or the network was used")
	}

	// A bundle whose file differs from its index is refused, also for a
	// source without a catalog checksum.
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "beta"), 0o755)
	os.MkdirAll(filepath.Join(dir, "alpha"), 0o755)
	os.WriteFile(filepath.Join(dir, "alpha", "install.yaml"), a, 0o644)
	os.WriteFile(filepath.Join(dir, "beta", "install.yaml"), []byte("tampered"), 0o644)
	idxYAML, _, _ := bundle.File("bundle.yaml")
	os.WriteFile(filepath.Join(dir, "bundle.yaml"), idxYAML, 0o644)
	_, err = (&install.Fetcher{Dir: dir}).FetchAll(context.Background(), comps)
	var ce *install.ChecksumError
	if !errors.As(err, &ce) {
		t.Errorf("tampered --manifests-dir: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "beta", "install.yaml"), b, 0o644)
	if _, err := (&install.Fetcher{Dir: dir}).FetchAll(context.Background(), comps); err != nil {
		t.Errorf("--manifests-dir: %v", err)
	}
}

func TestChartRendering(t *testing.T) {
	c := &install.Component{Name: "hub", Version: "0.1.0", Sources: []install.Source{{
		URL:   "https://charts.example/fixturehub-0.1.0.tgz",
		Chart: &install.Chart{Release: "jh", Namespace: "jhub", Values: map[string]any{"replicas": 2}},
	}}}
	objs, err := install.RenderComponent(c, [][]byte{chartArchive(t)}, install.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName())
		if o.GetLabels()[kube.LabelManagedBy] != "paddlex" {
			t.Errorf("%s %s: managed-by %q: the engine, not Helm, owns chart objects", o.GetKind(), o.GetName(), o.GetLabels()[kube.LabelManagedBy])
		}
		if o.GetKind() == "Deployment" {
			if r, _, _ := unstructured.NestedInt64(o.Object, "spec", "replicas"); r != 2 {
				t.Errorf("values not applied: replicas %d", r)
			}
		}
	}
	got := strings.Join(kinds, ", ")
	if got != "Deployment jhub/hub, Secret jhub/hub, ClusterRole /jh-hub" {
		t.Errorf("chart objects: %s (test hooks and NOTES.txt must be left out)", got)
	}
}

func TestOverlaysPatchUpstream(t *testing.T) {
	cat := install.Default()
	argo := []byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: argo-server, namespace: argo}
spec:
  selector: {matchLabels: {app: argo-server}}
  template:
    metadata: {labels: {app: argo-server}}
    spec:
      containers:
      - {name: argo-server, image: quay.io/argoproj/argocli:v3.7.9, args: [server]}
`)
	objs, err := install.RenderComponent(cat.Component("argo-workflows"), [][]byte{argo}, install.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	args, _, _ := unstructured.NestedSlice(objs[0].Object, "spec", "template", "spec", "containers")
	if got := fmt.Sprint(args[0].(map[string]any)["args"]); got != "[server --auth-mode=client]" {
		t.Errorf("argo-server args %s", got)
	}
	cm := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-network, namespace: knative-serving}\ndata: {_example: x}\n")
	for net, class := range map[string]string{"kourier": "kourier.ingress.networking.knative.dev", "istio": "istio.ingress.networking.knative.dev"} {
		objs, err := install.RenderComponent(cat.Component("knative-serving"), [][]byte{cm, []byte("")}, install.Settings{Networking: net})
		if err != nil {
			t.Fatal(err)
		}
		if got, _, _ := unstructured.NestedString(objs[0].Object, "data", "ingress-class"); got != class {
			t.Errorf("%s: ingress-class %q", net, got)
		}
	}
	// serve's model fetch runs in init containers, which Knative admits only
	// with this feature on.
	features := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: config-features, namespace: knative-serving}\ndata: {_example: x}\n")
	objs, err = install.RenderComponent(cat.Component("knative-serving"), [][]byte{features, []byte("")}, install.Settings{Networking: "kourier"})
	if err != nil {
		t.Fatal(err)
	}
	if got, _, _ := unstructured.NestedString(objs[0].Object, "data", "kubernetes.podspec-init-containers"); got != "enabled" {
		t.Errorf("config-features kubernetes.podspec-init-containers = %q, want enabled", got)
	}
}

// Uninstall keeping data keeps the platform's credential Secrets, but
// deletes the copies of data-center --secret-namespace made, marked or
// made before copies were marked; --purge deletes all of them.
func TestUninstallDeletesSecretCopies(t *testing.T) {
	cat := install.Default()
	plan, _ := cat.Plan(install.Selection{Components: []string{"prerequisites"}})
	s := fixedSettings(install.ProfileStandalone, "kourier")
	s.SecretNamespaces = []string{"team-a"}
	objs, err := install.RenderComponent(plan[0], nil, s)
	if err != nil {
		t.Fatal(err)
	}
	var unmarked *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Secret" && o.GetNamespace() == "team-a" {
			if o.GetLabels()[install.LabelCopyOf] != "kubeflow.data-center" {
				t.Errorf("the copy is not marked: %v", o.GetLabels())
			}
			unmarked = o.DeepCopy()
			l := unmarked.GetLabels()
			delete(l, install.LabelCopyOf)
			unmarked.SetLabels(l)
			unmarked.SetNamespace("team-b")
		}
	}
	objs = append(objs, unmarked)
	secretGVK := schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	for _, keep := range []bool{true, false} {
		fake := kube.NewFake(objs...)
		removed, err := install.Uninstall(context.Background(), fake, plan, []schema.GroupVersionKind{secretGVK}, install.UninstallOptions{KeepData: keep}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, o := range objs {
			if o.GetKind() == "Secret" && fake.Object(kube.RefOf(o)) != nil {
				left = append(left, o.GetNamespace()+"/"+o.GetName())
			}
		}
		want := "kubeflow/data-center kubeflow/task-center"
		if !keep {
			want = ""
		}
		if got := strings.Join(left, " "); got != want {
			t.Errorf("keep data %v: left %q, want %q (removed %+v)", keep, got, want, removed)
		}
	}
}
