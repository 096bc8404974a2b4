package dataset_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{CRDs: []string{testenv.CRDsPaddle}}))
}

func secrets(t *testing.T, e *testenv.Env, ns string, names ...string) {
	t.Helper()
	for _, n := range names {
		e.Apply(t, ns, "apiVersion: v1\nkind: Secret\nmetadata: {name: "+n+"}\nstringData: {name: "+n+"}\n")
	}
}

func ref(ns, kind, name string) kube.ObjectRef {
	gvk := paddle.SampleJobGVK
	if kind == "SampleSet" {
		gvk = paddle.SampleSetGVK
	}
	return kube.ObjectRef{GVK: gvk, Namespace: ns, Name: name}
}

// playController advances the SampleSet and the SampleJobs the way
// paddle-operator does, as each appears.
func playController(t testenv.TB, e *testenv.Env, ns, dataset string, failSync bool) {
	e.WaitFor(t, ref(ns, "SampleSet", "data-center"), 20*time.Second)
	for _, p := range []string{"Bound", "Mount", "PartialReady", "Ready"} {
		e.SetStatus(t, ref(ns, "SampleSet", "data-center"), map[string]any{"phase": p,
			"cacheStatus": map[string]any{"totalSize": "100 MiB", "cachedSize": "50 MiB"}})
	}
	e.WaitFor(t, ref(ns, "SampleJob", dataset+"-sync"), 20*time.Second)
	if failSync {
		// paddle-operator's SampleJob status holds only phase and jobName.
		e.SetStatus(t, ref(ns, "SampleJob", dataset+"-sync"), map[string]any{"phase": "Failed"})
		return
	}
	e.SetStatus(t, ref(ns, "SampleJob", dataset+"-sync"), map[string]any{"phase": "Running"})
	e.SetStatus(t, ref(ns, "SampleJob", dataset+"-sync"), map[string]any{"phase": "Succeeded"})
	e.WaitFor(t, ref(ns, "SampleJob", dataset+"-warmup"), 20*time.Second)
	e.SetStatus(t, ref(ns, "SampleJob", dataset+"-warmup"), map[string]any{"phase": "Succeeded"})
}

func TestCreateWaitsThroughEveryStepAndCleansUp(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	secrets(t, e, ns, "data-center", "icdar2015")
	op := testenv.Background(t, func(t *testenv.T) { playController(t, e, ns, "icdar2015", false) })
	r := e.Run(t, "dataset", "create", "icdar2015", "-n", ns, "--source-uri", "bos://paddleflow-public.hkg.bcebos.com/icdar2015/",
		"--source-secret", "icdar2015", "--timeout", "60s")
	op.Wait()
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	if !strings.Contains(r.Stdout, "/mnt/data-center/icdar2015/") {
		t.Errorf("stdout does not say where the data is:\n%s", r.Stdout)
	}
	for _, want := range []string{"samplejob " + ns + "/icdar2015-sync: phase Succeeded", "sampleset " + ns + "/data-center: phase Ready"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, r.Stderr)
		}
	}
	// The SampleJobs are gone; the SampleSet stays.
	for _, n := range []string{"icdar2015-sync", "icdar2015-warmup"} {
		if e.Get(t, ref(ns, "SampleJob", n)) != nil {
			t.Errorf("SampleJob %s was not cleaned up", n)
		}
	}
	ss := e.Get(t, ref(ns, "SampleSet", "data-center"))
	if ss == nil {
		t.Fatal("SampleSet is gone")
	}
	// Listing shows the cache.
	r = e.Run(t, "dataset", "list", "-n", ns)
	if r.Code != 0 || !strings.Contains(r.Stdout, "data-center") || !strings.Contains(r.Stdout, "50%") {
		t.Errorf("list:\n%s", r)
	}
}

