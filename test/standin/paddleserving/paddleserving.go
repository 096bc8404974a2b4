// Package paddleserving is the model server of the Paddle Serving
// stand-in (test/standin/paddle, as paddle_serving_server.serve): tests
// run it in-process to play a served model.
package paddleserving

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Model is what the server knows of the served model: its variables'
// names (and alias names), as its serving_server_conf.prototxt declares
// them. It answers, over HTTP, the GeneralModelService request of Paddle
// Serving's C++ server (POST /GeneralModelService/inference, {"tensor":
// [...], "fetch_var_names": [...]}) and the pipeline web service's
// (POST /NAME/prediction, {"key": [...], "value": [...]}). Feeds must be
// the model's; the fetched values are a placeholder computed from the feed
// (its sum; an "image" key, the pipeline's base64-encoded image input,
// counts its bytes), as no model runs.
type Model struct {
	Feeds, Fetches []string
}

// ImageKey is the pipeline web services' image input.
const ImageKey = "image"

var (
	varBlock = regexp.MustCompile(`(?s)(feed_var|fetch_var)\s*\{(.*?)\}`)
	varName  = regexp.MustCompile(`(alias_name|name):\s*"([^"]*)"`)
)

// Vars lists the names (and alias names) of a prototxt's blocks of kind.
func Vars(conf, kind string) []string {
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

func (m *Model) declared(names []string, name string) bool {
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

func (m *Model) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
			if !m.declared(m.Feeds, t.Name) && !m.declared(m.Feeds, t.AliasName) {
				reply(http.StatusInternalServerError, map[string]any{"err_no": 500,
					"err_msg": fmt.Sprintf("feed var %s is not in the model's feed vars %v", t.Name, m.Feeds)})
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
			if !m.declared(m.Fetches, f) {
				reply(http.StatusInternalServerError, map[string]any{"err_no": 500,
					"err_msg": fmt.Sprintf("fetch var %s is not in the model's fetch vars %v", f, m.Fetches)})
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
			if k == ImageKey {
				// The pipeline's read op decodes the image; the
				// placeholder counts its bytes.
				b, err := base64.StdEncoding.DecodeString(req.Value[i])
				if err != nil {
					reply(http.StatusOK, map[string]any{"err_no": 3, "err_msg": fmt.Sprintf("value of %s is not base64: %v", k, err)})
					return
				}
				sum += float64(len(b))
				continue
			}
			if !m.declared(m.Feeds, k) {
				reply(http.StatusOK, map[string]any{"err_no": 3, "err_msg": fmt.Sprintf("key %s is not in the model's feed vars %v", k, m.Feeds)})
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
		for _, f := range m.Fetches {
			keys = append(keys, f)
			values = append(values, fmt.Sprintf("[%g]", sum))
		}
		reply(http.StatusOK, map[string]any{"err_no": 0, "err_msg": "", "key": keys, "value": values, "logid": req.LogID})
	default:
		reply(http.StatusNotFound, map[string]any{"err_no": 404, "err_msg": "no service at " + r.URL.Path})
	}
}
