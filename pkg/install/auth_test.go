package install_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// find returns the rendered object, failing the test when it is missing.
func find(t *testing.T, rs []install.Rendered, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range install.Objects(rs) {
		if o.GetKind() == kind && o.GetNamespace() == namespace && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s/%s rendered", kind, namespace, name)
	return nil
}

func containerArgs(t *testing.T, o *unstructured.Unstructured) []string {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	args, _, _ := unstructured.NestedStringSlice(cs[0].(map[string]any), "args")
	return args
}

// hubConfig decodes the hub configuration the JupyterHub chart stores in its
// hub Secret.
func hubConfig(t *testing.T, rs []install.Rendered) map[string]any {
	t.Helper()
	config, _, _ := unstructured.NestedMap(hubValues(t, rs), "hub", "config")
	return config
}

// TestSignInFullProfile renders the full profile from the real Argo
// install.yaml (and the stand-in JupyterHub chart, which keeps the real
// chart's dummy default) and checks how each UI signs users in.
func TestSignInFullProfile(t *testing.T) {
	rs := renderReal(t, install.Default(), install.Selection{Profile: install.ProfileFull}, install.NetworkingIstio)

	args := strings.Join(containerArgs(t, find(t, rs, "Deployment", "argo", "argo-server")), " ")
	if strings.Contains(args, "--auth-mode=server") || !strings.Contains(args, "--auth-mode=client") || !strings.Contains(args, "--auth-mode=sso") {
		t.Errorf("argo-server args %q: want client and sso modes, never server", args)
	}
	ssoText, _, _ := unstructured.NestedString(find(t, rs, "ConfigMap", "argo", "workflow-controller-configmap").Object, "data", "sso")
	var sso struct {
		Issuer      string `json:"issuer"`
		RedirectURL string `json:"redirectUrl"`
		RBAC        struct {
			Enabled bool `json:"enabled"`
		} `json:"rbac"`
	}
	if err := yaml.Unmarshal([]byte(ssoText), &sso); err != nil {
		t.Fatal(err)
	}
	if sso.Issuer != "https://"+fixtureDomain+"/dex" || sso.RedirectURL != "https://"+fixtureDomain+"/oauth2/callback" || !sso.RBAC.Enabled {
		t.Errorf("argo sso config %+v: want dex's issuer, an absolute callback and SSO RBAC on", sso)
	}

	proxy := containerArgs(t, find(t, rs, "Deployment", "auth", "oauth2-proxy"))
	joined := strings.Join(proxy, " ")
	for _, want := range []string{
		"--cookie-secure=true",
		"--redirect-url=https://" + fixtureDomain + "/oauth2-proxy/callback",
		"--upstream=http://proxy-public.jhub.svc.cluster.local/notebooks/",
		"--upstream=https://argo-server.argo.svc.cluster.local:2746/",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("oauth2-proxy args lack %s: %q", want, joined)
		}
	}
	if strings.Contains(joined, "static://") || strings.Contains(joined, "--cookie-secure=false") {
		t.Errorf("oauth2-proxy protects nothing: %q", joined)
	}

	dex, _, _ := unstructured.NestedString(find(t, rs, "ConfigMap", "auth", "dex").Object, "data", "config.yaml")
	if !strings.Contains(dex, "issuer: https://"+fixtureDomain+"/dex") || strings.Contains(dex, "staticPasswords") {
		t.Errorf("dex config: want the domain's issuer and no default users:\n%s", dex)
	}
	for _, uri := range []string{"/oauth2-proxy/callback", "/oauth2/callback", "/notebooks/hub/oauth_callback"} {
		if !strings.Contains(dex, "https://"+fixtureDomain+uri) {
			t.Errorf("dex config lacks the redirect URI %s", uri)
		}
	}

	hub := hubConfig(t, rs)
	if got := hub["JupyterHub"].(map[string]any)["authenticator_class"]; got != "generic-oauth" {
		t.Errorf("JupyterHub authenticator %v, want generic-oauth through dex", got)
	}
	oauth, _ := hub["GenericOAuthenticator"].(map[string]any)
	if oauth["authorize_url"] != "https://"+fixtureDomain+"/dex/auth" || oauth["oauth_callback_url"] != "https://"+fixtureDomain+"/notebooks/hub/oauth_callback" {
		t.Errorf("GenericOAuthenticator %v", oauth)
	}
}

