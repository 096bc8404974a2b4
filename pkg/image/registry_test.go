package image_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/image"
)

// TestPullPushRealRegistry pulls a tagged image, a multi-platform index and
// an image pinned by digest from one real registry on loopback (as a
// mirror of their own registries) into a layout, and pushes the layout to
// a second one, where each resolves by tag and by the same digest.
func TestPullPushRealRegistry(t *testing.T) {
	mirror, target := testenv.Registry(t), testenv.Registry(t)+"/mirror"
	ctx := context.Background()
	anon := authn.NewMultiKeychain()

	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(1024, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	pd, _ := pinned.Digest()
	refs := []string{"redis:7.4.2", "quay.io/argoproj/argoexec:v3.7.9", "gcr.io/knative-releases/queue@" + pd.String()}
	seed := func(ref string, write func(name.Reference) error) {
		r, err := name.ParseReference(image.Registry(mirror).Rewrite(ref))
		if err == nil {
			err = write(r)
		}
		if err != nil {
			t.Fatalf("seed %s: %v", ref, err)
		}
	}
	seed(refs[0], func(r name.Reference) error { return remote.Write(r, img) })
	seed(refs[1], func(r name.Reference) error { return remote.WriteIndex(r, idx) })
	seed(refs[2], func(r name.Reference) error { return remote.Write(r, pinned) })

	dir := filepath.Join(t.TempDir(), "layout")
	var lines []string
	_, err = image.Pull(ctx, dir, refs[:1], image.PullOptions{From: image.Registry(mirror), MaxSize: 1024, Keychain: anon})
	var tl *image.TooLargeError
	if !errors.As(err, &tl) || tl.Ref != "redis:7.4.2" || tl.Size < 8192 {
		t.Fatalf("a cap below the image's size: %v", err)
	}
	stored, err := image.Pull(ctx, dir, refs, image.PullOptions{From: image.Registry(mirror), MaxSize: 1 << 20, Keychain: anon,
		Progress: func(s string) { lines = append(lines, s) }})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i, s := range stored {
		want[s.Ref] = s.Digest
		if s.Ref != refs[i] || s.Size <= 0 {
			t.Errorf("stored %+v", s)
		}
	}
	d0, _ := img.Digest()
	di, _ := idx.Digest()
	if want[refs[0]] != d0.String() || want[refs[1]] != di.String() || want[refs[2]] != pd.String() {
		t.Errorf("digests %v", want)
	}
	if !strings.Contains(stored[1].MediaType, "index") {
		t.Errorf("the index was stored as %s", stored[1].MediaType)
	}
	if len(lines) != 3 || !strings.Contains(lines[0], "pulling redis:7.4.2 from "+mirror+"/library/redis:7.4.2 (1/3, ") {
		t.Errorf("progress %q", lines)
	}
	if err := image.Verify(dir, want); err != nil {
		t.Errorf("verify: %v", err)
	}

	// A layout whose image differs from the index's record is refused
	// before anything is pushed.
	bad := map[string]string{refs[0]: pd.String()}
	if _, err := image.Push(ctx, dir, image.Registry(target), bad, image.PushOptions{Keychain: anon}); err == nil || !strings.Contains(err.Error(), "the bundle's index records") {
		t.Errorf("a mismatched layout: %v", err)
	}
	if _, err := remote.Head(mustRef(t, target+"/library/redis:7.4.2")); err == nil {
		t.Error("the refused push reached the registry")
	}

	pushed, err := image.Push(ctx, dir, image.Registry(target), want, image.PushOptions{Keychain: anon})
	if err != nil {
		t.Fatal(err)
	}
	if len(pushed) != 3 {
		t.Fatalf("pushed %v", pushed)
	}
	for _, p := range pushed {
		if p.Target != image.Registry(target).Rewrite(p.Source) {
			t.Errorf("%s went to %s", p.Source, p.Target)
		}
		on := image.Parse(p.Target)
		for _, ref := range []string{on.Host + "/" + on.Path + "@" + want[p.Source], p.Target} {
			d, err := remote.Head(mustRef(t, ref))
			if err != nil || d.Digest.String() != want[p.Source] {
				t.Errorf("%s: %v %v", ref, d, err)
			}
		}
	}
	// Every platform of the index came along.
	ii, err := remote.Index(mustRef(t, target+"/argoproj/argoexec:v3.7.9"))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := ii.IndexManifest()
	for _, m := range im.Manifests {
		if _, err := remote.Head(mustRef(t, target+"/argoproj/argoexec@"+m.Digest.String())); err != nil {
			t.Errorf("platform image %s: %v", m.Digest, err)
		}
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
