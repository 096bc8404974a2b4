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
	kv := []KV{{"device", device}, {saveDirFlag, ModelsDir}}
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

// saveDirFlag is the checkpoint directory flag most PaddleNLP examples
// take; saveDirFlags lists the examples that name it otherwise.
const saveDirFlag = "save_dir"

// saveDirFlags maps an example's script (its path ends so) to the flag it
// writes checkpoints to. The reading-comprehension scripts (run_squad.py,
// run_du.py, run_cmrc.py) take --output_dir, as Hugging Face's do.
var saveDirFlags = []struct{ suffix, flag string }{
	{"machine_translation/seq2seq/train.py", "model_path"},
	{"machine_reading_comprehension/SQuAD/run_squad.py", "output_dir"},
	{"machine_reading_comprehension/DuReader-robust/run_du.py", "output_dir"},
	{"machine_reading_comprehension/DuReader-yesno/run_du.py", "output_dir"},
	{"machine_reading_comprehension/CMRC/run_cmrc.py", "output_dir"},
}

// scriptSaveDirFlag returns the checkpoint flag of the script.
func scriptSaveDirFlag(script string) string {
	for _, f := range saveDirFlags {
		if strings.HasSuffix(script, f.suffix) {
			return f.flag
		}
	}
	return saveDirFlag
}

// TrainArgs turns every change into an argparse flag; a later flag wins
// over an earlier one, so the user's changes override paddlex's. A change
// with an empty value (do_train=) is a switch: the flag alone. The
// checkpoint directory goes to the flag the script takes.
func (nlp) TrainArgs(s *Spec, _ Inputs, changes []KV) []string {
	args := []string{s.ConfigPath}
	saveFlag := scriptSaveDirFlag(s.ConfigPath)
	for _, c := range changes {
		key := strings.TrimLeft(c.Key, "-")
		if key == saveDirFlag {
			key = saveFlag
		}
		if c.Value == "" {
			args = append(args, "--"+key)
			continue
		}
		args = append(args, "--"+key, c.Value)
	}
	return args
}

// ExportCommand runs the example's export_model.py beside the training
// script on the trained parameters: model_state.pdparams in the checkpoint
// directory, or else in the last model_STEP/ directory the examples save
// every few steps.
func (nlp) ExportCommand(s *Spec) []string {
	script := "set -e; p=" + ModelsDir + "model_state.pdparams; " +
		`if [ ! -f "$p" ]; then d=$(ls -d ` + ModelsDir + `model_*/ 2>/dev/null | sort -t_ -k2 -n | tail -n 1); p="${d}model_state.pdparams"; fi; ` +
		`test -f "$p" || { echo "no model_state.pdparams under ` + ModelsDir + `" >&2; exit 1; }; ` +
		"exec python " + Quote(path.Join(path.Dir(s.ConfigPath), "export_model.py")) +
		` "--params_path=$p" --output_path=` + InferenceDir + "inference"
	return []string{"sh", "-c", script}
}
