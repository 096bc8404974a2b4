// Package s3test serves a real S3 API over HTTP on loopback for tests: the
// gofakes3 server on an in-memory backend, behind an AWS Signature V4 check
// of one key pair, so wrong keys are refused as a real S3 server refuses them.
package s3test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Keys the server accepts.
const (
	AccessKey = "paddlex-test"
	SecretKey = "paddlex-test-secret"
)

// Server is a running S3 server.
type Server struct {
	// Endpoint is the server's address, http://127.0.0.1:PORT.
	Endpoint  string
	AccessKey string
	SecretKey string
	// Backend holds the objects; tests write through it to bypass the API.
	Backend *s3mem.Backend

	srv *httptest.Server
}

// Start serves a new, empty S3 server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{AccessKey: AccessKey, SecretKey: SecretKey, Backend: s3mem.New()}
	fake := gofakes3.New(s.Backend, gofakes3.WithLogger(gofakes3.DiscardLog()))
	s.srv = httptest.NewServer(s.authenticate(fake.Server()))
	s.Endpoint = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Close stops the server, so its endpoint refuses connections.
func (s *Server) Close() { s.srv.Close() }

// Put writes an object directly into the backend, bypassing the API: the
// bucket is created if needed.
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	if err := s.Backend.CreateBucket(bucket); err != nil && !gofakes3.IsAlreadyExists(err) {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	if _, err := s.Backend.PutObject(bucket, key, map[string]string{}, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

// authenticate checks each request's AWS Signature V4 header against the
// server's key pair, answering as S3 does when it does not match.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if code, msg := s.verify(r); code != "" {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><Resource>%s</Resource></Error>`,
				code, msg, r.URL.Path)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) verify(r *http.Request) (code, msg string) {
	const algo = "AWS4-HMAC-SHA256"
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, algo+" ") {
		return "AccessDenied", "Access Denied."
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, algo+" "), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 {
		return "AuthorizationHeaderMalformed", "The authorization header is malformed."
	}
	if cred[0] != s.AccessKey {
		return "InvalidAccessKeyId", "The Access Key Id you provided does not exist in our records."
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	var headers strings.Builder
	for _, h := range signed {
		headers.WriteString(h + ":")
		if h == "host" {
			headers.WriteString(r.Host)
		} else {
			vals := r.Header.Values(h)
			for i, v := range vals {
				if i > 0 {
					headers.WriteByte(',')
				}
				headers.WriteString(strings.Join(strings.Fields(v), " "))
			}
		}
		headers.WriteByte('\n')
	}
	sort.Strings(signed)
	canonical := strings.Join([]string{
		r.Method,
		s3utils.EncodePath(r.URL.Path),
		strings.ReplaceAll(r.URL.Query().Encode(), "+", "%20"),
		headers.String(),
		strings.Join(signed, ";"),
		r.Header.Get("X-Amz-Content-Sha256"),
	}, "\n")
	scope := strings.Join(cred[1:], "/")
	sum := sha256.Sum256([]byte(canonical))
	toSign := strings.Join([]string{algo, r.Header.Get("X-Amz-Date"), scope, hex.EncodeToString(sum[:])}, "\n")
	key := []byte("AWS4" + s.SecretKey)
	for _, p := range cred[1:] {
		key = mac(key, p)
	}
	want := hex.EncodeToString(mac(key, toSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	}
	return "", ""
}

func mac(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}
