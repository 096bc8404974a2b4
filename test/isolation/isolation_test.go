// Package isolation proves, against a real API server, what tenants and
// pipeline runs may do: RBAC and Pod Security admission run in the API
// server, so what it refuses here it refuses on a cluster. Users are
// impersonated by an admin client, as `kubectl --as` does.
package isolation

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/manifests"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/pipeline"
	"github.com/paddleflow/paddlex/pkg/tenant"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{CRDs: []string{testenv.CRDsPaddle, testenv.CRDsArgo, testenv.CRDsKnative}}))
}

// namespaceUserRole is the install's ClusterRole tenants are bound to,
// read from the component that ships it.
func namespaceUserRole(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../manifests/components/tenants/tenants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var o struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(doc), &o); err == nil && o.Kind == "ClusterRole" && o.Metadata.Name == tenant.NamespaceUserRole {
			return doc
		}
	}
	t.Fatalf("the tenants component has no ClusterRole %s", tenant.NamespaceUserRole)
	return ""
}

// as returns clients acting as user.
func as(t *testing.T, e *testenv.Env, user string) (kubernetes.Interface, dynamic.Interface) {
	t.Helper()
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs, dyn
}

func addTenant(t *testing.T, e *testenv.Env, email string, db int) tenant.Spec {
	t.Helper()
	s := tenant.Spec{Email: email, Namespace: tenant.NamespaceFor(email), AccessKey: tenant.NamespaceFor(email),
		SecretKey: "secret-of-" + email, MetaURL: "redis://:pw@redis.kubeflow:6379/" + string(rune('0'+db)), RedisDB: db}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Kube().Apply(context.Background(), tenant.Render(s), kube.ApplyOptions{}); err != nil {
		t.Fatalf("apply tenant %s: %v", email, err)
	}
	return s
}

