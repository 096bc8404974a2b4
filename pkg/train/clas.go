package train

func init() { register(clas{}) }

// clas is PaddleClas: tools/train.py -c CFG -o K=V -o K=V ...
type clas struct{}

func (clas) Name() string { return "PaddleClas" }
func (clas) ConfigHelp() string {
	return "config file in the image, e.g. ppcls/configs/ImageNet/ResNet/ResNet50_vd.yaml"
}
func (clas) SupportsPS() bool { return false }
func (clas) HasLabels() bool  { return true }
func (clas) ModelFiles() (string, string) {
	return "inference.pdmodel", "inference.pdiparams"
}

func (clas) Settings(in Inputs) []KV {
	device := "cpu"
	if in.GPU {
		device = "gpu"
	}
	kv := []KV{
		{"Global.device", device},
		{"Global.output_dir", ModelsDir},
		{"Global.save_inference_dir", InferenceDir},
	}
	if in.VisualDL {
		// PaddleClas logs to <output_dir>/vdl/.
		kv = append(kv, KV{"Global.use_visualdl", "True"})
	}
	if in.Pretrained != "" {
		kv = append(kv, KV{"Global.pretrained_model", weightsPrefix(in.Pretrained)})
	}
	if in.DataDir != "" {
		kv = append(kv, KV{"DataLoader.Train.dataset.image_root", in.DataDir}, KV{"DataLoader.Eval.dataset.image_root", in.DataDir})
	}
	if in.TrainLabel != "" {
		kv = append(kv, KV{"DataLoader.Train.dataset.cls_label_path", in.TrainLabel})
	}
	if in.TestLabel != "" {
		kv = append(kv, KV{"DataLoader.Eval.dataset.cls_label_path", in.TestLabel})
	}
	return kv
}

// TrainArgs repeats -o for every change, as PaddleClas parses them.
func (clas) TrainArgs(s *Spec, _ Inputs, changes []KV) []string {
	args := []string{"tools/train.py", "-c", s.ConfigPath}
	for _, p := range pairs(changes) {
		args = append(args, "-o", p)
	}
	return args
}

// ExportCommand exports best_model, which PaddleClas saves under
// <output_dir>/<Arch name>/; the architecture's directory is found at run
// time, since only the config file names it.
func (clas) ExportCommand(s *Spec) []string {
	script := "set -e; best=$(ls " + ModelsDir + "*/best_model.pdparams | head -n 1); " +
		"exec python tools/export_model.py -c " + Quote(s.ConfigPath) +
		` -o "Global.pretrained_model=${best%.pdparams}" -o Global.save_inference_dir=` + InferenceDir
	return []string{"sh", "-c", script}
}
