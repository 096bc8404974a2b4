// Package schema checks every object the golden files hold against the
// schemas a real API server serves: Kubernetes' own kinds and the upstream
// CRDs (paddle-operator, the training-operator, Argo, Knative). A misspelled
// or pruned field in a renderer fails here, before a golden file can record
// it as expected output.
package schema

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{CRDs: []string{
		testenv.CRDsPaddle, testenv.CRDsTrainingOperator, testenv.CRDsArgo, testenv.CRDsKnative,
	}}))
}

// goldens are every golden file of rendered objects.
var goldens = []string{
	"../../pkg/*/testdata/*.golden.yaml",
	"../../pkg/cmd/*/testdata/*.golden.yaml",
}

// unserved are the kinds no API server here can check: Istio's CRDs are in
// no module the test binaries are built from. Their objects are counted
// and named in the log, never passed silently.
var unserved = map[schema.GroupKind]bool{
	{Group: "networking.istio.io", Kind: "Gateway"}:        true,
	{Group: "networking.istio.io", Kind: "VirtualService"}: true,
}

// decode reads the YAML documents of a golden file.
func decode(b []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := yaml.UnmarshalStrict(doc, &u.Object); err != nil {
			return nil, err
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// embedded returns the manifests of an Argo Workflow's resource templates:
// Argo creates them as they are, after substituting {{...}} parameters, so
// they must pass the same schemas. A parameter stands for a name or a
// value, never for a field name; the check substitutes a valid name.
func embedded(wf *unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	tmpls, _, err := unstructured.NestedSlice(wf.Object, "spec", "templates")
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, tm := range tmpls {
		m, _ := tm.(map[string]any)
		manifest, _, _ := unstructured.NestedString(m, "resource", "manifest")
		if manifest == "" {
			continue
		}
		objs, err := decode([]byte(substitute(manifest)))
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// substitute replaces each {{...}} with "p", a valid name and string.
func substitute(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return b.String() + s
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return b.String() + s
		}
		b.WriteString(s[:i])
		b.WriteString("p")
		s = s[i+j+2:]
	}
}

// Every golden object passes server-side apply with strict field validation
// as a server dry run: nothing is saved.
func TestGoldenObjectsMatchTheServedSchemas(t *testing.T) {
	e := testenv.Get(t)
	if !e.UpstreamCRDs {
		// A clone without ../shared/reference/upstream: the fixtures keep
		// unknown fields, so paddle-operator's kinds are not really checked.
		t.Log("paddle-operator's CRDs are the fixtures, which accept any field: set PADDLEX_UPSTREAM_DIR for its upstream schemas (make test does when the directory exists)")
	}
	var files []string
	for _, g := range goldens {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) < 20 {
		t.Fatalf("found %d golden files; the globs are stale", len(files))
	}
	ctx := context.Background()
	k := e.Kube()
	namespaces := map[string]bool{}
	checked, skipped := 0, map[string]int{}
	probed := map[schema.GroupVersionKind]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(f, "../../")
		objs, err := decode(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, o := range objs {
			if o.GetKind() == "Workflow" {
				inner, err := embedded(o)
				if err != nil {
					t.Errorf("%s: workflow %s: %v", name, o.GetName(), err)
				}
				objs = append(objs, inner...)
			}
		}
		// The objects' namespaces exist, as they do where the objects
		// are applied (a server dry run of a Namespace creates nothing).
		for _, o := range objs {
			if ns := o.GetNamespace(); ns != "" && !namespaces[ns] {
				namespaces[ns] = true
				if o.GetKind() != "Namespace" {
					e.Apply(t, "", "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+ns+"}\n")
				}
			}
			if o.GetKind() == "Namespace" && !namespaces[o.GetName()] {
				namespaces[o.GetName()] = true
				e.Apply(t, "", "apiVersion: v1\nkind: Namespace\nmetadata: {name: "+o.GetName()+"}\n")
			}
		}
		t.Run(name, func(t *testing.T) {
			for _, o := range objs {
				id := o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
				if unserved[o.GroupVersionKind().GroupKind()] {
					skipped[o.GroupVersionKind().GroupKind().String()]++
					continue
				}
				if o.GetName() == "" && o.GetGenerateName() != "" {
					// Server-side apply needs a name; the schema does not care which.
					o.SetName(o.GetGenerateName() + "schema")
					id += o.GetName()
				}
				if o.GetNamespace() == "" && !clusterScoped(k, o) {
					// Rendered for whatever namespace the user chooses.
					o.SetNamespace("default")
				}
				if _, err := k.Apply(ctx, []*unstructured.Unstructured{o}, kube.ApplyOptions{DryRun: kube.DryRunServer}); err != nil {
					t.Errorf("%s: %v", id, err)
					continue
				}
				checked++
				if gvk := o.GroupVersionKind(); !probed[gvk] && (e.UpstreamCRDs || gvk.Group != paddle.PaddleJobGVK.Group) {
					probed[gvk] = true
					probe(ctx, t, k, o, id)
				}
			}
		})
	}
	if checked == 0 {
		t.Fatal("no object was checked")
	}
	t.Logf("%d objects of %d golden files passed strict validation; %d kinds refused an unknown field", checked, len(files), len(probed))
	for gk, n := range skipped {
		t.Logf("%d %s objects not checked: no schema for them here", n, gk)
	}
}

// probe proves that the check can fail for o's kind: the same object with
// a field its schema lacks (in spec, where the renderers write) is refused,
// naming the field. A schema that keeps or prunes unknown fields would let
// a misspelling through, and the golden files would record it.
func probe(ctx context.Context, t *testing.T, k *kube.Client, o *unstructured.Unstructured, id string) {
	t.Helper()
	bad := o.DeepCopy()
	path := []string{"schemaProbe"}
	if _, ok := bad.Object["spec"].(map[string]any); ok {
		path = []string{"spec", "schemaProbe"}
	}
	if err := unstructured.SetNestedField(bad.Object, "x", path...); err != nil {
		t.Fatal(err)
	}
	_, err := k.Apply(ctx, []*unstructured.Unstructured{bad}, kube.ApplyOptions{DryRun: kube.DryRunServer})
	if err == nil || !strings.Contains(err.Error(), "schemaProbe") {
		t.Errorf("%s with an unknown field .%s: err = %v; want it refused, naming the field", id, strings.Join(path, "."), err)
	}
}

func clusterScoped(k *kube.Client, o *unstructured.Unstructured) bool {
	m, err := k.Mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
	return err == nil && m.Scope.Name() == "root"
}