// waitAggregated waits until kube-controller-manager's aggregation
// controller has filled the aggregated ClusterRole name, as it has on any
// running cluster: a binding to it grants nothing before that.
func waitAggregated(t *testing.T, e *testenv.Env, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		cr, err := e.Clientset.RbacV1().ClusterRoles().Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && len(cr.Rules) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ClusterRole %s has no rules after a minute (err %v): is the clusterrole-aggregation controller running?", name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var dryRun = metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}

// Tenant A may work in their namespace and nowhere else: they cannot read
// B's Secrets or pods, submit a Workflow into B's namespace, act on the
// cluster, or run a privileged pod even in their own namespace.
func TestTenantIsolation(t *testing.T) {
	e := testenv.Get(t)
	ctx := context.Background()
	waitAggregated(t, e, "admin")
	e.Apply(t, "", namespaceUserRole(t))
	a := addTenant(t, e, "alice@example.com", 2)
	b := addTenant(t, e, "bob@example.com", 3)
	csA, dynA := as(t, e, a.Email)

	wantForbidden := func(what string, err error) {
		t.Helper()
		if !apierrors.IsForbidden(err) {
			t.Errorf("alice %s: err = %v; want Forbidden", what, err)
		}
	}

	// Her own namespace: the binding works, so the refusals below are
	// about the namespace, not a missing grant.
	if _, err := csA.CoreV1().Secrets(a.Namespace).Get(ctx, paddle.DataCenterSecret, metav1.GetOptions{}); err != nil {
		t.Errorf("alice reads her own data-center Secret: %v", err)
	}
	wf := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
		"metadata": map[string]any{"generateName": "probe-"},
		"spec": map[string]any{"entrypoint": "main", "templates": []any{map[string]any{
			"name": "main", "container": map[string]any{"image": "busybox", "command": []any{"true"}}}}},
	}}
	wfs := schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}
	if _, err := dynA.Resource(wfs).Namespace(a.Namespace).Create(ctx, wf, dryRun); err != nil {
		t.Errorf("alice submits a Workflow in her namespace: %v", err)
	}

	// Bob's namespace.
	_, err := csA.CoreV1().Secrets(b.Namespace).Get(ctx, paddle.DataCenterSecret, metav1.GetOptions{})
	wantForbidden("reads bob's data-center Secret", err)
	_, err = csA.CoreV1().Secrets(b.Namespace).List(ctx, metav1.ListOptions{})
	wantForbidden("lists bob's Secrets", err)
	_, err = csA.CoreV1().Pods(b.Namespace).List(ctx, metav1.ListOptions{})
	wantForbidden("lists bob's pods", err)
	_, err = dynA.Resource(wfs).Namespace(b.Namespace).Create(ctx, wf, dryRun)
	wantForbidden("submits a Workflow into bob's namespace", err)
	pj := schema.GroupVersionResource{Group: paddle.PaddleJobGVK.Group, Version: paddle.PaddleJobGVK.Version, Resource: "paddlejobs"}
	_, err = dynA.Resource(pj).Namespace(b.Namespace).List(ctx, metav1.ListOptions{})
	wantForbidden("lists bob's PaddleJobs", err)
	ksvc := schema.GroupVersionResource{Group: paddle.KnativeServiceGVK.Group, Version: paddle.KnativeServiceGVK.Version, Resource: "services"}
	_, err = dynA.Resource(ksvc).Namespace(b.Namespace).List(ctx, metav1.ListOptions{})
	wantForbidden("lists bob's served models", err)

	// The cluster.
	_, err = csA.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	wantForbidden("lists namespaces", err)
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-everywhere"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: a.Email}}}
	_, err = csA.RbacV1().ClusterRoleBindings().Create(ctx, crb, dryRun)
	wantForbidden("binds herself cluster-admin", err)
	// Granting herself admin in bob's namespace through her own rights.
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "alice-in", Namespace: b.Namespace},
		RoleRef: crb.RoleRef, Subjects: crb.Subjects}
	_, err = csA.RbacV1().RoleBindings(b.Namespace).Create(ctx, rb, dryRun)
	wantForbidden("binds herself into bob's namespace", err)

	// Pod Security: a privileged pod, a host path or the host's network
	// are refused in her own namespace (baseline is enforced).
	yes := true
	for name, spec := range map[string]corev1.PodSpec{
		"a privileged pod": {Containers: []corev1.Container{{Name: "c", Image: "busybox", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}},
		"a host path":      {Containers: []corev1.Container{{Name: "c", Image: "busybox"}}, Volumes: []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}},
		"the host network": {HostNetwork: true, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-"}, Spec: spec}
		_, err := csA.CoreV1().Pods(a.Namespace).Create(ctx, pod, dryRun)
		if err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
			t.Errorf("alice creates %s in her namespace: err = %v; want it refused by Pod Security", name, err)
		}
	}
	plain := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "probe-"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := csA.CoreV1().Pods(a.Namespace).Create(ctx, plain, dryRun); err != nil {
		t.Errorf("alice creates an ordinary pod in her namespace: %v", err)
	}

	// What paddlex says of each refusal: RBAC's is a permission to ask
	// for (exit 4); Pod Security's is not.
	privileged := kube.ToUnstructured(&corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: a.Namespace},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}}}})
	_, err = e.Kube().Apply(ctx, []*unstructured.Unstructured{privileged}, kube.ApplyOptions{DryRun: kube.DryRunServer})
	if err == nil || kube.IsForbidden(err) || strings.Contains(err.Error(), "RBAC") || !strings.Contains(err.Error(), "admission refuses it") || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Errorf("a privileged pod applied with paddlex's engine: %v; want Pod Security's refusal, not RBAC's", err)
	}
	cfgA := rest.CopyConfig(e.Config)
	cfgA.Impersonate = rest.ImpersonationConfig{UserName: a.Email}
	dynAlice, _ := dynamic.NewForConfig(cfgA)
	engineA := &kube.Client{Dynamic: dynAlice, Clientset: csA, Mapper: e.Kube().Mapper}
	intoB := plain.DeepCopy()
	intoB.GenerateName, intoB.Name, intoB.Namespace = "", "probe", b.Namespace
	intoB.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	_, err = engineA.Apply(ctx, []*unstructured.Unstructured{kube.ToUnstructured(intoB)}, kube.ApplyOptions{DryRun: kube.DryRunServer})
	if !kube.IsForbidden(err) || !strings.Contains(err.Error(), "RBAC forbids") {
		t.Errorf("alice applies a pod into bob's namespace with paddlex's engine: %v; want RBAC's refusal", err)
	}
}

