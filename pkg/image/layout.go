package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Annotations of an image's entry in a layout's index.json: containerd's
// full name (what `ctr import` reads) and the OCI reference name (the tag).
const (
	AnnotationName = "io.containerd.image.name"
	AnnotationRef  = "org.opencontainers.image.ref.name"
)

// Stored is one image written into an OCI image layout.
type Stored struct {
	// Ref is the image as the manifests name it.
	Ref string `json:"ref"`
	// Digest is the sha256 of its manifest (or index, for a multi-platform
	// image): the digest a registry serves it by.
	Digest string `json:"digest"`
	// MediaType is the manifest's media type.
	MediaType string `json:"mediaType"`
	// Size is the bytes of every blob the image needs: manifests, configs
	// and layers.
	Size int64 `json:"size"`
}

// TooLargeError reports an image over the size cap, before its layers are
// downloaded.
type TooLargeError struct {
	Ref       string
	Size, Max int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("image %s is %s, over the cap of %s", e.Ref, HumanSize(e.Size), HumanSize(e.Max))
}

// HumanSize writes n bytes in binary units.
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// PullOptions say where images come from and how much may be downloaded.
type PullOptions struct {
	// From, when set, is a mirror holding the images as FROM/PATH:TAG
	// (the layout --image-registry gives them); the layout still records
	// each image under its own name.
	From Registry
	// MaxSize caps each image's bytes (every platform of a
	// multi-platform image together); 0 means no cap.
	MaxSize int64
	// Keychain finds registry credentials (default: the Docker config, as
	// crane and docker read it).
	Keychain authn.Keychain
	// Progress hears one line per image.
	Progress func(string)
}

// Pull writes each image of refs, with every platform it is published
// for (so references pinned by digest keep resolving), into the OCI image
// layout at dir, creating it. Blobs shared between images are written once.
// An image over opts.MaxSize fails with a *TooLargeError before its layers
// are downloaded.
func Pull(ctx context.Context, dir string, refs []string, opts PullOptions) ([]Stored, error) {
	p, err := layoutAt(dir)
	if err != nil {
		return nil, err
	}
	kc := opts.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
	var out []Stored
	for i, ref := range refs {
		src := opts.From.Rewrite(ref)
		r, err := name.ParseReference(src)
		if err != nil {
			return out, fmt.Errorf("image %s: %w", ref, err)
		}
		desc, err := remote.Get(r, ropts...)
		if err != nil {
			return out, fmt.Errorf("pull %s: %w", src, err)
		}
		if want := Parse(ref).Digest; want != "" && desc.Digest.String() != want {
			return out, fmt.Errorf("pull %s: the registry serves %s, not the digest the reference pins", src, desc.Digest)
		}
		size, err := descSize(desc)
		if err != nil {
			return out, fmt.Errorf("pull %s: %w", src, err)
		}
		if opts.MaxSize > 0 && size > opts.MaxSize {
			return out, &TooLargeError{Ref: ref, Size: size, Max: opts.MaxSize}
		}
		if opts.Progress != nil {
			from := ""
			if src != ref {
				from = " from " + src
			}
			opts.Progress(fmt.Sprintf("pulling %s%s (%d/%d, %s)", ref, from, i+1, len(refs), HumanSize(size)))
		}
		ann := map[string]string{AnnotationName: ref}
		if tag := Parse(ref).Tag; tag != "" {
			ann[AnnotationRef] = tag
		}
		if desc.MediaType.IsIndex() {
			idx, err := desc.ImageIndex()
			if err == nil {
				err = p.AppendIndex(idx, layout.WithAnnotations(ann))
			}
			if err != nil {
				return out, fmt.Errorf("pull %s: %w", src, err)
			}
		} else {
			img, err := desc.Image()
			if err == nil {
				err = p.AppendImage(img, layout.WithAnnotations(ann))
			}
			if err != nil {
				return out, fmt.Errorf("pull %s: %w", src, err)
			}
		}
		out = append(out, Stored{Ref: ref, Digest: desc.Digest.String(), MediaType: string(desc.MediaType), Size: size})
	}
	return out, nil
}

