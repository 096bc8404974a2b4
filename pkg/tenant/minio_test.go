package tenant_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/madmin-go/v3"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/modelstore"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/tenant"
)

// s3As returns a client of the server acting with the given keys.
func s3As(t *testing.T, endpoint, access, secret string) *minio.Client {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(access, secret, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func spec(email, secret string) tenant.Spec {
	ns := tenant.NamespaceFor(email)
	return tenant.Spec{Email: email, Namespace: ns, AccessKey: ns, SecretKey: secret, MetaURL: "redis://redis.kubeflow:6379/2", RedisDB: 2}
}

// denied fails the test unless err is S3's AccessDenied.
func denied(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: allowed, want AccessDenied", what)
		return
	}
	// S3 and MinIO's admin API spell their errors apart.
	code := minio.ToErrorResponse(err).Code
	if code == "" {
		code = madmin.ToErrorResponse(err).Code
	}
	if code != "AccessDenied" {
		t.Errorf("%s: %v (code %q), want AccessDenied", what, err, code)
	}
}

func put(ctx context.Context, c *minio.Client, bucket, key, data string) error {
	_, err := c.PutObject(ctx, bucket, key, strings.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	return err
}

func get(ctx context.Context, c *minio.Client, bucket, key string) ([]byte, error) {
	obj, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	return io.ReadAll(obj)
}

func list(ctx context.Context, c *minio.Client, bucket, prefix string) ([]string, error) {
	var keys []string
	for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return keys, o.Err
		}
		keys = append(keys, o.Key)
	}
	return keys, nil
}