func TestSyncFailureExitsOneAndSaysWhatIsLeft(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	secrets(t, e, ns, "data-center")
	op := testenv.Background(t, func(t *testenv.T) { playController(t, e, ns, "bad", true) })
	r := e.Run(t, "dataset", "apply", "bad", "-n", ns, "--source-uri", "bos://nowhere/bad/", "--timeout", "60s")
	op.Wait()
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.Code, r)
	}
	for _, want := range []string{"SampleJob " + ns + "/bad-sync failed: phase Failed", "left in the cluster", "paddlex dataset delete bad"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
}

func TestTimeoutExitsThreeWithTheWarningEvent(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	secrets(t, e, ns, "data-center")
	// The controller's complaint is there before the wait starts, so the
	// test does not depend on how fast an event written meanwhile arrives:
	// the wait's first list of Warning events reports it.
	e.Event(t, ref(ns, "SampleSet", "data-center"), "FailedCreateRuntime", "juicefs: metaurl unreachable")
	r := e.Run(t, "dataset", "apply", "slow", "-n", ns, "--source-uri", "s3://b/slow/", "--timeout", "5s")
	if r.Code != 3 {
		t.Fatalf("exit %d, want 3\n%s", r.Code, r)
	}
	if !strings.Contains(r.Stderr, "juicefs: metaurl unreachable") {
		t.Errorf("stderr does not carry the Warning event:\n%s", r.Stderr)
	}
}

func TestMissingSecretIsReportedUpFront(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	secrets(t, e, ns, "data-center")
	r := e.Run(t, "dataset", "create", "d", "-n", ns, "--source-uri", "s3://b/d/", "--source-secret", "absent")
	if r.Code != 4 || !strings.Contains(r.Stderr, "--source-secret: Secret "+ns+"/absent does not exist") {
		t.Fatalf("%s", r)
	}
	if e.Get(t, ref(ns, "SampleSet", "data-center")) != nil {
		t.Error("objects were applied despite the missing Secret")
	}
}

func TestNoWaitDryRunsAndIdempotence(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	secrets(t, e, ns, "data-center")
	args := []string{"dataset", "apply", "d", "-n", ns, "--source-uri", "s3://b/d/", "--partitions", "2"}

	r := e.Run(t, append(args, "--dry-run=client", "-o", "yaml")...)
	if r.Code != 0 || strings.Count(r.Stdout, "kind: SampleJob") != 2 || !strings.Contains(r.Stdout, "partitions: 2") {
		t.Fatalf("client dry run:\n%s", r)
	}
	r = e.Run(t, append(args, "--dry-run=server", "-o", "name")...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "samplejob.batch.paddlepaddle.org/d-sync") {
		t.Fatalf("server dry run:\n%s", r)
	}
	if e.Get(t, ref(ns, "SampleSet", "data-center")) != nil {
		t.Fatal("a dry run persisted the SampleSet")
	}

	r = e.Run(t, append(args, "--wait=false", "-o", "yaml")...)
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	first := e.Get(t, ref(ns, "SampleJob", "d-sync")).GetResourceVersion()
	r = e.Run(t, append(args, "--wait=false")...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "samplejob/d-sync applied") {
		t.Fatalf("%s", r)
	}
	if again := e.Get(t, ref(ns, "SampleJob", "d-sync")).GetResourceVersion(); again != first {
		t.Errorf("re-apply changed resourceVersion %s → %s", first, again)
	}
	// create refuses a data set already being synced.
	r = e.Run(t, "dataset", "create", "d", "-n", ns, "--source-uri", "s3://b/d/", "--wait=false")
	if r.Code != 1 || !strings.Contains(r.Stderr, "already being synced") {
		t.Errorf("create over an existing sync:\n%s", r)
	}
}

