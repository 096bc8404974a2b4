// Command paddle is a stand-in for the Python entry points of the Paddle
// suites that paddlex's pods call, installed as /usr/local/bin/paddle-standin
// in the stand-in suite image of the real-node tests. The suites need a Python
// package index to install; this program parses the same arguments, checks
// them the way the real tools do, fails with their messages, and writes
// the files they write, so the rendered command lines really run. It
// trains nothing: its weights are placeholders.
//
//	python tools/train.py -c CONFIG -o K=V K=V ...          (PaddleOCR)
//	python tools/train.py -c CONFIG -o K=V -o K=V ...       (PaddleClas)
//	python tools/export_model.py -c CONFIG -o Global.pretrained_model=P Global.save_inference_dir=D
//	python -m paddle.distributed.launch [--gpus 0,1] [--ips A,B] [--log_dir D] SCRIPT ARGS...
//	python3 -m paddle_serving_client.convert --dirname D --model_filename F --params_filename P \
//	    --serving_server S --serving_client C
//	python3 -m paddle_serving_server.serve --model NAME/server --port PORT
//	visualdl --logdir DIR --host HOST --port PORT                  (python -m visualdl)
//
// PaddleClas is told from PaddleOCR by the tree in the working directory
// (ppcls/), as the image's working directory is the suite's checkout.
//
// In the stand-in suite image python3 is Debian's, and the scripts and
// modules above are small Python files that exec this program with the
// interpreter as its argv[0] and Python's own arguments after it (the
// script's path, or -m and the module). The launcher runs its trainers
// with that interpreter, as the real one runs sys.executable -u SCRIPT.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var err error
	// -u: unbuffered output, as the launcher runs its trainers.
	for len(args) > 0 && args[0] == "-u" {
		args = args[1:]
	}
	switch {
	case len(args) >= 2 && args[0] == "-m" && args[1] == "paddle.distributed.launch":
		return launch(args[2:])
	case len(args) >= 2 && args[0] == "-m" && args[1] == "paddle_serving_client.convert":
		err = convert(args[2:])
	case len(args) >= 2 && args[0] == "-m" && args[1] == "paddle_serving_server.serve":
		err = serve(args[2:])
	case len(args) >= 2 && args[0] == "-m" && args[1] == "visualdl":
		err = visualdl(args[2:])
	case len(args) >= 2 && args[0] == "-m":
		err = fmt.Errorf("/usr/bin/python3: No module named %s", args[1])
	case len(args) >= 1 && strings.HasSuffix(args[0], "tools/export_model.py"):
		if err = script(args[0]); err == nil {
			err = exportModel(args[0], args[1:])
		}
	case len(args) >= 1 && strings.HasSuffix(args[0], "tools/train.py"):
		if err = script(args[0]); err == nil {
			err = train(args[0], args[1:])
		}
	case len(args) == 0:
		err = fmt.Errorf("interactive Python is not part of this stand-in")
	default:
		err = script(args[0])
		if err == nil {
			err = fmt.Errorf("%s: this stand-in runs only the suites' entry points", args[0])
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// script checks that the script Python is asked to run exists, as the
// image's working directory must hold the suite's tree.
func script(path string) error {
	if _, err := os.Stat(path); err != nil {
		abs, _ := filepath.Abs(path)
		return fmt.Errorf("python: can't open file '%s': [Errno 2] No such file or directory", abs)
	}
	return nil
}

// exportModel is PaddleOCR's and PaddleClas's tools/export_model.py: it
// loads Global.pretrained_model.pdparams and writes the inference model
// into Global.save_inference_dir.
func exportModel(script string, args []string) error {
	_, cfg, err := loadConfig(script, args)
	if err != nil {
		return err
	}
	pretrained, dir := str(lookup(cfg, "Global", "pretrained_model")), str(lookup(cfg, "Global", "save_inference_dir"))
	params, err := os.ReadFile(pretrained + ".pdparams")
	if pretrained == "" || err != nil {
		return fmt.Errorf("ValueError: The %s.pdparams does not exists!", pretrained)
	}
	if dir == "" {
		return fmt.Errorf("KeyError: 'save_inference_dir'")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string][]byte{
		"inference.pdmodel":        []byte("stand-in program exported from " + pretrained + "\n"),
		"inference.pdiparams":      params,
		"inference.pdiparams.info": []byte("stand-in\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("inference model is saved to %s\n", filepath.Join(dir, "inference"))
	return nil
}

// convert is paddle_serving_client.convert: it reads the inference model
// and writes the serving model's server and client directories.
func convert(args []string) error {
	fs := flag.NewFlagSet("paddle_serving_client.convert", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dirname := fs.String("dirname", "", "")
	modelFile := fs.String("model_filename", "", "")
	paramsFile := fs.String("params_filename", "", "")
	server := fs.String("serving_server", "serving_server", "")
	client := fs.String("serving_client", "serving_client", "")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("usage: convert.py [-h] [--dirname DIRNAME] [--model_filename MODEL_FILENAME] ...\nconvert.py: error: %v", err)
	}
	if *dirname == "" {
		return fmt.Errorf("convert.py: error: the following arguments are required: --dirname")
	}
	model, err := os.ReadFile(filepath.Join(*dirname, *modelFile))
	if err != nil {
		return fmt.Errorf("ValueError: The ``path_prefix`` (%s) is not exists.", filepath.Join(*dirname, *modelFile))
	}
	params, err := os.ReadFile(filepath.Join(*dirname, *paramsFile))
	if err != nil {
		return fmt.Errorf("ValueError: The params file (%s) is not exists.", filepath.Join(*dirname, *paramsFile))
	}
	conf := "feed_var {\n  name: \"x\"\n  alias_name: \"x\"\n  is_lod_tensor: false\n  feed_type: 1\n  shape: 3\n}\nfetch_var {\n  name: \"save_infer_model/scale_0.tmp_1\"\n  alias_name: \"save_infer_model/scale_0.tmp_1\"\n  is_lod_tensor: false\n  fetch_type: 1\n  shape: 1\n}\n"
	out := map[string][]byte{
		filepath.Join(*server, *modelFile):                            model,
		filepath.Join(*server, *paramsFile):                           params,
		filepath.Join(*server, "serving_server_conf.prototxt"):        []byte(conf),
		filepath.Join(*server, "serving_server_conf.stream.prototxt"): []byte(conf),
		filepath.Join(*client, "serving_client_conf.prototxt"):        []byte(conf),
		filepath.Join(*client, "serving_client_conf.stream.prototxt"): []byte(conf),
	}
	for p, b := range out {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
