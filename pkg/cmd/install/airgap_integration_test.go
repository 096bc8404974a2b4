package install_test

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/image"
	"github.com/paddleflow/paddlex/pkg/install"
)

// TestAirGapBundlePushInstall runs the air-gap flow with two real
// registries on loopback: the images `install images` lists (built here,
// small, and served by the first registry as a mirror of their own
// registries) go into a bundle with --images; the install from that bundle
// pushes them to the second registry and applies the real Argo release
// with --image-registry; the applied objects name the second registry's
// images, and it serves every one by digest.
func TestAirGapBundlePushInstall(t *testing.T) {
	e := testenv.Get(t)
	mirror := testenv.Registry(t)
	target := testenv.Registry(t) + "/paddlex"
	dir, _ := realManifestsDir(t)
	work := t.TempDir()
	// The install unpacks the bundle's images under TMPDIR: the test's own.
	tmp := filepath.Join(work, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", tmp)
	profile := []string{"--profile", "standalone", "--components", "argo-workflows"}
	run := func(args ...string) testenv.Result {
		r := e.Run(t, args...)
		t.Logf("paddlex %s\n%s", strings.Join(args, " "), r)
		return r
	}

	r := run(append([]string{"install", "images", "--manifests-dir", dir, "--artifact-cache", filepath.Join(work, "cache")}, profile...)...)
	if r.Code != 0 {
		t.Fatalf("install images: %s", r)
	}
	refs := strings.Fields(r.Stdout)
	if !slices.Contains(refs, "quay.io/argoproj/argoexec:v3.7.9") || !slices.Contains(refs, "quay.io/argoproj/workflow-controller:v3.7.9") {
		t.Fatalf("install images lacks Argo's images: %v", refs)
	}
	// The mirror holds each image as MIRROR/PATH:TAG; the executor is a
	// multi-platform index, as Argo publishes it.
	for _, ref := range refs {
		if image.Parse(ref).Digest != "" {
			t.Fatalf("%s is pinned by digest: this test builds its images and cannot make one with that digest", ref)
		}
		dst, err := name.ParseReference(image.Registry(mirror).Rewrite(ref))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(ref, "argoexec") {
			idx, err := random.Index(2048, 2, 2)
			if err == nil {
				err = remote.WriteIndex(dst, idx)
			}
			if err != nil {
				t.Fatalf("seed the mirror with %s: %v", ref, err)
			}
			continue
		}
		img, err := random.Image(2048, 2)
		if err == nil {
			err = remote.Write(dst, img)
		}
		if err != nil {
			t.Fatalf("seed the mirror with %s: %v", ref, err)
		}
	}

	bundleArgs := append([]string{"install", "bundle", "--images", "--images-from", mirror, "--manifests-dir", dir,
		"--artifact-cache", filepath.Join(work, "cache")}, profile...)
	// A cap below an image's size stops the bundle before any layer is
	// downloaded, and writes nothing.
	capped := filepath.Join(work, "capped.tgz")
	r = run(append(bundleArgs, "--max-image-size", "1Ki", "-o", capped)...)
	if r.Code != exit.Precondition || !strings.Contains(r.Stderr, "--max-image-size") || !strings.Contains(r.Stderr, "over the cap of 1.0 KiB") {
		t.Errorf("a capped bundle: %s", r)
	}
	if leftover, _ := filepath.Glob(filepath.Join(work, "*capped*")); len(leftover) > 0 {
		t.Errorf("a refused bundle left %v", leftover)
	}

	bundle := filepath.Join(work, "bundle.tgz")
	r = run(append(bundleArgs, "-o", bundle)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "images (") || !strings.Contains(r.Stderr, "pulling quay.io/argoproj/argoexec:v3.7.9 from "+mirror+"/argoproj/argoexec:v3.7.9") {
		t.Fatalf("install bundle --images: %s", r)
	}
	b, err := install.OpenBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	want := b.ImageDigests()
	if len(want) != len(refs) {
		t.Fatalf("the bundle holds %d images, install images lists %d", len(want), len(refs))
	}
	for _, im := range b.Index.Images {
		src, _ := name.ParseReference(image.Registry(mirror).Rewrite(im.Ref))
		d, err := remote.Head(src)
		if err != nil || d.Digest.String() != im.Digest {
			t.Errorf("bundle records %s as %s; the mirror serves %v (%v)", im.Ref, im.Digest, d, err)
		}
		if strings.Contains(im.Ref, "argoexec") && !strings.Contains(im.MediaType, "index") {
			t.Errorf("the executor was bundled as %s, not its index", im.MediaType)
		}
	}
	r = run(append([]string{"install", "bundle", "--verify", "-o", bundle, "--require-checksums=false"}, profile...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "images verified") {
		t.Errorf("install bundle --verify: %s", r)
	}
	if leftover, _ := filepath.Glob(filepath.Join(work, ".bundle.tgz.images-*")); len(leftover) > 0 {
		t.Errorf("bundle left its image layout behind: %v", leftover)
	}

	t.Cleanup(func() {
		if r := e.Run(t, "uninstall", "--purge", "--timeout", "3m"); r.Code != 0 {
			t.Errorf("uninstall --purge: %s", r)
		}
	})
	r = run(append([]string{"--image-registry", target, "install-standalone", "--from-bundle", bundle, "--timeout", "4m"}, profile[2:]...)...)
	if r.Code != 0 {
		t.Fatalf("install --from-bundle --image-registry: %s", r)
	}
	if !strings.Contains(r.Stderr, "pushed "+strconv.Itoa(len(want))+" images to "+target) {
		t.Errorf("install did not report the push:\n%s", r.Stderr)
	}
	// The applied objects name the target's images, the executor too.
	ctrl := mustGet(t, e, deployGVK, "argo", "workflow-controller")
	cs, _, _ := unstructured.NestedSlice(ctrl.Object, "spec", "template", "spec", "containers")
	c := cs[0].(map[string]any)
	if c["image"] != target+"/argoproj/workflow-controller:v3.7.9" {
		t.Errorf("workflow-controller runs %v", c["image"])
	}
	args, _, _ := unstructured.NestedStringSlice(c, "args")
	if i := slices.Index(args, "--executor-image"); i < 0 || i+1 >= len(args) || args[i+1] != target+"/argoproj/argoexec:v3.7.9" {
		t.Errorf("workflow-controller args %v: want --executor-image %s/argoproj/argoexec:v3.7.9", args, target)
	}
	applied := map[string]bool{}
	for _, d := range []string{"workflow-controller", "argo-server"} {
		for _, img := range image.List([]*unstructured.Unstructured{mustGet(t, e, deployGVK, "argo", d)}) {
			applied[img] = true
			if !strings.HasPrefix(img, target+"/") {
				t.Errorf("Deployment argo/%s runs %s, not from %s", d, img, target)
			}
		}
	}
	// The target serves every image of the bundle by its digest.
	for ref, digest := range want {
		on := image.Parse(image.Registry(target).Rewrite(ref))
		byDigest, err := name.NewDigest(on.Host + "/" + on.Path + "@" + digest)
		if err != nil {
			t.Fatal(err)
		}
		d, err := remote.Head(byDigest)
		if err != nil || d.Digest.String() != digest {
			t.Errorf("%s does not serve %s by digest: %v", target, ref, err)
		}
		delete(applied, image.Registry(target).Rewrite(ref))
	}
	if len(applied) > 0 {
		t.Errorf("applied images the bundle did not push: %v", applied)
	}
	// A re-run pushes again (the registry already has every blob) and
	// changes nothing in the cluster.
	r = run(append([]string{"--image-registry", target, "install-standalone", "--from-bundle", bundle, "--timeout", "3m"}, profile[2:]...)...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "nothing changed") {
		t.Errorf("re-run: %s", r)
	}
	if leftover, _ := filepath.Glob(filepath.Join(tmp, "*")); len(leftover) > 0 {
		t.Errorf("install left the unpacked images behind: %v", leftover)
	}
}
