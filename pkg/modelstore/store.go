// Package modelstore reads and writes the model center over the S3 API with
// minio-go: versioned archives and their model.json records in the
// model-center bucket, laid out as pkg/modelhub describes.
package modelstore

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/paddleflow/paddlex/pkg/modelhub"
)

// Config says how to reach the model center.
type Config struct {
	// Endpoint is the S3 API's URL, http:// or https://.
	Endpoint  string
	AccessKey string
	SecretKey string
	// Region defaults to us-east-1, which MinIO accepts.
	Region string
	// Progress, when set, receives progress bars for uploads and downloads.
	Progress io.Writer
	// MaxRetries bounds the client's retries of failed requests (default 3).
	MaxRetries int
	// Now stamps pushed versions; nil means time.Now.
	Now func() time.Time
	// Prefix is where in the bucket this model center's keys live: a
	// tenant's own area (NAMESPACE/), the only part their keys reach.
	// Empty: the whole bucket.
	Prefix string
}

// Store is the model center.
type Store struct {
	client   *minio.Client
	endpoint string
	progress io.Writer
	now      func() time.Time
	prefix   string
}

// key is the object key of a model center key under the store's prefix.
func (s *Store) key(k string) string { return s.prefix + k }

// New returns a Store for cfg; it makes no request.
func New(cfg Config) (*Store, error) {
	if err := modelhub.ValidateEndpoint("--endpoint", cfg.Endpoint); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.Endpoint)
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       cfg.Region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   cfg.MaxRetries,
	})
	if err != nil {
		return nil, exit.UsageErrorf("--endpoint %s: %v", cfg.Endpoint, err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.Prefix != "" && !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	return &Store{client: c, endpoint: cfg.Endpoint, progress: cfg.Progress, now: now, prefix: cfg.Prefix}, nil
}

// Endpoint is the S3 API's URL the store talks to.
func (s *Store) Endpoint() string { return s.endpoint }

// PushOptions describe a push.
type PushOptions struct {
	// Force overwrites an existing version.
	Force     bool
	Source    string
	Framework string
	Labels    map[string]string
}

// Push uploads the archive at file as ref and then its model.json record,
// so a version without a record is one whose upload did not finish. An
// existing version is refused (exit 2) unless opts.Force.
func (s *Store) Push(ctx context.Context, ref modelhub.Ref, file string, opts PushOptions) (*modelhub.Metadata, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, exit.UsageErrorf("--from-file: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, exit.UsageErrorf("--from-file: %v", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, exit.UsageErrorf("--from-file %s is not a regular file", file)
	}
	if err := s.ensureBucket(ctx); err != nil {
		return nil, err
	}
	if existing, err := s.record(ctx, ref); err != nil && !isNotFound(err) {
		return nil, s.classify(err, "check "+ref.String())
	} else if err == nil && !opts.Force {
		what := "version"
		if existing.TagOf != "" {
			what = "tag of " + existing.TagOf
		}
		return nil, exit.UsageErrorf("model %s already exists (a %s) and versions are immutable: push another version, or overwrite it with --force", ref, what)
	} else if err != nil {
		// A record may be missing after an interrupted push: the archive
		// alone does not make a version, but it must not be overwritten
		// silently either.
		if _, serr := s.client.StatObject(ctx, modelhub.Bucket, s.key(modelhub.ArchiveKey(ref.Model, ref.Version)), minio.StatObjectOptions{}); serr == nil && !opts.Force {
			return nil, exit.UsageErrorf("model %s has an archive without a model.json record (an interrupted push?): overwrite it with --force", ref)
		}
	}
	// One pass over the file: the bytes are hashed as they are read for
	// the upload. The reader is sequential, so minio-go reads the parts in
	// order into NumThreads buffers and uploads them in parallel.
	_, partSize, _, err := minio.OptimalPartInfo(fi.Size(), 0)
	if err != nil {
		return nil, exit.UsageErrorf("--from-file %s: %v", file, err)
	}
	h := sha256.New()
	read := &counter{r: io.TeeReader(f, h)}
	bar := newBar(s.progress, "push "+ref.String(), fi.Size())
	_, err = s.client.PutObject(ctx, modelhub.Bucket, s.key(modelhub.ArchiveKey(ref.Model, ref.Version)), read, fi.Size(), minio.PutObjectOptions{
		ContentType: "application/gzip", Progress: bar,
		ConcurrentStreamParts: true, NumThreads: pushThreads, PartSize: uint64(partSize),
	})
	bar.finish(err == nil)
	if err != nil {
		return nil, s.classify(err, "upload "+ref.String())
	}
	if read.n != fi.Size() {
		return nil, fmt.Errorf("read %s: %d bytes uploaded, but it had %d when the push began: was it changed meanwhile? push it again", file, read.n, fi.Size())
	}
	meta := &modelhub.Metadata{
		Model: ref.Model, Version: ref.Version,
		SHA256: hex.EncodeToString(h.Sum(nil)), Size: fi.Size(),
		Created: s.now().UTC().Truncate(time.Second),
		Source:  opts.Source, Framework: opts.Framework, Labels: opts.Labels,
	}
	if err := s.putRecord(ctx, meta); err != nil {
		return nil, err
	}
	return meta, nil
}

// Get returns the record of ref.
func (s *Store) Get(ctx context.Context, ref modelhub.Ref) (*modelhub.Metadata, error) {
	m, err := s.record(ctx, ref)
	if isNotFound(err) {
		return nil, s.notFound(ref)
	}
	if err != nil {
		return nil, s.classify(err, "read "+ref.String())
	}
	return m, nil
}

// Version is a version's record with the tags that point to it.
type Version struct {
	modelhub.Metadata
	Tags []string `json:"tags,omitempty"`
}

// List returns every version of model, or of every model when model is
// empty, sorted by model then creation time. Tags are folded into the
// versions they point to.
func (s *Store) List(ctx context.Context, model string) ([]Version, error) {
	prefix := ""
	if model != "" {
		prefix = modelhub.ModelPrefix(model)
	}
	var records []*modelhub.Metadata
	for obj := range s.client.ListObjects(ctx, modelhub.Bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if obj.Err != nil {
			if isNoBucket(obj.Err) {
				return nil, nil
			}
			return nil, s.classify(obj.Err, "list "+modelhub.Bucket)
		}
		parts := strings.Split(strings.TrimPrefix(obj.Key, s.prefix), "/")
		if len(parts) != 3 || parts[2] != modelhub.MetadataFile {
			continue
		}
		ref := modelhub.Ref{Model: parts[0], Version: parts[1]}
		m, err := s.record(ctx, ref)
		if isNotFound(err) {
			continue // deleted while listing
		}
		if err != nil {
			return nil, s.classify(err, "read "+ref.String())
		}
		// The key, not the record's text, is the truth of where it lives.
		m.Model, m.Version = ref.Model, ref.Version
		records = append(records, m)
	}
	byVersion := map[string]*Version{}
	var out []*Version
	for _, m := range records {
		if m.TagOf == "" {
			v := &Version{Metadata: *m}
			byVersion[m.Model+":"+m.Version] = v
			out = append(out, v)
		}
	}
	for _, m := range records {
		if m.TagOf == "" {
			continue
		}
		if v, ok := byVersion[m.Model+":"+m.TagOf]; ok {
			v.Tags = append(v.Tags, m.Version)
			continue
		}
		out = append(out, &Version{Metadata: *m}) // a tag whose version is gone
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.Version < b.Version
	})
	res := make([]Version, len(out))
	for i, v := range out {
		sort.Strings(v.Tags)
		res[i] = *v
	}
	return res, nil
}

