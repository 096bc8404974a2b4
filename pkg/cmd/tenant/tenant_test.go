package tenant_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/madmin-go/v3"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paddleflow/paddlex/internal/testenv"
	tenantcmd "github.com/paddleflow/paddlex/pkg/cmd/tenant"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/tenant"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m, testenv.Options{})) }

// platform plays what `paddlex install` leaves for tenant commands: the
// kubeflow namespace with the data-center Secret (naming a Redis database)
// and MinIO's root keys, which a real MinIO server on loopback accepts.
// Each part is made only when asked for, and removed when the test ends.
type platform struct {
	e     *testenv.Env
	minio *testenv.MinIOServer
}

func newPlatform(t *testing.T, dataCenter, minioKeys bool) *platform {
	t.Helper()
	e := testenv.Get(t)
	p := &platform{e: e, minio: testenv.MinIO(t)}
	ctx := context.Background()
	cs := e.Clientset
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: install.PlatformNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	secrets := map[string]map[string]string{}
	if dataCenter {
		secrets[paddle.DataCenterSecret] = map[string]string{"metaurl": "redis://:redis-pw@redis.kubeflow:6379/0", "access-key": p.minio.RootUser, "secret-key": p.minio.RootPassword}
	}
	if minioKeys {
		secrets["minio-credentials"] = map[string]string{"accesskey": p.minio.RootUser, "secretkey": p.minio.RootPassword}
	}
	for name, data := range secrets {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: install.PlatformNamespace}, StringData: data}
		if _, err := cs.CoreV1().Secrets(install.PlatformNamespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cs.CoreV1().Secrets(install.PlatformNamespace).Delete(context.Background(), name, metav1.DeleteOptions{})
		})
	}
	return p
}

// run runs paddlex with MinIO's address from this machine.
func (p *platform) run(t *testing.T, args ...string) testenv.Result {
	t.Helper()
	if len(args) > 1 && args[0] == "tenant" && (args[1] == "add" || args[1] == "remove") && !strings.Contains(strings.Join(args, " "), "--minio-endpoint") {
		args = append(args, "--minio-endpoint", p.minio.Endpoint)
	}
	return p.e.Run(t, args...)
}

func (p *platform) admin(t *testing.T) *madmin.AdminClient {
	t.Helper()
	u, _ := url.Parse(p.minio.Endpoint)
	a, err := madmin.New(u.Host, p.minio.RootUser, p.minio.RootPassword, false)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// s3 is a client of the MinIO server with the given keys.
func (p *platform) s3(t *testing.T, access, secret string) *minio.Client {
	t.Helper()
	u, _ := url.Parse(p.minio.Endpoint)
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(access, secret, "")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// nothingApplied fails the test if a tenant namespace, a MinIO user or a
// bucket exists.
func (p *platform) nothingApplied(t *testing.T, what string) {
	t.Helper()
	ctx := context.Background()
	nss, err := p.e.Clientset.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: tenant.LabelTenant})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss.Items {
		t.Errorf("%s: namespace %s was made", what, ns.Name)
	}
	users, err := p.admin(t).ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for u := range users {
		t.Errorf("%s: MinIO user %s was made", what, u)
	}
	buckets, err := p.s3(t, p.minio.RootUser, p.minio.RootPassword).ListBuckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range buckets {
		t.Errorf("%s: bucket %s was made", what, b.Name)
	}
}

