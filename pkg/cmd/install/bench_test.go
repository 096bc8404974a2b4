package install_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/paddleflow/paddlex/internal/testenv"
)

// benchNamespace is the namespace Argo's install.yaml installs into and
// does not create: both sides apply it from the same file.
const benchNamespace = `apiVersion: v1
kind: Namespace
metadata:
  name: argo
`

// BenchmarkInstallVsKubectl applies the real Argo install.yaml and the
// Knative Serving CRDs (with the namespace Argo needs) on the same API
// server, from a clean state each time: through `paddlex install
// --components` of a catalog naming exactly those files, and through
// `kubectl apply --server-side -f` of the same files. Both run as
// processes with a cold discovery cache; readiness waits are off
// (--wait=false; kubectl has none). The namespace stays between runs
// (both apply it, unchanged): deleting it waits for the namespace
// controller's discovery of every group, CRDs just deleted included, which
// measures nothing of either. Run it with `make bench`.
func BenchmarkInstallVsKubectl(b *testing.B) {
	e := testenv.Get(b)
	kubectl := filepath.Join(os.Getenv("PADDLEX_TESTBIN"), "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		if kubectl, err = exec.LookPath("kubectl"); err != nil {
			b.Skip("no kubectl: build it with `hack/testbin.sh kubectl`")
		}
	}
	dir, _ := realManifestsDir(b)
	work := b.TempDir()
	ns := filepath.Join(work, "namespace.yaml")
	if err := os.WriteFile(ns, []byte(benchNamespace), 0o644); err != nil {
		b.Fatal(err)
	}
	files := []string{ns, filepath.Join(dir, "argo-workflows", "install.yaml"), filepath.Join(dir, "knative-serving", "serving-crds.yaml")}
	catalog := filepath.Join(work, "catalog.yaml")
	if err := os.WriteFile(catalog, []byte(fmt.Sprintf(`components:
- name: argo
  version: v3.7.9
  namespaces: [argo]
  sources:
  - url: %s
  - url: %s
- name: knative-crds
  version: knative-v1.15.2
  sources:
  - url: %s
profiles:
  standalone: [argo, knative-crds]
  full: [argo, knative-crds]
`, files[0], files[1], files[2])), 0o644); err != nil {
		b.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var fileArgs []string
	for _, f := range files {
		fileArgs = append(fileArgs, "-f", f)
	}
	run := func(name string, args ...string) time.Duration {
		cmd := exec.Command(name, args...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		if err != nil {
			b.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
		return took
	}
	var cleanArgs []string
	for _, f := range files[1:] {
		cleanArgs = append(cleanArgs, "-f", f)
	}
	// The apiextensions server refuses to list a custom resource while
	// its storage initializes, and a CRD deleted then stays Terminating
	// ("could not list instances: storage is (re)initializing") for
	// minutes: clean once every CRD serves lists.
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	settle := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		crds, err := e.Dynamic.Resource(crdGVR).List(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for _, crd := range crds.Items {
			group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
			plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
			versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
			for _, v := range versions {
				name, _, _ := unstructured.NestedString(v.(map[string]any), "name")
				gvr := schema.GroupVersionResource{Group: group, Version: name, Resource: plural}
				for {
					if _, err := e.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1}); err == nil {
						break
					} else if ctx.Err() != nil {
						b.Fatalf("%s never served a list: %v", gvr, err)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		}
	}
	clean := func() {
		settle()
		run(kubectl, append([]string{"--kubeconfig", e.Kubeconfig, "delete", "--ignore-not-found", "--wait=true", "--timeout=5m"}, cleanArgs...)...)
	}
	objects := 0
	var all []*unstructured.Unstructured
	for _, f := range files[1:] {
		data, _ := os.ReadFile(f)
		objects += strings.Count("\n"+string(data), "\nkind: ")
		dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var o unstructured.Unstructured
			if err := dec.Decode(&o.Object); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			if len(o.Object) > 0 {
				all = append(all, &o)
			}
		}
	}
	// floor applies the same objects from this process with discovery
	// warm, every one at once (16 at a time) and nothing waited for: the
	// API server's own work, which neither command can go below.
	k := e.Kube()
	force := true
	floor := func() time.Duration {
		ctx := context.Background()
		start := time.Now()
		errs := make(chan error, len(all))
		sem := make(chan struct{}, 16)
		for _, o := range all {
			sem <- struct{}{}
			go func() {
				defer func() { <-sem }()
				m, err := k.Mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
				if err != nil {
					errs <- err
					return
				}
				body, _ := o.MarshalJSON()
				ri := e.Dynamic.Resource(m.Resource)
				var err2 error
				if o.GetNamespace() != "" {
					_, err2 = ri.Namespace(o.GetNamespace()).Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "floor", Force: &force})
				} else {
					_, err2 = ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "floor", Force: &force})
				}
				errs <- err2
			}()
		}
		for range all {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	run(kubectl, "--kubeconfig", e.Kubeconfig, "apply", "--server-side", "-f", ns)
	clean()
	var pd, kd, fd []time.Duration
	for i := 0; i < b.N; i++ {
		for range 3 {
			fd = append(fd, floor())
			clean()
		}
		for round := range 3 {
			// Alternate who goes first, so neither always meets a warmer server.
			steps := []func(){
				func() {
					kd = append(kd, run(kubectl, append([]string{"--kubeconfig", e.Kubeconfig, "--cache-dir", b.TempDir(), "apply", "--server-side"}, fileArgs...)...))
					clean()
				},
				func() {
					pd = append(pd, run(self, asPaddlex, "--kubeconfig", e.Kubeconfig, "--cache-dir", b.TempDir(), "install", "--catalog", catalog,
						"--components", "argo,knative-crds", "--wait=false", "--artifact-cache", b.TempDir()))
					clean()
				},
			}
			if round%2 == 1 {
				slices.Reverse(steps)
			}
			for _, s := range steps {
				s()
			}
		}
	}
	med := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	p, kt, fl := med(pd), med(kd), med(fd)
	b.ReportMetric(float64(p.Milliseconds()), "paddlex-ms")
	b.ReportMetric(float64(kt)/float64(p), "x-faster-than-kubectl")
	fmt.Printf("\nArgo install.yaml + Knative Serving CRDs (%d objects and a namespace), median of %d runs each, from a clean state\n", objects, len(pd))
	fmt.Printf("  %-52s %9s\n  %-52s %9s\n  %-52s %9s\n", "paddlex install --components argo,knative-crds", p.Round(time.Millisecond),
		"kubectl apply --server-side -f (the same files)", kt.Round(time.Millisecond),
		"the server's floor (all at once, warm, in-process)", fl.Round(time.Millisecond))
	fmt.Printf("  kubectl / paddlex: %.1f× (target ≥ 5×); kubectl / floor: %.1f× (the most any client could reach)\n", float64(kt)/float64(p), float64(kt)/float64(fl))
}
