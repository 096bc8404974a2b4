package install

import (
	_ "embed"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/pkg/image"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/tenant"
)

// How users sign in. The Argo server never acts with its own rights for a
// user (no --auth-mode=server): without --domain it takes the caller's
// Kubernetes token (client mode); with --domain it also signs users in
// through dex (sso mode) with SSO RBAC on, so a dex user acts as the
// service account a rule maps them to, or is refused.
const (
	// argoSSOSecret holds the Argo server's dex client (namespace argo).
	argoSSOSecret = "argo-server-sso"
	// hubAdminSecret holds JupyterHub's generated admin login (namespace
	// jhub) when there is no dex.
	hubAdminSecret = "jupyterhub-admin"
	// HubAdminUser is the JupyterHub admin's user name without --domain.
	HubAdminUser = "admin"

	dexInternal       = "http://dex.auth.svc.cluster.local:5556/dex"
	argoServerURL     = "https://argo-server.argo.svc.cluster.local:2746/"
	hubURL            = "http://proxy-public.jhub.svc.cluster.local/notebooks/"
	oauth2ProxyPrefix = "/oauth2-proxy"

	dexClientOAuth2Proxy = "paddlex-oauth2-proxy"
	dexClientArgo        = "argo-server"
	dexClientHub         = "jupyterhub"
)

// NotebooksPath and PipelinesPath are where the UIs are served under
// https://DOMAIN.
const (
	NotebooksPath = "/notebooks/"
	PipelinesPath = "/"
)

// ValidateDomain checks a --domain value: a DNS name, no scheme or path.
func ValidateDomain(d string) error {
	if errs := validation.IsDNS1123Subdomain(d); len(errs) > 0 {
		return fmt.Errorf("--domain %q must be a host name such as paddlex.example.com (no scheme, port or path)", d)
	}
	return nil
}

func (s Settings) origin() string { return "https://" + s.Domain }

// issuer is dex's issuer URL: browsers and the Argo server both reach it.
func (s Settings) issuer() string { return s.origin() + "/dex" }

// generateArgo renders the Argo server's dex client Secret (with --domain).
func generateArgo(s Settings) ([]*unstructured.Unstructured, error) {
	if s.Domain == "" {
		return nil, nil
	}
	if err := s.need(SeedArgoSSOClientSecret); err != nil {
		return nil, err
	}
	return []*unstructured.Unstructured{secret("argo", argoSSOSecret, map[string]string{
		"client-id": dexClientArgo, "client-secret": s.Secrets[SeedArgoSSOClientSecret],
	}, true)}, nil
}

// mutateArgo runs the executor containers Argo adds to every step (init,
// wait) restricted, and turns on SSO through dex with SSO RBAC when there
// is a domain. The kustomize patch has already set --auth-mode=client.
func mutateArgo(s Settings, objs []*unstructured.Unstructured) error {
	if err := restrictArgoExecutor(objs); err != nil {
		return err
	}
	if s.Domain == "" {
		return nil
	}
	sso := map[string]any{
		"issuer":       s.issuer(),
		"clientId":     map[string]any{"name": argoSSOSecret, "key": "client-id"},
		"clientSecret": map[string]any{"name": argoSSOSecret, "key": "client-secret"},
		"redirectUrl":  s.origin() + PipelinesPath + "oauth2/callback",
		"scopes":       []any{"groups", "email", "profile"},
		// A dex user acts as the service account a
		// workflows.argoproj.io/rbac-rule maps them to, in argo or
		// (delegated) in their own namespace; no rule, no access.
		"rbac": map[string]any{"enabled": true},
	}
	ssoYAML, err := yaml.Marshal(sso)
	if err != nil {
		return err
	}
	found := 0
	for _, o := range objs {
		switch {
		case o.GetKind() == "ConfigMap" && o.GetName() == "workflow-controller-configmap" && o.GetNamespace() == "argo":
			if err := unstructured.SetNestedField(o.Object, string(ssoYAML), "data", "sso"); err != nil {
				return err
			}
			found++
		case o.GetKind() == "Deployment" && o.GetName() == "argo-server" && o.GetNamespace() == "argo":
			err := editContainer(o, "argo-server", func(c map[string]any) {
				args, _, _ := unstructured.NestedStringSlice(c, "args")
				c["args"] = toAny(append(args, "--auth-mode=sso"))
				env, _, _ := unstructured.NestedSlice(c, "env")
				c["env"] = append(env, map[string]any{"name": "SSO_DELEGATE_RBAC_TO_NAMESPACE", "value": "true"})
			})
			if err != nil {
				return err
			}
			found++
		}
	}
	if found == 0 {
		// Stand-in artifacts carry neither object; the real install.yaml
		// carries both.
		return nil
	}
	if found != 2 {
		return fmt.Errorf("argo-workflows: the artifact lacks the argo-server Deployment or workflow-controller-configmap")
	}
	return nil
}