func expect(t *testing.T, r testenv.Result, code int, says ...string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("exit %d, want %d\n%s", r.Code, code, r)
	}
	for _, s := range says {
		if !strings.Contains(r.Stdout+r.Stderr, s) {
			t.Errorf("output lacks %q\n%s", s, r)
		}
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Bad input exits 2 naming the flag, and nothing is made: no namespace, no
// MinIO user, no bucket.
func TestAddRefusesBadInput(t *testing.T) {
	p := newPlatform(t, true, true)
	short := writeFile(t, "short\n")
	long := writeFile(t, strings.Repeat("p", 73)+"\n")
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"alice"}, "EMAIL"},
		{[]string{"alice@example.com", "--namespace", "Bad_NS"}, "--namespace"},
		{[]string{"alice@example.com", "--quota-gpu", "-1"}, "--quota-gpu"},
		{[]string{"alice@example.com", "--quota-cpu", "lots"}, "--quota-cpu"},
		{[]string{"alice@example.com", "--quota-memory", "0"}, "--quota-memory"},
		{[]string{"alice@example.com", "--password-file", filepath.Join(t.TempDir(), "missing")}, "--password-file"},
		{[]string{"alice@example.com", "--password-file", short}, "--password-file"},
		{[]string{"alice@example.com", "--password-file", long}, "--password-file"},
		{[]string{"alice@example.com", "--minio-endpoint", "ftp://minio"}, "--minio-endpoint"},
		// A namespace that is there and no tenant's is refused after
		// looking, still before anything is made.
		{[]string{"alice@example.com", "--namespace", "kube-system"}, "--namespace kube-system exists and is not a tenant's"},
	} {
		r := p.run(t, append([]string{"tenant", "add"}, tc.args...)...)
		expect(t, r, 2, tc.says)
		p.nothingApplied(t, strings.Join(tc.args, " "))
	}
	expect(t, p.e.Run(t, "tenant", "remove", "bob"), 2, "EMAIL")
	expect(t, p.e.Run(t, "tenant", "list", "-o", "table"), 2, "--output")
}

// A missing part of the platform exits 4 with the command that makes it,
// and nothing is made.
func TestAddNeedsThePlatform(t *testing.T) {
	t.Run("no data-center", func(t *testing.T) {
		p := newPlatform(t, false, true)
		expect(t, p.run(t, "tenant", "add", "alice@example.com"), 4, "paddlex install --components prerequisites")
		p.nothingApplied(t, "no data-center")
	})
	t.Run("no MinIO keys", func(t *testing.T) {
		p := newPlatform(t, true, false)
		expect(t, p.run(t, "tenant", "add", "alice@example.com"), 4, "paddlex install --components minio")
		p.nothingApplied(t, "no MinIO keys")
	})
	t.Run("MinIO unreachable", func(t *testing.T) {
		p := newPlatform(t, true, true)
		r := p.e.Run(t, "tenant", "add", "alice@example.com", "--minio-endpoint", "http://127.0.0.1:1")
		expect(t, r, 4, "cannot reach MinIO at http://127.0.0.1:1", "--minio-endpoint")
		p.nothingApplied(t, "MinIO unreachable")
	})
	t.Run("no dex", func(t *testing.T) {
		p := newPlatform(t, true, true)
		r := p.run(t, "tenant", "add", "alice@example.com", "--password-file", writeFile(t, "correct horse battery\n"))
		expect(t, r, 4, "dex's password database", "nothing was applied")
		p.nothingApplied(t, "no dex")
	})
	t.Run("not a tenant", func(t *testing.T) {
		p := newPlatform(t, true, true)
		expect(t, p.run(t, "tenant", "remove", "nobody@example.com"), 4, "is not a tenant", "paddlex tenant list")
	})
}

// dexPasswords stands in for the CRD dex's Kubernetes storage creates
// when dex starts: the kind its password database is kept in.
const dexPasswords = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: passwords.dex.coreos.com
spec:
  group: dex.coreos.com
  names: {kind: Password, listKind: PasswordList, plural: passwords, singular: password}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

