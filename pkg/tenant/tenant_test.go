package tenant

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
)

func spec() Spec {
	return Spec{Email: "Alice.Smith@Example.com", Namespace: NamespaceFor("Alice.Smith@Example.com"),
		AccessKey: "kubeflow-alice-smith-example-com", SecretKey: "s3cr3t-of-alice", MetaURL: "redis://:pw@redis:6379/2", RedisDB: 2}
}

func TestNamespaceFor(t *testing.T) {
	for email, want := range map[string]string{
		"user@example.com":        "kubeflow-user-example-com",
		"Alice.Smith@Example.com": "kubeflow-alice-smith-example-com",
		"a+b@x.io":                "kubeflow-a-b-x-io",
	} {
		if got := NamespaceFor(email); got != want {
			t.Errorf("NamespaceFor(%q) = %q, want %q", email, got, want)
		}
	}
	long := NamespaceFor(strings.Repeat("a", 80) + "@example.com")
	if errs := validation.IsDNS1123Label(long); len(errs) > 0 {
		t.Errorf("a long address gives %q: %v", long, errs)
	}
}

func TestValidateNamesTheFlag(t *testing.T) {
	for _, tc := range []struct {
		mut  func(*Spec)
		want string
	}{
		{func(s *Spec) { s.Email = "alice" }, "EMAIL"},
		{func(s *Spec) { s.Namespace = "Bad_NS" }, "--namespace"},
		{func(s *Spec) { s.QuotaGPU = -1 }, "--quota-gpu"},
		{func(s *Spec) { s.QuotaCPU = "lots" }, "--quota-cpu"},
		{func(s *Spec) { s.QuotaMemory = "0" }, "--quota-memory"},
	} {
		s := spec()
		tc.mut(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v; want it to name %s", err, tc.want)
		}
	}
	s := spec()
	if err := s.Validate(); err != nil {
		t.Error(err)
	}
}

// The policy reaches the tenant's bucket and its objects, and their area of
// the model center, and nothing else.
func TestPolicyReachesOnlyTheTenantsBucket(t *testing.T) {
	s := spec()
	var doc struct {
		Statement []struct {
			Effect    string
			Action    []string
			Resource  []string
			Condition map[string]map[string][]string
		}
	}
	if err := json.Unmarshal(s.Policy(), &doc); err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{
		"arn:aws:s3:::" + s.Namespace: true, "arn:aws:s3:::" + s.Namespace + "/*": true,
		"arn:aws:s3:::model-center/" + s.Namespace + "/*": true,
	}
	for _, st := range doc.Statement {
		if st.Effect != "Allow" {
			t.Errorf("statement %+v", st)
		}
		for _, r := range st.Resource {
			switch {
			case allowed[r]:
			case r == "arn:aws:s3:::model-center":
				// Listing the model center's bucket, only under the prefix.
				if strings.Join(st.Action, ",") != "s3:ListBucket" || strings.Join(st.Condition["StringLike"]["s3:prefix"], ",") != s.Namespace+"/*" {
					t.Errorf("the model center's bucket: %+v", st)
				}
			default:
				t.Errorf("the policy reaches %s", r)
			}
		}
	}
}

