package serve

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/internal/hermetic"
	"github.com/paddleflow/paddlex/pkg/modelhub"
)

// TestVerifyScript runs the verify-model init container's program with this
// machine's python3 on what fetch-model leaves in the model folder.
func TestVerifyScript(t *testing.T) {
	hermetic.LookPath(t, "python3")
	archive := tarGz(t, map[string]string{"ppocr-det/server/inference.pdmodel": "model", "ppocr-det/client/serving_client_conf.prototxt": "conf"})
	sum := sha256.Sum256(archive)
	record := func(sha string) []byte {
		return (&modelhub.Metadata{Model: "ppocr-det", Version: "v1", SHA256: sha, Size: int64(len(archive))}).Marshal()
	}
	obj := Render(spec(nil))[0]
	cs := initContainers(t, obj)
	if len(cs) != 2 || cs[0]["name"] != "fetch-model" || cs[1]["name"] != "verify-model" {
		t.Fatalf("init containers: %v", cs)
	}
	verify := cs[1]

	// The model folder is a subfolder, so that a member escaping it would
	// land in the test's own temporary folder, where it is looked for.
	// prefix plays the Secret's model-prefix ("": the Secret has none).
	run := func(archive, metadata []byte, prefix string) (string, string, error) {
		dir := filepath.Join(t.TempDir(), "models")
		_ = os.Mkdir(dir, 0o755)
		_ = os.WriteFile(filepath.Join(dir, "ppocr-det.tar.gz"), archive, 0o644)
		_ = os.WriteFile(filepath.Join(dir, "model.json"), metadata, 0o644)
		args := verify["command"].([]any)
		cmd := exec.Command("python3", args[1].(string), args[2].(string))
		cmd.Env = envOf(verify, dir, prefix)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return dir, out.String(), err
	}

	dir, out, err := run(archive, record(hex.EncodeToString(sum[:])), "")
	if err != nil {
		t.Fatalf("valid model: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "ppocr-det/server/inference.pdmodel")); err != nil || string(b) != "model" {
		t.Errorf("unpacked model: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ppocr-det.tar.gz")); !os.IsNotExist(err) {
		t.Errorf("archive left behind: %v", err)
	}
	if !strings.Contains(out, "verified") {
		t.Errorf("output: %s", out)
	}

	for _, c := range []struct {
		name              string
		archive, metadata []byte
		prefix            string
		want              string
	}{
		{"corrupt", append(append([]byte{}, archive...), 0), record(hex.EncodeToString(sum[:])), "", "model-center/ppocr-det/v1/ppocr-det.tar.gz is corrupt"},
		// A tenant's model lives in their area, and the message says so.
		{"corrupt in a tenant's area", append(append([]byte{}, archive...), 0), record(hex.EncodeToString(sum[:])), "team-a/",
			"model-center/team-a/ppocr-det/v1/ppocr-det.tar.gz is corrupt"},
		{"no sha256", archive, record(""), "", "records no sha256"},
		{"not json", archive, []byte("<html>"), "", "is not a model record"},
		{"not converted", tarGz(t, map[string]string{"ppocr-det/inference.pdmodel": "m"}), nil, "", "has no ppocr-det/server/ folder"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			md := c.metadata
			if md == nil {
				s := sha256.Sum256(c.archive)
				md = record(hex.EncodeToString(s[:]))
			}
			if _, out, err := run(c.archive, md, c.prefix); err == nil || !strings.Contains(out, c.want) {
				t.Errorf("err %v, output %s", err, out)
			}
		})
	}
}

