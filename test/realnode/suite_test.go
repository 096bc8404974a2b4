//go:build linux

package realnode

import (
	"context"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
)

// ocrImage is the image the PP-OCR example trains with; the node pulls the
// stand-in suite image under this name.
const ocrImage = "registry.baidubce.com/paddleflow-public/paddleocr:2.1.3-gpu-cuda10.2-cudnn7"

// standin is where the stand-in suite image keeps the stand-in program
// (test/standin/paddle).
const standin = "/usr/local/bin/paddle-standin"

// sitePackages is where Debian's python3 finds locally installed modules.
const sitePackages = "/usr/local/lib/python3.11/dist-packages/"

// pythonImage is busybox with Debian's python3 on it (python3 and python),
// unpacked from the packages hack/python-debs.sh fetched.
func pythonImage(t *testing.T, e *testenv.Env) v1.Image {
	t.Helper()
	base, err := localcluster.BusyboxImage()
	if err != nil {
		t.Fatal(err)
	}
	py, err := localcluster.PythonLayer(filepath.Join(e.Cluster.Bin, localcluster.PythonDebsDir))
	if err != nil {
		t.Fatal(err)
	}
	img, err := localcluster.Image(base, []v1.Layer{py}, v1.Config{Cmd: []string{"python3"}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// execScript is a suite's script in the stand-in image: Python runs it and
// it execs the stand-in with the interpreter and its own arguments.
func execScript(tool string) []byte {
	return []byte("# Stand-in for " + tool + ": the Paddle suites cannot be installed here, so\n" +
		"# test/standin/paddle checks the arguments as the real tool does and\n" +
		"# writes the files it writes.\n" +
		"import os, sys\n" +
		"os.execv(\"" + standin + "\", [sys.executable] + sys.argv)\n")
}

// execModule is a module run with python -m in the stand-in image.
func execModule(module string) []byte {
	return []byte("# Stand-in for " + module + " (see test/standin/paddle).\n" +
		"import os, sys\n" +
		"os.execv(\"" + standin + "\", [sys.executable, \"-m\", \"" + module + "\"] + sys.argv[1:])\n")
}

// suiteImage builds the stand-in suite image: busybox, Debian's python3
// (python, python3), the stand-in program, the Python modules paddlex's
// pods run with -m (paddle.distributed.launch, paddle_serving_client.convert,
// paddle_serving_server.serve) and the PaddleOCR tree the commands name,
// with the example's config, in the working directory /home/PaddleOCR as in
// the real image. Every entry point is a Python file that execs the
// stand-in; everything else paddlex runs with python (the serving pods'
// verification, the pretrained-weights download) is real Python.
func suiteImage(t *testing.T, e *testenv.Env, ref string) {
	t.Helper()
	files := []localcluster.File{
		{Path: standin, Mode: 0o755, Content: readFile(t, goBinary(t, "github.com/paddleflow/paddlex/test/standin/paddle", "paddle-standin"))},
		{Path: "/home/PaddleOCR/tools/train.py", Mode: 0o644, Content: execScript("PaddleOCR's tools/train.py")},
		{Path: "/home/PaddleOCR/tools/export_model.py", Mode: 0o644, Content: execScript("PaddleOCR's tools/export_model.py")},
		{Path: "/home/PaddleOCR/configs/det/det_mv3_db.yml", Mode: 0o644, Content: []byte("Global:\n  use_gpu: true\n  epoch_num: 1200\n")},
	}
	for _, m := range []struct{ module, file string }{
		{"paddle.distributed.launch", "paddle/distributed/launch/__main__.py"},
		{"paddle_serving_client.convert", "paddle_serving_client/convert.py"},
		{"paddle_serving_server.serve", "paddle_serving_server/serve.py"},
	} {
		files = append(files, localcluster.File{Path: sitePackages + m.file, Mode: 0o644, Content: execModule(m.module)})
		// Each package folder is a package.
		for dir := filepath.Dir(m.file); dir != "."; dir = filepath.Dir(dir) {
			files = append(files, localcluster.File{Path: sitePackages + dir + "/__init__.py", Mode: 0o644})
		}
	}
	layer, err := localcluster.Layer(dedupe(files))
	if err != nil {
		t.Fatal(err)
	}
	img, err := localcluster.Image(pythonImage(t, e), []v1.Layer{layer}, v1.Config{Cmd: []string{"sh"}, WorkingDir: "/home/PaddleOCR"})
	if err != nil {
		t.Fatal(err)
	}
	if err := localcluster.PushImage(context.Background(), ref, img); err != nil {
		t.Fatal(err)
	}
}

// dedupe keeps the first file of each path.
func dedupe(files []localcluster.File) []localcluster.File {
	seen := map[string]bool{}
	var out []localcluster.File
	for _, f := range files {
		if !seen[f.Path] {
			seen[f.Path] = true
			out = append(out, f)
		}
	}
	return out
}
