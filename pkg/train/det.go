package train

import (
	"path"
	"strings"
)

func init() { register(det{}) }

// det is PaddleDetection: tools/train.py -c CFG --eval -o K=V K=V ...
// PaddleOCR's layout analysis and PaddleClas's PP-ShiTu main-body detection
// train their detectors with it.
type det struct{}

func (det) Name() string { return "PaddleDetection" }
func (det) ConfigHelp() string {
	return "config file in the image, e.g. configs/picodet/legacy_model/application/layout_analysis/picodet_lcnet_x1_0_layout.yml"
}
func (det) SupportsPS() bool { return false }

// HasLabels is false: a PaddleDetection data set is a whole reader object
// (TrainDataset, EvalDataset), given as a config change such as
// "TrainDataset=!COCODataSet {dataset_dir: ..., image_dir: ..., anno_path: ...}".
// Its -o merges dotted keys into the config as plain mappings, which
// replace the reader object instead of updating it.
func (det) HasLabels() bool { return false }
func (det) ModelFiles() (string, string) {
	return "model.pdmodel", "model.pdiparams"
}

func (det) Settings(in Inputs) []KV {
	kv := []KV{
		{"use_gpu", strings.ToLower(boolText(in.GPU))},
		// Checkpoints land in <save_dir>/<config name>/.
		{"save_dir", ModelsDir},
	}
	if in.VisualDL {
		kv = append(kv, KV{"use_vdl", "true"}, KV{"vdl_log_dir", VisualDLDir})
	}
	if in.Pretrained != "" {
		kv = append(kv, KV{"pretrain_weights", weightsPrefix(in.Pretrained)})
	}
	return kv
}

// TrainArgs evaluates while training (--eval, which also keeps best_model)
// and takes every change after one -o, as tools/train.py parses them.
func (det) TrainArgs(s *Spec, _ Inputs, changes []KV) []string {
	return append([]string{"tools/train.py", "-c", s.ConfigPath, "--eval", "-o"}, pairs(changes)...)
}

// ExportCommand exports model_final, the weights training ends with, under
// <save_dir>/<config name>/, with the user's config changes (the model's
// num_classes among them), then moves the files export_model.py writes
// under <output_dir>/<config name>/ up into InferenceDir.
func (det) ExportCommand(s *Spec) []string {
	name := strings.TrimSuffix(path.Base(s.ConfigPath), path.Ext(s.ConfigPath))
	argv := []string{"python", "tools/export_model.py", "-c", s.ConfigPath, "-o", "weights=" + ModelsDir + name + "/model_final"}
	argv = append(argv, pairs(s.ConfigChanges.Pairs())...)
	argv = append(argv, "--output_dir="+InferenceDir)
	script := "set -e; " + Join(argv) + "; mv " + Quote(InferenceDir+name) + "/* " + InferenceDir
	return []string{"sh", "-c", script}
}
