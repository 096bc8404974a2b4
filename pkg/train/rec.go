package train

func init() { register(rec{}) }

// rec is PaddleRec: tools/trainer.py -m CFG (dynamic graph) on one worker,
// tools/static_trainer.py -m CFG (static graph) when distributed, which is
// what its parameter-server and collective modes need.
type rec struct{}

func (rec) Name() string { return "PaddleRec" }
func (rec) ConfigHelp() string {
	return "model config in the image, e.g. models/rank/wide_deep/config.yaml"
}
func (rec) SupportsPS() bool { return true }
func (rec) HasLabels() bool  { return false }
func (rec) ModelFiles() (string, string) {
	return "rec_inference.pdmodel", "rec_inference.pdiparams"
}

func (rec) Settings(in Inputs) []KV {
	kv := []KV{
		{"runner.use_gpu", boolText(in.GPU)},
		{"runner.model_save_path", ModelsDir},
		// use_inference makes every epoch also save rec_inference.pd*.
		{"runner.use_inference", "True"},
	}
	if in.VisualDL {
		kv = append(kv, KV{"runner.use_visual", "True"}, KV{"runner.visual_log_path", VisualDLDir})
	}
	if in.Pretrained != "" {
		kv = append(kv, KV{"runner.init_model_path", weightsPrefix(in.Pretrained)})
	}
	if in.DataDir != "" {
		kv = append(kv, KV{"runner.train_data_dir", in.DataDir}, KV{"runner.test_data_dir", in.DataDir})
	}
	return kv
}

// TrainArgs takes every change after one -o.
func (rec) TrainArgs(s *Spec, in Inputs, changes []KV) []string {
	entry := "tools/trainer.py"
	if in.Distributed {
		entry = "tools/static_trainer.py"
	}
	args := []string{entry, "-m", s.ConfigPath}
	if len(changes) > 0 {
		args = append(append(args, "-o"), pairs(changes)...)
	}
	return args
}

// ExportCommand copies the inference model of the last epoch training
// saved (<model_save_path>/<epoch>/rec_inference.*) into InferenceDir.
func (rec) ExportCommand(*Spec) []string {
	script := "set -e; last=$(ls " + ModelsDir + " | grep -E '^[0-9]+$' | sort -n | tail -n 1); " +
		`test -n "$last" || { echo "no epoch directory with rec_inference files under ` + ModelsDir + `" >&2; exit 1; }; ` +
		"mkdir -p " + InferenceDir + "; " +
		`cp "` + ModelsDir + `$last/rec_inference.pdmodel" "` + ModelsDir + `$last/rec_inference.pdiparams" ` + InferenceDir
	return []string{"sh", "-c", script}
}
