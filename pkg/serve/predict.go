package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// A served model runs Paddle Serving's C++ server
// (python3 -m paddle_serving_server.serve), which answers HTTP on its port
// at POST /GeneralModelService/inference. The request is its Request
// message as JSON: one tensor per feed, with the feed's name and alias,
// its element type, its shape with a batch dimension in front, and the
// values flattened into the list of that type; and the fetch variables to
// return. Paddle Serving's own HTTP client builds it from the model's
// serving_client_conf.prototxt, which gives each feed's type and shape:
// so does serve predict, from the same file.

// InferencePath is the C++ server's HTTP inference path.
const InferencePath = "/GeneralModelService/inference"

// Element types of a feed or fetch variable (feed_type, fetch_type and a
// tensor's elem_type), with the field of the tensor that carries them.
const (
	TypeInt64   = 0
	TypeFloat32 = 1
	TypeInt32   = 2
	TypeBytes   = 3
)

var typeNames = map[int]string{TypeInt64: "int64", TypeFloat32: "float32", TypeInt32: "int32", TypeBytes: "string"}

// TypeName names an element type.
func TypeName(t int) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "type " + strconv.Itoa(t)
}

// Var is a feed or fetch variable of a model's serving configuration.
type Var struct {
	Name  string
	Alias string
	Type  int
	Shape []int64
	LoD   bool
}

func (v Var) String() string {
	return fmt.Sprintf("%s (%s %v)", v.Alias, TypeName(v.Type), v.Shape)
}

// Signature is what a model takes and gives: the feed_var and fetch_var
// blocks of its serving_client_conf.prototxt (or the server's, which
// declares the same variables).
type Signature struct {
	Feeds   []Var
	Fetches []Var
}

var (
	varBlock = regexp.MustCompile(`(?s)\b(feed_var|fetch_var)\s*\{(.*?)\}`)
	varField = regexp.MustCompile(`(\w+)\s*:\s*("(?:[^"\\]|\\.)*"|[^\s"}]+)`)
)

// ParseSignature reads a GeneralModelConfig in protobuf text format, as
// paddle_serving_client.convert writes it.
func ParseSignature(conf string) (*Signature, error) {
	sig := &Signature{}
	for _, b := range varBlock.FindAllStringSubmatch(conf, -1) {
		v := Var{}
		for _, f := range varField.FindAllStringSubmatch(b[2], -1) {
			val := f[2]
			switch f[1] {
			case "name", "alias_name":
				s, err := strconv.Unquote(val)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %s is not a quoted string", b[1], f[1], val)
				}
				if f[1] == "name" {
					v.Name = s
				} else {
					v.Alias = s
				}
			case "feed_type", "fetch_type":
				n, err := strconv.Atoi(val)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %s is not a number", b[1], f[1], val)
				}
				v.Type = n
			case "shape":
				n, err := strconv.ParseInt(val, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("%s shape: %s is not a number", b[1], val)
				}
				v.Shape = append(v.Shape, n)
			case "is_lod_tensor":
				v.LoD = val == "true"
			}
		}
		if v.Name == "" {
			return nil, fmt.Errorf("a %s has no name", b[1])
		}
		if v.Alias == "" {
			v.Alias = v.Name
		}
		if b[1] == "feed_var" {
			sig.Feeds = append(sig.Feeds, v)
		} else {
			sig.Fetches = append(sig.Fetches, v)
		}
	}
	if len(sig.Feeds) == 0 || len(sig.Fetches) == 0 {
		return nil, fmt.Errorf("it declares no feed_var or no fetch_var: not a Paddle Serving model configuration")
	}
	return sig, nil
}

func (s *Signature) feed(alias string) (Var, bool) {
	for _, v := range s.Feeds {
		if v.Alias == alias {
			return v, true
		}
	}
	return Var{}, false
}

func listVars(vs []Var) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return strings.Join(out, ", ")
}

// Tensor is a tensor of the C++ server's Request and Response.
type Tensor struct {
	Int64Data []int64   `json:"int64_data,omitempty"`
	FloatData []float64 `json:"float_data,omitempty"`
	IntData   []int64   `json:"int_data,omitempty"`
	Data      []string  `json:"data,omitempty"`
	ElemType  int       `json:"elem_type"`
	Shape     []int64   `json:"shape"`
	LoD       []int64   `json:"lod,omitempty"`
	Name      string    `json:"name"`
	AliasName string    `json:"alias_name"`
}

