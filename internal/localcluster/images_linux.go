package localcluster

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// BusyboxPath is Debian's static busybox (package busybox-static), the
// base layer of the node's images.
const BusyboxPath = "/bin/busybox"

// File is one file of an image layer.
type File struct {
	// Path inside the image, absolute.
	Path string
	// Mode is the file's permission bits.
	Mode int64
	// Content is the file's content; for a symbolic link, its target.
	Content []byte
	// Link makes the entry a symbolic link to Content.
	Link bool
	// Dir makes the entry a directory (Mode and Content unused: /tmp is
	// 1777, every other directory 0755).
	Dir bool
}

// Layer builds an uncompressed-tar image layer from files; the parent
// directories are added as needed. The same files make the same layer.
func Layer(files []File) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	var mkdirs func(string) error
	mkdirs = func(dir string) error {
		if dir == "." || dir == "/" || dirs[dir] {
			return nil
		}
		if err := mkdirs(path.Dir(dir)); err != nil {
			return err
		}
		dirs[dir] = true
		mode := int64(0o755)
		if dir == "tmp" {
			mode = 0o1777
		}
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: mode, ModTime: time.Unix(0, 0)})
	}
	for _, f := range files {
		p := strings.TrimPrefix(path.Clean(f.Path), "/")
		if f.Dir {
			if err := mkdirs(p); err != nil {
				return nil, err
			}
			continue
		}
		if err := mkdirs(path.Dir(p)); err != nil {
			return nil, err
		}
		h := &tar.Header{Name: p, Mode: f.Mode, ModTime: time.Unix(0, 0)}
		if f.Link {
			h.Typeflag, h.Linkname = tar.TypeSymlink, string(f.Content)
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Content))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if !f.Link {
			if _, err := tw.Write(f.Content); err != nil {
				return nil, err
			}
		}
	}
	if err := mkdirs("tmp"); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// BusyboxImage is an image of Debian's static busybox: /bin/busybox, a link
// for each applet at the path busybox lists for it, /etc/passwd and
// /etc/group with root and nobody, and /tmp. Its command is sh.
func BusyboxImage() (v1.Image, error) {
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w (run hack/node-packages.sh)", BusyboxPath, err)
	}
	list, err := exec.Command(BusyboxPath, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", BusyboxPath, err)
	}
	files := []File{
		{Path: "/bin/busybox", Mode: 0o755, Content: bb},
		{Path: "/etc/passwd", Mode: 0o644, Content: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{Path: "/etc/group", Mode: 0o644, Content: []byte("root:x:0:\nnogroup:x:65534:\n")},
		// Writable by every user: the pods run as a non-root user, and
		// mc keeps its configuration under /tmp.
		{Path: "/tmp", Dir: true},
	}
	for _, applet := range strings.Fields(string(list)) {
		if applet == "bin/busybox" {
			continue
		}
		files = append(files, File{Path: "/" + applet, Mode: 0o777, Content: []byte("/bin/busybox"), Link: true})
	}
	layer, err := Layer(files)
	if err != nil {
		return nil, err
	}
	return Image(empty.Image, []v1.Layer{layer}, v1.Config{Cmd: []string{"sh"}})
}

// Image adds layers to base and sets its configuration, for this machine's
// platform.
func Image(base v1.Image, layers []v1.Layer, cfg v1.Config) (v1.Image, error) {
	img, err := mutate.AppendLayers(base, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	if len(cfg.Env) == 0 {
		cfg.Env = []string{"PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin"}
	}
	cf.Config = cfg
	return mutate.ConfigFile(img, cf)
}

// BinaryImage is base with one more layer holding a binary at
// /usr/local/bin/NAME (NAME is the file's base name), which is the
// entrypoint: an image built from a Go binary as ko builds one.
func BinaryImage(base v1.Image, binary string, args ...string) (v1.Image, error) {
	b, err := os.ReadFile(binary)
	if err != nil {
		return nil, err
	}
	dest := "/usr/local/bin/" + path.Base(binary)
	layer, err := Layer([]File{{Path: dest, Mode: 0o755, Content: b}})
	if err != nil {
		return nil, err
	}
	return Image(base, []v1.Layer{layer}, v1.Config{Entrypoint: []string{dest}, Cmd: args})
}

// PushImage pushes img into the node's registry under ref, an image name
// as a manifest writes it (docker.io/library/busybox:1.36, busybox,
// registry.k8s.io/pause:3.10), and points containerd at the registry for
// ref's registry host, so the node pulls ref unchanged from there.
func PushImage(ctx context.Context, ref string, img v1.Image) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("image %q: %w", ref, err)
	}
	host := r.Context().RegistryStr()
	if host == name.DefaultRegistry {
		host = "docker.io" // what containerd calls Docker Hub
	}
	local := RegistryAddr + "/" + host + "/" + r.Context().RepositoryStr()
	var dst name.Reference
	if d, ok := r.(name.Digest); ok {
		dst, err = name.NewDigest(local+"@"+d.DigestStr(), name.Insecure)
	} else {
		dst, err = name.NewTag(local+":"+r.Identifier(), name.Insecure)
	}
	if err != nil {
		return err
	}
	if err := remote.Write(dst, img, remote.WithContext(ctx)); err != nil {
		return fmt.Errorf("push %s to the node's registry: %w", ref, err)
	}
	return registryHosts(nodeRoot(), host)
}

// pushPause pushes the sandbox image: a stand-in for registry.k8s.io/pause
// (a C program), busybox sleeping until containerd kills the sandbox.
func pushPause(ctx context.Context, _ *Cluster) error {
	bb, err := BusyboxImage()
	if err != nil {
		return err
	}
	img, err := Image(bb, nil, v1.Config{Entrypoint: []string{"/bin/sleep", "2147483647"}})
	if err != nil {
		return err
	}
	return PushImage(ctx, PauseImage, img)
}
