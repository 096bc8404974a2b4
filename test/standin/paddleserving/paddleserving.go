// Package paddleserving is the model server of the Paddle Serving
// stand-in (test/standin/paddle, as paddle_serving_server.serve): tests
// run it in-process to play a served model.
package paddleserving

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/paddleflow/paddlex/pkg/serve"
)

// Model is what the server knows of the served model: its feed variables
// (the first model's, as the server's first op reads them) and fetch
// variables (the last model's), as their serving_server_conf.prototxt
// declare them. It answers what the C++ server answers over HTTP: POST
// /GeneralModelService/inference with the Request message as JSON
// ({"tensor": [...], "fetch_var_names": [...]}), each tensor checked
// against its feed as Paddle's predictor checks its inputs (a declared
// name, the feed's element type in the field of that type, as many values
// as the shape says). The fetched values are a placeholder computed from
// the feed (its sum; a string feed counts its bytes), as no model runs.
type Model struct {
	Feeds, Fetches []serve.Var
}

// Load reads the model's variables from its configuration, feeds from
// first and fetch variables from last (the same for one model).
func Load(first, last string) (*Model, error) {
	f, err := serve.ParseSignature(first)
	if err != nil {
		return nil, err
	}
	l, err := serve.ParseSignature(last)
	if err != nil {
		return nil, err
	}
	return &Model{Feeds: f.Feeds, Fetches: l.Fetches}, nil
}

// MustLoad is Load of one configuration, for tests.
func MustLoad(conf string) *Model {
	m, err := Load(conf, conf)
	if err != nil {
		panic(err)
	}
	return m
}

func (m *Model) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	if r.URL.Path != serve.InferencePath {
		reply(http.StatusNotFound, map[string]any{"err_no": 404, "err_msg": "no service at " + r.URL.Path})
		return
	}
	if r.Method != http.MethodPost {
		reply(http.StatusMethodNotAllowed, map[string]any{"err_no": 405, "err_msg": "POST a prediction request"})
		return
	}
	var req serve.Request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		reply(http.StatusBadRequest, map[string]any{"err_no": 400, "err_msg": "JSON to protobuf: " + err.Error()})
		return
	}
	sum := 0.0
	for _, t := range req.Tensor {
		n, err := m.check(t)
		if err != nil {
			reply(http.StatusInternalServerError, map[string]any{"err_no": 500, "err_msg": err.Error()})
			return
		}
		sum += n
	}
	if len(req.Tensor) == 0 {
		reply(http.StatusInternalServerError, map[string]any{"err_no": 500, "err_msg": "the request has no tensor"})
		return
	}
	var out []serve.Tensor
	for _, f := range req.FetchVarNames {
		v, ok := find(m.Fetches, f)
		if !ok {
			reply(http.StatusInternalServerError, map[string]any{"err_no": 500,
				"err_msg": fmt.Sprintf("fetch var %s is not in the model's fetch vars %v", f, m.Fetches)})
			return
		}
		out = append(out, serve.Tensor{FloatData: []float64{sum}, ElemType: serve.TypeFloat32, Name: v.Name, AliasName: v.Alias, Shape: []int64{1, 1}})
	}
	if len(out) == 0 {
		reply(http.StatusInternalServerError, map[string]any{"err_no": 500, "err_msg": "fetch_var_names is empty"})
		return
	}
	reply(http.StatusOK, map[string]any{"err_no": 0, "err_msg": "", "outputs": []any{map[string]any{"tensor": out, "engine_name": "general_infer_0"}}, "log_id": req.LogID})
}

func find(vs []serve.Var, name string) (serve.Var, bool) {
	for _, v := range vs {
		if v.Name == name || v.Alias == name {
			return v, true
		}
	}
	return serve.Var{}, false
}

// check checks a tensor against its feed and returns its placeholder sum.
func (m *Model) check(t serve.Tensor) (float64, error) {
	v, ok := find(m.Feeds, t.AliasName)
	if !ok {
		if v, ok = find(m.Feeds, t.Name); !ok {
			return 0, fmt.Errorf("feed var %s is not in the model's feed vars %v", t.Name, m.Feeds)
		}
	}
	if t.ElemType != v.Type {
		return 0, fmt.Errorf("feed var %s is %s, but the tensor's elem_type is %d", v.Alias, serve.TypeName(v.Type), t.ElemType)
	}
	sum, n := 0.0, 0
	switch v.Type {
	case serve.TypeFloat32:
		for _, f := range t.FloatData {
			sum += f
		}
		n = len(t.FloatData)
	case serve.TypeInt64:
		for _, i := range t.Int64Data {
			sum += float64(i)
		}
		n = len(t.Int64Data)
	case serve.TypeInt32:
		for _, i := range t.IntData {
			sum += float64(i)
		}
		n = len(t.IntData)
	case serve.TypeBytes:
		for _, d := range t.Data {
			sum += float64(len(d))
		}
		n = len(t.Data)
	}
	if n == 0 {
		return 0, fmt.Errorf("feed var %s: no values in the field of its type %s", v.Alias, serve.TypeName(v.Type))
	}
	want := int64(1)
	for _, d := range t.Shape {
		want *= d
	}
	if v.Type != serve.TypeBytes && !v.LoD && want > 0 && int64(n) != want {
		return 0, fmt.Errorf("feed var %s: shape %v holds %d values, the tensor has %d", v.Alias, t.Shape, want, n)
	}
	return sum, nil
}
