package install_test

import (
	"encoding/base64"
	"os"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/tenant"
)

// hubValues decodes the values the JupyterHub chart keeps in its hub Secret.
func hubValues(t *testing.T, rs []install.Rendered) map[string]any {
	t.Helper()
	v, _, _ := unstructured.NestedString(find(t, rs, "Secret", "jhub", "hub").Object, "data", "values.yaml")
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	return values
}

// A tenant's notebook runs in the tenant's namespace as its notebook
// service account: the hub is configured to put it there (with dex every
// user must be a tenant; without, the admin's notebook stays in jhub), may
// list namespaces but read no Secret, and admits the notebooks' API calls
// from tenant namespaces only. (The hook itself runs in real Python on the
// real node: test/realnode TestNotebookActsAsTheTenant.)
func TestNotebooksRunInTheTenantsNamespace(t *testing.T) {
	for profile, require := range map[string]string{install.ProfileFull: "True", install.ProfileStandalone: "False"} {
		rs := renderReal(t, install.Default(), install.Selection{Profile: profile}, "")
		values := hubValues(t, rs)
		hook, _, _ := unstructured.NestedString(values, "hub", "extraConfig", "paddlex-tenants")
		if hook != install.NotebookSpawnConfig(require == "True") || !strings.HasPrefix(hook, "PADDLEX_REQUIRE_TENANT = "+require+"\n") {
			t.Errorf("%s: hub.extraConfig paddlex-tenants does not set PADDLEX_REQUIRE_TENANT = %s before the spawn hook:\n%.200s", profile, require, hook)
		}
		for _, want := range []string{`PADDLEX_NOTEBOOK_ACCOUNT = "` + tenant.NotebookAccount + `"`, `"` + tenant.AnnotationEmail + `"`, `"` + tenant.LabelTenant + `"`,
			"c.KubeSpawner.pre_spawn_hook = paddlex_pre_spawn_hook"} {
			if !strings.Contains(hook, want) {
				t.Errorf("the spawn hook lacks %s", want)
			}
		}
		rules, _, _ := unstructured.NestedSlice(values, "hub", "networkPolicy", "ingress")
		if len(rules) != 1 {
			t.Fatalf("%s: hub ingress rules %v; want one for tenant namespaces", profile, rules)
		}
		peer := rules[0].(map[string]any)["from"].([]any)[0].(map[string]any)
		ns, _, _ := unstructured.NestedString(peer, "namespaceSelector", "matchLabels", tenant.LabelTenant)
		pod, _, _ := unstructured.NestedString(peer, "podSelector", "matchLabels", "hub.jupyter.org/network-access-hub")
		if ns != "true" || pod != "true" {
			t.Errorf("%s: hub ingress from %v; want notebook pods of tenant namespaces", profile, peer)
		}
		if _, ok := values["singleuser"]; ok {
			t.Errorf("%s: without --notebook-image the chart's image stays, yet singleuser is %v", profile, values["singleuser"])
		}

		// The hub's own rights: list namespaces cluster-wide; start pods
		// only through a tenant's binding to the spawner role.
		hubRole := find(t, rs, "ClusterRole", "", "paddlex-notebook-hub")
		hubRules, _, _ := unstructured.NestedSlice(hubRole.Object, "rules")
		if len(hubRules) != 1 || strings.Join(strSlice(hubRules[0], "resources"), ",") != "namespaces" || strings.Join(strSlice(hubRules[0], "verbs"), ",") != "get,list" {
			t.Errorf("%s: ClusterRole paddlex-notebook-hub rules %v; want get and list of namespaces only", profile, hubRules)
		}
		spawner := find(t, rs, "ClusterRole", "", tenant.NotebookSpawnerRole)
		spawnRules, _, _ := unstructured.NestedSlice(spawner.Object, "rules")
		for _, r := range spawnRules {
			if res := strSlice(r, "resources"); strings.Contains(strings.Join(res, ","), "secrets") {
				t.Errorf("%s: the spawner role grants %v", profile, res)
			}
		}
		for _, o := range install.Objects(rs) {
			if o.GetKind() != "ClusterRoleBinding" {
				continue
			}
			if name, _, _ := unstructured.NestedString(o.Object, "roleRef", "name"); name == tenant.NotebookSpawnerRole {
				t.Errorf("%s: ClusterRoleBinding %s grants the spawner role cluster-wide", profile, o.GetName())
			}
		}
	}

	// --notebook-image: the chart's name and tag, digest kept.
	for ref, want := range map[string][2]string{
		"registry.example.com:5000/paddlex-notebook:3.0.0":                {"registry.example.com:5000/paddlex-notebook", "3.0.0"},
		"registry.example.com/nb:3.0.0@sha256:" + strings.Repeat("a", 64): {"registry.example.com/nb", "3.0.0@sha256:" + strings.Repeat("a", 64)},
		"paddlex-notebook:3.0.0":                                          {"docker.io/library/paddlex-notebook", "3.0.0"},
	} {
		rs := renderReal(t, install.Default(), install.Selection{Profile: install.ProfileStandalone, Components: []string{"jupyterhub"}}, "",
			func(s *install.Settings) { s.NotebookImage = ref })
		values := hubValues(t, rs)
		name, _, _ := unstructured.NestedString(values, "singleuser", "image", "name")
		tag, _, _ := unstructured.NestedString(values, "singleuser", "image", "tag")
		if name != want[0] || tag != want[1] {
			t.Errorf("--notebook-image %s: singleuser.image %s : %s; want %s : %s", ref, name, tag, want[0], want[1])
		}
	}
}

func strSlice(rule any, field string) []string {
	out, _, _ := unstructured.NestedStringSlice(rule.(map[string]any), field)
	return out
}

// The notebook image builds on the single-user image of the chart version
// the catalog installs: the notebook's JupyterHub must be the hub's.
func TestNotebookImageMatchesTheHub(t *testing.T) {
	b, err := os.ReadFile("../../images/notebook/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ARG SINGLEUSER_IMAGE=quay\.io/jupyterhub/k8s-singleuser-sample:(\S+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("images/notebook/Dockerfile names no k8s-singleuser-sample image in ARG SINGLEUSER_IMAGE")
	}
	hub := install.Default().Component("jupyterhub")
	if string(m[1]) != hub.Version {
		t.Errorf("the notebook image builds on k8s-singleuser-sample:%s; the catalog installs JupyterHub chart %s", m[1], hub.Version)
	}
	root, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`)
	paddlexGo, notebookGo := goVersion.FindSubmatch(root), goVersion.FindSubmatch(b)
	if paddlexGo == nil || notebookGo == nil || string(paddlexGo[1]) != string(notebookGo[1]) {
		t.Errorf("the notebook image and the paddlex image build paddlex with different Go versions (ARG GO_VERSION): %q, %q", notebookGo, paddlexGo)
	}
}
