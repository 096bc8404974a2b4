package train

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/pkg/exit"

	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/internal/golden"
	"github.com/paddleflow/paddlex/internal/hermetic"
)

// examples are one realistic training per suite, from the suites' docs.
func examples() map[string]Spec {
	return map[string]Spec{
		"ocr": {
			Name: "ppocr-det", Namespace: "kubeflow", Project: "PaddleOCR",
			Image:      "registry.baidubce.com/paddleflow-public/paddleocr:2.1.3-gpu-cuda10.2-cudnn7",
			ConfigPath: "configs/det/det_mv3_db.yml", Dataset: "icdar2015", PVCName: "task-center",
			WorkerReplicas: 2, GPUPerNode: 2,
			ConfigChanges: ConfigChanges{"Global.epoch_num=10", "Optimizer.lr.learning_rate=0.001"},
			PretrainModel: "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/MobileNetV3_large_x0_5_pretrained.pdparams",
			TrainLabel:    "train_icdar2015_label.txt", TestLabel: "test_icdar2015_label.txt",
			UseVisualDL: Bool(true),
		},
		"clas": {
			Name: "resnet50", Namespace: "kubeflow", Project: "PaddleClas",
			Image:      "registry.baidubce.com/paddleflow-public/paddleclas:2.3-gpu",
			ConfigPath: "ppcls/configs/ImageNet/ResNet/ResNet50_vd.yaml", Dataset: "flowers102", PVCName: "task-center",
			WorkerReplicas: 1, GPUPerNode: 1,
			ConfigChanges: ConfigChanges{"Global.epochs=20", "Arch.class_num=102"},
			PretrainModel: "/mnt/task-center/pretrain_model/ResNet50_vd_pretrained.pdparams",
			TrainLabel:    "train_list.txt", TestLabel: "val_list.txt",
			CPU: "4", Memory: "16Gi",
		},
		"nlp": {
			Name: "ernie-cls", Namespace: "kubeflow", Project: "PaddleNLP",
			Image:      "registry.baidubce.com/paddleflow-public/paddlenlp:2.4-gpu",
			ConfigPath: "examples/text_classification/pretrained_models/train.py", Dataset: "chnsenticorp", PVCName: "task-center",
			WorkerReplicas: 2, GPUPerNode: 1,
			ConfigChanges: ConfigChanges{"epochs=3", "batch_size=32"},
			TrainLabel:    "train.tsv", TestLabel: "dev.tsv", SaveInference: Bool(true), NeedConvert: Bool(false),
			Env: map[string]string{"FLAGS_eager_delete_tensor_gb": "0.0", "HF_ENDPOINT": "https://mirror.example/a,b"},
		},
		"det": {
			Name: "layout", Namespace: "kubeflow", Project: "PaddleDetection",
			Image:      "registry.baidubce.com/paddleflow-public/paddledetection:2.6-gpu",
			ConfigPath: "configs/picodet/legacy_model/application/layout_analysis/picodet_lcnet_x1_0_layout.yml", Dataset: "publaynet", PVCName: "task-center",
			WorkerReplicas: 1, GPUPerNode: 2,
			ConfigChanges: ConfigChanges{
				"TrainDataset=!COCODataSet {dataset_dir: /mnt/data-center/publaynet/, image_dir: train, anno_path: train.json, data_fields: [image, gt_bbox, gt_class, is_crowd]}",
				"epoch=10",
			},
			PretrainModel: "https://paddledet.bj.bcebos.com/models/pretrained/LCNet_x1_0_pretrained.pdparams",
		},
		"rec": {
			Name: "wide-deep", Namespace: "kubeflow", Project: "PaddleRec",
			Image:      "registry.baidubce.com/paddleflow-public/paddlerec:2.1.0",
			ConfigPath: "models/rank/wide_deep/config.yaml", Dataset: "criteo", PVCName: "task-center",
			WorkerReplicas: 2,
			ConfigChanges:  ConfigChanges{"runner.epochs=2"},
			UseVisualDL:    Bool(true),
			NodeSelector:   map[string]string{"node.kubernetes.io/instance-type": "cpu-large"},
			Tolerations:    []string{"dedicated=training:NoSchedule", "spot"},
			PriorityClass:  "training", Scheduler: SchedulerVolcano, Queue: "default",
		},
	}
}

