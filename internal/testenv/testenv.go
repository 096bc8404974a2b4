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
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/internal/hermetic"
	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/pkg/cmd"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
)

// CRD sets Options.CRDs names.
const (
	CRDsPaddle                   = localcluster.CRDsPaddle
	CRDsTrainingOperator         = localcluster.CRDsTrainingOperator
	CRDsTrainingOperatorUpstream = localcluster.CRDsTrainingOperatorUpstream
	CRDsArgo                     = localcluster.CRDsArgo
	CRDsKnative                  = localcluster.CRDsKnative
)

// FakeNodeName is the kwok-managed node the simulated cluster schedules on.
const FakeNodeName = localcluster.FakeNodeName

// Options choose what Main starts.
type Options struct {
	// CRDs names the CRD sets to install before the tests run.
	CRDs []string
	// Cluster starts the simulated cluster: controllers, scheduler, kwok and
	// one fake node, so Deployments become Available and Jobs Complete.
	Cluster bool
	// Stages are extra kwok Stage files.
	Stages []string
	// TrainingOperator runs the real Kubeflow training-operator on the
	// simulated cluster (see localcluster.Options.TrainingOperator).
	TrainingOperator bool
	// RealNode runs a real node instead of kwok (see
	// localcluster.Options.RealNode): pods really run. Main runs the test
	// binary again inside the node's namespaces. These tests run only when
	// PADDLEX_REALNODE is set (`make e2e`); otherwise they skip, even under
	// `make test`.
	RealNode bool
}

var (
	current *Env
	skipMsg string
)

// Env is a running API server (and, with Options.Cluster, a simulated
// cluster), with clients for test setup. Config, Kubeconfig, Bin, Dir,
// UpstreamCRDs and Log come from the embedded local cluster.
type Env struct {
	// stopTokens stops the token controller stand-in, when there is one.
	stopTokens context.CancelFunc

	*localcluster.Cluster
	Dynamic   dynamic.Interface
	Clientset kubernetes.Interface

	mapper *restmapper.DeferredDiscoveryRESTMapper
}

