package install_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/internal/upstream"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// builtinGroups are the API groups every cluster serves.
var builtinGroups = map[string]bool{
	"": true, "apps": true, "batch": true, "rbac.authorization.k8s.io": true, "storage.k8s.io": true,
	"policy": true, "autoscaling": true, "networking.k8s.io": true, "admissionregistration.k8s.io": true,
	"apiextensions.k8s.io": true, "scheduling.k8s.io": true, "coordination.k8s.io": true, "node.k8s.io": true,
	"certificates.k8s.io": true, "apiregistration.k8s.io": true, "discovery.k8s.io": true,
}

// builtinNamespaces exist on every cluster.
var builtinNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true, "kube-node-lease": true}

// closure checks, in install order, that every object goes into a namespace
// the install created before (or in the same component: the engine applies
// Namespaces and CRDs first) and is of a built-in kind or one a CRD of the
// install defines. It returns the faults and the kinds defined.
func closure(rs []install.Rendered) (faults []string, defined map[schema.GroupVersionKind]bool) {
	namespaces := map[string]bool{}
	defined = map[schema.GroupVersionKind]bool{}
	for _, r := range rs {
		for _, o := range r.Objects {
			switch o.GetKind() {
			case "Namespace":
				namespaces[o.GetName()] = true
			case "CustomResourceDefinition":
				group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
				kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
				versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
				for _, v := range versions {
					m, _ := v.(map[string]any)
					if served, _ := m["served"].(bool); served {
						defined[schema.GroupVersionKind{Group: group, Version: fmt.Sprint(m["name"]), Kind: kind}] = true
					}
				}
			}
		}
		for _, o := range r.Objects {
			gvk := o.GroupVersionKind()
			if !builtinGroups[gvk.Group] && !defined[gvk] {
				faults = append(faults, fmt.Sprintf("component %s applies %s %s/%s: no CRD of the install defines %s", r.Component.Name, gvk.Kind, o.GetNamespace(), o.GetName(), gvk))
			}
			if ns := o.GetNamespace(); ns != "" && !namespaces[ns] && !builtinNamespaces[ns] {
				faults = append(faults, fmt.Sprintf("component %s applies %s %s/%s: nothing in the install creates namespace %s", r.Component.Name, gvk.Kind, ns, o.GetName(), ns))
			}
		}
	}
	sort.Strings(faults)
	return faults, defined
}

var (
	upstreamOnce sync.Once
	upstreamDir  string
	upstreamNote string
	upstreamErr  error
)

// upstreamArtifacts writes the real artifacts (and stand-ins for the
// others) once per test binary into a directory removed at exit.
func upstreamArtifacts(t *testing.T) (string, string) {
	t.Helper()
	upstreamOnce.Do(func() {
		upstreamDir, upstreamErr = os.MkdirTemp("", "paddlex-upstream-")
		if upstreamErr != nil {
			return
		}
		var arts []upstream.Artifact
		arts, upstreamNote, upstreamErr = upstream.ManifestsDir(upstreamDir)
		for _, a := range arts {
			t.Logf("artifact %s: %s", a.Path, a.From)
		}
		if upstreamNote != "" {
			fmt.Fprintln(os.Stderr, "note:", upstreamNote)
		}
	})
	if upstreamErr != nil {
		t.Fatalf("upstream artifacts: %v", upstreamErr)
	}
	return upstreamDir, upstreamNote
}

