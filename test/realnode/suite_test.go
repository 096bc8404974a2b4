//go:build linux

package realnode

import (
	"context"
	"path/filepath"
	"sort"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/test/standin/suite"
)

// ocrImage is the image the PP-OCR example trains with; the node pulls the
// stand-in suite image under this name.
const ocrImage = "registry.baidubce.com/paddleflow-public/paddleocr:2.1.3-gpu-cuda10.2-cudnn7"

// detConfig is an excerpt of PaddleOCR release/2.1's
// configs/det/det_mv3_db.yml: its Global settings and its Train and Eval
// data sets, which training with a data set overrides key by key (the
// tool refuses a key under a section the file does not have). The label
// files and pretrained weights the real file names are left out, so that
// training without a data set or weights starts.
const detConfig = `Global:
  use_gpu: true
  epoch_num: 1200
  log_smooth_window: 20
  print_batch_step: 10
  save_model_dir: ./output/db_mv3/
  save_epoch_step: 1200
  use_visualdl: False
Train:
  dataset:
    name: SimpleDataSet
    data_dir: ./train_data/icdar2015/text_localization/
    ratio_list: [1.0]
  loader:
    shuffle: True
    batch_size_per_card: 16
Eval:
  dataset:
    name: SimpleDataSet
    data_dir: ./train_data/icdar2015/text_localization/
  loader:
    shuffle: False
    batch_size_per_card: 1
`

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
		{Path: suite.Standin, Mode: 0o755, Content: readFile(t, goBinary(t, "github.com/paddleflow/paddlex/test/standin/paddle", "paddle-standin"))},
		{Path: "/home/PaddleOCR/configs/det/det_mv3_db.yml", Mode: 0o644, Content: []byte(detConfig)},
	}
	for p, b := range suite.Scripts(suite.Standin) {
		files = append(files, localcluster.File{Path: "/home/PaddleOCR/" + p, Mode: 0o644, Content: b})
	}
	for p, b := range suite.Modules(suite.Standin) {
		files = append(files, localcluster.File{Path: suite.SitePackages + "/" + p, Mode: 0o644, Content: b})
	}
	for name, b := range suite.ConsoleScripts(suite.Standin) {
		files = append(files, localcluster.File{Path: suite.BinDir + "/" + name, Mode: 0o755, Content: b})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	layer, err := localcluster.Layer(files)
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
