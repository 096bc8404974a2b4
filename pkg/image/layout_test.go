package image

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

func TestVerifyLayout(t *testing.T) {
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{AnnotationName: "redis:7.4.2"})); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{AnnotationName: "quay.io/a/b@sha256:x"})); err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := idx.Digest()
	want := map[string]string{"redis:7.4.2": d1.String(), "quay.io/a/b@sha256:x": d2.String()}
	if err := Verify(dir, want); err != nil {
		t.Fatalf("a good layout: %v", err)
	}
	if err := Verify(dir, map[string]string{"redis:7.4.2": d1.String(), "quay.io/a/b@sha256:x": d2.String(), "minio/minio:x": "sha256:0"}); err == nil || !strings.Contains(err.Error(), "no minio/minio:x") {
		t.Errorf("a missing image: %v", err)
	}
	// A layer of the index's second image, altered.
	im, _ := idx.IndexManifest()
	child, _ := idx.Image(im.Manifests[1].Digest)
	ls, _ := child.Layers()
	h, _ := ls[0].Digest()
	blob := filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
	data, _ := os.ReadFile(blob)
	data[0] ^= 0xff
	if err := os.WriteFile(blob, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Verify(dir, want); err == nil || !strings.Contains(err.Error(), "sha256 is") {
		t.Errorf("an altered layer: %v", err)
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{512: "512 B", 2048: "2.0 KiB", 20 << 30: "20.0 GiB"} {
		if got := HumanSize(n); got != want {
			t.Errorf("HumanSize(%d) = %s, want %s", n, got, want)
		}
	}
}