// editContainer applies fn to the named container of a workload.
func editContainer(o *unstructured.Unstructured, name string, fn func(map[string]any)) error {
	cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
	for i, c := range cs {
		m, ok := c.(map[string]any)
		if ok && m["name"] == name {
			fn(m)
			cs[i] = m
			return unstructured.SetNestedSlice(o.Object, cs, "spec", "template", "spec", "containers")
		}
	}
	return fmt.Errorf("%s %s/%s has no container %s", o.GetKind(), o.GetNamespace(), o.GetName(), name)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// generateAuth renders dex's configuration and the Secret its clients share
// with oauth2-proxy, the Argo server and JupyterHub, and the Istio Gateway
// and VirtualService that serve https://DOMAIN: /dex to dex, everything
// else through oauth2-proxy.
func generateAuth(s Settings) ([]*unstructured.Unstructured, error) {
	if s.Domain == "" {
		return nil, fmt.Errorf("the auth component needs --domain: the host name users reach the platform at")
	}
	if err := s.need(SeedAuthClientSecret, SeedAuthCookieSecret, SeedArgoSSOClientSecret, SeedHubOAuthClientSecret); err != nil {
		return nil, err
	}
	// Dex's static users come from `paddlex tenant add`; the platform
	// creates none and sets no default password.
	cfg := map[string]any{
		"issuer":  s.issuer(),
		"storage": map[string]any{"type": "kubernetes", "config": map[string]any{"inCluster": true}},
		"web":     map[string]any{"http": "0.0.0.0:5556"},
		"oauth2":  map[string]any{"skipApprovalScreen": true},
		// The built-in password database holds the users tenant add makes.
		"enablePasswordDB": true,
		"staticClients": []any{
			map[string]any{"id": dexClientOAuth2Proxy, "name": "paddlex", "secretEnv": "OAUTH2_PROXY_CLIENT_SECRET",
				"redirectURIs": []any{s.origin() + oauth2ProxyPrefix + "/callback"}},
			map[string]any{"id": dexClientArgo, "name": "paddlex pipelines", "secretEnv": "ARGO_CLIENT_SECRET",
				"redirectURIs": []any{s.origin() + PipelinesPath + "oauth2/callback"}},
			map[string]any{"id": dexClientHub, "name": "paddlex notebooks", "secretEnv": "JUPYTERHUB_CLIENT_SECRET",
				"redirectURIs": []any{s.origin() + NotebooksPath + "hub/oauth_callback"}},
		},
	}
	cb, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cm := kube.ToUnstructured(&corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "dex", Namespace: "auth"},
		Data:       map[string]string{"config.yaml": string(cb)},
	})
	gw := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1beta1", "kind": "Gateway",
		"metadata": map[string]any{"name": "paddlex", "namespace": "auth"},
		"spec": map[string]any{
			"selector": map[string]any{"istio": "ingressgateway"},
			"servers": []any{
				map[string]any{
					"hosts": []any{s.Domain},
					"port":  map[string]any{"name": "https", "number": int64(443), "protocol": "HTTPS"},
					// The certificate is the cluster admin's: a TLS Secret
					// paddlex-tls in istio-system.
					"tls": map[string]any{"mode": "SIMPLE", "credentialName": "paddlex-tls"},
				},
				map[string]any{
					"hosts": []any{s.Domain},
					"port":  map[string]any{"name": "http", "number": int64(80), "protocol": "HTTP"},
					"tls":   map[string]any{"httpsRedirect": true},
				},
			},
		},
	}}
	vs := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
		"metadata": map[string]any{"name": "paddlex", "namespace": "auth"},
		"spec": map[string]any{
			"hosts":    []any{s.Domain},
			"gateways": []any{"auth/paddlex"},
			"http": []any{
				map[string]any{
					"match": []any{map[string]any{"uri": map[string]any{"prefix": "/dex/"}}},
					"route": []any{map[string]any{"destination": map[string]any{"host": "dex.auth.svc.cluster.local", "port": map[string]any{"number": int64(5556)}}}},
				},
				map[string]any{
					"route": []any{map[string]any{"destination": map[string]any{"host": "oauth2-proxy.auth.svc.cluster.local", "port": map[string]any{"number": int64(4180)}}}},
				},
			},
		},
	}}
	return []*unstructured.Unstructured{
		secret("auth", "auth-secrets", map[string]string{
			"client-secret":            s.Secrets[SeedAuthClientSecret],
			"cookie-secret":            s.Secrets[SeedAuthCookieSecret],
			"argo-client-secret":       s.Secrets[SeedArgoSSOClientSecret],
			"jupyterhub-client-secret": s.Secrets[SeedHubOAuthClientSecret],
		}, true),
		cm, gw, vs,
	}, nil
}

