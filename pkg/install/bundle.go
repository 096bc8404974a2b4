package install

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// BundleIndexName is the index file at the root of a bundle.
const BundleIndexName = "bundle.yaml"

// BundleIndex lists what a bundle holds.
type BundleIndex struct {
	Components []BundleComponent `json:"components"`
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

// Bundle is an opened bundle: its index and its files in memory.
type Bundle struct {
	Index BundleIndex
	files map[string][]byte
	sums  map[string]string
}

// File returns the bytes and recorded checksum of the file at rel.
func (b *Bundle) File(rel string) ([]byte, string, bool) {
	data, ok := b.files[rel]
	return data, b.sums[rel], ok
}

// WriteBundle fetches every artifact of comps and writes them, with an
// index of their checksums, as a gzipped tar to w. The archive is
// deterministic: sorted entries, no timestamps.
func WriteBundle(ctx context.Context, w io.Writer, f *Fetcher, comps []*Component) (*BundleIndex, error) {
	arts, err := f.FetchAll(ctx, comps)
	if err != nil {
		return nil, err
	}
	idx := &BundleIndex{}
	files := map[string][]byte{}
	for _, c := range comps {
		bc := BundleComponent{Name: c.Name, Version: c.Version}
		for i, src := range c.Sources {
			rel := c.Name + "/" + src.FileName()
			if _, dup := files[rel]; dup {
				return nil, fmt.Errorf("component %s: two sources named %s", c.Name, src.FileName())
			}
			files[rel] = arts[c.Name][i]
			bc.Artifacts = append(bc.Artifacts, BundleArtifact{URL: src.URL, Path: rel, SHA256: Sum(arts[c.Name][i])})
		}
		if len(bc.Artifacts) > 0 {
			idx.Components = append(idx.Components, bc)
		}
	}
	ib, err := yaml.Marshal(idx)
	if err != nil {
		return nil, err
	}
	files[BundleIndexName] = ib
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	dirs := map[string]bool{}
	for _, n := range names {
		if d := path.Dir(n); d != "." && !dirs[d] {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatPAX}); err != nil {
				return nil, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n])), Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return idx, gz.Close()
}

// ReadBundle opens a bundle written by WriteBundle.
func ReadBundle(r io.Reader) (*Bundle, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("not a bundle (gzip): %w", err)
	}
	tr := tar.NewReader(gz)
	b := &Bundle{files: map[string][]byte{}, sums: map[string]string{}}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read bundle: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(h.Name)
		if strings.HasPrefix(name, "../") || path.IsAbs(name) {
			return nil, fmt.Errorf("read bundle: unsafe path %q", h.Name)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("read bundle: %s: %w", name, err)
		}
		b.files[name] = data
	}
	ib, ok := b.files[BundleIndexName]
	if !ok {
		return nil, fmt.Errorf("not a paddlex bundle: no %s", BundleIndexName)
	}
	if err := yaml.UnmarshalStrict(ib, &b.Index); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", BundleIndexName, err)
	}
	for _, c := range b.Index.Components {
		for _, a := range c.Artifacts {
			b.sums[a.Path] = a.SHA256
		}
	}
	return b, nil
}

// OpenBundle reads a bundle file.
func OpenBundle(path string) (*Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadBundle(f)
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