// TestVerifyScriptRefusesEscapingMembers runs the unpacking with this
// machine's python3 on crafted archives: each is refused before anything is
// written, and nothing lands outside the model folder.
func TestVerifyScriptRefusesEscapingMembers(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	verify := initContainers(t, Render(spec(nil))[0])[1]
	good := []tarEntry{
		{hdr: tar.Header{Name: "ppocr-det/", Typeflag: tar.TypeDir, Mode: 0o755}},
		{hdr: tar.Header{Name: "ppocr-det/server/inference.pdmodel", Typeflag: tar.TypeReg, Mode: 0o644}, body: "model"},
		// Links that stay inside the model folder are kept.
		{hdr: tar.Header{Name: "ppocr-det/server/model", Typeflag: tar.TypeSymlink, Linkname: "inference.pdmodel"}},
		{hdr: tar.Header{Name: "ppocr-det/server/up", Typeflag: tar.TypeSymlink, Linkname: "../client"}},
		{hdr: tar.Header{Name: "ppocr-det/server/copy", Typeflag: tar.TypeLink, Linkname: "ppocr-det/server/inference.pdmodel"}},
	}
	reg := func(name string) tarEntry {
		return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}, body: "evil"}
	}
	for _, c := range []struct {
		name   string
		extra  []tarEntry
		member string
		want   string
	}{
		{"dot-dot", []tarEntry{reg("../evil")}, "../evil", "has '..' in its path"},
		{"dot-dot inside", []tarEntry{reg("ppocr-det/../../evil")}, "ppocr-det/../../evil", "has '..' in its path"},
		{"absolute path", []tarEntry{reg("/tmp/paddlex-verify-evil")}, "/tmp/paddlex-verify-evil", "has an absolute path"},
		{"symlink escaping", []tarEntry{{hdr: tar.Header{Name: "ppocr-det/server/out", Typeflag: tar.TypeSymlink, Linkname: "../../../evil"}}},
			"ppocr-det/server/out", "is a symbolic link to ../../../evil"},
		{"absolute symlink", []tarEntry{{hdr: tar.Header{Name: "ppocr-det/etc", Typeflag: tar.TypeSymlink, Linkname: "/etc"}}},
			"ppocr-det/etc", "is a symbolic link to /etc"},
		{"write through a symlink", []tarEntry{
			{hdr: tar.Header{Name: "ppocr-det/parent", Typeflag: tar.TypeSymlink, Linkname: ".."}},
			reg("ppocr-det/parent/evil"),
		}, "ppocr-det/parent/evil", "has a path through a link in the archive"},
		{"symlink through a symlink", []tarEntry{
			{hdr: tar.Header{Name: "ppocr-det/server/l", Typeflag: tar.TypeSymlink, Linkname: ".."}},
			{hdr: tar.Header{Name: "ppocr-det/x", Typeflag: tar.TypeSymlink, Linkname: "server/l/../../evil"}},
		}, "ppocr-det/x", "is a symbolic link to server/l/../../evil"},
		{"hardlink escaping", []tarEntry{{hdr: tar.Header{Name: "ppocr-det/passwd", Typeflag: tar.TypeLink, Linkname: "../evil"}}},
			"ppocr-det/passwd", "is a hard link to ../evil"},
		{"absolute hardlink", []tarEntry{{hdr: tar.Header{Name: "ppocr-det/passwd", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}}},
			"ppocr-det/passwd", "is a hard link to /etc/passwd"},
		{"device", []tarEntry{{hdr: tar.Header{Name: "ppocr-det/null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}}},
			"ppocr-det/null", "is not a regular file, folder or link"},
		{"fifo", []tarEntry{{hdr: tar.Header{Name: "ppocr-det/fifo", Typeflag: tar.TypeFifo, Mode: 0o644}}},
			"ppocr-det/fifo", "is not a regular file, folder or link"},
	} {
		// Each archive is refused by tarfile as it is here and as it is on
		// Pythons without its data filter.
		for _, oldPython := range []bool{false, true} {
			name := c.name
			if oldPython {
				name += " without data_filter"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				parent := t.TempDir()
				dir := filepath.Join(parent, "models")
				_ = os.Mkdir(dir, 0o755)
				archive := tarGzEntries(t, append(append([]tarEntry{}, good...), c.extra...))
				out, err := runVerify(t, verify, dir, archive, oldPython)
				if err == nil {
					t.Fatalf("accepted:\n%s", out)
				}
				if want := "member " + c.member + " " + c.want; !strings.Contains(out, want) || !strings.Contains(out, "nothing was unpacked") {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
				// Refused before anything is written: only the two downloads.
				if names := dirNames(t, dir); strings.Join(names, " ") != "model.json ppocr-det.tar.gz" {
					t.Errorf("model folder holds %v", names)
				}
				if names := dirNames(t, parent); strings.Join(names, " ") != "models" {
					t.Errorf("written outside the model folder: %v", names)
				}
			})
		}
	}
	t.Cleanup(func() {
		if _, err := os.Lstat("/tmp/paddlex-verify-evil"); err == nil {
			_ = os.Remove("/tmp/paddlex-verify-evil")
			t.Error("an absolute member was written to /tmp")
		}
	})

	// The same links, without the crafted members, unpack.
	for _, oldPython := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "models")
		_ = os.Mkdir(dir, 0o755)
		if out, err := runVerify(t, verify, dir, tarGzEntries(t, good), oldPython); err != nil {
			t.Fatalf("good archive (without data_filter: %v): %v\n%s", oldPython, err, out)
		}
		for _, p := range []string{"ppocr-det/server/model", "ppocr-det/server/copy"} {
			if b, err := os.ReadFile(filepath.Join(dir, p)); err != nil || string(b) != "model" {
				t.Errorf("%s (without data_filter: %v): %q %v", p, oldPython, b, err)
			}
		}
	}
}

