// Package testenv runs paddlex's integration tests against real Kubernetes
// components built by hack/testbin.sh: kube-apiserver and etcd (through
// controller-runtime's envtest) and, for the simulated cluster,
// kube-controller-manager, kube-scheduler and kwok managing fake nodes.
//
// A test package calls Main from TestMain; each test calls Get. When
// PADDLEX_TESTBIN is unset the tests skip, unless PADDLEX_REQUIRE_INTEGRATION
// is set (as `make test` does), when they fail.
package testenv

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/pkg/cmd"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
)

//go:embed crds
var fixtureCRDs embed.FS

// CRD sets Options.CRDs names.
const (
	// CRDsPaddle are the paddle-operator fixtures (PaddleJob, SampleSet, SampleJob).
	CRDsPaddle = "paddle"
	// CRDsTrainingOperator is the training-operator PaddleJob fixture.
	CRDsTrainingOperator = "training-operator"
	// CRDsTrainingOperatorUpstream are the training-operator's own CRDs, from its module.
	CRDsTrainingOperatorUpstream = "training-operator-upstream"
	// CRDsArgo are Argo's full CRDs, from its module.
	CRDsArgo = "argo"
	// CRDsKnative are Knative Serving's CRDs, from its module.
	CRDsKnative = "knative"
)

// Options choose what Main starts.
type Options struct {
	// CRDs names the CRD sets to install before the tests run.
	CRDs []string
	// Cluster starts the simulated cluster: controllers, scheduler, kwok and
	// one fake node, so Deployments become Available and Jobs Complete.
	Cluster bool
	// Stages are extra kwok Stage files (e.g. completing PaddleJob pods).
	Stages []string
}

var (
	current *Env
	skipMsg string
)

// Env is a running API server (and, with Options.Cluster, a simulated cluster).
type Env struct {
	Config     *rest.Config
	Kubeconfig string
	Dynamic    dynamic.Interface
	Clientset  kubernetes.Interface
	// Bin is the directory hack/testbin.sh filled.
	Bin string
	// Dir is a temporary directory for this test binary's run.
	Dir string

	env     *envtest.Environment
	cluster *simCluster
	mapper  *restmapper.DeferredDiscoveryRESTMapper
}

// Main starts the environment, runs the tests and stops it. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m, testenv.Options{...})) }
func Main(m *testing.M, opts Options) int {
	bin := os.Getenv("PADDLEX_TESTBIN")
	if bin == "" {
		skipMsg = "PADDLEX_TESTBIN is not set: run `make test` (it builds the API server with hack/testbin.sh)"
		if os.Getenv("PADDLEX_REQUIRE_INTEGRATION") != "" {
			fmt.Fprintln(os.Stderr, "testenv:", skipMsg)
			return 1
		}
		return m.Run()
	}
	e, err := start(bin, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv: start:", err)
		if e != nil {
			e.stop()
		}
		return 1
	}
	current = e
	code := m.Run()
	e.stop()
	return code
}

// Get returns the running environment, skipping (or failing, under `make test`) when there is none.
func Get(t testing.TB) *Env {
	t.Helper()
	if current == nil {
		if skipMsg == "" {
			t.Fatal("testenv: call testenv.Main from TestMain")
		}
		t.Skip(skipMsg)
	}
	return current
}

