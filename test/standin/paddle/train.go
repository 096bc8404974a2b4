package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// train is tools/train.py of PaddleOCR or PaddleClas: it loads the config
// with the -o options applied, checks what the real tool reads before it
// trains (the label files, the pretrained weights), logs an epoch line per
// epoch, and on rank 0 saves the checkpoints where the real tool does:
// PaddleOCR best_accuracy and latest in Global.save_model_dir, PaddleClas
// best_model and latest in Global.output_dir/ARCH.
func train(script string, args []string) error {
	_, cfg, err := loadConfig(script, args)
	if err != nil {
		return err
	}
	global, _ := cfg["Global"].(map[string]any)
	if global == nil {
		return fmt.Errorf("KeyError: 'Global'")
	}
	var dir, epochsKey string
	var prefixes []string
	var suffixes []string
	if clas() {
		out, ok := global["output_dir"]
		if !ok {
			return fmt.Errorf("KeyError: 'output_dir'")
		}
		arch := str(lookup(cfg, "Arch", "name"))
		if arch == "" {
			return fmt.Errorf("KeyError: 'name'")
		}
		dir, epochsKey = filepath.Join(str(out), arch), "epochs"
		prefixes, suffixes = []string{"best_model", "latest"}, []string{".pdparams", ".pdopt", ".pdstates"}
		for _, key := range []string{"Train", "Eval"} {
			if err := labelFiles(lookup(cfg, "DataLoader", key, "dataset", "cls_label_path")); err != nil {
				return err
			}
		}
	} else {
		out, ok := global["save_model_dir"]
		if !ok {
			return fmt.Errorf("KeyError: 'save_model_dir'")
		}
		dir, epochsKey = str(out), "epoch_num"
		prefixes, suffixes = []string{"best_accuracy", "latest"}, []string{".pdparams", ".pdopt", ".states"}
		for _, key := range []string{"Train", "Eval"} {
			if err := labelFiles(lookup(cfg, key, "dataset", "label_file_list")); err != nil {
				return err
			}
		}
	}
	epochs, ok := global[epochsKey].(float64)
	if !ok {
		return fmt.Errorf("KeyError: '%s'", epochsKey)
	}
	if p := str(global["pretrained_model"]); p != "" {
		if _, err := os.Stat(p + ".pdparams"); err != nil {
			return fmt.Errorf("ValueError: The %s.pdparams does not exists!", p)
		}
		fmt.Printf("load pretrain successful from %s\n", p)
	}
	rank := os.Getenv("PADDLE_TRAINER_ID")
	if rank == "" {
		rank = "0"
	}
	fmt.Printf("train with paddle (stand-in) and device cpu, rank %s of %s\n", rank, envOr("PADDLE_TRAINERS_NUM", "1"))
	var losses []float64
	for e := 1; e <= int(epochs); e++ {
		losses = append(losses, 1.0/float64(e))
		fmt.Printf("epoch: [%d/%d], global_step: %d, lr: 0.001000, loss: %.6f\n", e, int(epochs), e*10, losses[e-1])
	}
	if rank != "0" {
		return nil
	}
	// With VisualDL on, rank 0 logs to DIR/vdl/ (PaddleOCR's program.py,
	// PaddleClas's engine: save_model_dir or output_dir, then vdl/).
	if vdl, _ := global["use_visualdl"].(bool); vdl {
		out := str(global["save_model_dir"])
		if clas() {
			out = str(global["output_dir"])
		}
		if err := writeRecords(filepath.Join(out, "vdl"), losses); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, prefix := range prefixes {
		for _, suffix := range suffixes {
			content := fmt.Sprintf("stand-in %s%s after %d epochs\n", prefix, suffix, int(epochs))
			if err := os.WriteFile(filepath.Join(dir, prefix+suffix), []byte(content), 0o644); err != nil {
				return err
			}
		}
		fmt.Printf("save model in %s\n", filepath.Join(dir, prefix))
	}
	return nil
}

// labelFiles checks that the dataset's label files exist, as the data
// loaders open them before the first step.
func labelFiles(v any) error {
	var files []string
	switch l := v.(type) {
	case string:
		files = []string{l}
	case []any:
		for _, f := range l {
			files = append(files, str(f))
		}
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("FileNotFoundError: [Errno 2] No such file or directory: '%s'", f)
		}
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