// TestSignInStandalone: no dex, so the Argo server takes the caller's token
// and JupyterHub lets in only its admin, with a generated password kept in
// a Secret.
func TestSignInStandalone(t *testing.T) {
	rs := renderReal(t, install.Default(), install.Selection{Profile: install.ProfileStandalone}, install.NetworkingKourier)
	args := containerArgs(t, find(t, rs, "Deployment", "argo", "argo-server"))
	if strings.Join(args, " ") != "server --auth-mode=client" {
		t.Errorf("argo-server args %q, want only client mode", args)
	}
	hub := hubConfig(t, rs)
	if got := hub["JupyterHub"].(map[string]any)["authenticator_class"]; got != "shared-password" {
		t.Errorf("JupyterHub authenticator %v, want shared-password", got)
	}
	pw := hub["SharedPasswordAuthenticator"].(map[string]any)["admin_password"]
	admin := find(t, rs, "Secret", "jhub", "jupyterhub-admin")
	stored, _, _ := unstructured.NestedString(admin.Object, "data", "password")
	if b, _ := base64.StdEncoding.DecodeString(stored); string(b) != pw || len(string(b)) < 32 {
		t.Errorf("the admin password in Secret jupyterhub-admin (%d bytes) is not the hub's (JupyterHub wants at least 32)", len(b))
	}
	for _, o := range install.Objects(rs) {
		if o.GetNamespace() == "auth" || o.GetName() == "argo-server-sso" {
			t.Errorf("standalone renders %s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
		}
	}
}

// TestNoWorkloadAccountGetsSecretsOrPods: no Role or ClusterRole of
// paddlex's own manifests, bound to a ServiceAccount, grants reading
// Secrets or creating pods (the upstream controllers' own roles are theirs).
func TestNoWorkloadAccountGetsSecretsOrPods(t *testing.T) {
	for _, profile := range []string{install.ProfileStandalone, install.ProfileFull} {
		rs := renderReal(t, install.Default(), install.Selection{Profile: profile}, "")
		roles := map[string][]any{}
		for _, r := range rs {
			if len(r.Component.Sources) > 0 {
				continue
			}
			for _, o := range r.Objects {
				if o.GetKind() == "ClusterRole" || o.GetKind() == "Role" {
					rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
					roles[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = rules
				}
			}
		}
		for _, r := range rs {
			if len(r.Component.Sources) > 0 {
				continue
			}
			for _, o := range r.Objects {
				if o.GetKind() != "ClusterRoleBinding" && o.GetKind() != "RoleBinding" {
					continue
				}
				subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
				toSA := false
				for _, s := range subjects {
					toSA = toSA || s.(map[string]any)["kind"] == "ServiceAccount"
				}
				kind, _, _ := unstructured.NestedString(o.Object, "roleRef", "kind")
				name, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
				ns := o.GetNamespace()
				if kind == "ClusterRole" {
					ns = ""
				}
				rules, known := roles[kind+"/"+ns+"/"+name]
				if toSA && !known {
					t.Errorf("%s: %s binds a service account to %s %s, which is not paddlex's", profile, o.GetName(), kind, name)
				}
				for _, rule := range rules {
					m := rule.(map[string]any)
					res := fmt.Sprint(m["resources"])
					verbs := fmt.Sprint(m["verbs"])
					if toSA && (strings.Contains(res, "secrets") || (strings.Contains(res, "pods") && (strings.Contains(verbs, "create") || strings.Contains(verbs, "*")))) {
						t.Errorf("%s: %s grants %s %s to a service account", profile, o.GetName(), verbs, res)
					}
				}
			}
		}
	}
}

// TestNamespacesIsolate: the namespaces the install creates carry Pod
// Security labels, and MinIO and Redis answer only the namespaces that use
// them. (Tenant namespaces are `paddlex tenant add`'s: pkg/tenant.)
func TestNamespacesIsolate(t *testing.T) {
	rs := renderReal(t, install.Default(), install.Selection{Profile: install.ProfileFull}, "")
	for ns, level := range map[string]string{"kubeflow": "baseline", "argo": "baseline", "jhub": "baseline", "auth": "restricted"} {
		if got := find(t, rs, "Namespace", "", ns).GetLabels()["pod-security.kubernetes.io/enforce"]; got != level {
			t.Errorf("namespace %s enforces %q, want %s", ns, got, level)
		}
	}
	for _, name := range []string{"minio", "redis"} {
		np := find(t, rs, "NetworkPolicy", "kubeflow", name)
		from, _, _ := unstructured.NestedSlice(np.Object, "spec", "ingress")
		if len(from) != 1 || !strings.Contains(fmt.Sprint(from), "kube-system") || strings.Contains(fmt.Sprint(from), "knative-serving") {
			t.Errorf("%s accepts %v", name, from)
		}
	}
}

// TestFullProfileMakesNoTenant: the full profile makes no user's namespace,
// binds no user to any role, and gives dex no user or password; it ships
// only the role `paddlex tenant add` binds tenants to.
func TestFullProfileMakesNoTenant(t *testing.T) {
	rs := renderReal(t, install.Default(), install.Selection{Profile: install.ProfileFull}, "")
	for _, o := range install.Objects(rs) {
		if o.GetLabels()["paddlex.io/tenant"] != "" {
			t.Errorf("%s %s/%s is a tenant's", o.GetKind(), o.GetNamespace(), o.GetName())
		}
		switch o.GetKind() {
		case "RoleBinding", "ClusterRoleBinding":
			subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			for _, s := range subjects {
				if s.(map[string]any)["kind"] == "User" {
					t.Errorf("%s %s/%s binds user %v", o.GetKind(), o.GetNamespace(), o.GetName(), s.(map[string]any)["name"])
				}
			}
		case "Password":
			t.Errorf("dex password %s is installed", o.GetName())
		}
	}
	role := find(t, rs, "ClusterRole", "", "paddlex-namespace-user")
	if role.GetLabels()["paddlex.io/component"] != "tenants" {
		t.Errorf("ClusterRole paddlex-namespace-user comes from %q, want the tenants component", role.GetLabels()["paddlex.io/component"])
	}
	dex, _, _ := unstructured.NestedString(find(t, rs, "ConfigMap", "auth", "dex").Object, "data", "config.yaml")
	if strings.Contains(dex, "staticPasswords") || strings.Contains(dex, "@") {
		t.Errorf("dex config names a user:\n%s", dex)
	}
}

// TestArgoExecutorRestricted: the executor containers Argo adds to every
// step (init, wait) take the workflow controller's executor template, which
// the install sets to what Pod Security's restricted profile asks, as the
// user paddlex's steps run as, in both profiles.
func TestArgoExecutorRestricted(t *testing.T) {
	for _, profile := range []string{install.ProfileStandalone, install.ProfileFull} {
		rs := renderReal(t, install.Default(), install.Selection{Profile: profile}, "")
		cm := find(t, rs, "ConfigMap", "argo", "workflow-controller-configmap")
		raw, _, _ := unstructured.NestedString(cm.Object, "data", "executor")
		var exec corev1.Container
		if err := yaml.UnmarshalStrict([]byte(raw), &exec); err != nil {
			t.Fatalf("%s: executor %q: %v", profile, raw, err)
		}
		sc := exec.SecurityContext
		switch {
		case sc == nil:
			t.Fatalf("%s: the executor has no securityContext", profile)
		case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != paddle.NonRootID:
			t.Errorf("%s: executor user %v, non-root %v; want %d, true", profile, sc.RunAsUser, sc.RunAsNonRoot, paddle.NonRootID)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s: the executor may escalate privileges", profile)
		case sc.Privileged != nil && *sc.Privileged:
			t.Errorf("%s: the executor is privileged", profile)
		case sc.Capabilities == nil || len(sc.Capabilities.Add) != 0 || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL":
			t.Errorf("%s: executor capabilities %+v, want every one dropped", profile, sc.Capabilities)
		case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
			t.Errorf("%s: executor seccomp %+v, want RuntimeDefault", profile, sc.SeccompProfile)
		}
	}
}
