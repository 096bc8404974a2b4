package modelstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/modelstore"
	"github.com/paddleflow/paddlex/pkg/modelstore/s3test"
)

func newStore(t *testing.T, srv *s3test.Server, secret string, progress *bytes.Buffer) *modelstore.Store {
	t.Helper()
	cfg := modelstore.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: secret, MaxRetries: 1}
	if progress != nil {
		cfg.Progress = progress
	}
	s, err := modelstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func archive(t *testing.T, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "model.tar.gz")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func ref(s string) modelhub.Ref {
	r, err := modelhub.ParseRef("M:V", s)
	if err != nil {
		panic(err)
	}
	return r
}

func TestPushListPullTagDelete(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	var progress bytes.Buffer
	st := newStore(t, srv, srv.SecretKey, &progress)

	f1, data1 := archive(t, 3<<20)
	m, err := st.Push(ctx, ref("ppocr-det:v1"), f1, modelstore.PushOptions{Source: "file://model.tar.gz", Framework: "PaddleOCR", Labels: map[string]string{"dataset": "icdar2015"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Size != int64(len(data1)) || len(m.SHA256) != 64 {
		t.Errorf("record = %+v", m)
	}
	if !strings.Contains(progress.String(), "push ppocr-det:v1") || !strings.Contains(progress.String(), "100%") {
		t.Errorf("no progress bar: %q", progress.String())
	}
	f2, data2 := archive(t, 1000)
	if _, err := st.Push(ctx, ref("ppocr-det:v2"), f2, modelstore.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Push(ctx, ref("ppocr-rec:v1"), f2, modelstore.PushOptions{}); err != nil {
		t.Fatal(err)
	}

	// Immutability.
	_, err = st.Push(ctx, ref("ppocr-det:v1"), f2, modelstore.PushOptions{})
	if exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("re-push: %v, want exit 2 naming --force", err)
	}

	all, err := st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].Model != "ppocr-det" || all[2].Model != "ppocr-rec" {
		t.Fatalf("list = %+v", all)
	}
	vs, err := st.List(ctx, "ppocr-det")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Version != "v1" || vs[0].Framework != "PaddleOCR" || vs[0].Labels["dataset"] != "icdar2015" || vs[1].Version != "v2" {
		t.Fatalf("versions = %+v", vs)
	}

	// Pull v1 and check the bytes.
	dir := t.TempDir()
	p, _, err := st.Pull(ctx, ref("ppocr-det:v1"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join(dir, "ppocr-det.tar.gz") {
		t.Errorf("path = %s", p)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, data1) {
		t.Error("pulled bytes differ")
	}

	// latest is a movable alias.
	if _, err := st.Tag(ctx, ref("ppocr-det:v1"), "latest", false); err != nil {
		t.Fatal(err)
	}
	pullLatest := func(want []byte) {
		t.Helper()
		d := t.TempDir()
		p, m, err := st.Pull(ctx, ref("ppocr-det"), d)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
			t.Errorf("latest (-> %s) has the wrong bytes", m.TagOf)
		}
	}
	pullLatest(data1)
	if _, err := st.Tag(ctx, ref("ppocr-det:v2"), "latest", false); err != nil {
		t.Fatal(err)
	}
	pullLatest(data2)
	vs, _ = st.List(ctx, "ppocr-det")
	if len(vs) != 2 || len(vs[1].Tags) != 1 || vs[1].Tags[0] != "latest" || len(vs[0].Tags) != 0 {
		t.Fatalf("tags not folded: %+v", vs)
	}
	// A version is not a tag to move.
	if _, err := st.Tag(ctx, ref("ppocr-det:v2"), "v1", false); exit.Code(err) != exit.Usage {
		t.Errorf("tag over a version: %v, want exit 2", err)
	}
	// The served URL of a tag is a real object.
	if _, err := srv.Backend.HeadObject(modelhub.Bucket, "ppocr-det/latest/ppocr-det.tar.gz"); err != nil {
		t.Errorf("latest archive: %v", err)
	}

	// Deleting v2 removes the tag that points to it.
	tags, err := st.Delete(ctx, ref("ppocr-det:v2"))
	if err != nil || len(tags) != 1 || tags[0] != "latest" {
		t.Fatalf("delete = %v, %v", tags, err)
	}
	vs, _ = st.List(ctx, "ppocr-det")
	if len(vs) != 1 || vs[0].Version != "v1" {
		t.Fatalf("after delete: %+v", vs)
	}
	if _, err := st.Delete(ctx, ref("ppocr-det:v2")); exit.Code(err) != exit.Failed || !strings.Contains(err.Error(), "not found") {
		t.Errorf("delete again: %v", err)
	}
	if _, _, err := st.Pull(ctx, ref("ppocr-det:v9"), t.TempDir()); exit.Code(err) != exit.Failed || !strings.Contains(err.Error(), "not found") {
		t.Errorf("pull missing: %v", err)
	}

	// --force overwrites.
	if _, err := st.Push(ctx, ref("ppocr-det:v1"), f2, modelstore.PushOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	p, _, err = st.Pull(ctx, ref("ppocr-det:v1"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, data2) {
		t.Error("forced push did not overwrite")
	}
}

func TestListEmpty(t *testing.T) {
	srv := s3test.Start(t)
	vs, err := newStore(t, srv, srv.SecretKey, nil).List(context.Background(), "")
	if err != nil || len(vs) != 0 {
		t.Fatalf("list on no bucket = %v, %v", vs, err)
	}
}

func TestCorruptDownload(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	st := newStore(t, srv, srv.SecretKey, nil)
	f, data := archive(t, 4096)
	if _, err := st.Push(ctx, ref("m:v1"), f, modelstore.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	bad := append([]byte{}, data...)
	bad[100] ^= 0xff
	srv.Put(t, modelhub.Bucket, "m/v1/m.tar.gz", bad)
	dir := t.TempDir()
	_, _, err := st.Pull(ctx, ref("m:v1"), dir)
	if exit.Code(err) != exit.Failed || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("corrupt pull: %v, want exit 1 about sha256", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("corrupt download left files: %v", entries)
	}
}

func TestWrongKey(t *testing.T) {
	srv := s3test.Start(t)
	st := newStore(t, srv, "not-the-secret", nil)
	f, _ := archive(t, 10)
	for name, call := range map[string]func() error{
		"push": func() error {
			_, err := st.Push(context.Background(), ref("m:v1"), f, modelstore.PushOptions{})
			return err
		},
		"list": func() error { _, err := st.List(context.Background(), ""); return err },
		"pull": func() error { _, _, err := st.Pull(context.Background(), ref("m:v1"), t.TempDir()); return err },
	} {
		err := call()
		if exit.Code(err) != exit.Precondition || !strings.Contains(err.Error(), "refused the credentials") {
			t.Errorf("%s with a wrong key: %v, want exit 4", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "not-the-secret") {
			t.Errorf("%s: the key leaked into the error", name)
		}
	}
}

func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	st, err := modelstore.New(modelstore.Config{Endpoint: "http://" + addr, AccessKey: "a", SecretKey: "b", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.List(context.Background(), "")
	if exit.Code(err) != exit.Precondition || !strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("unreachable: %v, want exit 4", err)
	}
	if err := modelstore.Reachable(context.Background(), "http://"+addr, time.Second); err == nil {
		t.Error("Reachable on a closed port")
	}
}
