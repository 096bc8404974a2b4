package localcluster

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// debSkip are the folders of a package's files that no program in an image
// reads, left out as slim images leave them out (dpkg's path-exclude).
var debSkip = []string{"usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/share/lintian/", "usr/share/locale/"}

// DebLayer builds one uncompressed-tar image layer from Debian packages:
// each .deb's data.tar, unpacked as dpkg unpacks it (folders, files, links
// and hard links with the package's modes), in the order given, a later
// package's file replacing an earlier one's. No maintainer script runs:
// the packages must work as unpacked. Documentation is left out.
func DebLayer(debs []string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, deb := range debs {
		if err := unpackDeb(deb, tw, dirs); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(deb), err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// unpackDeb copies the members of a .deb's data.tar into tw. A .deb is an
// ar archive: debian-binary, control.tar.*, data.tar.* (compressed with xz,
// zstd or gzip, or not at all).
func unpackDeb(deb string, tw *tar.Writer, dirs map[string]bool) error {
	f, err := os.Open(deb)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	magic := make([]byte, 8)
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != "!<arch>\n" {
		return errors.New("not a Debian package (no ar archive)")
	}
	for {
		name, size, err := arNext(r)
		if err == io.EOF {
			return errors.New("no data.tar member")
		}
		if err != nil {
			return err
		}
		body := io.LimitReader(r, size)
		if strings.HasPrefix(name, "data.tar") {
			dr, err := decompress(name, body)
			if err != nil {
				return err
			}
			return copyData(tar.NewReader(dr), tw, dirs)
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return err
		}
		if size%2 == 1 { // members start on even offsets
			if _, err := r.Discard(1); err != nil {
				return err
			}
		}
	}
}

// arNext reads the next ar member header: the name and the size of the
// body that follows.
func arNext(r io.Reader) (string, int64, error) {
	h := make([]byte, 60)
	if _, err := io.ReadFull(r, h); err != nil {
		if err == io.ErrUnexpectedEOF {
			return "", 0, errors.New("truncated ar header")
		}
		return "", 0, err
	}
	if string(h[58:60]) != "`\n" {
		return "", 0, errors.New("bad ar header")
	}
	size, err := strconv.ParseInt(strings.TrimSpace(string(h[48:58])), 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("bad ar member size %q", h[48:58])
	}
	return strings.TrimSuffix(strings.TrimSpace(string(h[0:16])), "/"), size, nil
}

func decompress(name string, r io.Reader) (io.Reader, error) {
	switch path.Ext(name) {
	case ".xz":
		return xz.NewReader(r)
	case ".zst":
		d, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case ".gz":
		return gzip.NewReader(r)
	case ".tar":
		return r, nil
	}
	return nil, fmt.Errorf("member %s: unknown compression", name)
}

func copyData(tr *tar.Reader, tw *tar.Writer, dirs map[string]bool) error {
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		if name == "" || skipped(name) {
			continue
		}
		out := &tar.Header{Name: name, Mode: h.Mode, Uid: h.Uid, Gid: h.Gid, ModTime: h.ModTime, Format: tar.FormatPAX}
		switch h.Typeflag {
		case tar.TypeDir:
			// Every package lists the folders it uses: the first says.
			if dirs[name] {
				continue
			}
			dirs[name] = true
			out.Typeflag, out.Name = tar.TypeDir, name+"/"
		case tar.TypeReg:
			out.Typeflag, out.Size = tar.TypeReg, h.Size
		case tar.TypeSymlink:
			out.Typeflag, out.Linkname = tar.TypeSymlink, h.Linkname
		case tar.TypeLink:
			out.Typeflag, out.Linkname = tar.TypeLink, strings.TrimPrefix(path.Clean("/"+h.Linkname), "/")
		default:
			return fmt.Errorf("member %s: type %q is not a file, folder or link", h.Name, h.Typeflag)
		}
		if err := tw.WriteHeader(out); err != nil {
			return err
		}
		if out.Typeflag == tar.TypeReg {
			if _, err := io.Copy(tw, tr); err != nil {
				return err
			}
		}
	}
}

func skipped(name string) bool {
	for _, s := range debSkip {
		if strings.HasPrefix(name+"/", s) && name+"/" != s {
			return true
		}
	}
	return false
}

// PythonDebsDir is where hack/testbin.sh links the Debian packages of the
// Python layer (hack/python-debs.sh), inside Bin.
const PythonDebsDir = "python-debs"

var pythonLayers sync.Map // the packages' folder → v1.Layer

// PythonLayer is Debian's python3 (python3.11-minimal, its standard
// library, the python3 and python links, and the C libraries they load),
// unpacked from the packages that hack/python-debs.sh fetched into dir. It
// is built once per folder: the same packages make the same layer.
func PythonLayer(dir string) (v1.Layer, error) {
	if l, ok := pythonLayers.Load(dir); ok {
		return l.(v1.Layer), nil
	}
	debs, err := filepath.Glob(filepath.Join(dir, "*.deb"))
	if err != nil {
		return nil, err
	}
	if len(debs) == 0 {
		return nil, fmt.Errorf("no Debian packages in %s: run hack/testbin.sh node (it runs hack/python-debs.sh)", dir)
	}
	sort.Strings(debs)
	l, err := DebLayer(debs)
	if err != nil {
		return nil, err
	}
	pythonLayers.Store(dir, l)
	return l, nil
}