// The whole life of two tenants against the real API server and a real
// MinIO server: add (with quota and login), add again, list, remove, and
// remove --purge.
func TestTenantLifecycle(t *testing.T) {
	p := newPlatform(t, true, true)
	e := p.e
	ctx := context.Background()
	e.Apply(t, "", dexPasswords)
	waitForKind(t, e)
	cs := e.Clientset
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant.DexNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	const password = "correct horse battery"
	pwFile := writeFile(t, password+"\n")

	r := p.run(t, "tenant", "add", "Alice@Example.com", "--password-file", pwFile, "--quota-gpu", "2", "--quota-cpu", "16", "--quota-memory", "64Gi")
	expect(t, r, 0, "tenant Alice@Example.com added: namespace kubeflow-alice-example-com", "signs in through dex")
	expect(t, p.run(t, "tenant", "add", "bob@example.com", "--namespace", "team-bob"), 0, "namespace team-bob")
	for _, out := range []string{r.Stdout, r.Stderr} {
		if strings.Contains(out, password) || strings.Contains(out, p.minio.RootPassword) {
			t.Errorf("a password or key was printed:\n%s", r)
		}
	}
	alice, bob := "kubeflow-alice-example-com", "team-bob"

	// The namespace, its quota and bindings, and keys that are the
	// tenant's own.
	ns, err := cs.CoreV1().Namespaces().Get(ctx, alice, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Labels["pod-security.kubernetes.io/enforce"] == "" || ns.Labels[tenant.LabelTenant] != "true" {
		t.Errorf("namespace labels %v", ns.Labels)
	}
	quota, err := cs.CoreV1().ResourceQuotas(alice).Get(ctx, "tenant-quota", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if q := quota.Spec.Hard["requests.nvidia.com/gpu"]; q.String() != "2" {
		t.Errorf("quota %v", quota.Spec.Hard)
	}
	if _, err := cs.CoreV1().ResourceQuotas(bob).Get(ctx, "tenant-quota", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("bob asked for no quota, yet: %v", err)
	}
	rb, err := cs.RbacV1().RoleBindings(alice).Get(ctx, "namespace-owner", metav1.GetOptions{})
	if err != nil || rb.Subjects[0].Name != "Alice@Example.com" {
		t.Fatalf("RoleBinding namespace-owner: %+v, %v", rb, err)
	}
	keys := func(ns string) (string, string) {
		t.Helper()
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, paddle.DataCenterSecret, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range s.Data {
			if strings.Contains(string(v), p.minio.RootUser) || strings.Contains(string(v), p.minio.RootPassword) {
				t.Errorf("Secret %s/%s key %s holds MinIO's root keys", ns, paddle.DataCenterSecret, k)
			}
		}
		if got := string(s.Data["metaurl"]); got == "redis://:redis-pw@redis.kubeflow:6379/0" || !strings.HasPrefix(got, "redis://:redis-pw@redis.kubeflow:6379/") {
			t.Errorf("tenant metaurl %q: want a Redis database of its own", got)
		}
		return string(s.Data["access-key"]), string(s.Data["secret-key"])
	}
	aliceAK, aliceSK := keys(alice)
	bobAK, bobSK := keys(bob)
	aliceS3, bobS3 := p.s3(t, aliceAK, aliceSK), p.s3(t, bobAK, bobSK)
	if _, err := aliceS3.PutObject(ctx, alice, "data.txt", strings.NewReader("alice"), 5, minio.PutObjectOptions{}); err != nil {
		t.Fatalf("alice's keys write her bucket: %v", err)
	}
	if _, err := bobS3.StatObject(ctx, alice, "data.txt", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "AccessDenied" {
		t.Errorf("bob's keys on alice's bucket: %v, want AccessDenied", err)
	}

	// The model center with a tenant's keys, read from their Secret:
	// their own area of it, which bob's keys do not see.
	model := filepath.Join(t.TempDir(), "ppocr.tar.gz")
	if err := os.WriteFile(model, []byte("alice's model"), 0o644); err != nil {
		t.Fatal(err)
	}
	expect(t, e.Run(t, "modelhub", "push", "ppocr:v1", "--from-file", model, "-n", alice, "--endpoint", p.minio.Endpoint), 0, "model ppocr:v1 pushed")
	expect(t, e.Run(t, "modelhub", "list", "-n", alice, "--endpoint", p.minio.Endpoint), 0, "ppocr", "v1")
	pulled := t.TempDir()
	expect(t, e.Run(t, "modelhub", "pull", "ppocr:v1", "-o", pulled, "-n", alice, "--endpoint", p.minio.Endpoint), 0, "verified")
	if got, _ := os.ReadFile(filepath.Join(pulled, "ppocr.tar.gz")); string(got) != "alice's model" {
		t.Errorf("pulled %q", got)
	}
	r = e.Run(t, "modelhub", "list", "-n", bob, "--endpoint", p.minio.Endpoint)
	expect(t, r, 0)
	if strings.Contains(r.Stdout, "ppocr") {
		t.Errorf("bob sees alice's model:\n%s", r)
	}
	expect(t, e.Run(t, "modelhub", "pull", "ppocr:v1", "-o", t.TempDir(), "-n", bob, "--endpoint", p.minio.Endpoint), 1, "not found")

	// dex's login holds a bcrypt hash of the password, not the password.
	login := e.Get(t, kube.ObjectRef{GVK: tenant.DexPasswordGVK, Namespace: tenant.DexNamespace, Name: tenant.DexPasswordName("alice@example.com")})
	if login == nil {
		t.Fatal("no dex login for alice")
	}
	hash, _ := base64.StdEncoding.DecodeString(login.Object["hash"].(string))
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		t.Errorf("dex's hash does not match the password file")
	}

	// Adding again keeps the keys; the quota becomes what the flags say.
	expect(t, p.run(t, "tenant", "add", "Alice@Example.com", "--quota-gpu", "4"), 0)
	if ak, sk := keys(alice); ak != aliceAK || sk != aliceSK {
		t.Error("adding the tenant again changed their keys")
	}
	expect(t, p.run(t, "tenant", "add", "alice@example.com", "--namespace", "team-alice"), 2, "already a tenant, in namespace "+alice)
	expect(t, p.run(t, "tenant", "add", "carol@example.com", "--namespace", bob), 2, "belongs to tenant bob@example.com")

	// list, as a table and as records.
	r = e.Run(t, "tenant", "list")
	expect(t, r, 0, "EMAIL", "Alice@Example.com", alice, "nvidia.com/gpu=4", "bob@example.com", bob, "<none>")
	r = e.Run(t, "tenant", "list", "-o", "json")
	expect(t, r, 0)
	var listed []tenantcmd.Listed
	if err := json.Unmarshal([]byte(r.Stdout), &listed); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.Stdout)
	}
	if len(listed) != 2 || listed[0].Email != "Alice@Example.com" || listed[0].Quota["nvidia.com/gpu"] != "4" || listed[0].Quota["cpu"] != "" || listed[0].Bucket != alice ||
		listed[1].Namespace != bob || listed[1].S3User != bobAK || listed[1].Quota != nil {
		t.Errorf("-o json = %+v", listed)
	}
	if strings.Contains(r.Stdout, aliceSK) || strings.Contains(r.Stdout, bobSK) {
		t.Error("list printed a secret key")
	}

	// remove: the access goes, the namespace and bucket stay.
	expect(t, p.run(t, "tenant", "remove", "bob@example.com"), 0, "no rights, keys or login remain", "--purge")
	for _, name := range []string{"namespace-owner", "namespace-owner-paddle"} {
		if _, err := cs.RbacV1().RoleBindings(bob).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("RoleBinding %s/%s after remove: %v", bob, name, err)
		}
	}
	if _, err := cs.CoreV1().Secrets(bob).Get(ctx, paddle.DataCenterSecret, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("bob's data-center Secret after remove: %v", err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(bob).Get(ctx, tenant.NotebookAccount, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("bob's notebook service account after remove: %v", err)
	}
	if ns, err := cs.CoreV1().Namespaces().Get(ctx, bob, metav1.GetOptions{}); err != nil || ns.Labels[tenant.LabelTenant] != tenant.Removed {
		t.Errorf("bob's namespace after remove: %v, %v", ns.Labels, err)
	}
	if _, err := bobS3.ListBuckets(ctx); minio.ToErrorResponse(err).Code != "InvalidAccessKeyId" {
		t.Errorf("bob's keys after remove: %v, want InvalidAccessKeyId", err)
	}
	root := p.s3(t, p.minio.RootUser, p.minio.RootPassword)
	if ok, err := root.BucketExists(ctx, bob); err != nil || !ok {
		t.Errorf("bob's bucket after remove without --purge: %v, %v", ok, err)
	}
	r = e.Run(t, "tenant", "list")
	expect(t, r, 0, "Alice@Example.com")
	if strings.Contains(r.Stdout, "bob@example.com") {
		t.Errorf("a removed tenant is listed:\n%s", r.Stdout)
	}

	// remove --purge: the namespace and the bucket with all in them, and
	// the login.
	expect(t, p.run(t, "tenant", "remove", "alice@example.com", "--purge"), 0, "bucket "+alice+" deleted, namespace "+alice+" deleting")
	if ns, err := cs.CoreV1().Namespaces().Get(ctx, alice, metav1.GetOptions{}); err == nil && ns.DeletionTimestamp == nil {
		t.Errorf("alice's namespace is not being deleted")
	}
	if ok, err := root.BucketExists(ctx, alice); err != nil || ok {
		t.Errorf("alice's bucket after --purge: %v, %v", ok, err)
	}
	if e.Get(t, kube.ObjectRef{GVK: tenant.DexPasswordGVK, Namespace: tenant.DexNamespace, Name: tenant.DexPasswordName("alice@example.com")}) != nil {
		t.Error("alice's dex login survived remove")
	}
	users, err := p.admin(t).ListUsers(ctx)
	if err != nil || len(users) != 0 {
		t.Errorf("MinIO users left: %v, %v", users, err)
	}
	r = e.Run(t, "tenant", "list")
	expect(t, r, 0, "No tenants")

	// A new tenant does not get the Redis database bob's kept namespace
	// holds; bob comes back into his namespace, with that database and
	// new keys.
	expect(t, p.run(t, "tenant", "add", "carol@example.com"), 0)
	if carol, bobs := metaURL(t, e, "kubeflow-carol-example-com"), metaURL(t, e, bob); carol == bobs {
		t.Errorf("carol got bob's Redis database: %s", carol)
	}
	bobsBefore := metaURL(t, e, bob)
	expect(t, p.run(t, "tenant", "remove", "carol@example.com", "--purge"), 0)
	expect(t, p.run(t, "tenant", "add", "bob@example.com", "--namespace", bob), 0)
	if got := metaURL(t, e, bob); got != bobsBefore {
		t.Errorf("bob came back with Redis database %s, not his %s", got, bobsBefore)
	}
	newAK, newSK := keys(bob)
	if newSK == bobSK {
		t.Errorf("bob came back with his old secret key (user %s)", newAK)
	}
	obj, err := p.s3(t, newAK, newSK).GetObject(ctx, bob, "nothing", minio.GetObjectOptions{})
	if err == nil {
		_, err = io.ReadAll(obj)
	}
	if code := minio.ToErrorResponse(err).Code; code != "NoSuchKey" {
		t.Errorf("bob's new keys on his bucket: %v (code %q), want NoSuchKey", err, code)
	}
	expect(t, p.run(t, "tenant", "remove", "bob@example.com", "--purge"), 0)
}

// waitForKind waits until the API server serves dex's Password kind.
func waitForKind(t *testing.T, e *testenv.Env) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := e.Kube().List(context.Background(), tenant.DexPasswordGVK, kube.ListOptions{Namespace: tenant.DexNamespace})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dex's Password kind is not served: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metaURL is the Redis database of a tenant's JuiceFS metadata, as recorded
// on their namespace.
func metaURL(t *testing.T, e *testenv.Env, ns string) string {
	t.Helper()
	n, err := e.Clientset.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n.Annotations[tenant.AnnotationRedisDB]
}