// layoutAt opens the layout at dir, or makes an empty one.
func layoutAt(dir string) (layout.Path, error) {
	if p, err := layout.FromPath(dir); err == nil {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return layout.Write(dir, empty.Index)
}

// descSize adds up the blobs of an image or index: manifests, configs and
// layers, reading only manifests.
func descSize(desc *remote.Descriptor) (int64, error) {
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return 0, err
		}
		return indexSize(idx)
	}
	img, err := desc.Image()
	if err != nil {
		return 0, err
	}
	return imageSize(img)
}

func indexSize(idx v1.ImageIndex) (int64, error) {
	n, err := idx.Size()
	if err != nil {
		return 0, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return 0, err
	}
	for _, d := range im.Manifests {
		var s int64
		switch {
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return 0, err
			}
			s, err = indexSize(child)
			if err != nil {
				return 0, err
			}
		case d.MediaType.IsImage():
			child, err := idx.Image(d.Digest)
			if err != nil {
				return 0, err
			}
			s, err = imageSize(child)
			if err != nil {
				return 0, err
			}
		default:
			s = d.Size
		}
		n += s
	}
	return n, nil
}

func imageSize(img v1.Image) (int64, error) {
	n, err := img.Size()
	if err != nil {
		return 0, err
	}
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	n += m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}

// Pushed is one image copied from a layout to a registry.
type Pushed struct {
	Source, Target string
	Digest         string
}

// PushOptions say how images reach the registry.
type PushOptions struct {
	// Keychain finds registry credentials (default: the Docker config).
	Keychain authn.Keychain
	// Progress hears one line per image.
	Progress func(string)
}

// Push copies every image of the layout at dir onto reg, each as
// REGISTRY/PATH:TAG (Registry.Rewrite) with its manifest bytes unchanged,
// so its digest is the same there; want, when set, is the digest each
// image must have (the bundle's index), checked before anything is sent.
// Each image is then looked up on reg by digest.
func Push(ctx context.Context, dir string, reg Registry, want map[string]string, opts PushOptions) ([]Pushed, error) {
	if reg == "" {
		return nil, errors.New("push: no registry")
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("read the image layout %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read the image layout %s: %w", dir, err)
	}
	kc := opts.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	pusher, err := remote.NewPusher(remote.WithContext(ctx), remote.WithAuthFromKeychain(kc))
	if err != nil {
		return nil, err
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.Reuse(pusher)}
	var out []Pushed
	for i, d := range im.Manifests {
		src := d.Annotations[AnnotationName]
		if src == "" {
			return out, fmt.Errorf("image layout %s: entry %s has no %s annotation naming its image", dir, d.Digest, AnnotationName)
		}
		if w, ok := want[src]; ok && w != d.Digest.String() {
			return out, fmt.Errorf("image layout %s: %s is %s, but the bundle's index records %s", dir, src, d.Digest, w)
		}
		target, byDigest, err := pushRefs(reg, src, d.Digest)
		if err != nil {
			return out, err
		}
		if opts.Progress != nil {
			opts.Progress(fmt.Sprintf("pushing %s to %s (%d/%d)", src, target, i+1, len(im.Manifests)))
		}
		var t remote.Taggable
		switch {
		case d.MediaType.IsIndex():
			t, err = idx.ImageIndex(d.Digest)
		case d.MediaType.IsImage():
			t, err = idx.Image(d.Digest)
		default:
			err = fmt.Errorf("media type %s is neither an image nor an index", d.MediaType)
		}
		if err != nil {
			return out, fmt.Errorf("image layout %s: %s: %w", dir, src, err)
		}
		if err := pusher.Push(ctx, target, t); err != nil {
			return out, fmt.Errorf("push %s to %s: %w", src, target, err)
		}
		got, err := remote.Head(byDigest, ropts...)
		if err != nil {
			return out, fmt.Errorf("push %s: %s does not serve it by digest: %w", src, byDigest, err)
		}
		if got.Digest != d.Digest {
			return out, fmt.Errorf("push %s: %s serves %s", src, byDigest, got.Digest)
		}
		out = append(out, Pushed{Source: src, Target: reg.Rewrite(src), Digest: d.Digest.String()})
	}
	return out, nil
}

