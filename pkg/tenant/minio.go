package tenant

import (
	"context"
	"fmt"
	"net/url"

	"github.com/minio/madmin-go/v3"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/paddleflow/paddlex/pkg/modelhub"
)

// Admin makes and removes tenants' users in the object store.
type Admin interface {
	// Ensure makes (or updates) the tenant's user with its keys, its
	// policy reaching only its bucket, and the bucket.
	Ensure(ctx context.Context, s Spec) error
	// Remove removes the tenant's user and policy and, with purge, the
	// bucket and everything in it.
	Remove(ctx context.Context, s Spec, purge bool) error
}

// MinIO is Admin over MinIO's admin API, with the root keys. They are used
// here, from the admin's machine, and never stored in a tenant's Secret.
type MinIO struct {
	admin *madmin.AdminClient
	s3    *minio.Client
}

// NewMinIO returns the admin of the MinIO server at endpoint (http://HOST:PORT).
func NewMinIO(endpoint, accessKey, secretKey string) (*MinIO, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("MinIO endpoint %q is not a URL", endpoint)
	}
	secure := u.Scheme == "https"
	adm, err := madmin.New(u.Host, accessKey, secretKey, secure)
	if err != nil {
		return nil, err
	}
	cl, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(accessKey, secretKey, ""), Secure: secure})
	if err != nil {
		return nil, err
	}
	return &MinIO{admin: adm, s3: cl}, nil
}

// Ensure makes the tenant's bucket and the model center's (their keys may
// not make buckets), the policy and the user, and attaches the policy.
func (m *MinIO) Ensure(ctx context.Context, s Spec) error {
	for _, b := range []string{s.Bucket(), modelhub.Bucket} {
		ok, err := m.s3.BucketExists(ctx, b)
		if err != nil {
			return fmt.Errorf("MinIO: bucket %s: %w", b, err)
		}
		if !ok {
			if err := m.s3.MakeBucket(ctx, b, minio.MakeBucketOptions{}); err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
				return fmt.Errorf("MinIO: make bucket %s: %w", b, err)
			}
		}
	}
	if err := m.admin.AddCannedPolicy(ctx, s.PolicyName(), s.Policy()); err != nil {
		return fmt.Errorf("MinIO: policy %s: %w", s.PolicyName(), err)
	}
	if err := m.admin.AddUser(ctx, s.AccessKey, s.SecretKey); err != nil {
		return fmt.Errorf("MinIO: user %s: %w", s.AccessKey, err)
	}
	//nolint:staticcheck // SetPolicy replaces the user's policies, so a re-run is idempotent.
	if err := m.admin.SetPolicy(ctx, s.PolicyName(), s.AccessKey, false); err != nil {
		return fmt.Errorf("MinIO: attach policy %s to user %s: %w", s.PolicyName(), s.AccessKey, err)
	}
	return nil
}

// Remove removes the user and its policy; with purge, the bucket too.
func (m *MinIO) Remove(ctx context.Context, s Spec, purge bool) error {
	if s.AccessKey != "" {
		if err := m.admin.RemoveUser(ctx, s.AccessKey); err != nil && !notFound(err) {
			return fmt.Errorf("MinIO: remove user %s: %w", s.AccessKey, err)
		}
	}
	if err := m.admin.RemoveCannedPolicy(ctx, s.PolicyName()); err != nil && !notFound(err) {
		return fmt.Errorf("MinIO: remove policy %s: %w", s.PolicyName(), err)
	}
	if !purge {
		return nil
	}
	// Their models go with them.
	objs := m.s3.ListObjects(ctx, modelhub.Bucket, minio.ListObjectsOptions{Prefix: s.ModelPrefix(), Recursive: true})
	for e := range m.s3.RemoveObjects(ctx, modelhub.Bucket, objs, minio.RemoveObjectsOptions{}) {
		if e.Err != nil && !notFound(e.Err) && minio.ToErrorResponse(e.Err).Code != "NoSuchBucket" {
			return fmt.Errorf("MinIO: remove %s/%s: %w", modelhub.Bucket, e.ObjectName, e.Err)
		}
	}
	ok, err := m.s3.BucketExists(ctx, s.Bucket())
	if err != nil || !ok {
		return err
	}
	if err := m.s3.RemoveBucketWithOptions(ctx, s.Bucket(), minio.RemoveBucketOptions{ForceDelete: true}); err != nil {
		return fmt.Errorf("MinIO: remove bucket %s: %w", s.Bucket(), err)
	}
	return nil
}

func notFound(err error) bool {
	e := madmin.ToErrorResponse(err)
	switch e.Code {
	case "XMinioAdminNoSuchUser", "XMinioAdminNoSuchPolicy", "NoSuchBucket":
		return true
	}
	return false
}
