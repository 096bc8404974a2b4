package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/paddleflow/paddlex/test/standin/paddleserving"
)

const serveUsage = "usage: serve [-h] [--thread THREAD] [--port PORT] [--device DEVICE] [--gpu_ids GPU_IDS [GPU_IDS ...]]\n" +
	"             [--model MODEL [MODEL ...]] [--workdir WORKDIR] [server]\nserve: error: "

// serveFlags are paddle_serving_server.serve's options: "1" takes one
// value, "+" one or more, "0" none.
var serveFlags = map[string]string{
	"--thread": "1", "--port": "1", "--device": "1", "--gpu_ids": "+", "--runtime_thread_num": "+",
	"--batch_infer_size": "+", "--model": "+", "--op": "+", "--workdir": "1", "--use_mkl": "0",
	"--precision": "1", "--use_calib": "0", "--mem_optim_off": "0", "--ir_optim": "0", "--max_body_size": "1",
	"--use_encryption_model": "0", "--use_trt": "0", "--use_lite": "0", "--use_xpu": "0", "--use_ascend_cl": "0",
	"--product_name": "1", "--container_id": "1", "--gpu_multi_stream": "0", "--enable_prometheus": "0",
	"--prometheus_port": "1",
}

// serve is paddle_serving_server.serve: it loads each --model directory's
// serving_server_conf.prototxt and answers on --port with
// paddleserving.Model (see there).
func serve(args []string) error {
	opts := map[string][]string{"--port": {"9393"}, "--thread": {"4"}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			if a != "start" {
				return fmt.Errorf("%sthis stand-in only starts a server, not %q", serveUsage, a)
			}
			continue
		}
		name, value, inline := strings.Cut(a, "=")
		kind, ok := serveFlags[name]
		if !ok {
			return fmt.Errorf("%sunrecognized arguments: %s", serveUsage, a)
		}
		var vals []string
		switch {
		case inline:
			vals = []string{value}
		case kind == "0":
			vals = []string{"true"}
		default:
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
				i++
				vals = append(vals, args[i])
				if kind == "1" {
					break
				}
			}
			if len(vals) == 0 {
				n := "one argument"
				if kind == "+" {
					n = "at least one argument"
				}
				return fmt.Errorf("%sargument %s: expected %s", serveUsage, name, n)
			}
		}
		opts[name] = vals
	}
	port, err := strconv.Atoi(opts["--port"][0])
	if err != nil {
		return fmt.Errorf("%sargument --port: invalid int value: '%s'", serveUsage, opts["--port"][0])
	}
	thread, err := strconv.Atoi(opts["--thread"][0])
	if err != nil || thread < 4 || thread > 1024 {
		return fmt.Errorf("%sargument --thread: invalid choice: %s (choose from 4 to 1024)", serveUsage, opts["--thread"][0])
	}
	models := opts["--model"]
	if len(models) == 0 {
		fmt.Println("You must specify your serving model")
		os.Exit(255)
	}
	var confs []string
	for _, dir := range models {
		if st, err := os.Stat(dir); err == nil && !st.IsDir() {
			return fmt.Errorf("ValueError: The input of --model should be a dir not file.")
		}
		conf := filepath.Join(dir, "serving_server_conf.prototxt")
		b, err := os.ReadFile(conf)
		if err != nil {
			return fmt.Errorf("FileNotFoundError: [Errno 2] No such file or directory: '%s'", conf)
		}
		confs = append(confs, string(b))
	}
	// The first model takes the feed, the last one answers.
	m, err := paddleserving.Load(confs[0], confs[len(confs)-1])
	if err != nil {
		return fmt.Errorf("google.protobuf.text_format.ParseError: %s: %v", models[0], err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("OSError: [Errno 98] Address already in use: port %d: %v", port, err)
	}
	fmt.Printf("Going to Run Comand (stand-in): serving %s on port %d, feed %v, fetch %v\n", strings.Join(models, " "), port, m.Feeds, m.Fetches)
	return http.Serve(l, m)
}