func TestRenderGoldens(t *testing.T) {
	for suite, base := range examples() {
		for _, mode := range []string{"collective", "ps"} {
			for _, backend := range []string{BackendPaddleOperator, BackendTrainingOperator} {
				s := base
				s.Backend = backend
				if mode == "ps" {
					s.PSReplicas = 1
				}
				name := suite + "-" + mode + "-" + backend
				t.Run(name, func(t *testing.T) {
					s.Defaults()
					err := s.Validate()
					if mode == "ps" && suite != "rec" {
						if exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), "--ps-replicas: "+s.Project+" trains collectively only") {
							t.Fatalf("ps with %s: err = %v, want an exit 2 usage error", s.Project, err)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					objs := RenderAll(s)
					golden.AssertObjects(t, "testdata/"+name+".golden.yaml", objs)
					again := golden.YAML(t, RenderAll(s))
					if !bytes.Equal(golden.YAML(t, objs), again) {
						t.Error("rendering is not deterministic")
					}
				})
			}
		}
	}
}

// TestPSPodsMatchWorkers checks that parameter servers get the same
// command, volumes and environment as workers, GPUs aside.
func TestPSPodsMatchWorkers(t *testing.T) {
	for _, backend := range []string{BackendPaddleOperator, BackendTrainingOperator} {
		s := examples()["rec"]
		s.Backend, s.PSReplicas, s.GPUPerNode = backend, 2, 1
		s.Env = map[string]string{"A": "1"}
		s.Defaults()
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		job := RenderPaddleJob(s)
		path := map[string][2][]string{
			BackendPaddleOperator:   {{"spec", "worker", "template", "spec"}, {"spec", "ps", "template", "spec"}},
			BackendTrainingOperator: {{"spec", "paddleReplicaSpecs", "Worker", "template", "spec"}, {"spec", "paddleReplicaSpecs", "Master", "template", "spec"}},
		}[backend]
		get := func(p []string) map[string]any {
			cur := job.Object
			for _, k := range p {
				cur = cur[k].(map[string]any)
			}
			return cur
		}
		w, ps := get(path[0]), get(path[1])
		wc, pc := w["containers"].([]any)[0].(map[string]any), ps["containers"].([]any)[0].(map[string]any)
		for _, k := range []string{"command", "env", "volumeMounts", "image"} {
			if !equalJSON(wc[k], pc[k]) {
				t.Errorf("%s: ps %s differs from worker's:\n%v\n%v", backend, k, pc[k], wc[k])
			}
		}
		if !equalJSON(w["volumes"], ps["volumes"]) {
			t.Errorf("%s: ps volumes differ from workers'", backend)
		}
		if _, ok := pc["resources"]; ok {
			t.Errorf("%s: ps pods got GPU resources: %v", backend, pc["resources"])
		}
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestConfigChangeIsData runs the rendered command in a real shell with
// python replaced by a function printing its arguments: a change holding
// shell syntax arrives as one argument, and nothing else runs.
func TestConfigChangeIsData(t *testing.T) {
	sh := hermetic.LookPath(t, "sh")
	dir := t.TempDir()
	evil := "Global.x=1; rm -rf /; touch " + dir + "/pwned $(touch " + dir + "/pwned2) `touch " + dir + "/pwned3` 'q\"uote"
	s := examples()["ocr"]
	s.ConfigChanges = ConfigChanges{evil}
	s.Defaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	cmd := TrainCommand(s)
	if cmd[0] != "sh" || cmd[1] != "-c" {
		t.Fatalf("with a downloaded pretrain model the command is sh -c, got %q", cmd[:2])
	}
	// Stub the programs the script calls; mkdir and mv write under dir only.
	prelude := `python() { for a in "$@"; do printf '%s\n' "$a"; done; }; mkdir() { :; }; mv() { :; }; hostname() { echo h; }; `
	out, err := exec.Command(sh, "-c", prelude+strings.Replace(cmd[2], "exec python", "python", 1)).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	args := strings.Split(strings.TrimSpace(string(out)), "\n")
	if args[len(args)-1] != evil {
		t.Errorf("last argument = %q, want the change verbatim %q", args[len(args)-1], evil)
	}
	for _, f := range []string{"pwned", "pwned2", "pwned3"} {
		if _, err := os.Stat(dir + "/" + f); err == nil {
			t.Errorf("the config change ran a command: %s exists", f)
		}
	}
	// Without a download the command is an argv array: the change is one element.
	s.PretrainModel = ""
	argv := TrainCommand(s)
	if argv[0] != "python" || argv[len(argv)-1] != evil {
		t.Errorf("argv = %q", argv)
	}
}

func TestConfigChangesForms(t *testing.T) {
	var s Spec
	if err := yaml.UnmarshalStrict([]byte("config_changes: Global.epoch_num=10,Global.lr=0.1\n"), &s); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.ConfigChanges, "|"); got != "Global.epoch_num=10|Global.lr=0.1" {
		t.Errorf("comma form = %q", got)
	}
	if err := yaml.UnmarshalStrict([]byte("config_changes: [\"Train.loader.shape=[3,640,640]\", \"A=1\"]\n"), &s); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.ConfigChanges, "|"); got != "Train.loader.shape=[3,640,640]|A=1" {
		t.Errorf("list form = %q", got)
	}
	err := yaml.UnmarshalStrict([]byte("config_changes: A=1,Train.shape=[3,640,640]\n"), &s)
	if err == nil || !strings.Contains(err.Error(), "--config-change") {
		t.Errorf("a comma inside a value in the comma form: err = %v, want advice to use the list form", err)
	}
}