// The MinIO users `tenant add` makes, on a real MinIO server: each
// tenant's keys reach their own bucket and nothing else; the root keys
// are used to make them and are never in a tenant's Secret.
func TestMinIOUsersReachOnlyTheirOwnBucket(t *testing.T) {
	srv := testenv.MinIO(t)
	ctx := context.Background()
	adm, err := tenant.NewMinIO(srv.Endpoint, srv.RootUser, srv.RootPassword)
	if err != nil {
		t.Fatal(err)
	}
	a, b := spec("alice@example.com", "secret-of-alice-0123456789"), spec("bob@example.com", "secret-of-bob-0123456789")
	for _, s := range []tenant.Spec{a, b, a} { // a second Ensure changes nothing
		if err := adm.Ensure(ctx, s); err != nil {
			t.Fatalf("Ensure %s: %v", s, err)
		}
	}
	root := s3As(t, srv.Endpoint, srv.RootUser, srv.RootPassword)
	if err := root.MakeBucket(ctx, "platform", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct{ bucket, key string }{{b.Bucket(), "datasets/bob.txt"}, {"platform", "root.txt"}} {
		if err := put(ctx, root, o.bucket, o.key, "not alice's"); err != nil {
			t.Fatal(err)
		}
	}
	alice := s3As(t, srv.Endpoint, a.AccessKey, a.SecretKey)

	// Her own bucket: write, read back, list, delete.
	if err := put(ctx, alice, a.Bucket(), "datasets/alice.txt", "alice's"); err != nil {
		t.Fatalf("alice writes her bucket: %v", err)
	}
	if got, err := get(ctx, alice, a.Bucket(), "datasets/alice.txt"); err != nil || string(got) != "alice's" {
		t.Fatalf("alice reads her bucket: %q, %v", got, err)
	}
	if keys, err := list(ctx, alice, a.Bucket(), ""); err != nil || len(keys) != 1 || keys[0] != "datasets/alice.txt" {
		t.Fatalf("alice lists her bucket: %v, %v", keys, err)
	}

	// Bob's bucket and the platform's: no listing, reading, writing or
	// deleting.
	for _, bucket := range []string{b.Bucket(), "platform"} {
		_, err := list(ctx, alice, bucket, "")
		denied(t, "alice lists "+bucket, err)
		_, err = get(ctx, alice, bucket, map[string]string{b.Bucket(): "datasets/bob.txt", "platform": "root.txt"}[bucket])
		denied(t, "alice reads "+bucket, err)
		denied(t, "alice writes "+bucket, put(ctx, alice, bucket, "from-alice.txt", "x"))
		denied(t, "alice deletes from "+bucket, alice.RemoveObject(ctx, bucket, "datasets/bob.txt", minio.RemoveObjectOptions{}))
	}
	// The root of the store: no new buckets, no one else's bucket seen.
	denied(t, "alice makes a bucket", alice.MakeBucket(ctx, "alice-extra", minio.MakeBucketOptions{}))
	buckets, err := alice.ListBuckets(ctx)
	if err == nil {
		for _, bk := range buckets {
			if bk.Name != a.Bucket() {
				t.Errorf("alice's bucket list shows %s", bk.Name)
			}
		}
	} else {
		denied(t, "alice lists the buckets", err)
	}
	// No admin API: she cannot make herself a wider policy.
	u, _ := url.Parse(srv.Endpoint)
	aliceAdmin, err := madmin.New(u.Host, a.AccessKey, a.SecretKey, false)
	if err != nil {
		t.Fatal(err)
	}
	denied(t, "alice makes a MinIO user", aliceAdmin.AddUser(ctx, "mallory", "secret-of-mallory-0123"))
	denied(t, "alice widens her policy", aliceAdmin.AddCannedPolicy(ctx, a.PolicyName(), []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::*"]}]}`)))

	// The model center: her area (NAMESPACE/) of its bucket through
	// modelhub's store with her keys; not bob's area, not the bucket's root.
	if err := put(ctx, root, modelhub.Bucket, "shared.txt", "the platform's"); err != nil {
		t.Fatal(err)
	}
	if err := put(ctx, root, modelhub.Bucket, b.ModelPrefix()+"bobs/v1/model.json", "{}"); err != nil {
		t.Fatal(err)
	}
	st, err := modelstore.New(modelstore.Config{Endpoint: srv.Endpoint, AccessKey: a.AccessKey, SecretKey: a.SecretKey, Prefix: a.ModelPrefix()})
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "ppocr.tar.gz")
	if err := os.WriteFile(archive, []byte("alice's model"), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := modelhub.Ref{Model: "ppocr", Version: "v1"}
	if _, err := st.Push(ctx, ref, archive, modelstore.PushOptions{}); err != nil {
		t.Fatalf("alice pushes a model: %v", err)
	}
	if _, err := st.Tag(ctx, ref, "latest", false); err != nil {
		t.Fatalf("alice tags her model: %v", err)
	}
	if vs, err := st.List(ctx, ""); err != nil || len(vs) != 1 || vs[0].Model != "ppocr" || len(vs[0].Tags) != 1 {
		t.Fatalf("alice lists her models: %+v, %v", vs, err)
	}
	if _, _, err := st.Pull(ctx, modelhub.Ref{Model: "ppocr", Version: "latest"}, t.TempDir()); err != nil {
		t.Fatalf("alice pulls her model: %v", err)
	}
	if keys, err := list(ctx, root, modelhub.Bucket, a.ModelPrefix()); err != nil || len(keys) != 4 {
		t.Errorf("her area holds %v, %v; want the archive and record of v1 and latest", keys, err)
	}
	_, err = list(ctx, alice, modelhub.Bucket, "")
	denied(t, "alice lists the model center's root", err)
	_, err = list(ctx, alice, modelhub.Bucket, b.ModelPrefix())
	denied(t, "alice lists bob's models", err)
	_, err = get(ctx, alice, modelhub.Bucket, b.ModelPrefix()+"bobs/v1/model.json")
	denied(t, "alice reads bob's model", err)
	_, err = get(ctx, alice, modelhub.Bucket, "shared.txt")
	denied(t, "alice reads the model center's root", err)
	denied(t, "alice writes bob's models", put(ctx, alice, modelhub.Bucket, b.ModelPrefix()+"evil/v1/model.json", "{}"))
	denied(t, "alice writes the model center's root", put(ctx, alice, modelhub.Bucket, "evil.txt", "x"))
	// A store of the whole bucket with her keys is refused, not empty.
	whole, err := modelstore.New(modelstore.Config{Endpoint: srv.Endpoint, AccessKey: a.AccessKey, SecretKey: a.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if vs, err := whole.List(ctx, ""); err == nil {
		t.Errorf("alice lists the whole model center: %+v", vs)
	}

	// Bob's keys reach his bucket, and not hers.
	bob := s3As(t, srv.Endpoint, b.AccessKey, b.SecretKey)
	if got, err := get(ctx, bob, b.Bucket(), "datasets/bob.txt"); err != nil || string(got) != "not alice's" {
		t.Fatalf("bob reads his bucket: %q, %v", got, err)
	}
	_, err = get(ctx, bob, a.Bucket(), "datasets/alice.txt")
	denied(t, "bob reads alice's bucket", err)

	// The Secret the tenant's pods read holds their keys, never the root's.
	for _, o := range tenant.Render(a) {
		if o.GetKind() != "Secret" || o.GetName() != paddle.DataCenterSecret {
			continue
		}
		for k, v := range o.Object["data"].(map[string]any) {
			s, _ := v.(string)
			for _, secret := range []string{srv.RootUser, srv.RootPassword} {
				if strings.Contains(s, secret) || bytes.Contains(decode(t, s), []byte(secret)) {
					t.Errorf("data-center Secret key %s holds a root key", k)
				}
			}
		}
	}

	// Removing alice takes her keys away; without purge her bucket stays.
	if err := adm.Remove(ctx, a, false); err != nil {
		t.Fatal(err)
	}
	_, err = get(ctx, alice, a.Bucket(), "datasets/alice.txt")
	if code := minio.ToErrorResponse(err).Code; code != "InvalidAccessKeyId" {
		t.Errorf("a removed tenant's keys: %v (code %q), want InvalidAccessKeyId", err, code)
	}
	if got, err := get(ctx, root, a.Bucket(), "datasets/alice.txt"); err != nil || string(got) != "alice's" {
		t.Errorf("removed without purge, her data: %q, %v", got, err)
	}
	if err := adm.Remove(ctx, b, true); err != nil {
		t.Fatal(err)
	}
	if ok, err := root.BucketExists(ctx, b.Bucket()); err != nil || ok {
		t.Errorf("purged, bob's bucket exists: %v, %v", ok, err)
	}
	if keys, err := list(ctx, root, modelhub.Bucket, b.ModelPrefix()); err != nil || len(keys) != 0 {
		t.Errorf("purged, bob's models remain: %v, %v", keys, err)
	}
	if keys, err := list(ctx, root, modelhub.Bucket, a.ModelPrefix()); err != nil || len(keys) != 4 {
		t.Errorf("removed without purge, her models: %v, %v", keys, err)
	}
}

func decode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("Secret data %q is not base64: %v", s, err)
	}
	return b
}