// The account a pipeline run executes as may do exactly what its steps
// need: every verb of its Role is allowed, on those resources in its own
// namespace only, and nothing else a workload account could abuse.
func TestPipelineRunnerCanDoExactlyItsSteps(t *testing.T) {
	e := testenv.Get(t)
	ctx := context.Background()
	bs, err := pipeline.Builtins(manifests.Pipelines, "pipelines")
	if err != nil {
		t.Fatal(err)
	}
	b, err := pipeline.FindBuiltin(bs, "ppocr-det")
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.Load(b.Data, b.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	ns := e.Namespace(t)
	p.Complete(ns)
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := pipeline.Compile(p, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Kube().Apply(ctx, c.RBAC, kube.ApplyOptions{}); err != nil {
		t.Fatalf("apply the run's account and Role: %v", err)
	}
	var role rbacv1.Role
	for _, o := range c.RBAC {
		if o.GetKind() == "Role" {
			if err := kube.FromUnstructured(o, &role); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(role.Rules) == 0 {
		t.Fatal("the run's Role has no rules")
	}
	account := "system:serviceaccount:" + ns + ":" + c.Workflow.Spec.ServiceAccountName
	review := func(group, resource, verb, namespace string) bool {
		t.Helper()
		return mayDo(t, e, account, group, resource, verb, namespace)
	}
	allowed, denied := 0, 0
	other := e.Namespace(t)
	for _, rule := range role.Rules {
		for _, g := range rule.APIGroups {
			for _, res := range rule.Resources {
				for _, v := range rule.Verbs {
					if !review(g, res, v, ns) {
						t.Errorf("%s cannot %s %s.%s in its namespace, which its steps need", account, v, res, g)
					}
					allowed++
					if review(g, res, v, other) {
						t.Errorf("%s can %s %s.%s in another namespace", account, v, res, g)
					}
					denied++
				}
			}
		}
	}
	// What a workload account must never hold.
	for _, d := range []struct{ group, resource, verb string }{
		{"", "secrets", "get"}, {"", "secrets", "list"}, {"", "pods", "create"}, {"", "pods/exec", "create"},
		{"", "serviceaccounts/token", "create"}, {"rbac.authorization.k8s.io", "roles", "create"},
		{"rbac.authorization.k8s.io", "rolebindings", "create"}, {"apps", "deployments", "delete"},
		{"argoproj.io", "workflows", "create"}, {"", "namespaces", "list"},
	} {
		if granted(role, d.group, d.resource, d.verb) {
			t.Logf("the run's Role grants %s %s.%s (a step needs it)", d.verb, d.resource, d.group)
			continue
		}
		if review(d.group, d.resource, d.verb, ns) {
			t.Errorf("%s can %s %s.%s, which no step needs", account, d.verb, d.resource, d.group)
		}
		denied++
	}
	t.Logf("%s: %d verbs allowed in its namespace (each denied in another), %d denials checked", account, allowed, denied)
}

// mayDo asks the API server, as user, whether they may do verb on
// resource.group in namespace (empty: cluster-wide), as `kubectl auth
// can-i --as` does.
func mayDo(t *testing.T, e *testenv.Env, user, group, resource, verb, namespace string) bool {
	t.Helper()
	cs, _ := as(t, e, user)
	r, err := cs.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Group: group, Resource: resource, Verb: verb, Namespace: namespace}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SelfSubjectAccessReview: %v", err)
	}
	return r.Status.Allowed
}

func granted(role rbacv1.Role, group, resource, verb string) bool {
	for _, r := range role.Rules {
		if has(r.APIGroups, group) && has(r.Resources, resource) && has(r.Verbs, verb) {
			return true
		}
	}
	return false
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s || x == "*" {
			return true
		}
	}
	return false
}

// manifestDocs returns the documents of one of the install's manifests.
func manifestDocs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile("../../manifests/components/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(b), "\n---\n")
}

// A tenant's notebook runs as their namespace's notebook account, which
// holds exactly the tenant's rights: everything they may do in their
// namespace, nothing in another tenant's. JupyterHub's account finds
// tenants' namespaces and starts notebook pods in them, and nowhere else;
// it reads no Secret.
func TestNotebookAccountsHoldTheTenantsRights(t *testing.T) {
	e := testenv.Get(t)
	ctx := context.Background()
	waitAggregated(t, e, "admin")
	e.Apply(t, "", namespaceUserRole(t))
	for _, doc := range manifestDocs(t, "jupyterhub/notebooks.yaml") {
		e.Apply(t, "", doc)
	}
	a := addTenant(t, e, "carol@example.com", 4)
	b := addTenant(t, e, "dave@example.com", 5)
	platform := e.Namespace(t)

	review := func(user, group, resource, verb, namespace string) bool {
		t.Helper()
		return mayDo(t, e, user, group, resource, verb, namespace)
	}
	notebook := "system:serviceaccount:" + a.Namespace + ":" + tenant.NotebookAccount
	hub := "system:serviceaccount:" + tenant.HubNamespace + ":" + tenant.HubAccount
	// (Knative's services come to admin through Knative's own aggregated
	// ClusterRole, which this API server lacks: the real node's
	// TestTenantTrainsAndServes serves in a tenant's namespace.)
	verbs := []struct{ group, resource, verb string }{
		{"", "secrets", "get"}, {"", "pods", "create"}, {"", "pods/log", "get"}, {"batch", "jobs", "create"},
		{paddle.PaddleJobGVK.Group, "paddlejobs", "create"}, {paddle.PaddleJobGVK.Group, "samplesets", "create"},
		{"argoproj.io", "workflows", "create"}, {"rbac.authorization.k8s.io", "roles", "create"},
		{paddle.TrainingOperatorJobGVK.Group, "paddlejobs", "create"},
	}
	checked := 0
	for _, v := range verbs {
		tenantMay := review(a.Email, v.group, v.resource, v.verb, a.Namespace)
		if got := review(notebook, v.group, v.resource, v.verb, a.Namespace); got != tenantMay || !got {
			t.Errorf("in %s, %s may %s %s.%s: %v; the tenant: %v (want both allowed)", a.Namespace, notebook, v.verb, v.resource, v.group, got, tenantMay)
		}
		if review(notebook, v.group, v.resource, v.verb, b.Namespace) {
			t.Errorf("%s may %s %s.%s in %s's namespace", notebook, v.verb, v.resource, v.group, b.Email)
		}
		checked += 2
	}
	if review(notebook, "", "namespaces", "list", "") {
		t.Errorf("%s may list namespaces", notebook)
	}

	// The hub: find tenants, start and stop notebooks in their namespace.
	for _, v := range []struct{ group, resource, verb, namespace string }{
		{"", "namespaces", "list", ""}, {"", "pods", "create", a.Namespace}, {"", "pods", "delete", a.Namespace},
		{"", "pods", "watch", a.Namespace}, {"", "persistentvolumeclaims", "create", a.Namespace}, {"", "events", "list", a.Namespace},
	} {
		if !review(hub, v.group, v.resource, v.verb, v.namespace) {
			t.Errorf("the hub may not %s %s in %q, which starting a notebook needs", v.verb, v.resource, v.namespace)
		}
		checked++
	}
	for _, v := range []struct{ group, resource, verb, namespace string }{
		{"", "pods", "create", platform}, {"", "pods", "create", ""}, {"", "secrets", "get", a.Namespace}, {"", "secrets", "list", ""},
		{"", "pods/exec", "create", a.Namespace}, {"", "serviceaccounts/token", "create", a.Namespace}, {"", "namespaces", "create", ""},
	} {
		if review(hub, v.group, v.resource, v.verb, v.namespace) {
			t.Errorf("the hub may %s %s in %q", v.verb, v.resource, v.namespace)
		}
		checked++
	}

	// What the spawn hook asks, as the hub: the tenant namespaces, each
	// with its tenant's e-mail; then a notebook pod as KubeSpawner makes
	// it (the chart's user 1000, no privilege), admitted in carol's
	// namespace under its Pod Security, with the notebook account.
	hubCS, _ := as(t, e, hub)
	list, err := hubCS.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: tenant.LabelTenant + "=true"})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for _, ns := range list.Items {
		found[ns.Annotations[tenant.AnnotationEmail]] = ns.Name
	}
	if found[a.Email] != a.Namespace || found[b.Email] != b.Namespace {
		t.Errorf("the hub finds tenants %v; want %s in %s and %s in %s", found, a.Email, a.Namespace, b.Email, b.Namespace)
	}
	uid, no := int64(1000), false
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "jupyter-carol-40example-2ecom", Labels: map[string]string{"component": "singleuser-server", "hub.jupyter.org/network-access-hub": "true"}},
		Spec: corev1.PodSpec{ServiceAccountName: tenant.NotebookAccount, Containers: []corev1.Container{{Name: "notebook", Image: "quay.io/jupyterhub/k8s-singleuser-sample:4.2.0",
			SecurityContext: &corev1.SecurityContext{RunAsUser: &uid, AllowPrivilegeEscalation: &no}}}}}
	if _, err := hubCS.CoreV1().Pods(a.Namespace).Create(ctx, pod, dryRun); err != nil {
		t.Errorf("the hub starts carol's notebook in her namespace: %v", err)
	}
	if _, err := hubCS.CoreV1().Pods(platform).Create(ctx, pod, dryRun); !apierrors.IsForbidden(err) {
		t.Errorf("the hub starts a notebook outside a tenant's namespace: err = %v; want Forbidden", err)
	}
	t.Logf("%d access reviews of the notebook and hub accounts", checked)
}
