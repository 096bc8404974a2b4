package train

import (
	"path"
	"strings"
)

func init() { register(nlp{}) }

// nlp is PaddleNLP: each example is a script taking argparse flags, so
// config_path names the script and every change becomes --KEY VALUE.
type nlp struct{}

func (nlp) Name() string { return "PaddleNLP" }
func (nlp) ConfigHelp() string {
	return "training script in the image, e.g. examples/text_classification/pretrained_models/train.py"
}
func (nlp) SupportsPS() bool { return false }
func (nlp) HasLabels() bool  { return true }

// ModelFiles are what export_model.py writes for --output_path
// .../inference; examples differ, hence --model-filename/--params-filename.
func (nlp) ModelFiles() (string, string) {
	return "inference.pdmodel", "inference.pdiparams"
}

func (nlp) Settings(in Inputs) []KV {
	device := "cpu"
	if in.GPU {
		device = "gpu"
	}
	kv := []KV{{"device", device}, {"save_dir", ModelsDir}}
	if in.VisualDL {
		kv = append(kv, KV{"logging_dir", VisualDLDir})
	}
	if in.Pretrained != "" {
		kv = append(kv, KV{"init_from_ckpt", in.Pretrained})
	}
	if in.DataDir != "" {
		kv = append(kv, KV{"dataset_dir", in.DataDir})
	}
	if in.TrainLabel != "" {
		kv = append(kv, KV{"train_file", in.TrainLabel})
	}
	if in.TestLabel != "" {
		kv = append(kv, KV{"dev_file", in.TestLabel})
	}
	return kv
}

// TrainArgs turns every change into an argparse flag; a later flag wins
// over an earlier one, so the user's changes override paddlex's.
func (nlp) TrainArgs(s *Spec, _ Inputs, changes []KV) []string {
	args := []string{s.ConfigPath}
	for _, c := range changes {
		args = append(args, "--"+strings.TrimLeft(c.Key, "-"), c.Value)
	}
	return args
}

// ExportCommand runs the example's export_model.py beside the training
// script on the trained parameters.
func (nlp) ExportCommand(s *Spec) []string {
	return []string{"python", path.Join(path.Dir(s.ConfigPath), "export_model.py"),
		"--params_path=" + ModelsDir + "model_state.pdparams",
		"--output_path=" + InferenceDir + "inference"}
}
