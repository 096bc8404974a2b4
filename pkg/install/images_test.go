package install_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/pkg/image"
	"github.com/paddleflow/paddlex/pkg/install"
)

// testLayout writes two random images into a new OCI image layout, named
// as Pull names them.
func testLayout(t *testing.T) (string, []image.Stored) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	var stored []image.Stored
	for _, ref := range []string{"quay.io/argoproj/argoexec:v3.7.9", "redis:7.4.2"} {
		img, err := random.Image(256, 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{image.AnnotationName: ref})); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		mt, _ := img.MediaType()
		stored = append(stored, image.Stored{Ref: ref, Digest: d.String(), MediaType: string(mt)})
	}
	return dir, stored
}

func TestBundleImagesRoundTrip(t *testing.T) {
	manifest := []byte("kind: ConfigMap\napiVersion: v1\nmetadata: {name: a, namespace: default}\n")
	srv, _ := artifactServer(t, map[string][]byte{"/a/install.yaml": manifest})
	comps := []*install.Component{{Name: "alpha", Version: "v1", Sources: []install.Source{{URL: srv.URL + "/a/install.yaml"}}}}
	lay, stored := testLayout(t)
	imgs := &install.BundleImages{Layout: lay, Stored: stored}
	ctx := context.Background()

	check := func(what string, b *install.Bundle) {
		t.Helper()
		if got := b.ImageDigests(); len(got) != 2 || got["redis:7.4.2"] != stored[1].Digest {
			t.Errorf("%s: index images %v", what, got)
		}
		if data, _, ok := b.File("alpha/install.yaml"); !ok || !bytes.Equal(data, manifest) {
			t.Errorf("%s: artifact missing", what)
		}
		dir, done, err := b.ImageLayout(t.TempDir())
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer done()
		idx, err := layout.ImageIndexFromPath(dir)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		im, _ := idx.IndexManifest()
		if len(im.Manifests) != 2 {
			t.Fatalf("%s: layout holds %d images", what, len(im.Manifests))
		}
		for i, d := range im.Manifests {
			if d.Annotations[image.AnnotationName] != stored[i].Ref || d.Digest.String() != stored[i].Digest {
				t.Errorf("%s: layout entry %d is %s %s", what, i, d.Annotations[image.AnnotationName], d.Digest)
			}
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			ls, _ := img.Layers()
			for _, l := range ls {
				rc, err := l.Compressed()
				if err != nil {
					t.Fatalf("%s: layer of %s: %v", what, stored[i].Ref, err)
				}
				rc.Close()
			}
		}
	}

	// An archive: the images are streamed into it and unpacked on demand.
	archive := filepath.Join(t.TempDir(), "bundle.tgz")
	out, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := install.WriteBundle(ctx, out, &install.Fetcher{CacheDir: t.TempDir()}, comps, imgs)
	out.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Images) != 2 {
		t.Errorf("index images: %+v", idx.Images)
	}
	b, err := install.OpenBundle(archive)
	if err != nil {
		t.Fatal(err)
	}
	check("archive", b)
	tmp := t.TempDir()
	dir, done, err := b.ImageLayout(tmp)
	if err != nil {
		t.Fatal(err)
	}
	done()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the unpacked layout %s outlived done: %v", dir, err)
	}

	// A directory: the same tree, unpacked; the layout is read in place.
	bdir := t.TempDir()
	if err := os.Rename(lay, filepath.Join(bdir, install.BundleImagesDir)); err != nil {
		t.Fatal(err)
	}
	if _, err := install.WriteBundleDir(ctx, bdir, &install.Fetcher{CacheDir: t.TempDir()}, comps, &install.BundleImages{Layout: filepath.Join(bdir, install.BundleImagesDir), Stored: stored}); err != nil {
		t.Fatal(err)
	}
	b, err = install.OpenBundle(bdir)
	if err != nil {
		t.Fatal(err)
	}
	check("directory", b)
	got, err := (&install.Fetcher{Bundle: b}).FetchAll(ctx, comps)
	if err != nil || !bytes.Equal(got["alpha"][0], manifest) {
		t.Errorf("fetch from a bundle directory: %v", err)
	}

	// A bundle without images says how to make one with them.
	plain := &bytes.Buffer{}
	if _, err := install.WriteBundle(ctx, plain, &install.Fetcher{CacheDir: t.TempDir()}, comps, nil); err != nil {
		t.Fatal(err)
	}
	b, err = install.ReadBundle(plain)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.ImageLayout(t.TempDir()); err == nil || !strings.Contains(err.Error(), "--images") {
		t.Errorf("no images: %v", err)
	}
}

// TestMoveImagesPinsArgoExecutor: under --image-registry the workflow
// controller is told its executor image, on the registry; without it the
// release manifest is applied as published.
func TestMoveImagesPinsArgoExecutor(t *testing.T) {
	var argo *install.Component
	for _, c := range install.Default().Components {
		if c.Name == "argo-workflows" {
			argo = c
		}
	}
	controller := func() *unstructured.Unstructured {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(`apiVersion: apps/v1
kind: Deployment
metadata: {name: workflow-controller, namespace: argo}
spec:
  template:
    spec:
      containers:
      - name: workflow-controller
        image: quay.io/argoproj/workflow-controller:v3.7.9
        command: [workflow-controller]
        args: []
`), &m); err != nil {
			t.Fatal(err)
		}
		return &unstructured.Unstructured{Object: m}
	}
	obj := controller()
	if err := install.MoveImages([]install.Rendered{{Component: argo, Objects: []*unstructured.Unstructured{obj}}}, ""); err != nil {
		t.Fatal(err)
	}
	if args, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers"); len(args[0].(map[string]any)["args"].([]any)) != 0 {
		t.Errorf("no registry changed the controller: %v", args)
	}
	const reg = image.Registry("mirror.example:5000/paddlex")
	if err := install.MoveImages([]install.Rendered{{Component: argo, Objects: []*unstructured.Unstructured{obj}}}, reg); err != nil {
		t.Fatal(err)
	}
	got := image.List([]*unstructured.Unstructured{obj})
	want := []string{"mirror.example:5000/paddlex/argoproj/argoexec:v3.7.9", "mirror.example:5000/paddlex/argoproj/workflow-controller:v3.7.9"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("images %v, want %v", got, want)
	}
	// A manifest that names its executor keeps it (moved onto the registry).
	obj = controller()
	cs, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
	cs[0].(map[string]any)["args"] = []any{"--executor-image=quay.io/argoproj/argoexec:v3.7.8"}
	_ = unstructured.SetNestedSlice(obj.Object, cs, "spec", "template", "spec", "containers")
	if err := install.MoveImages([]install.Rendered{{Component: argo, Objects: []*unstructured.Unstructured{obj}}}, reg); err != nil {
		t.Fatal(err)
	}
	cs, _, _ = unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
	if args := cs[0].(map[string]any)["args"].([]any); len(args) != 1 || args[0] != "--executor-image=mirror.example:5000/paddlex/argoproj/argoexec:v3.7.8" {
		t.Errorf("args %v", args)
	}
}
