package train

import "strings"

func init() { register(ocr{}) }

// ocr is PaddleOCR: tools/train.py -c CFG -o K=V K=V ...
type ocr struct{}

func (ocr) Name() string { return "PaddleOCR" }
func (ocr) ConfigHelp() string {
	return "config file in the image, e.g. configs/det/det_mv3_db.yml"
}
func (ocr) SupportsPS() bool { return false }
func (ocr) HasLabels() bool  { return true }
func (ocr) ModelFiles() (string, string) {
	return "inference.pdmodel", "inference.pdiparams"
}

func (ocr) Settings(in Inputs) []KV {
	kv := []KV{
		{"Global.use_gpu", strings.ToLower(boolText(in.GPU))},
		{"Global.save_model_dir", ModelsDir},
		{"Global.save_inference_dir", InferenceDir},
	}
	if in.VisualDL {
		// PaddleOCR logs to <save_model_dir>/vdl/.
		kv = append(kv, KV{"Global.use_visualdl", "True"})
	}
	if in.Pretrained != "" {
		kv = append(kv, KV{"Global.pretrained_model", weightsPrefix(in.Pretrained)})
	}
	if in.DataDir != "" {
		kv = append(kv, KV{"Train.dataset.data_dir", in.DataDir}, KV{"Eval.dataset.data_dir", in.DataDir})
	}
	if in.TrainLabel != "" {
		kv = append(kv, KV{"Train.dataset.label_file_list", "[" + in.TrainLabel + "]"})
	}
	if in.TestLabel != "" {
		kv = append(kv, KV{"Eval.dataset.label_file_list", "[" + in.TestLabel + "]"})
	}
	return kv
}

// TrainArgs takes every change after one -o, as tools/train.py parses them.
func (ocr) TrainArgs(s *Spec, _ Inputs, changes []KV) []string {
	return append([]string{"tools/train.py", "-c", s.ConfigPath, "-o"}, pairs(changes)...)
}

// ExportCommand exports the best checkpoint training saved, not the
// pretrained weights training started from.
func (ocr) ExportCommand(s *Spec) []string {
	return []string{"python", "tools/export_model.py", "-c", s.ConfigPath, "-o",
		"Global.pretrained_model=" + ModelsDir + "best_accuracy",
		"Global.save_inference_dir=" + InferenceDir}
}
