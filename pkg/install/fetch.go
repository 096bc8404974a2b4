package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ChecksumError reports an artifact whose sha256 differs from the one
// recorded for it.
type ChecksumError struct {
	URL, Want, Got, From string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: sha256 mismatch: expected %s, actual %s (%s)", e.URL, e.Want, e.Got, e.From)
}

// MaxArtifactSize caps one downloaded artifact: release manifests and chart
// archives are a few megabytes, so anything past this is not the file the
// catalog pins.
const MaxArtifactSize = 64 << 20

// Fetcher gets artifacts from a bundle, a directory, the cache or the
// network, in that order of preference, and verifies their checksums.
type Fetcher struct {
	// CacheDir keeps downloads (~/.cache/paddlex); empty disables the cache.
	CacheDir string
	// HTTP downloads; nil means a client with a 10 minute timeout.
	HTTP *http.Client
	// Dir is --manifests-dir: artifacts at DIR/COMPONENT/FILE, the layout
	// of an unpacked bundle. With Dir or Bundle set nothing is downloaded.
	Dir string
	// Bundle is --from-bundle.
	Bundle *Bundle
	// BaseDir resolves relative source paths of a catalog file.
	BaseDir string
	// Progress, when set, hears about each download.
	Progress func(msg string)
}

// DefaultCacheDir is $XDG_CACHE_HOME/paddlex (~/.cache/paddlex).
func DefaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "paddlex")
}

// Unverified lists the URLs of comps' sources that no recorded sha256
// covers: none in the catalog, and none in the bundle (or the index of
// --manifests-dir) they would come from.
func (f *Fetcher) Unverified(comps []*Component) []string {
	var sums map[string]string
	if f.Dir != "" {
		sums = dirSums(f.Dir)
	}
	var out []string
	for _, c := range comps {
		for _, src := range c.Sources {
			if src.SHA256 != "" {
				continue
			}
			rel := c.Name + "/" + src.FileName()
			if f.Bundle != nil {
				if _, sum, ok := f.Bundle.File(rel); ok && sum != "" {
					continue
				}
			}
			if sums[rel] != "" {
				continue
			}
			out = append(out, src.URL)
		}
	}
	return out
}

// FetchAll fetches every source of comps before anything is applied, so a
// missing or corrupt artifact aborts the install with the cluster untouched.
func (f *Fetcher) FetchAll(ctx context.Context, comps []*Component) (map[string][][]byte, error) {
	out := map[string][][]byte{}
	for _, c := range comps {
		arts := make([][]byte, len(c.Sources))
		for i, src := range c.Sources {
			data, err := f.Fetch(ctx, c.Name, src)
			if err != nil {
				return nil, fmt.Errorf("component %s: %w", c.Name, err)
			}
			arts[i] = data
		}
		out[c.Name] = arts
	}
	return out, nil
}

// Fetch returns one verified artifact of component comp.
func (f *Fetcher) Fetch(ctx context.Context, comp string, src Source) ([]byte, error) {
	want := strings.ToLower(src.SHA256)
	rel := comp + "/" + src.FileName()
	switch {
	case f.Bundle != nil:
		data, sum, ok := f.Bundle.File(rel)
		if !ok {
			return nil, fmt.Errorf("%s: not in the bundle (%s): write a bundle of this profile with `paddlex install bundle`", src.URL, rel)
		}
		if err := verify(src.URL, sum, data, "the bundle's "+rel+" against its index"); err != nil {
			return nil, err
		}
		if want == "" {
			want = sum
		}
		return data, verify(src.URL, want, data, "the bundle's "+rel)
	case f.Dir != "":
		p := filepath.Join(f.Dir, filepath.FromSlash(rel))
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("%s: --manifests-dir: %w", src.URL, err)
		}
		if want == "" {
			want = dirSums(f.Dir)[rel]
		}
		return data, verify(src.URL, want, data, p)
	}
	if local, ok := f.localPath(src.URL); ok {
		data, err := os.ReadFile(local)
		if err != nil {
			return nil, err
		}
		return data, verify(src.URL, want, data, local)
	}
	cached := ""
	if f.CacheDir != "" {
		key := sha256.Sum256([]byte(src.URL))
		cached = filepath.Join(f.CacheDir, "artifacts", hex.EncodeToString(key[:8]), src.FileName())
		if data, err := os.ReadFile(cached); err == nil {
			if verify(src.URL, want, data, cached) == nil {
				return data, nil
			}
			// A corrupt cache entry is fetched again.
		}
	}
	data, err := f.download(ctx, src.URL)
	if err != nil {
		return nil, err
	}
	if err := verify(src.URL, want, data, "the download"); err != nil {
		return nil, err
	}
	if cached != "" {
		if err := writeAtomic(cached, data); err != nil {
			return nil, fmt.Errorf("cache %s: %w", src.URL, err)
		}
	}
	return data, nil
}

// localPath resolves file:// URLs and relative paths of catalog files.
func (f *Fetcher) localPath(u string) (string, bool) {
	if strings.HasPrefix(u, "file://") {
		p, err := url.Parse(u)
		if err != nil {
			return "", false
		}
		return p.Path, true
	}
	if strings.Contains(u, "://") {
		return "", false
	}
	if filepath.IsAbs(u) {
		return u, true
	}
	return filepath.Join(f.BaseDir, filepath.FromSlash(u)), true
}

func (f *Fetcher) download(ctx context.Context, u string) ([]byte, error) {
	client := f.HTTP
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Minute}
	}
	if f.Progress != nil {
		f.Progress("downloading " + u)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w (offline? use --from-bundle or --manifests-dir)", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download %s: %s", u, resp.Status)
	}
	if resp.ContentLength > MaxArtifactSize {
		return nil, fmt.Errorf("download %s: %d bytes, over the %d MiB an artifact may have", u, resp.ContentLength, MaxArtifactSize>>20)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxArtifactSize+1))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", u, err)
	}
	if len(data) > MaxArtifactSize {
		return nil, fmt.Errorf("download %s: over the %d MiB an artifact may have", u, MaxArtifactSize>>20)
	}
	return data, nil
}

func verify(u, want string, data []byte, from string) error {
	if want == "" {
		return nil
	}
	got := Sum(data)
	if got != want {
		return &ChecksumError{URL: u, Want: want, Got: got, From: from}
	}
	return nil
}

// Sum is the hex sha256 of data.
func Sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
