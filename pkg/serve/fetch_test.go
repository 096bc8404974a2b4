package serve

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/pkg/modelhub"
)

// TestFetchScript runs the init container's script with the shell tools of
// this machine against a model center served over HTTP.
func TestFetchScript(t *testing.T) {
	for _, tool := range []string{"sh", "wget", "sha256sum", "tar", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	archive := tarGz(t, map[string]string{"ppocr-det/server/inference.pdmodel": "model", "ppocr-det/client/serving_client_conf.prototxt": "conf"})
	sum := sha256.Sum256(archive)
	good := (&modelhub.Metadata{Model: "ppocr-det", Version: "v1", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(archive))}).Marshal()
	bad := (&modelhub.Metadata{Model: "ppocr-det", Version: "v2", SHA256: strings.Repeat("0", 64)}).Marshal()
	files := map[string][]byte{
		"/model-center/ppocr-det/v1/ppocr-det.tar.gz": archive,
		"/model-center/ppocr-det/v1/model.json":       good,
		"/model-center/ppocr-det/v2/ppocr-det.tar.gz": archive,
		"/model-center/ppocr-det/v2/model.json":       bad,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	defer srv.Close()

	run := func(version string) (string, string, error) {
		dir := t.TempDir()
		obj := Render(spec(func(s *Spec) { s.Endpoint = srv.URL; s.ModelVersion = version }))[0]
		c := container(t, obj, "initContainers")
		cmd := exec.Command("sh", "-c", c["command"].([]any)[2].(string))
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		for _, e := range c["env"].([]any) {
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

	dir, out, err := run("v1")
	if err != nil {
		t.Fatalf("v1: %v\n%s", err, out)
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

	if _, out, err := run("v2"); err == nil || !strings.Contains(out, "is corrupt") {
		t.Errorf("v2 with a wrong sha256: err %v, output %s", err, out)
	}
	if _, out, err := run("v3"); err == nil || !strings.Contains(out, "cannot download") {
		t.Errorf("missing v3: err %v, output %s", err, out)
	}
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