// Pull downloads ref into dir as <model>.tar.gz, verifying its sha256
// against the record; on a mismatch nothing is left in dir and the error
// exits 1.
func (s *Store) Pull(ctx context.Context, ref modelhub.Ref, dir string) (string, *modelhub.Metadata, error) {
	m, err := s.Get(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, exit.UsageErrorf("-o %s: %v", dir, err)
	}
	obj, err := s.client.GetObject(ctx, modelhub.Bucket, s.key(modelhub.ArchiveKey(ref.Model, ref.Version)), minio.GetObjectOptions{})
	if err != nil {
		return "", nil, s.classify(err, "download "+ref.String())
	}
	defer obj.Close()
	tmp, err := os.CreateTemp(dir, "."+modelhub.ArchiveName(ref.Model)+".*.partial")
	if err != nil {
		return "", nil, exit.UsageErrorf("-o %s: %v", dir, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	h := sha256.New()
	bar := newBar(s.progress, "pull "+ref.String(), m.Size)
	n, err := io.Copy(io.MultiWriter(tmp, h, bar), obj)
	bar.finish(err == nil)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if isNotFound(err) {
			return "", nil, exit.FailedErrorf("model %s has a record but no archive: push it again with --force", ref)
		}
		return "", nil, s.classify(err, "download "+ref.String())
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != m.SHA256 || n != m.Size {
		return "", nil, exit.FailedErrorf("model %s is corrupt: downloaded %d bytes with sha256 %s, but its record says %d bytes with sha256 %s; nothing was written to %s",
			ref, n, got, m.Size, m.SHA256, dir)
	}
	dst := filepath.Join(dir, modelhub.ArchiveName(ref.Model))
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", nil, err
	}
	return dst, m, nil
}

// ServingConfigFiles are the files of a converted model that declare its
// feed and fetch variables, the client's first: paddle_serving_client.convert
// writes both, with the same variables.
var ServingConfigFiles = []string{"serving_client_conf.prototxt", "serving_server_conf.prototxt"}

// maxServingConfig bounds a serving configuration file read from an archive.
const maxServingConfig = 1 << 20

// ServingConfig reads the serving configuration of ref from its archive,
// reading the archive only as far as that file, which convert writes
// beside the model's (much larger) parameters.
func (s *Store) ServingConfig(ctx context.Context, ref modelhub.Ref) ([]byte, *modelhub.Metadata, error) {
	m, err := s.Get(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	version := ref.Version
	if m.TagOf != "" {
		version = m.TagOf
	}
	obj, err := s.client.GetObject(ctx, modelhub.Bucket, s.key(modelhub.ArchiveKey(ref.Model, version)), minio.GetObjectOptions{})
	if err != nil {
		return nil, nil, s.classify(err, "download "+ref.String())
	}
	defer obj.Close()
	gz, err := gzip.NewReader(obj)
	if err != nil {
		if isNotFound(err) {
			return nil, nil, exit.FailedErrorf("model %s has a record but no archive: push it again with --force", ref)
		}
		return nil, nil, exit.FailedErrorf("model %s: its archive is not a gzip file: %v", ref, err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	var server []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, exit.FailedErrorf("model %s: reading its archive: %v", ref, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		switch path.Base(h.Name) {
		case ServingConfigFiles[0]:
			b, err := io.ReadAll(io.LimitReader(tr, maxServingConfig))
			return b, m, err
		case ServingConfigFiles[1]:
			if server, err = io.ReadAll(io.LimitReader(tr, maxServingConfig)); err != nil {
				return nil, nil, err
			}
		}
	}
	if server != nil {
		return server, m, nil
	}
	return nil, nil, exit.FailedErrorf("model %s: its archive holds no %s or %s: it was not converted for Paddle Serving (paddle_serving_client.convert)",
		ref, ServingConfigFiles[0], ServingConfigFiles[1])
}

// Delete removes ref's archive and record. Deleting a version also removes
// the tags that point to it; their names are returned.
func (s *Store) Delete(ctx context.Context, ref modelhub.Ref) ([]string, error) {
	m, err := s.record(ctx, ref)
	if isNotFound(err) {
		// An archive without a record (an interrupted push) is removable too.
		if _, serr := s.client.StatObject(ctx, modelhub.Bucket, s.key(modelhub.ArchiveKey(ref.Model, ref.Version)), minio.StatObjectOptions{}); serr != nil {
			if isNotFound(serr) {
				return nil, s.notFound(ref)
			}
			return nil, s.classify(serr, "delete "+ref.String())
		}
		m = &modelhub.Metadata{Model: ref.Model, Version: ref.Version}
	} else if err != nil {
		return nil, s.classify(err, "delete "+ref.String())
	}
	var tags []string
	if m.TagOf == "" {
		versions, err := s.List(ctx, ref.Model)
		if err != nil {
			return nil, err
		}
		for _, v := range versions {
			if v.Version == ref.Version {
				tags = v.Tags
			}
		}
	}
	for _, t := range tags {
		if err := s.remove(ctx, modelhub.Ref{Model: ref.Model, Version: t}); err != nil {
			return nil, err
		}
	}
	return tags, s.remove(ctx, ref)
}

// Tag points tag at ref, as a container tag: the archive is copied on the
// server to <model>/<tag>/, so the download URL of the tag works like that
// of a version, and the record says which version it is. A tag moves
// freely; a version is never overwritten unless force.
func (s *Store) Tag(ctx context.Context, ref modelhub.Ref, tag string, force bool) (*modelhub.Metadata, error) {
	if tag == ref.Version {
		return nil, exit.UsageErrorf("cannot tag %s as itself", ref)
	}
	src, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	if src.TagOf != "" { // tagging a tag tags its version
		ref.Version = src.TagOf
		if src, err = s.Get(ctx, ref); err != nil {
			return nil, err
		}
	}
	dst := modelhub.Ref{Model: ref.Model, Version: tag}
	if old, err := s.record(ctx, dst); err == nil && old.TagOf == "" && !force {
		return nil, exit.UsageErrorf("%s is a version, not a tag, and versions are immutable: choose another tag, or overwrite it with --force", dst)
	} else if err != nil && !isNotFound(err) {
		return nil, s.classify(err, "read "+dst.String())
	}
	_, err = s.client.CopyObject(ctx,
		minio.CopyDestOptions{Bucket: modelhub.Bucket, Object: s.key(modelhub.ArchiveKey(dst.Model, dst.Version))},
		minio.CopySrcOptions{Bucket: modelhub.Bucket, Object: s.key(modelhub.ArchiveKey(ref.Model, ref.Version))})
	if err != nil {
		return nil, s.classify(err, "tag "+ref.String())
	}
	rec := *src
	rec.Version, rec.TagOf = tag, ref.Version
	if err := s.putRecord(ctx, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

func (s *Store) remove(ctx context.Context, ref modelhub.Ref) error {
	// The record goes first: a version without one is not listed.
	for _, key := range []string{s.key(modelhub.MetadataKey(ref.Model, ref.Version)), s.key(modelhub.ArchiveKey(ref.Model, ref.Version))} {
		if err := s.client.RemoveObject(ctx, modelhub.Bucket, key, minio.RemoveObjectOptions{}); err != nil && !isNotFound(err) {
			return s.classify(err, "delete "+ref.String())
		}
	}
	return nil
}

func (s *Store) record(ctx context.Context, ref modelhub.Ref) (*modelhub.Metadata, error) {
	obj, err := s.client.GetObject(ctx, modelhub.Bucket, s.key(modelhub.MetadataKey(ref.Model, ref.Version)), minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	data, err := io.ReadAll(io.LimitReader(obj, 1<<20))
	if err != nil {
		return nil, err
	}
	m, err := modelhub.ParseMetadata(data)
	if err != nil {
		return nil, exit.FailedErrorf("model %s: %v", ref, err)
	}
	return m, nil
}

func (s *Store) putRecord(ctx context.Context, m *modelhub.Metadata) error {
	data := m.Marshal()
	_, err := s.client.PutObject(ctx, modelhub.Bucket, s.key(modelhub.MetadataKey(m.Model, m.Version)), bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/json"})
	if err != nil {
		return s.classify(err, "write the record of "+modelhub.Ref{Model: m.Model, Version: m.Version}.String())
	}
	return nil
}

func (s *Store) ensureBucket(ctx context.Context) error {
	if s.prefix != "" {
		// A tenant's area of the platform's bucket, which `paddlex tenant
		// add` made; their keys may not look at the bucket itself.
		return nil
	}
	ok, err := s.client.BucketExists(ctx, modelhub.Bucket)
	if err != nil {
		return s.classify(err, "check bucket "+modelhub.Bucket)
	}
	if ok {
		return nil
	}
	if err := s.client.MakeBucket(ctx, modelhub.Bucket, minio.MakeBucketOptions{}); err != nil {
		code := minio.ToErrorResponse(err).Code
		if code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			return nil
		}
		return s.classify(err, "create bucket "+modelhub.Bucket)
	}
	return nil
}

func (s *Store) notFound(ref modelhub.Ref) error {
	return exit.FailedErrorf("model %s not found in %s/%s: see `paddlex modelhub versions %s`", ref, s.endpoint, modelhub.Bucket+"/"+strings.TrimSuffix(s.prefix, "/"), ref.Model)
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	switch minio.ToErrorResponse(err).Code {
	case "NoSuchKey", "NoSuchBucket", "NotFound":
		return true
	}
	return false
}

func isNoBucket(err error) bool { return minio.ToErrorResponse(err).Code == "NoSuchBucket" }

// classify turns a client error into one with the documented exit code:
// refused credentials and an unreachable endpoint are missing
// preconditions (4). Keys never appear in messages.
func (s *Store) classify(err error, what string) error {
	if err == nil {
		return nil
	}
	var ee *exit.Error
	if errors.As(err, &ee) {
		return err
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken", "AuthorizationHeaderMalformed":
		return exit.PreconditionErrorf("%s: the model center at %s refused the credentials (%s): set --s3-access-key/--s3-secret-key, PADDLEX_S3_ACCESS_KEY/PADDLEX_S3_SECRET_KEY, or the keys in the data-center Secret",
			what, s.endpoint, resp.Code)
	}
	if unreachable(err) {
		return exit.PreconditionErrorf("%s: cannot reach the model center at %s: %v (set --endpoint to an address this machine can reach)", what, s.endpoint, rootCause(err))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return exit.TimeoutErrorf("%s: %v", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func unreachable(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	var ue *url.Error
	return errors.As(err, &op) || errors.As(err, &dns) || (errors.As(err, &ue) && !errors.Is(err, context.Canceled))
}

func rootCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns
	}
	return err
}

// Reachable reports whether a TCP connection to the endpoint's host opens
// within timeout.
func Reachable(ctx context.Context, endpoint string, timeout time.Duration) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return err
	}
	return c.Close()
}

// pushThreads is how many parts of an archive upload at once; each holds a
// part-sized buffer (16 MiB up to 160 GiB archives).
const pushThreads = 4

// counter counts the bytes read through it.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
