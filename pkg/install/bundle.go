package install

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/pkg/image"
)

// BundleIndexName is the index file at the root of a bundle.
const BundleIndexName = "bundle.yaml"

// BundleImagesDir holds a bundle's container images: an OCI image layout.
const BundleImagesDir = "images"

// BundleIndex lists what a bundle holds.
type BundleIndex struct {
	Components []BundleComponent `json:"components"`
	// Images are the container images of the bundle's OCI image layout
	// (install bundle --images), with the digest each is pushed and pulled by.
	Images []image.Stored `json:"images,omitempty"`
}

// BundleComponent is one component's artifacts in a bundle.
type BundleComponent struct {
	Name      string           `json:"name"`
	Version   string           `json:"version"`
	Artifacts []BundleArtifact `json:"artifacts"`
}

// BundleArtifact is one file of a bundle, with the checksum of its bytes.
type BundleArtifact struct {
	URL    string `json:"url"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// Bundle is an opened bundle: its index and its artifacts in memory. Its
// images stay where they are (in the archive, or the directory of an
// unpacked bundle) until ImageLayout is asked for them.
type Bundle struct {
	Index BundleIndex
	files map[string][]byte
	sums  map[string]string
	// archive is the bundle file; dir the directory of an unpacked one.
	archive, dir string
}

// File returns the bytes and recorded checksum of the file at rel.
func (b *Bundle) File(rel string) ([]byte, string, bool) {
	data, ok := b.files[rel]
	return data, b.sums[rel], ok
}

// ImageDigests maps each image of the bundle to its recorded digest.
func (b *Bundle) ImageDigests() map[string]string {
	out := map[string]string{}
	for _, im := range b.Index.Images {
		out[im.Ref] = im.Digest
	}
	return out
}

// ImageLayout returns the directory of the bundle's OCI image layout. For
// an archive the layout is unpacked into a temporary directory under
// tmpDir (os.TempDir() when empty), which done removes.
func (b *Bundle) ImageLayout(tmpDir string) (dir string, done func(), err error) {
	if len(b.Index.Images) == 0 {
		return "", nil, errors.New("the bundle holds no images: write it with `paddlex install bundle --images`")
	}
	if b.dir != "" {
		return filepath.Join(b.dir, BundleImagesDir), func() {}, nil
	}
	tmp, err := os.MkdirTemp(tmpDir, "paddlex-bundle-images-")
	if err != nil {
		return "", nil, err
	}
	done = func() { os.RemoveAll(tmp) }
	f, err := os.Open(b.archive)
	if err != nil {
		done()
		return "", nil, err
	}
	defer f.Close()
	err = readArchive(f, func(name string, r io.Reader) error {
		rel, ok := strings.CutPrefix(name, BundleImagesDir+"/")
		if !ok {
			return nil
		}
		p := filepath.Join(tmp, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		_, werr := io.Copy(out, r)
		return errors.Join(werr, out.Close())
	})
	if err != nil {
		done()
		return "", nil, fmt.Errorf("unpack the bundle's images: %w", err)
	}
	return tmp, done, nil
}

// BundleImages are images already pulled into an OCI image layout, for
// WriteBundle to add.
type BundleImages struct {
	// Layout is the layout's directory.
	Layout string
	Stored []image.Stored
}

// WriteBundle fetches every artifact of comps and writes them, with an
// index of their checksums and the images of imgs (when not nil) under
// images/, as a gzipped tar to w. The archive is deterministic for the same
// inputs: sorted entries, no timestamps.
func WriteBundle(ctx context.Context, w io.Writer, f *Fetcher, comps []*Component, imgs *BundleImages) (*BundleIndex, error) {
	idx, files, err := bundleFiles(ctx, f, comps, imgs)
	if err != nil {
		return nil, err
	}
	// The images' files are streamed from the layout, not held in memory.
	layoutFiles := map[string]string{}
	if imgs != nil {
		err := filepath.WalkDir(imgs.Layout, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(imgs.Layout, p)
			if err != nil {
				return err
			}
			layoutFiles[BundleImagesDir+"/"+filepath.ToSlash(rel)] = p
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read the image layout: %w", err)
		}
	}
	names := make([]string, 0, len(files)+len(layoutFiles))
	for n := range files {
		names = append(names, n)
	}
	for n := range layoutFiles {
		names = append(names, n)
	}
	sort.Strings(names)
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	dirs := map[string]bool{}
	for _, n := range names {
		for _, d := range parents(n) {
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatPAX}); err != nil {
				return nil, err
			}
		}
		if data, ok := files[n]; ok {
			if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), Format: tar.FormatPAX}); err != nil {
				return nil, err
			}
			if _, err := tw.Write(data); err != nil {
				return nil, err
			}
			continue
		}
		if err := copyIntoTar(tw, n, layoutFiles[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return idx, gz.Close()
}

// WriteBundleDir writes what WriteBundle archives into dir, unpacked (the
// layout --manifests-dir and --from-bundle DIR read); imgs, when not nil,
// must already be pulled into dir/images.
func WriteBundleDir(ctx context.Context, dir string, f *Fetcher, comps []*Component, imgs *BundleImages) (*BundleIndex, error) {
	idx, files, err := bundleFiles(ctx, f, comps, imgs)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if n == BundleIndexName {
			continue
		}
		if err := writeAtomic(filepath.Join(dir, filepath.FromSlash(n)), files[n]); err != nil {
			return nil, err
		}
	}
	// The index goes last: a directory with an index is a complete bundle.
	return idx, writeAtomic(filepath.Join(dir, BundleIndexName), files[BundleIndexName])
}

// bundleFiles fetches the artifacts and builds the index.
func bundleFiles(ctx context.Context, f *Fetcher, comps []*Component, imgs *BundleImages) (*BundleIndex, map[string][]byte, error) {
	arts, err := f.FetchAll(ctx, comps)
	if err != nil {
		return nil, nil, err
	}
	idx := &BundleIndex{}
	files := map[string][]byte{}
	for _, c := range comps {
		bc := BundleComponent{Name: c.Name, Version: c.Version}
		for i, src := range c.Sources {
			rel := c.Name + "/" + src.FileName()
			if _, dup := files[rel]; dup {
				return nil, nil, fmt.Errorf("component %s: two sources named %s", c.Name, src.FileName())
			}
			files[rel] = arts[c.Name][i]
			bc.Artifacts = append(bc.Artifacts, BundleArtifact{URL: src.URL, Path: rel, SHA256: Sum(arts[c.Name][i])})
		}
		if len(bc.Artifacts) > 0 {
			idx.Components = append(idx.Components, bc)
		}
	}
	if imgs != nil {
		idx.Images = imgs.Stored
	}
	ib, err := yaml.Marshal(idx)
	if err != nil {
		return nil, nil, err
	}
	files[BundleIndexName] = ib
	return idx, files, nil
}

// parents lists the directories above a slash path, outermost first.
func parents(n string) []string {
	var out []string
	for d := path.Dir(n); d != "."; d = path.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}

func copyIntoTar(tw *tar.Writer, name, file string) error {
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: st.Size(), Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err = io.Copy(tw, in)
	return err
}

// readArchive calls fn with each regular file of a bundle archive.
func readArchive(r io.Reader, fn func(name string, r io.Reader) error) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("not a bundle (gzip): %w", err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read bundle: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(h.Name)
		if name == ".." || strings.HasPrefix(name, "../") || path.IsAbs(name) {
			return fmt.Errorf("read bundle: unsafe path %q", h.Name)
		}
		if err := fn(name, tr); err != nil {
			return fmt.Errorf("read bundle: %s: %w", name, err)
		}
	}
}

// ReadBundle opens a bundle written by WriteBundle. Its images are
// skipped: ImageLayout unpacks them when asked, from a bundle opened with
// OpenBundle.
func ReadBundle(r io.Reader) (*Bundle, error) {
	b := &Bundle{files: map[string][]byte{}, sums: map[string]string{}}
	err := readArchive(r, func(name string, r io.Reader) error {
		if strings.HasPrefix(name, BundleImagesDir+"/") {
			return nil
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		b.files[name] = data
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b, b.index()
}

// index reads the bundle's index from its files.
func (b *Bundle) index() error {
	ib, ok := b.files[BundleIndexName]
	if !ok {
		return fmt.Errorf("not a paddlex bundle: no %s", BundleIndexName)
	}
	if err := yaml.UnmarshalStrict(ib, &b.Index); err != nil {
		return fmt.Errorf("bundle %s: %w", BundleIndexName, err)
	}
	for _, c := range b.Index.Components {
		for _, a := range c.Artifacts {
			b.sums[a.Path] = a.SHA256
		}
	}
	return nil
}

// OpenBundle reads a bundle file, or the directory of an unpacked one.
func OpenBundle(p string) (*Bundle, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return openBundleDir(p)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := ReadBundle(f)
	if err != nil {
		return nil, err
	}
	b.archive = p
	return b, nil
}

// openBundleDir reads an unpacked bundle: its index and the artifacts the
// index names.
func openBundleDir(dir string) (*Bundle, error) {
	b := &Bundle{files: map[string][]byte{}, sums: map[string]string{}, dir: dir}
	ib, err := os.ReadFile(filepath.Join(dir, BundleIndexName))
	if err != nil {
		return nil, fmt.Errorf("not a paddlex bundle: %w", err)
	}
	b.files[BundleIndexName] = ib
	if err := b.index(); err != nil {
		return nil, err
	}
	for _, c := range b.Index.Components {
		for _, a := range c.Artifacts {
			rel := path.Clean(a.Path)
			if rel == ".." || strings.HasPrefix(rel, "../") || path.IsAbs(rel) {
				return nil, fmt.Errorf("bundle %s: unsafe path %q", BundleIndexName, a.Path)
			}
			data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
			if errors.Is(err, fs.ErrNotExist) {
				continue // Fetch names what is missing.
			}
			if err != nil {
				return nil, err
			}
			b.files[rel] = data
		}
	}
	return b, nil
}

// dirSums reads the checksums of an unpacked bundle's index, if DIR has one.
func dirSums(dir string) map[string]string {
	data, err := os.ReadFile(path.Join(dir, BundleIndexName))
	if err != nil {
		return nil
	}
	var idx BundleIndex
	if yaml.Unmarshal(data, &idx) != nil {
		return nil
	}
	out := map[string]string{}
	for _, c := range idx.Components {
		for _, a := range c.Artifacts {
			out[a.Path] = a.SHA256
		}
	}
	return out
}