func TestValidate(t *testing.T) {
	ok := examples()["ocr"]
	for _, tc := range []struct {
		name  string
		edit  func(*Spec)
		match string
	}{
		{"unknown project", func(s *Spec) { s.Project = "PaddleSeg" }, `--project "PaddleSeg" is not a suite`},
		{"no workers", func(s *Spec) { s.WorkerReplicas = -1 }, "--worker-replicas must be at least 1"},
		{"negative gpus", func(s *Spec) { s.GPUPerNode = -1 }, "--gpu-per-node must not be negative"},
		{"ps with ocr", func(s *Spec) { s.PSReplicas = 1 }, "PaddleOCR trains collectively only"},
		{"no config", func(s *Spec) { s.ConfigPath = "" }, "--config-path is required"},
		{"no pvc", func(s *Spec) { s.PVCName = "" }, "--pvc-name is required"},
		{"bad pretrain", func(s *Spec) { s.PretrainModel = "./weights.pdparams" }, "--pretrain-model"},
		{"pretrain outside volumes", func(s *Spec) { s.PretrainModel = "/etc/passwd" }, "--pretrain-model"},
		{"pretrain over http", func(s *Spec) { s.PretrainModel = "http://example.com/w.pdparams" }, "--pretrain-model \"http://example.com/w.pdparams\" is plain http://"},
		{"bad pretrain sha256", func(s *Spec) { s.PretrainSHA256 = "abc" }, `--pretrain-sha256 "abc" is not a sha256`},
		{"pretrain sha256 of a path", func(s *Spec) {
			s.PretrainModel, s.PretrainSHA256 = "/mnt/task-center/w.pdparams", strings.Repeat("a", 64)
		}, "--pretrain-sha256 checks downloaded weights"},
		{"bad backend", func(s *Spec) { s.Backend = "mpi" }, "--backend"},
		{"bad change", func(s *Spec) { s.ConfigChanges = ConfigChanges{"nokey"} }, `--config-change "nokey"`},
		{"bad memory", func(s *Spec) { s.Memory = "lots" }, "--memory"},
		{"bad toleration", func(s *Spec) { s.Tolerations = []string{"a=b:Sometimes"} }, "--tolerations"},
		{"queue without volcano", func(s *Spec) { s.Queue = "q" }, "--queue needs --scheduler volcano"},
		{"long name", func(s *Spec) { s.Name = strings.Repeat("a", 46) }, "at most 45 characters"},
		{"name starting with a digit", func(s *Spec) { s.Name = "1ocr" }, "must start with a letter"},
		{"labels for rec", func(s *Spec) { s.Project = "PaddleRec" }, "takes no label files"},
		{"bad env", func(s *Spec) { s.Env = map[string]string{"1A": "1"} }, `--env "1A" is not a valid environment variable name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.edit(&s)
			s.Defaults()
			err := s.Validate()
			if exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), tc.match) {
				t.Fatalf("err = %v, want exit 2 with %q", err, tc.match)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	s := Spec{Image: "paddle/paddle"}
	s.Defaults()
	if w := s.Warnings(); len(w) != 1 || !strings.Contains(w[0], "has no tag") {
		t.Errorf("untagged: %q", w)
	}
	s = Spec{Image: "localhost:5000/paddle:latest"}
	s.Defaults()
	if w := s.Warnings(); len(w) != 1 || !strings.Contains(w[0], ":latest") {
		t.Errorf("latest: %q", w)
	}
	s = Spec{Image: "localhost:5000/paddle@sha256:abc", ServingImage: "serving:0.9"}
	if w := s.Warnings(); len(w) != 0 {
		t.Errorf("pinned: %q", w)
	}
}

func TestExportUsesTrainedWeights(t *testing.T) {
	for name, want := range map[string]string{"ocr": "best_accuracy", "clas": "best_model", "nlp": "model_state", "rec": "rec_inference", "det": "model_final"} {
		s := examples()[name]
		s.Defaults()
		cmd := strings.Join(exportCommand(s), " ")
		if strings.Contains(cmd, PretrainDir) || strings.Contains(cmd, "MobileNetV3") {
			t.Errorf("%s export reads pretrained weights: %s", name, cmd)
		}
		if !strings.Contains(cmd, want) {
			t.Errorf("%s export does not read the trained %s: %s", name, want, cmd)
		}
		if !strings.Contains(cmd, ModelsDir) || !strings.Contains(cmd, InferenceDir) {
			t.Errorf("%s export does not read %s and write %s: %s", name, ModelsDir, InferenceDir, cmd)
		}
	}
}

// exportCommand returns the export Job's container command.
func exportCommand(s Spec) []string {
	c := RenderExportJob(s).Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	var out []string
	for _, a := range c["command"].([]any) {
		out = append(out, a.(string))
	}
	return out
}

// TestNLPScriptFlags: the checkpoint directory reaches the flag each
// example takes, and an empty value is a bare switch.
func TestNLPScriptFlags(t *testing.T) {
	for script, want := range map[string]string{
		"examples/text_classification/pretrained_models/train.py":   "--save_dir",
		"examples/machine_reading_comprehension/SQuAD/run_squad.py": "--output_dir",
		"examples/machine_translation/seq2seq/train.py":             "--model_path",
	} {
		s := examples()["nlp"]
		s.ConfigPath = script
		s.ConfigChanges = ConfigChanges{"do_train=", "batch_size=12"}
		s.Defaults()
		argv := TrainCommand(s)
		cmd := strings.Join(argv, " ")
		if !strings.Contains(cmd, want+" "+ModelsDir) {
			t.Errorf("%s: checkpoints not passed as %s: %s", script, want, cmd)
		}
		if want != "--save_dir" && strings.Contains(cmd, "--save_dir") {
			t.Errorf("%s: takes no --save_dir: %s", script, cmd)
		}
		if !strings.Contains(cmd, "--do_train --batch_size 12") {
			t.Errorf("%s: do_train= is not a bare switch: %s", script, cmd)
		}
	}
}

// TestDetectionReaderIsOneWord: a reader object given as a config change
// reaches tools/train.py and the export as one argument, after paddlex's
// settings.
func TestDetectionReaderIsOneWord(t *testing.T) {
	s := examples()["det"]
	s.Defaults()
	reader := s.ConfigChanges[0]
	argv := TrainCommand(s)
	if argv[0] != "sh" {
		t.Fatalf("weights are downloaded first: %q", argv)
	}
	out, err := exec.Command("sh", "-c", "printf '%s\\n' "+Join(trainArgsOf(s))).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	found := false
	for _, l := range lines {
		if l == reader {
			found = true
		}
	}
	if !found {
		t.Errorf("the reader is split or changed: %q", lines)
	}
	if i, j := indexOf(lines, "save_dir="+ModelsDir), indexOf(lines, reader); i < 0 || j < i {
		t.Errorf("settings do not come before the user's changes: %q", lines)
	}
	exp := strings.Join(exportCommand(s), " ")
	if !strings.Contains(exp, "picodet_lcnet_x1_0_layout/model_final") || !strings.Contains(exp, "--output_dir="+InferenceDir) ||
		!strings.Contains(exp, "mv "+InferenceDir+"picodet_lcnet_x1_0_layout/* "+InferenceDir) {
		t.Errorf("export = %s", exp)
	}
}

// trainArgsOf returns the training arguments without the download.
func trainArgsOf(s Spec) []string {
	suite, _ := Lookup(s.Project)
	in := s.inputs()
	return suite.TrainArgs(&s, in, append(suite.Settings(in), s.ConfigChanges.Pairs()...))
}

func indexOf(list []string, s string) int {
	for i, l := range list {
		if l == s {
			return i
		}
	}
	return -1
}
