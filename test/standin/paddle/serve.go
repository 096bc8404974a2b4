package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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
// serving_server_conf.prototxt and answers on --port, over HTTP, the
// GeneralModelService request of Paddle Serving's C++ server
// (POST /GeneralModelService/inference, {"tensor": [...],
// "fetch_var_names": [...]}) and the pipeline's (POST /NAME/prediction,
// {"key": [...], "value": [...]}). Feeds must be the model's; the fetched
// values are a placeholder computed from the feed (its sum), as no model
// runs.
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
	m := &model{}
	for _, dir := range models {
		if st, err := os.Stat(dir); err == nil && !st.IsDir() {
			return fmt.Errorf("ValueError: The input of --model should be a dir not file.")
		}
		conf := filepath.Join(dir, "serving_server_conf.prototxt")
		b, err := os.ReadFile(conf)
		if err != nil {
			return fmt.Errorf("FileNotFoundError: [Errno 2] No such file or directory: '%s'", conf)
		}
		if len(m.feeds) == 0 { // the first model takes the feed
			m.feeds = vars(string(b), "feed_var")
		}
		m.fetches = vars(string(b), "fetch_var") // the last model answers
	}
	if len(m.feeds) == 0 || len(m.fetches) == 0 {
		return fmt.Errorf("google.protobuf.text_format.ParseError: %s declares no feed_var or fetch_var", models[0])
	}
	l, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("OSError: [Errno 98] Address already in use: port %d: %v", port, err)
	}
	fmt.Printf("Going to Run Comand (stand-in): serving %s on port %d, feed %v, fetch %v\n", strings.Join(models, " "), port, m.feeds, m.fetches)
	return http.Serve(l, m)
}

// model is what the server knows of the served model: its variables'
// names (and alias names).
type model struct {
	feeds, fetches []string
}

var (
	varBlock = regexp.MustCompile(`(?s)(feed_var|fetch_var)\s*\{(.*?)\}`)
	varName  = regexp.MustCompile(`(alias_name|name):\s*"([^"]*)"`)
)

// vars lists the names (and alias names) of a prototxt's blocks of kind.
func vars(conf, kind string) []string {
	var out []string
	for _, b := range varBlock.FindAllStringSubmatch(conf, -1) {
		if b[1] != kind {
			continue
		}
		for _, n := range varName.FindAllStringSubmatch(b[2], -1) {
			if n[1] == "name" {
				out = append(out, n[2])
			}
		}
	}
	return out
}

func (m *model) declared(names []string, name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

type tensor struct {
	FloatData []float64 `json:"float_data,omitempty"`
	IntData   []int64   `json:"int_data,omitempty"`
	Int64Data []int64   `json:"int64_data,omitempty"`
	ElemType  int       `json:"elem_type"`
	Name      string    `json:"name"`
	AliasName string    `json:"alias_name"`
	Shape     []int     `json:"shape"`
}

func (m *model) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	if r.Method != http.MethodPost {
		reply(http.StatusMethodNotAllowed, map[string]any{"err_no": 405, "err_msg": "POST a prediction request"})
		return
	}
	switch {
	case r.URL.Path == "/GeneralModelService/inference":
		var req struct {
			Tensor        []tensor `json:"tensor"`
			FetchVarNames []string `json:"fetch_var_names"`
			LogID         int64    `json:"log_id"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			reply(http.StatusBadRequest, map[string]any{"err_no": 400, "err_msg": "JSON to protobuf: " + err.Error()})
			return
		}
		sum := 0.0
		for _, t := range req.Tensor {
			if !m.declared(m.feeds, t.Name) && !m.declared(m.feeds, t.AliasName) {
				reply(http.StatusInternalServerError, map[string]any{"err_no": 500,
					"err_msg": fmt.Sprintf("feed var %s is not in the model's feed vars %v", t.Name, m.feeds)})
				return
			}
			for _, f := range t.FloatData {
				sum += f
			}
			for _, i := range append(t.IntData, t.Int64Data...) {
				sum += float64(i)
			}
		}
		var out []tensor
		for _, f := range req.FetchVarNames {
			if !m.declared(m.fetches, f) {
				reply(http.StatusInternalServerError, map[string]any{"err_no": 500,
					"err_msg": fmt.Sprintf("fetch var %s is not in the model's fetch vars %v", f, m.fetches)})
				return
			}
			out = append(out, tensor{FloatData: []float64{sum}, ElemType: 1, Name: f, AliasName: f, Shape: []int{1, 1}})
		}
		reply(http.StatusOK, map[string]any{"outputs": []any{map[string]any{"tensor": out, "engine_name": "general_infer_0"}}, "log_id": req.LogID})
	case strings.HasSuffix(r.URL.Path, "/prediction"):
		var req struct {
			Key   []string `json:"key"`
			Value []string `json:"value"`
			LogID int64    `json:"logid"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Key) != len(req.Value) {
			reply(http.StatusOK, map[string]any{"err_no": 3, "err_msg": "the request needs as many keys as values"})
			return
		}
		sum := 0.0
		for i, k := range req.Key {
			if !m.declared(m.feeds, k) {
				reply(http.StatusOK, map[string]any{"err_no": 3, "err_msg": fmt.Sprintf("key %s is not in the model's feed vars %v", k, m.feeds)})
				return
			}
			var vals []float64
			if err := json.Unmarshal([]byte(req.Value[i]), &vals); err != nil {
				reply(http.StatusOK, map[string]any{"err_no": 3, "err_msg": fmt.Sprintf("value of %s: %v", k, err)})
				return
			}
			for _, v := range vals {
				sum += v
			}
		}
		var keys, values []string
		for _, f := range m.fetches {
			keys = append(keys, f)
			values = append(values, fmt.Sprintf("[%g]", sum))
		}
		reply(http.StatusOK, map[string]any{"err_no": 0, "err_msg": "", "key": keys, "value": values, "logid": req.LogID})
	default:
		reply(http.StatusNotFound, map[string]any{"err_no": 404, "err_msg": "no service at " + r.URL.Path})
	}
}
