package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// python builds the stand-in once per test binary; the launcher runs its
// trainers by executing itself, so the tests run the program, not run().
var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

func python(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "paddle-standin-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "python")
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			binary = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build the stand-in: %v\n%s", buildErr, binary)
	}
	return binary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary != "" && buildErr == nil {
		_ = os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(code)
}

// suite lays out a suite checkout: the scripts and a config. clas makes it
// PaddleClas's (ppcls/).
func suite(t *testing.T, clas bool) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"tools/train.py": "", "tools/export_model.py": ""}
	if clas {
		files["ppcls/__init__.py"] = ""
		files["configs/ResNet50.yaml"] = "Global:\n  epochs: 2\n  output_dir: ./output/\nArch:\n  name: ResNet50\n"
	} else {
		files["configs/det.yml"] = "Global:\n  epoch_num: 2\n  save_model_dir: ./output/\nArchitecture:\n  algorithm: DB\nTrain:\n  dataset:\n    name: SimpleDataSet\n"
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runStandin runs the stand-in in dir and returns its exit code and output.
func runStandin(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(python(t), args...)
	cmd.Dir = dir
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

func exists(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
}

func TestOCRTrainAndExport(t *testing.T) {
	dir := suite(t, false)
	models := filepath.Join(dir, "models")
	code, out := runStandin(t, dir, "tools/train.py", "-c", "configs/det.yml", "-o", "Global.epoch_num=3", "Global.save_model_dir="+models)
	if code != 0 || !strings.Contains(out, "epoch: [3/3]") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	exists(t, filepath.Join(models, "best_accuracy.pdparams"), filepath.Join(models, "latest.states"))

	inference := filepath.Join(dir, "inference")
	code, out = runStandin(t, dir, "tools/export_model.py", "-c", "configs/det.yml", "-o",
		"Global.pretrained_model="+filepath.Join(models, "best_accuracy"), "Global.save_inference_dir="+inference)
	if code != 0 {
		t.Fatalf("export: exit %d:\n%s", code, out)
	}
	exists(t, filepath.Join(inference, "inference.pdmodel"), filepath.Join(inference, "inference.pdiparams"))
}

func TestOCRFailsAsTheRealTool(t *testing.T) {
	dir := suite(t, false)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-c", "configs/det.yml", "-o", "Globl.epoch_num=3"},
			"AssertionError: the sub_keys can only be one of global_config: dict_keys(['Architecture', 'Global', 'Train']), but get: Globl"},
		{[]string{"-c", "configs/det.yml", "-o", "Global.epoch_num"}, "ValueError: not enough values to unpack (expected 2, got 1)"},
		{[]string{"-o", "Global.epoch_num=1"}, "AssertionError: Please specify --config=configure_file_path."},
		{[]string{"-c", "configs/missing.yml"}, "FileNotFoundError: [Errno 2] No such file or directory: 'configs/missing.yml'"},
		{[]string{"-c", "configs/det.yml", "--epochs", "3"}, "train.py: error: unrecognized arguments: --epochs 3"},
		// argparse's nargs='+': a second -o replaces the first.
		{[]string{"-c", "configs/det.yml", "-o", "Global.save_model_dir=x", "-o", "Global.pretrained_model=nowhere"},
			"ValueError: The nowhere.pdparams does not exists!"},
		{[]string{"-c", "configs/det.yml", "-o", "Train.dataset.label_file_list=[missing.txt]"},
			"FileNotFoundError: [Errno 2] No such file or directory: 'missing.txt'"},
	} {
		code, out := runStandin(t, dir, append([]string{"tools/train.py"}, c.args...)...)
		if code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("train.py %v: exit %d, want 1 and %q:\n%s", c.args, code, c.want, out)
		}
	}
	if code, out := runStandin(t, dir, "tools/nowhere.py"); code != 1 || !strings.Contains(out, "can't open file") {
		t.Errorf("a missing script: exit %d:\n%s", code, out)
	}
}

func TestClasTrain(t *testing.T) {
	dir := suite(t, true)
	out := filepath.Join(dir, "models")
	code, log := runStandin(t, dir, "tools/train.py", "-c", "configs/ResNet50.yaml", "-o", "Global.output_dir="+out, "-o", "Global.epochs=1")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, log)
	}
	exists(t, filepath.Join(out, "ResNet50", "best_model.pdparams"), filepath.Join(out, "ResNet50", "latest.pdstates"))
	// PaddleClas's -o takes one pair.
	code, log = runStandin(t, dir, "tools/train.py", "-c", "configs/ResNet50.yaml", "-o", "Global.epochs=1", "Global.device=cpu")
	if code != 1 || !strings.Contains(log, "unrecognized arguments: Global.device=cpu") {
		t.Errorf("two pairs after one -o: exit %d:\n%s", code, log)
	}
}

func TestLaunchRunsATrainerPerDevice(t *testing.T) {
	dir := suite(t, false)
	models, logs := filepath.Join(dir, "models"), filepath.Join(dir, "log")
	code, out := runStandin(t, dir, "-m", "paddle.distributed.launch", "--gpus", "0,1", "--log_dir", logs,
		"tools/train.py", "-c", "configs/det.yml", "-o", "Global.save_model_dir="+models)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	exists(t, filepath.Join(logs, "workerlog.0"), filepath.Join(logs, "workerlog.1"), filepath.Join(models, "best_accuracy.pdparams"))
	b, _ := os.ReadFile(filepath.Join(logs, "workerlog.1"))
	if !strings.Contains(string(b), "rank 1 of 2") {
		t.Errorf("workerlog.1:\n%s", b)
	}
	code, out = runStandin(t, dir, "-m", "paddle.distributed.launch", "--log_dir", logs)
	if code != 2 || !strings.Contains(out, "the following arguments are required: training_script") {
		t.Errorf("no script: exit %d:\n%s", code, out)
	}
}

// TestLaunchRendezvous runs two nodes of one job, as the training-operator
// starts them: both name the first as the master; they register there and
// take ranks 0 and 1 of two.
func TestLaunchRendezvous(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	dir := suite(t, false)
	type result struct {
		code int
		out  string
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i, host := range []string{"127.0.0.1", "127.0.0.2"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(python(t), "-m", "paddle.distributed.launch", "--log_dir", filepath.Join(dir, "log"+strconv.Itoa(i)),
				"tools/train.py", "-c", "configs/det.yml", "-o", "Global.save_model_dir="+filepath.Join(dir, "models"+strconv.Itoa(i)))
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PADDLE_MASTER=127.0.0.1:"+port, "PADDLE_NNODES=2", "POD_IP="+host)
			out, err := cmd.CombinedOutput()
			code := 0
			if err != nil {
				code = -1
			}
			results[i] = result{code, string(out)}
		}()
	}
	wg.Wait()
	for i, want := range []string{"rank 0 of 2", "rank 1 of 2"} {
		if results[i].code != 0 || !strings.Contains(results[i].out, want) {
			t.Errorf("node %d: exit %d, want %q:\n%s", i, results[i].code, want, results[i].out)
		}
	}
	// Only rank 0 saves.
	exists(t, filepath.Join(dir, "models0", "best_accuracy.pdparams"))
	if _, err := os.Stat(filepath.Join(dir, "models1")); err == nil {
		t.Error("rank 1 saved checkpoints")
	}
}
