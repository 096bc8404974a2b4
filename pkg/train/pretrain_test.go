package train

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPretrainDownloadChecksSHA256 runs the rendered download program with
// this machine's python3 against an HTTP server on loopback (a stand-in for
// the weights' host): the weights are renamed into place only when their
// sha256 is the one given.
func TestPretrainDownloadChecksSHA256(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	weights := []byte("pretrained weights")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(weights) }))
	t.Cleanup(srv.Close)
	sum := sha256.Sum256(weights)
	good := hex.EncodeToString(sum[:])

	s := examples()["ocr"]
	s.PretrainSHA256 = strings.ToUpper(good)
	s.Defaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if cmd := TrainCommand(s); !strings.Contains(cmd[2], "python -c ") || !strings.Contains(cmd[2], " "+good+"; exec python") {
		t.Fatalf("the download is not checked against the sha256: %s", cmd[2])
	}

	run := func(want string) (string, string, error) {
		dir := t.TempDir()
		dst := filepath.Join(dir, "w.pdparams")
		out, err := exec.Command("python3", "-c", pretrainScript, srv.URL+"/w.pdparams", dst, dst+".h.part", want).CombinedOutput()
		return dir, string(out), err
	}
	dir, out, err := run(good)
	if b, rerr := os.ReadFile(filepath.Join(dir, "w.pdparams")); err != nil || rerr != nil || string(b) != string(weights) {
		t.Fatalf("good sha256: %v %v %q\n%s", err, rerr, b, out)
	}
	dir, out, err = run(strings.Repeat("0", 64))
	if err == nil || !strings.Contains(out, "but --pretrain-sha256 is "+strings.Repeat("0", 64)) {
		t.Errorf("wrong sha256 accepted: %v\n%s", err, out)
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Errorf("left behind after a mismatch: %v", names)
	}
	// Without a digest the weights are downloaded as before.
	if dir, out, err = run(""); err != nil {
		t.Errorf("no sha256: %v\n%s", err, out)
	} else if _, err := os.Stat(filepath.Join(dir, "w.pdparams")); err != nil {
		t.Error(err)
	}
}