func start(bin string, opts Options) (*Env, error) {
	dir, err := os.MkdirTemp("", "paddlex-testenv-")
	if err != nil {
		return nil, err
	}
	e := &Env{Bin: bin, Dir: dir}
	crdDir := filepath.Join(dir, "crds")
	var paths []string
	for _, set := range opts.CRDs {
		p, err := crdPath(bin, crdDir, set)
		if err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	e.env = &envtest.Environment{
		BinaryAssetsDirectory: bin,
		CRDDirectoryPaths:     paths,
		ErrorIfCRDPathMissing: true,
	}
	if opts.Cluster {
		// The controllers need the API server to issue service account
		// tokens and admit pods as a real cluster does.
		args := e.env.ControlPlane.GetAPIServer().Configure()
		args.Set("service-cluster-ip-range", "10.96.0.0/16")
	}
	cfg, err := e.env.Start()
	if err != nil {
		return e, fmt.Errorf("envtest: %w (binaries from %s)", err, bin)
	}
	user, err := e.env.AddUser(envtest.User{Name: "paddlex-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return e, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return e, err
	}
	e.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, kc, 0o600); err != nil {
		return e, err
	}
	e.Config = user.Config()
	e.Config.QPS, e.Config.Burst = 500, 1000
	_ = cfg
	if e.Dynamic, err = dynamic.NewForConfig(e.Config); err != nil {
		return e, err
	}
	if e.Clientset, err = kubernetes.NewForConfig(e.Config); err != nil {
		return e, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(e.Config)
	if err != nil {
		return e, err
	}
	e.mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	if opts.Cluster {
		if e.cluster, err = startCluster(e, opts.Stages); err != nil {
			return e, err
		}
	} else {
		e.cluster = &simCluster{}
		if err := startControllers(e, e.cluster, controllersAPIOnly); err != nil {
			return e, err
		}
	}
	return e, nil
}

// crdPath lays out one CRD set in a directory envtest reads.
func crdPath(bin, dir, set string) (string, error) {
	switch set {
	case CRDsPaddle, CRDsTrainingOperator:
		out := filepath.Join(dir, set)
		if err := os.MkdirAll(out, 0o755); err != nil {
			return "", err
		}
		entries, err := fs.ReadDir(fixtureCRDs, "crds/"+set)
		if err != nil {
			return "", err
		}
		for _, en := range entries {
			b, err := fixtureCRDs.ReadFile("crds/" + set + "/" + en.Name())
			if err != nil {
				return "", err
			}
			if err := os.WriteFile(filepath.Join(out, en.Name()), b, 0o644); err != nil {
				return "", err
			}
		}
		return out, nil
	case CRDsArgo, CRDsKnative:
		return filepath.Join(bin, "crds", set), nil
	case CRDsTrainingOperatorUpstream:
		return filepath.Join(bin, "crds", "training-operator"), nil
	}
	return "", fmt.Errorf("unknown CRD set %q", set)
}

func (e *Env) stop() {
	if e.cluster != nil {
		e.cluster.stop()
	}
	if e.env != nil {
		_ = e.env.Stop()
	}
	_ = os.RemoveAll(e.Dir)
}

// Namespace creates a namespace for one test, removed when it ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	name := "t-" + strings.ToLower(rand.String(8))
	_, err := e.Clientset.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = e.Clientset.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// Result is what a command run printed and returned.
type Result struct {
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Run runs paddlex in-process against this environment, as a user would on
// the command line, with its own discovery cache.
func (e *Env) Run(t testing.TB, args ...string) Result {
	t.Helper()
	return e.RunContext(context.Background(), t, args...)
}

// RunContext is Run with a context, to interrupt long waits.
func (e *Env) RunContext(ctx context.Context, t testing.TB, args ...string) Result {
	t.Helper()
	return e.RunWith(ctx, t, nil, args...)
}

// RunWith is RunContext with a hook that may adjust the Factory first.
func (e *Env) RunWith(ctx context.Context, t testing.TB, prepare func(*cmdutil.Factory), args ...string) Result {
	t.Helper()
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}})
	if prepare != nil {
		prepare(f)
	}
	full := append([]string{"--kubeconfig", e.Kubeconfig, "--cache-dir", filepath.Join(e.Dir, "cache")}, args...)
	code := cmd.Run(ctx, f, full, cmd.Options{Env: func(string) (string, bool) { return "", false }})
	return Result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// Kube returns an engine client for test setup and assertions.
func (e *Env) Kube() *kube.Client {
	e.mapper.Reset()
	return &kube.Client{Dynamic: e.Dynamic, Clientset: e.Clientset, Mapper: e.mapper}
}

// Get reads an object, failing the test on errors other than not found
// (returned as nil).
func (e *Env) Get(t testing.TB, ref kube.ObjectRef) *unstructured.Unstructured {
	t.Helper()
	obj, err := e.Kube().Get(context.Background(), ref)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("get %s: %v", ref, err)
	}
	return obj
}

// Apply creates or updates objects from YAML documents, as a fixture.
func (e *Env) Apply(t testing.TB, namespace, manifests string) {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(manifests, "\n---") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("fixture: %v", err)
		}
		if u.GetNamespace() == "" && namespace != "" {
			u.SetNamespace(namespace)
		}
		objs = append(objs, u)
	}
	if _, err := e.Kube().Apply(context.Background(), objs, kube.ApplyOptions{FieldManager: "test-fixture", Force: true}); err != nil {
		t.Fatalf("fixture apply: %v", err)
	}
}

// SetStatus writes an object's status subresource, playing its controller.
// The object must exist; the status is merged in.
func (e *Env) SetStatus(t testing.TB, ref kube.ObjectRef, status map[string]any) {
	t.Helper()
	m, err := e.mapper.RESTMapping(ref.GVK.GroupKind(), ref.GVK.Version)
	if err != nil {
		e.mapper.Reset()
		if m, err = e.mapper.RESTMapping(ref.GVK.GroupKind(), ref.GVK.Version); err != nil {
			t.Fatalf("mapping %s: %v", ref.GVK, err)
		}
	}
	patch, _ := yaml.Marshal(map[string]any{"status": status})
	patchJSON, err := yaml.YAMLToJSON(patch)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Dynamic.Resource(m.Resource).Namespace(ref.Namespace).Patch(context.Background(), ref.Name,
		types.MergePatchType, patchJSON, metav1.PatchOptions{}, "status")
	if err != nil {
		t.Fatalf("set status of %s: %v", ref, err)
	}
}

// WaitFor polls the API server until get returns an object or the timeout
// passes; for tests that play controllers on objects a command creates.
func (e *Env) WaitFor(t testing.TB, ref kube.ObjectRef, timeout time.Duration) *unstructured.Unstructured {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if obj := e.Get(t, ref); obj != nil {
			return obj
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %s", ref, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Event records a Warning event on an object, as a controller would.
func (e *Env) Event(t testing.TB, ref kube.ObjectRef, reason, message string) {
	t.Helper()
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: ref.Name + ".", Namespace: ref.Namespace},
		InvolvedObject: corev1.ObjectReference{Kind: ref.GVK.Kind, APIVersion: ref.GVK.GroupVersion().String(), Name: ref.Name, Namespace: ref.Namespace},
		Type:           corev1.EventTypeWarning, Reason: reason, Message: message, Count: 1,
		FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(),
		Source: corev1.EventSource{Component: "testenv"},
	}
	if _, err := e.Clientset.CoreV1().Events(ref.Namespace).Create(context.Background(), ev, metav1.CreateOptions{}); err != nil {
		t.Fatalf("event: %v", err)
	}
}

// UserKubeconfig writes a kubeconfig for a user with no permissions beyond
// what the test grants through RBAC, and returns its path.
func (e *Env) UserKubeconfig(t testing.TB, name string) string {
	t.Helper()
	user, err := e.env.AddUser(envtest.User{Name: name}, nil)
	if err != nil {
		t.Fatalf("add user: %v", err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.Dir, "kubeconfig-"+name)
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