// Main starts the environment, runs the tests and stops it. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m, testenv.Options{...})) }
//
// The tests run hermetic (see hermetic.Setup): commands read no one's config
// file, kubeconfig or caches.
func Main(m *testing.M, opts Options) int {
	// Parse the flags before making anything: a bad flag exits the process
	// at once, and would leave the temporary directories behind.
	flag.Parse()
	if opts.RealNode {
		if os.Getenv("PADDLEX_REALNODE") == "" {
			skipMsg = "real-node tests run under `make e2e` (PADDLEX_REALNODE=1)"
			return m.Run()
		}
		if !localcluster.Isolated() {
			code, err := localcluster.Isolate()
			if err != nil {
				fmt.Fprintln(os.Stderr, "testenv:", err)
			}
			return code
		}
		if err := localcluster.Prepare(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv:", err)
			return 1
		}
	}
	restore, err := hermetic.Setup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	defer restore()
	bin := os.Getenv("PADDLEX_TESTBIN")
	if bin == "" {
		skipMsg = "PADDLEX_TESTBIN is not set: run `make test` (it builds the API server with hack/testbin.sh)"
		if os.Getenv(hermetic.RequireEnv) != "" {
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
	c, err := localcluster.Start(localcluster.Options{Bin: bin, CRDs: opts.CRDs, Cluster: opts.Cluster, Stages: opts.Stages,
		TrainingOperator: opts.TrainingOperator, RealNode: opts.RealNode, UpstreamDir: os.Getenv(localcluster.UpstreamDirEnv)})
	if err != nil {
		return nil, err
	}
	e := &Env{Cluster: c}
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
	if !opts.Cluster && !opts.RealNode {
		ctx, cancel := context.WithCancel(context.Background())
		e.stopTokens = cancel
		go tokenStandIn(ctx, e.Clientset)
	}
	return e, nil
}

func (e *Env) stop() {
	if e.stopTokens != nil {
		e.stopTokens()
	}
	e.Cluster.Stop()
}

// tokenStandIn plays kube-controller-manager's token controller where the
// environment runs no kube-controller-manager (a bare API server): it
// writes a placeholder token into every service account token Secret, as
// the controller writes a signed one.
func tokenStandIn(ctx context.Context, cs kubernetes.Interface) {
	sel := fields.OneTermEqualSelector("type", string(corev1.SecretTypeServiceAccountToken)).String()
	fill := func(s *corev1.Secret) {
		if len(s.Data["token"]) > 0 {
			return
		}
		s = s.DeepCopy()
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data["token"] = []byte("token-controller-stand-in")
		s.Data["namespace"] = []byte(s.Namespace)
		_, _ = cs.CoreV1().Secrets(s.Namespace).Update(ctx, s, metav1.UpdateOptions{})
	}
	for ctx.Err() == nil {
		l, err := cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for i := range l.Items {
			fill(&l.Items[i])
		}
		w, err := cs.CoreV1().Secrets("").Watch(ctx, metav1.ListOptions{FieldSelector: sel, ResourceVersion: l.ResourceVersion})
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			if s, ok := ev.Object.(*corev1.Secret); ok && (ev.Type == watch.Added || ev.Type == watch.Modified) {
				fill(s)
			}
		}
		w.Stop()
	}
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
func (e *Env) Run(t TB, args ...string) Result {
	t.Helper()
	return e.RunContext(context.Background(), t, args...)
}

// RunContext is Run with a context, to interrupt long waits.
func (e *Env) RunContext(ctx context.Context, t TB, args ...string) Result {
	t.Helper()
	return e.RunWith(ctx, t, nil, args...)
}

// DemoEnv names the environment variable that makes a test a demo: `make
// demo` sets it, and every paddlex command a test runs is shown as typed,
// with its output, on the test binary's stdout and stderr.
const DemoEnv = "PADDLEX_DEMO"

// RunWith is RunContext with a hook that may adjust the Factory first.
func (e *Env) RunWith(ctx context.Context, t TB, prepare func(*cmdutil.Factory), args ...string) Result {
	t.Helper()
	var out, errOut bytes.Buffer
	var stdout, stderr io.Writer = &out, &errOut
	if os.Getenv(DemoEnv) != "" {
		fmt.Printf("\n$ paddlex %s\n", shellJoin(args))
		stdout, stderr = io.MultiWriter(&out, os.Stdout), io.MultiWriter(&errOut, os.Stderr)
	}
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: stdout, ErrOut: stderr}})
	if prepare != nil {
		prepare(f)
	}
	full := append([]string{"--kubeconfig", e.Kubeconfig, "--cache-dir", filepath.Join(e.Dir, "cache")}, args...)
	code := cmd.Run(ctx, f, full, cmd.Options{Env: func(string) (string, bool) { return "", false }})
	return Result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// shellJoin quotes args as a shell would need them typed.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// Kube returns an engine client for test setup and assertions.
func (e *Env) Kube() *kube.Client {
	e.mapper.Reset()
	return &kube.Client{Dynamic: e.Dynamic, Clientset: e.Clientset, Mapper: e.mapper}
}

// Get reads an object, failing the test on errors other than not found
// (returned as nil).
func (e *Env) Get(t TB, ref kube.ObjectRef) *unstructured.Unstructured {
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
func (e *Env) Apply(t TB, namespace, manifests string) {
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
func (e *Env) SetStatus(t TB, ref kube.ObjectRef, status map[string]any) {
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
		// Strict: a status field the kind's schema lacks would be pruned
		// silently, and the test would wait on something never written.
		types.MergePatchType, patchJSON, metav1.PatchOptions{FieldValidation: metav1.FieldValidationStrict}, "status")
	if err != nil {
		t.Fatalf("set status of %s: %v", ref, err)
	}
}

// WaitFor polls the API server until get returns an object or the timeout
// passes; for tests that play controllers on objects a command creates.
func (e *Env) WaitFor(t TB, ref kube.ObjectRef, timeout time.Duration) *unstructured.Unstructured {
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
func (e *Env) Event(t TB, ref kube.ObjectRef, reason, message string) {
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
	kc, _, err := e.AddUser(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.Dir, "kubeconfig-"+name)
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