func TestSpecFileAndDelete(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	secrets(t, e, ns, "data-center", "imagenet")
	spec, _ := yaml.Marshal(map[string]any{"name": "imagenet", "namespace": ns, "action": "apply", "partitions": 2,
		"source_uri": "bos://paddleflow/imagenet/", "source_secret": "imagenet"})
	path := filepath.Join(t.TempDir(), "imagenet.yaml")
	if err := os.WriteFile(path, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.Run(t, "dataset", "apply", "-f", path, "--wait=false")
	if r.Code != 0 {
		t.Fatalf("%s", r)
	}
	r = e.Run(t, "dataset", "describe", "data-center", "-n", ns)
	if r.Code != 0 || !strings.Contains(r.Stdout, "imagenet-sync") || !strings.Contains(r.Stdout, "Partitions:  2") {
		t.Errorf("describe:\n%s", r)
	}
	// delete removes the SampleJobs and runs an rmr job on the cache.
	rmr := func(t *testenv.T) {
		e.WaitFor(t, ref(ns, "SampleJob", "imagenet-rmr"), 20*time.Second)
		e.SetStatus(t, ref(ns, "SampleJob", "imagenet-rmr"), map[string]any{"phase": "Succeeded"})
	}
	op := testenv.Background(t, rmr)
	r = e.Run(t, "dataset", "delete", "imagenet", "-n", ns, "--timeout", "30s")
	op.Wait()
	if r.Code != 0 || !strings.Contains(r.Stdout, "dataset imagenet removed from SampleSet") {
		t.Fatalf("delete:\n%s", r)
	}
	for _, n := range []string{"imagenet-sync", "imagenet-warmup", "imagenet-rmr"} {
		if e.Get(t, ref(ns, "SampleJob", n)) != nil {
			t.Errorf("%s left behind", n)
		}
	}
	// A spec file with an action delete routes to delete.
	spec, _ = yaml.Marshal(map[string]any{"name": "imagenet", "namespace": ns, "action": "delete"})
	if err := os.WriteFile(path, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	op = testenv.Background(t, rmr)
	r = e.Run(t, "dataset", "apply", "-f", path, "--timeout", "30s")
	op.Wait()
	if r.Code != 0 {
		t.Fatalf("action delete:\n%s", r)
	}
}

func TestBadInputExitsTwoBeforeAnyRequest(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	for _, args := range [][]string{
		{"dataset", "nonsense"},
		{"dataset", "create", "d", "--source-uri", "s3://b/d/", "--no-such-flag"},
		{"dataset", "create", "Bad_Name", "--source-uri", "s3://b/d/"},
		{"dataset", "create", "d", "--source-uri", "b/d/"},
		{"dataset", "create", "d", "--source-uri", "s3://b/d/", "--partitions", "0"},
		{"dataset", "create", "d", "--source-uri", "s3://b/d/", "--action", "upsert"},
	} {
		r := e.Run(t, append(args, "-n", ns)...)
		if r.Code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, r.Code, r)
		}
	}
	if e.Get(t, ref(ns, "SampleSet", "data-center")) != nil {
		t.Error("bad input applied objects")
	}
}

// A second run against the same cluster reads kinds from the disk cache and
// makes no discovery requests.
func TestSecondRunMakesNoDiscoveryRequests(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	cache := t.TempDir()
	count := func() int64 {
		var n atomic.Int64
		r := e.RunWith(context.Background(), t, func(f *cmdutil.Factory) {
			wrap := f.ConfigFlags.WrapConfigFn
			f.ConfigFlags.WrapConfigFn = func(c *rest.Config) *rest.Config {
				c = wrap(c)
				c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
					return roundTripper(func(req *http.Request) (*http.Response, error) {
						if p := req.URL.Path; p == "/api" || p == "/apis" || strings.HasPrefix(p, "/apis/") && strings.Count(p, "/") <= 3 {
							n.Add(1)
						}
						return rt.RoundTrip(req)
					})
				})
				return c
			}
		}, "--cache-dir", cache, "dataset", "list", "-n", ns)
		if r.Code != 0 {
			t.Fatalf("%s", r)
		}
		return n.Load()
	}
	if first := count(); first == 0 {
		t.Fatal("the first run made no discovery requests: the counter sees nothing")
	}
	if second := count(); second != 0 {
		t.Errorf("the second run made %d discovery requests, want 0", second)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