// Request is the C++ server's inference request.
type Request struct {
	Tensor        []Tensor `json:"tensor"`
	FetchVarNames []string `json:"fetch_var_names"`
	LogID         int64    `json:"log_id"`
}

// IsRequest says whether a JSON object the user gave is already a whole
// request (it has "tensor"), to send as it is.
func IsRequest(data []byte) bool {
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return false
	}
	_, ok := obj["tensor"]
	return ok
}

// CheckInput reads what a user gives (field names it in errors): a JSON
// object, either a whole request or one field per feed.
func CheckInput(field string, data []byte) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return nil, fmt.Errorf("%s: not a JSON object: %v", field, err)
	}
	if obj == nil {
		return nil, fmt.Errorf("%s: not a JSON object: null", field)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: more than one JSON value", field)
	}
	if len(obj) == 0 {
		return nil, fmt.Errorf("%s: the object has no feeds", field)
	}
	if _, ok := obj["tensor"]; ok {
		var r Request
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("%s: a request with \"tensor\" is sent as it is, and must be the server's Request: %v", field, err)
		}
		if len(r.FetchVarNames) == 0 {
			return nil, fmt.Errorf("%s: a request with \"tensor\" needs \"fetch_var_names\"", field)
		}
	}
	return obj, nil
}

// Request builds the request for feeds given as one JSON field each, as
// Paddle Serving's HTTP client does for a feed dict without a batch: a
// list (nested or flat) becomes a tensor of the feed's shape with a batch
// dimension of 1 in front; a single value keeps the feed's shape. fetch
// names the fetch variables to return (all when empty).
func (s *Signature) Request(field string, in map[string]json.RawMessage, fetch []string) (*Request, error) {
	req := &Request{}
	var missing []string
	for _, v := range s.Feeds {
		if _, ok := in[v.Alias]; !ok {
			missing = append(missing, v.String())
		}
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasSuffix(k, ".lod") {
			if _, ok := s.feed(strings.TrimSuffix(k, ".lod")); ok {
				continue
			}
		}
		v, ok := s.feed(k)
		if !ok {
			return nil, fmt.Errorf("%s: %q is not a feed of the model; its feeds: %s", field, k, listVars(s.Feeds))
		}
		t, err := v.tensor(in[k])
		if err != nil {
			return nil, fmt.Errorf("%s: feed %s: %v", field, v, err)
		}
		if raw, ok := in[k+".lod"]; ok {
			if err := json.Unmarshal(raw, &t.LoD); err != nil {
				return nil, fmt.Errorf("%s: %s.lod: a list of offsets: %v", field, k, err)
			}
		}
		req.Tensor = append(req.Tensor, t)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: the model also takes %s", field, strings.Join(missing, ", "))
	}
	if len(fetch) == 0 {
		for _, v := range s.Fetches {
			req.FetchVarNames = append(req.FetchVarNames, v.Alias)
		}
		return req, nil
	}
	for _, f := range fetch {
		found := false
		for _, v := range s.Fetches {
			found = found || v.Alias == f
		}
		if !found {
			return nil, fmt.Errorf("--fetch: %q is not a fetch variable of the model; its fetch variables: %s", f, listVars(s.Fetches))
		}
	}
	req.FetchVarNames = fetch
	return req, nil
}

// ImageRequest sends an image file's bytes, base64-encoded, to the model's
// one string feed, as Paddle Serving's OCR and classification C++ clients
// send images to models whose first op decodes them.
func (s *Signature) ImageRequest(image []byte, fetch []string) (*Request, error) {
	var strs []Var
	for _, v := range s.Feeds {
		if v.Type == TypeBytes {
			strs = append(strs, v)
		}
	}
	if len(strs) != 1 || len(s.Feeds) != 1 {
		return nil, fmt.Errorf("--image: the model takes %s, not one string feed for an encoded image: give its tensors with -f or --data", listVars(s.Feeds))
	}
	raw, _ := json.Marshal(base64.StdEncoding.EncodeToString(image))
	return s.Request("--image", map[string]json.RawMessage{strs[0].Alias: raw}, fetch)
}