// mutateAuth gives oauth2-proxy its domain: the absolute callback, secure
// cookies for that host, dex's login page for browsers and dex's
// in-cluster endpoints for the token exchange, and the UIs it proxies to.
func mutateAuth(s Settings, objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if o.GetKind() != "Deployment" || o.GetName() != "oauth2-proxy" || o.GetNamespace() != "auth" {
			continue
		}
		return editContainer(o, "oauth2-proxy", func(c map[string]any) {
			args, _, _ := unstructured.NestedStringSlice(c, "args")
			args = append(args,
				"--oidc-issuer-url="+s.issuer(),
				// Discovery would need the pod to reach https://DOMAIN;
				// the endpoints are given instead.
				"--skip-oidc-discovery=true",
				"--login-url="+s.issuer()+"/auth",
				"--redeem-url="+dexInternal+"/token",
				"--oidc-jwks-url="+dexInternal+"/keys",
				"--redirect-url="+s.origin()+oauth2ProxyPrefix+"/callback",
				"--proxy-prefix="+oauth2ProxyPrefix,
				"--cookie-domain="+s.Domain,
				"--whitelist-domain="+s.Domain,
				// JupyterHub serves under /notebooks/ (its base URL); the
				// Argo server, the pipeline UI, at the root.
				"--upstream="+hubURL,
				"--upstream="+argoServerURL,
			)
			c["args"] = toAny(args)
		})
	}
	return nil
}

// generateJupyterHub stores the generated admin login when there is no
// dex, so the admin can read it (`kubectl -n jhub get secret
// jupyterhub-admin`) and a re-run keeps it.
func generateJupyterHub(s Settings) ([]*unstructured.Unstructured, error) {
	if s.Domain != "" {
		return nil, nil
	}
	if err := s.need(SeedHubAdminPassword); err != nil {
		return nil, err
	}
	return []*unstructured.Unstructured{secret("jhub", hubAdminSecret, map[string]string{
		"username": HubAdminUser, "password": s.Secrets[SeedHubAdminPassword],
	}, true)}, nil
}

// jupyterhubValues hands the chart its secrets, so rendering is repeatable
// and a re-run keeps the tokens the hub already uses, and replaces the
// chart's default authenticator (dummy: any name, any password): with
// --domain users log in through dex (OpenID Connect); without it only the
// admin logs in, with the generated password. The chart keeps hub.config
// in its hub Secret, never in a ConfigMap or the pod's arguments.
func jupyterhubValues(s Settings) map[string]any {
	config := map[string]any{"JupyterHub": map[string]any{"cookie_secret": s.Secrets[SeedHubCookieSecret]}}
	hub := map[string]any{"config": config}
	if s.Domain != "" {
		hub["baseUrl"] = NotebooksPath
		config["JupyterHub"].(map[string]any)["authenticator_class"] = "generic-oauth"
		config["GenericOAuthenticator"] = map[string]any{
			"client_id":          dexClientHub,
			"client_secret":      s.Secrets[SeedHubOAuthClientSecret],
			"oauth_callback_url": s.origin() + NotebooksPath + "hub/oauth_callback",
			"authorize_url":      s.issuer() + "/auth",
			// The hub exchanges codes with dex inside the cluster.
			"token_url":      dexInternal + "/token",
			"userdata_url":   dexInternal + "/userinfo",
			"scope":          []any{"openid", "email", "profile"},
			"username_claim": "email",
			"login_service":  "paddlex",
			// Dex holds only the identities tenant add creates.
			"allow_all": true,
		}
	} else {
		config["JupyterHub"].(map[string]any)["authenticator_class"] = "shared-password"
		config["SharedPasswordAuthenticator"] = map[string]any{"admin_password": s.Secrets[SeedHubAdminPassword]}
		config["Authenticator"] = map[string]any{"admin_users": []any{HubAdminUser}}
	}
	// Each tenant's notebook runs in the tenant's namespace, as its
	// notebook service account (notebook_spawn.py); the hub admits their
	// servers' API calls from those namespaces.
	hub["extraConfig"] = map[string]any{"paddlex-tenants": NotebookSpawnConfig(s.Domain != "")}
	hub["networkPolicy"] = map[string]any{"ingress": []any{map[string]any{
		"from": []any{map[string]any{
			"namespaceSelector": map[string]any{"matchLabels": map[string]any{tenant.LabelTenant: "true"}},
			"podSelector":       map[string]any{"matchLabels": map[string]any{"hub.jupyter.org/network-access-hub": "true"}},
		}},
		"ports": []any{map[string]any{"protocol": "TCP", "port": int64(8081)}},
	}}}
	values := map[string]any{
		"proxy": map[string]any{"secretToken": s.Secrets[SeedHubProxyToken]},
		"hub":   hub,
		"cull":  cullValues(s),
	}
	if s.NotebookImage != "" {
		// The chart joins name and tag with ":"; a digest rides in the tag.
		ref := image.Parse(s.NotebookImage)
		tag := ref.Tag
		if tag == "" {
			tag = "latest"
		}
		if ref.Digest != "" {
			tag += "@" + ref.Digest
		}
		values["singleuser"] = map[string]any{"image": map[string]any{"name": ref.Host + "/" + ref.Path, "tag": tag}}
	}
	return values
}