// pushRefs returns where src goes on reg: by tag when it has one, else by
// digest; and the by-digest reference that must then resolve.
func pushRefs(reg Registry, src string, digest v1.Hash) (name.Reference, name.Digest, error) {
	r := Parse(reg.Rewrite(src))
	repo := r.Host + "/" + r.Path
	byDigest, err := name.NewDigest(repo + "@" + digest.String())
	if err != nil {
		return nil, name.Digest{}, fmt.Errorf("image %s on %s: %w", src, reg, err)
	}
	if r.Tag == "" {
		return byDigest, byDigest, nil
	}
	tag, err := name.NewTag(repo + ":" + r.Tag)
	if err != nil {
		return nil, name.Digest{}, fmt.Errorf("image %s on %s: %w", src, reg, err)
	}
	return tag, byDigest, nil
}

// Verify checks the layout at dir against want (image → digest, the
// bundle's index): every image is there with that digest, and every blob
// it needs is present with its recorded size and sha256.
func Verify(dir string, want map[string]string) error {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return fmt.Errorf("read the image layout %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("read the image layout %s: %w", dir, err)
	}
	found := map[string]bool{}
	p := layout.Path(dir)
	for _, d := range im.Manifests {
		ref := d.Annotations[AnnotationName]
		if w, ok := want[ref]; !ok || w != d.Digest.String() {
			return fmt.Errorf("image layout: %s is %s, the index records %q", ref, d.Digest, w)
		}
		found[ref] = true
		if err := verifyBlobs(p, d); err != nil {
			return fmt.Errorf("image %s: %w", ref, err)
		}
	}
	for ref := range want {
		if !found[ref] {
			return fmt.Errorf("image layout: no %s", ref)
		}
	}
	return nil
}

// verifyBlobs checks the blob of d and, for a manifest or index, every blob
// it references.
func verifyBlobs(p layout.Path, d v1.Descriptor) error {
	data, err := verifyBlob(p, d, d.MediaType.IsImage() || d.MediaType.IsIndex())
	if err != nil {
		return err
	}
	switch {
	case d.MediaType.IsIndex():
		im, err := v1.ParseIndexManifest(bytes.NewReader(data))
		if err != nil {
			return err
		}
		for _, c := range im.Manifests {
			if err := verifyBlobs(p, c); err != nil {
				return err
			}
		}
	case d.MediaType.IsImage():
		m, err := v1.ParseManifest(bytes.NewReader(data))
		if err != nil {
			return err
		}
		for _, c := range append([]v1.Descriptor{m.Config}, m.Layers...) {
			if _, err := verifyBlob(p, c, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// verifyBlob hashes one blob against its descriptor, returning its bytes
// when keep is set (manifests; layers are streamed).
func verifyBlob(p layout.Path, d v1.Descriptor, keep bool) ([]byte, error) {
	rc, err := p.Blob(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	defer rc.Close()
	h := sha256.New()
	var buf bytes.Buffer
	w := io.Writer(h)
	if keep {
		w = io.MultiWriter(h, &buf)
	}
	n, err := io.Copy(w, rc)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	if n != d.Size {
		return nil, fmt.Errorf("blob %s: %d bytes, want %d", d.Digest, n, d.Size)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != d.Digest.String() {
		return nil, fmt.Errorf("blob %s: sha256 is %s", d.Digest, got)
	}
	return buf.Bytes(), nil
}