// tensor converts one feed's JSON value.
func (v Var) tensor(raw json.RawMessage) (Tensor, error) {
	t := Tensor{ElemType: v.Type, Name: v.Name, AliasName: v.Alias}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var val any
	if err := dec.Decode(&val); err != nil {
		return t, err
	}
	var flat []any
	_, isList := val.([]any)
	flatten(val, &flat)
	if isList {
		t.Shape = append([]int64{1}, v.Shape...)
	} else {
		t.Shape = append([]int64(nil), v.Shape...)
	}
	if want, fixed := size(v.Shape); fixed && !v.LoD && isList && int64(len(flat)) != want {
		return t, fmt.Errorf("takes %d values (shape %v), got %d", want, v.Shape, len(flat))
	}
	for _, x := range flat {
		switch v.Type {
		case TypeBytes:
			s, ok := x.(string)
			if !ok {
				return t, fmt.Errorf("takes strings, got %v", x)
			}
			t.Data = append(t.Data, s)
		case TypeFloat32:
			n, ok := x.(json.Number)
			if !ok {
				return t, fmt.Errorf("takes numbers, got %q", x)
			}
			f, err := n.Float64()
			if err != nil {
				return t, fmt.Errorf("%s: %v", n, err)
			}
			t.FloatData = append(t.FloatData, f)
		case TypeInt64, TypeInt32:
			n, ok := x.(json.Number)
			if !ok {
				return t, fmt.Errorf("takes integers, got %q", x)
			}
			i, err := n.Int64()
			if err != nil {
				return t, fmt.Errorf("takes integers, got %s", n)
			}
			if v.Type == TypeInt32 {
				if i < math.MinInt32 || i > math.MaxInt32 {
					return t, fmt.Errorf("%d is out of int32's range", i)
				}
				t.IntData = append(t.IntData, i)
			} else {
				t.Int64Data = append(t.Int64Data, i)
			}
		default:
			return t, fmt.Errorf("its element type %d is not one serve predict converts: send the whole request, with \"tensor\", in -f or --data", v.Type)
		}
	}
	if len(flat) == 0 {
		return t, fmt.Errorf("no values")
	}
	return t, nil
}

func flatten(v any, out *[]any) {
	if l, ok := v.([]any); ok {
		for _, x := range l {
			flatten(x, out)
		}
		return
	}
	*out = append(*out, v)
}

// size is the number of values of a shape; fixed is false when a
// dimension is variable (-1).
func size(shape []int64) (int64, bool) {
	n := int64(1)
	for _, d := range shape {
		if d <= 0 {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// Response is the C++ server's answer.
type Response struct {
	ErrNo   int    `json:"err_no"`
	ErrMsg  string `json:"err_msg"`
	Outputs []struct {
		Tensor     []Tensor `json:"tensor"`
		EngineName string   `json:"engine_name"`
	} `json:"outputs"`
	LogID int64 `json:"log_id"`
}

// ParseResponse reads the server's answer; ok is false when the body is
// not one.
func ParseResponse(body []byte) (Response, bool) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return Response{}, false
	}
	_, hasOutputs := probe["outputs"]
	_, hasErr := probe["err_no"]
	if !hasOutputs && !hasErr {
		return Response{}, false
	}
	var r Response
	if err := json.Unmarshal(body, &r); err != nil {
		return Response{}, false
	}
	return r, true
}

// Lines renders an answer for people: NAME: VALUES, one fetch variable a
// line, with the shape when it has more than one dimension beyond 1.
func (r Response) Lines() string {
	var b strings.Builder
	for _, o := range r.Outputs {
		for _, t := range o.Tensor {
			name := t.AliasName
			if name == "" {
				name = t.Name
			}
			var vals []string
			for _, f := range t.FloatData {
				vals = append(vals, strconv.FormatFloat(f, 'g', -1, 64))
			}
			for _, i := range append(append([]int64(nil), t.Int64Data...), t.IntData...) {
				vals = append(vals, strconv.FormatInt(i, 10))
			}
			for _, d := range t.Data {
				vals = append(vals, strconv.Quote(d))
			}
			fmt.Fprintf(&b, "%s: [%s]", name, strings.Join(vals, ", "))
			dims := 0
			for _, d := range t.Shape {
				if d != 1 {
					dims++
				}
			}
			if dims > 1 {
				fmt.Fprintf(&b, " (shape %v)", t.Shape)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}