// NotebookSpawnHook is the hub configuration that starts a tenant's
// notebook in the tenant's namespace as its notebook service account
// (Python, run by JupyterHub with PADDLEX_REQUIRE_TENANT set before it).
//
//go:embed notebook_spawn.py
var NotebookSpawnHook string

// NotebookSpawnConfig is the hub's extraConfig entry: NotebookSpawnHook,
// refusing users who are no tenant when requireTenant (with dex, where
// every user is one), else starting their notebook in the hub's namespace
// without API access (the standalone profile's admin).
func NotebookSpawnConfig(requireTenant bool) string {
	flag := "False"
	if requireTenant {
		flag = "True"
	}
	return "PADDLEX_REQUIRE_TENANT = " + flag + "\n" + NotebookSpawnHook
}

// DefaultNotebookIdleTimeout is how long a notebook may sit idle before it
// is stopped, unless --notebook-idle-timeout says otherwise.
const DefaultNotebookIdleTimeout = time.Hour

// cullValues turns JupyterHub's idle culler on, explicitly: idle notebook
// servers are stopped after the timeout, so their CPUs, GPUs and memory go
// back to training and serving. The culler checks every tenth of the
// timeout (at most every ten minutes, at least every minute).
func cullValues(s Settings) map[string]any {
	timeout := s.NotebookIdleTimeout
	if timeout <= 0 {
		timeout = DefaultNotebookIdleTimeout
	}
	every := min(max(timeout/10, time.Minute), 10*time.Minute)
	return map[string]any{
		"enabled": true,
		"timeout": int64(timeout / time.Second),
		"every":   int64(every / time.Second),
	}
}

// restrictArgoExecutor sets the workflow controller's executor container
// template (its configmap's executor key), which Argo copies into the init
// and wait containers of every step, to paddle.ContainerSecurity: the user
// the steps run as (so they share /var/run/argo), no privilege escalation,
// no capability, RuntimeDefault seccomp, as Pod Security's restricted
// profile asks. Argo's own default is no securityContext at all.
func restrictArgoExecutor(objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if o.GetKind() != "ConfigMap" || o.GetName() != "workflow-controller-configmap" || o.GetNamespace() != "argo" {
			continue
		}
		data, _, _ := unstructured.NestedStringMap(o.Object, "data")
		if data == nil {
			data = map[string]string{}
		}
		exec := map[string]any{}
		if cur := data["executor"]; cur != "" {
			if err := yaml.Unmarshal([]byte(cur), &exec); err != nil {
				return fmt.Errorf("argo-workflows: the executor of workflow-controller-configmap: %w", err)
			}
		}
		exec["securityContext"] = paddle.ContainerSecurity()
		b, err := yaml.Marshal(exec)
		if err != nil {
			return err
		}
		data["executor"] = string(b)
		return unstructured.SetNestedStringMap(o.Object, data, "data")
	}
	// Stand-in artifacts carry no configmap; the real install.yaml does.
	return nil
}
