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

	"github.com/paddleflow/paddlex/pkg/modelhub"
)

// TestVerifyScript runs the verify-model init container's program with this
// machine's python3 on what fetch-model leaves in the model folder.
func TestVerifyScript(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
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

	run := func(archive, metadata []byte) (string, string, error) {
		dir := t.TempDir()
		_ = os.WriteFile(filepath.Join(dir, "ppocr-det.tar.gz"), archive, 0o644)
		_ = os.WriteFile(filepath.Join(dir, "model.json"), metadata, 0o644)
		args := verify["command"].([]any)
		cmd := exec.Command("python3", args[1].(string), args[2].(string))
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		for _, e := range verify["env"].([]any) {
			m := e.(map[string]any)
			v := m["value"].(string)
			if m["name"] == "MODEL_DIR" {
				v = dir
			}
			cmd.Env = append(cmd.Env, m["name"].(string)+"="+v)
		}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return dir, out.String(), err
	}

	dir, out, err := run(archive, record(hex.EncodeToString(sum[:])))
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
		want              string
	}{
		{"corrupt", append(append([]byte{}, archive...), 0), record(hex.EncodeToString(sum[:])), "is corrupt"},
		{"no sha256", archive, record(""), "records no sha256"},
		{"not json", archive, []byte("<html>"), "is not a model record"},
		{"not converted", tarGz(t, map[string]string{"ppocr-det/inference.pdmodel": "m"}), nil, "has no ppocr-det/server/ folder"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			md := c.metadata
			if md == nil {
				s := sha256.Sum256(c.archive)
				md = record(hex.EncodeToString(s[:]))
			}
			if _, out, err := run(c.archive, md); err == nil || !strings.Contains(out, c.want) {
				t.Errorf("err %v, output %s", err, out)
			}
		})
	}
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