// withoutDataFilter runs a program as on a Python whose tarfile has no
// data filter (before 3.12, or an early 3.8-3.11 release).
const withoutDataFilter = "import tarfile\nif hasattr(tarfile, 'data_filter'):\n    del tarfile.data_filter\n"

// runVerify runs the verify-model container's program in dir, holding
// archive and a record of its sha256; oldPython hides tarfile's data filter.
func runVerify(t *testing.T, verify map[string]any, dir string, archive []byte, oldPython bool) (string, error) {
	t.Helper()
	sum := sha256.Sum256(archive)
	record := (&modelhub.Metadata{Model: "ppocr-det", Version: "v1", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(archive))}).Marshal()
	if err := os.WriteFile(filepath.Join(dir, "ppocr-det.tar.gz"), archive, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.json"), record, 0o644); err != nil {
		t.Fatal(err)
	}
	args := verify["command"].([]any)
	program := args[2].(string)
	if oldPython {
		program = withoutDataFilter + program
	}
	cmd := exec.Command("python3", args[1].(string), program)
	cmd.Env = envOf(verify, dir, "")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// envOf is a container's environment as the kubelet gives it, with
// MODEL_DIR at dir and the Secret's model-prefix, when not "", as
// MODEL_PREFIX; the other Secret keys are left out.
func envOf(c map[string]any, dir, prefix string) []string {
	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, e := range c["env"].([]any) {
		m := e.(map[string]any)
		name := m["name"].(string)
		v, ok := m["value"].(string)
		switch {
		case name == "MODEL_DIR":
			v = dir
		case name == "MODEL_PREFIX" && prefix != "":
			v, ok = prefix, true
		}
		if ok {
			env = append(env, name+"="+v)
		}
	}
	return env
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

type tarEntry struct {
	hdr  tar.Header
	body string
}

func tarGzEntries(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := e.hdr
		h.Size = int64(len(e.body))
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func initContainers(t *testing.T, obj interface{ UnstructuredContent() map[string]any }) []map[string]any {
	t.Helper()
	spec := obj.UnstructuredContent()["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	var out []map[string]any
	for _, c := range spec["initContainers"].([]any) {
		out = append(out, c.(map[string]any))
	}
	return out
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	_ = gz.Close()
	return b.Bytes()
}

// TestFetchScriptReadsTheSecretsArea runs the fetch-model program with sh
// and a recording stand-in for mc (the real mc runs it in the real-node
// tests): with the Secret's model-prefix, a tenant's NAMESPACE/, the
// objects are read from that area of the bucket; a prefix leaving it is
// refused before mc runs.
func TestFetchScriptReadsTheSecretsArea(t *testing.T) {
	sh := hermetic.LookPath(t, "sh")
	fetch := initContainers(t, Render(spec(nil))[0])[0]
	run := func(prefix string) (string, string, error) {
		bin, dir := t.TempDir(), t.TempDir()
		calls := filepath.Join(bin, "calls")
		stub := "#!" + sh + "\necho \"$*\" >> " + calls + "\n"
		if err := os.WriteFile(filepath.Join(bin, "mc"), []byte(stub), 0o755); err != nil {
			t.Fatal(err)
		}
		args := fetch["command"].([]any)
		cmd := exec.Command(sh, args[1].(string), args[2].(string))
		cmd.Env = append(envOf(fetch, dir, prefix), "PATH="+bin+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		b, _ := os.ReadFile(calls)
		return string(b), string(out), err
	}
	calls, out, err := run("team-a/")
	if err != nil {
		t.Fatalf("fetch: %v\n%s", err, out)
	}
	for _, want := range []string{
		"cp --quiet model-center/model-center/team-a/ppocr-det/v1/ppocr-det.tar.gz ",
		"cp --quiet model-center/model-center/team-a/ppocr-det/v1/model.json ",
	} {
		if !strings.Contains(calls, want) {
			t.Errorf("mc was not run with %q:\n%s", want, calls)
		}
	}
	if calls, _, err := run(""); err != nil || !strings.Contains(calls, "cp --quiet model-center/model-center/ppocr-det/v1/ppocr-det.tar.gz ") {
		t.Errorf("without a prefix: %v\n%s", err, calls)
	}
	calls, out, err = run("../team-b/")
	if err == nil || !strings.Contains(out, "model-prefix ../team-b/ of Secret data-center is not a relative key prefix") || strings.Contains(calls, " cp ") {
		t.Errorf("a prefix out of the area: %v\n%s\nmc: %s", err, out, calls)
	}
}
