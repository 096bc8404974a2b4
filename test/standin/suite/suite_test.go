package suite

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/internal/hermetic"
)

// TestPythonRunsTheEntryPoints lays the scripts and modules out as the
// image does and runs paddlex's command lines with this machine's
// python3: the launcher's trainers, the export and the conversion all go
// through Python into the stand-in, and a misspelt key fails with the
// tool's message.
func TestPythonRunsTheEntryPoints(t *testing.T) {
	python := hermetic.LookPath(t, "python3")
	dir := t.TempDir()
	standin := filepath.Join(dir, "paddle-standin")
	build := exec.Command("go", "build", "-o", standin, "github.com/paddleflow/paddlex/test/standin/paddle")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the stand-in: %v\n%s", err, out)
	}
	tree, site := filepath.Join(dir, "PaddleOCR"), filepath.Join(dir, "site")
	files := map[string][]byte{filepath.Join(tree, "configs/det.yml"): []byte("Global:\n  epoch_num: 1200\n")}
	for p, b := range Scripts(standin) {
		files[filepath.Join(tree, p)] = b
	}
	for p, b := range Modules(standin) {
		files[filepath.Join(site, p)] = b
	}
	for p, b := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(python, args...)
		cmd.Dir = tree
		cmd.Env = append(os.Environ(), "PYTHONPATH="+site)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, out.String()
	}

	models := filepath.Join(dir, "models")
	code, out := run("-m", "paddle.distributed.launch", "--gpus", "0,1", "--log_dir", filepath.Join(dir, "log"),
		"tools/train.py", "-c", "configs/det.yml", "-o", "Global.epoch_num=2", "Global.save_model_dir="+models)
	if code != 0 || !strings.Contains(out, "LAUNCH INFO Pod completed") {
		t.Fatalf("launch: exit %d\n%s", code, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "log", "workerlog.1")); err != nil || !strings.Contains(string(b), "epoch: [2/2]") {
		t.Errorf("workerlog.1: %s %v", b, err)
	}
	inference := filepath.Join(dir, "inference")
	if code, out := run("tools/export_model.py", "-c", "configs/det.yml", "-o",
		"Global.pretrained_model="+filepath.Join(models, "best_accuracy"), "Global.save_inference_dir="+inference); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	server := filepath.Join(dir, "serving_server")
	if code, out := run("-m", "paddle_serving_client.convert", "--dirname", inference, "--model_filename", "inference.pdmodel",
		"--params_filename", "inference.pdiparams", "--serving_server", server, "--serving_client", filepath.Join(dir, "serving_client")); code != 0 {
		t.Fatalf("convert: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(server, "serving_server_conf.prototxt")); err != nil {
		t.Error(err)
	}
	code, out = run("-m", "paddle.distributed.launch", "--gpus", "0", "tools/train.py", "-c", "configs/det.yml", "-o", "Globl.epoch_num=2")
	if code != 1 || !strings.Contains(out, "AssertionError: the sub_keys can only be one of global_config: dict_keys(['Global']), but get: Globl") {
		t.Fatalf("a misspelt key: exit %d\n%s", code, out)
	}
}