func TestRender(t *testing.T) {
	s := spec()
	s.QuotaGPU, s.QuotaCPU, s.QuotaMemory = 2, "16", "64Gi"
	objs := Render(s)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
		if o.GetKind() != "Namespace" && o.GetNamespace() != s.Namespace {
			t.Errorf("%s %s is in namespace %q, not the tenant's", o.GetKind(), o.GetName(), o.GetNamespace())
		}
	}
	for kind, n := range map[string]int{"Namespace": 1, "NetworkPolicy": 3, "ResourceQuota": 1, "LimitRange": 1, "RoleBinding": 3, "ServiceAccount": 1, "Secret": 1} {
		if kinds[kind] != n {
			t.Errorf("%d %s objects, want %d", kinds[kind], kind, n)
		}
	}
	if objs[0].GetKind() != "Namespace" {
		t.Errorf("the namespace is not first")
	}
	ns, ok := FromNamespace(objs[0])
	if !ok || ns.Email != s.Email || ns.AccessKey != s.AccessKey || ns.RedisDB != 2 {
		t.Errorf("FromNamespace = %+v, %v", ns, ok)
	}
	if l := objs[0].GetLabels(); l["pod-security.kubernetes.io/enforce"] != "baseline" || l["pod-security.kubernetes.io/warn"] != "restricted" {
		t.Errorf("namespace labels %v", l)
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "RoleBinding":
			subj, _, _ := unstructuredSlice(o.Object, "subjects")
			if o.GetName() == "jupyterhub-spawner" {
				// The hub starts notebooks here, with the spawner role only.
				role, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
				if len(subj) != 1 || subj[0].(map[string]any)["name"] != HubAccount || subj[0].(map[string]any)["namespace"] != HubNamespace || role != NotebookSpawnerRole {
					t.Errorf("RoleBinding %s: subjects %v, role %s; want the hub's account and %s", o.GetName(), subj, role, NotebookSpawnerRole)
				}
				continue
			}
			// The tenant and their notebooks' account, the same rights.
			if len(subj) != 2 || subj[0].(map[string]any)["name"] != s.Email || subj[0].(map[string]any)["kind"] != "User" ||
				subj[1].(map[string]any)["name"] != NotebookAccount || subj[1].(map[string]any)["kind"] != "ServiceAccount" || subj[1].(map[string]any)["namespace"] != s.Namespace {
				t.Errorf("RoleBinding %s subjects %v; want user %s and service account %s/%s", o.GetName(), subj, s.Email, s.Namespace, NotebookAccount)
			}
		case "Secret":
			data := o.Object["data"].(map[string]any)
			if data["access-key"] == nil || data["secret-key"] == nil || data["bucket"] == nil {
				t.Errorf("Secret data keys %v", data)
			}
		}
	}
	// Without quotas, no quota and no limits.
	s.QuotaGPU, s.QuotaCPU, s.QuotaMemory = 0, "", ""
	for _, o := range Render(s) {
		if o.GetKind() == "ResourceQuota" || o.GetKind() == "LimitRange" {
			t.Errorf("no quota was asked for, but %s is rendered", o.GetKind())
		}
	}
}

func TestRedisDatabases(t *testing.T) {
	db, err := FreeDatabase(0, []int{2, 3})
	if err != nil || db != 4 {
		t.Errorf("FreeDatabase = %d, %v; want 4", db, err)
	}
	all := []int{}
	for i := 2; i < RedisDatabases; i++ {
		all = append(all, i)
	}
	if _, err := FreeDatabase(0, all); err == nil {
		t.Error("every database taken: want an error")
	}
	u, err := MetaURL("redis://:p%40ss@redis.kubeflow:6379/0", 5)
	if err != nil || u != "redis://:p%40ss@redis.kubeflow:6379/5" {
		t.Errorf("MetaURL = %q, %v", u, err)
	}
	if _, err := MetaURL("redis://redis:6379", 5); err == nil {
		t.Error("a URL without a database: want an error")
	}
}

func TestDexPassword(t *testing.T) {
	u := RenderDexPassword("Alice@Example.com", []byte("$2a$10$hash"))
	if errs := validation.IsDNS1123Subdomain(u.GetName()); len(errs) > 0 {
		t.Errorf("name %q: %v", u.GetName(), errs)
	}
	if u.GetName() != DexPasswordName("alice@example.com") || u.Object["email"] != "alice@example.com" {
		t.Errorf("dex keys the entry by the lowercase address: %v", u.Object)
	}
	if u.GetNamespace() != DexNamespace {
		t.Errorf("namespace %q", u.GetNamespace())
	}
}

func unstructuredSlice(obj map[string]any, field string) ([]any, bool, error) {
	v, ok := obj[field].([]any)
	return v, ok, nil
}