// renderReal renders a profile from the manifests directory, through the
// Fetcher, so the catalog's checksums are verified against the real files.
func renderReal(t *testing.T, cat *install.Catalog, sel install.Selection, networking string, mods ...func(*install.Settings)) []install.Rendered {
	t.Helper()
	dir, note := upstreamArtifacts(t)
	if note != "" && cat.Component("paddle-operator") != nil {
		sel.Skip = append(sel.Skip, "paddle-operator")
	}
	plan, err := cat.Plan(sel)
	if err != nil {
		t.Fatal(err)
	}
	arts, err := (&install.Fetcher{Dir: dir}).FetchAll(context.Background(), plan)
	if err != nil {
		t.Fatalf("fetch from the manifests directory: %v", err)
	}
	if networking == "" {
		networking = cat.DefaultNetworking[sel.Profile]
	}
	settings := fixedSettings(sel.Profile, networking)
	for _, m := range mods {
		m(&settings)
	}
	rs, err := install.Render(plan, arts, settings)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestProfilesCreateWhatTheyUse(t *testing.T) {
	cat := install.Default()
	for _, tc := range []struct{ profile, networking string }{
		{install.ProfileStandalone, install.NetworkingKourier},
		{install.ProfileStandalone, install.NetworkingIstio},
		{install.ProfileFull, install.NetworkingIstio},
	} {
		t.Run(tc.profile+"-"+tc.networking, func(t *testing.T) {
			rs := renderReal(t, cat, install.Selection{Profile: tc.profile, Networking: tc.networking}, tc.networking)
			faults, defined := closure(rs)
			for _, f := range faults {
				t.Error(f)
			}
			// What the commands create needs its CRD from the install.
			_, note := upstreamArtifacts(t)
			for _, gvk := range []schema.GroupVersionKind{paddle.PaddleJobGVK, paddle.SampleSetGVK, paddle.SampleJobGVK, paddle.KnativeServiceGVK, paddle.WorkflowGVK} {
				if note != "" && gvk.Group == paddle.PaddleJobGVK.Group {
					continue
				}
				if !defined[gvk] {
					t.Errorf("the %s profile defines no %s, which paddlex commands create", tc.profile, gvk)
				}
			}
		})
	}
}

// TestClosureFindsArgoWithoutItsNamespace: Argo's install.yaml does not
// create namespace argo; without the catalog's own Namespace the check
// reports every Argo object.
func TestClosureFindsArgoWithoutItsNamespace(t *testing.T) {
	cat := install.Default()
	argo := *cat.Component("argo-workflows")
	argo.Manifests = ""
	bare := &install.Catalog{Components: []*install.Component{&argo}}
	rs := renderReal(t, bare, install.Selection{Components: []string{"argo-workflows"}}, install.NetworkingKourier)
	faults, _ := closure(rs)
	if len(faults) == 0 || !strings.Contains(strings.Join(faults, "\n"), "nothing in the install creates namespace argo") {
		t.Fatalf("Argo's install.yaml alone: faults %v", faults)
	}
	rs = renderReal(t, cat, install.Selection{Components: []string{"argo-workflows"}}, install.NetworkingKourier)
	if faults, _ := closure(rs); len(faults) > 0 {
		t.Errorf("argo-workflows with the catalog's namespace: %v", faults)
	}
}

// TestPaddleOperatorPinsEveryCRD: the catalog pins the commit whose CRD file
// defines PaddleJob, SampleSet and SampleJob, with the published checksums,
// and waits for all three CRDs.
func TestPaddleOperatorPinsEveryCRD(t *testing.T) {
	c := install.Default().Component("paddle-operator")
	want := map[string]string{
		"deploy/v1/crd.yaml":                 "a00c6cd6220159e2c1e252e35b6eef41a16eef5a119b716698b3683606b2bf12",
		"deploy/v1/operator.yaml":            "97182350b1d6af2ff641579cb6753b673c4c0f6578c408ed4b39f21ce5d2b0f4",
		"deploy/extensions/controllers.yaml": "6d144ef04905b453a9760a6d24041d0e9004601b695cde4a826375d64a69c9e5",
	}
	if len(c.Sources) != len(want) {
		t.Fatalf("paddle-operator has %d sources, want %d", len(c.Sources), len(want))
	}
	const prefix = "https://raw.githubusercontent.com/PaddleFlow/paddle-operator/667185dd97aa4ce4254c4028db8146be20453757/"
	for _, s := range c.Sources {
		p, ok := strings.CutPrefix(s.URL, prefix)
		if !ok || want[p] == "" || s.SHA256 != want[p] {
			t.Errorf("source %s sha256 %q: want a file at commit 667185d with its published sha256", s.URL, s.SHA256)
		}
	}
	for _, crd := range []string{"paddlejobs.batch.paddlepaddle.org", "samplesets.batch.paddlepaddle.org", "samplejobs.batch.paddlepaddle.org"} {
		found := false
		for _, n := range c.Ready.CRDs {
			found = found || n == crd
		}
		if !found {
			t.Errorf("paddle-operator does not wait for CRD %s", crd)
		}
	}
	dir, note := upstreamArtifacts(t)
	if note != "" {
		t.Skip(note)
	}
	// The real files verify against the pins and define the three kinds.
	rs := renderReal(t, install.Default(), install.Selection{Components: []string{"paddle-operator"}}, install.NetworkingKourier)
	_, defined := closure(rs)
	for _, gvk := range []schema.GroupVersionKind{paddle.PaddleJobGVK, paddle.SampleSetGVK, paddle.SampleJobGVK} {
		if !defined[gvk] {
			t.Errorf("paddle-operator's crd.yaml (%s) does not define %s", filepath.Join(dir, "paddle-operator"), gvk)
		}
	}
	// Each of the operator's managers acts only in the namespace its
	// --namespace names (its controller-runtime cache), and in every
	// namespace when it is empty. paddlex creates PaddleJobs, SampleSets
	// and SampleJobs in the platform's namespace and in each tenant's, so
	// all three watch every namespace. The release binds them to
	// paddle-system.
	managers := 0
	for _, r := range rs {
		for _, o := range r.Objects {
			if o.GetKind() != "Deployment" {
				continue
			}
			managers++
			cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			args, _, _ := unstructured.NestedStringSlice(cs[0].(map[string]any), "args")
			found := false
			for _, a := range args {
				if ns, ok := strings.CutPrefix(a, "--namespace="); ok {
					found = true
					if ns != "" {
						t.Errorf("Deployment %s/%s acts only in namespace %s, not in every namespace where paddlex creates its objects (the platform's and the tenants'): %v", o.GetNamespace(), o.GetName(), ns, args)
					}
				}
			}
			if !found {
				t.Errorf("Deployment %s/%s has no --namespace: %v", o.GetNamespace(), o.GetName(), args)
			}
		}
	}
	if managers != 3 {
		t.Errorf("paddle-operator runs %d Deployments, want its 3 managers", managers)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if upstreamDir != "" {
		os.RemoveAll(upstreamDir)
	}
	os.Exit(code)
}
