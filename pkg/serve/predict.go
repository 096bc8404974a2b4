package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Paddle Serving's pipeline web service (paddle_serving_server.web_service,
// as PaddleOCR's deploy/pdserving/web_service.py runs it) answers
// POST /NAME/prediction with a JSON body of parallel lists of keys and
// string values, {"key": ["image"], "value": ["<base64>"]}, and answers
// {"err_no": 0, "err_msg": "", "key": [...], "value": [...]}: an error of
// the model is a non-zero err_no with HTTP status 200.

// PipelineRequest is the pipeline web service's request.
type PipelineRequest struct {
	Key   []string `json:"key"`
	Value []string `json:"value"`
}

// PipelineResponse is the pipeline web service's answer.
type PipelineResponse struct {
	ErrNo  int      `json:"err_no"`
	ErrMsg string   `json:"err_msg"`
	Key    []string `json:"key"`
	Value  []string `json:"value"`
}

// ImageKey is the feed the suites' pipeline web services read an image
// from, base64-encoded (PaddleOCR's det op, PaddleClas's and
// PaddleDetection's preprocess ops).
const ImageKey = "image"

// PredictionPath is the path of a pipeline web service's predictions.
func PredictionPath(pipeline string) string { return "/" + pipeline + "/prediction" }

// ImageRequest returns the request that sends an image file's bytes.
func ImageRequest(image []byte) PipelineRequest {
	return PipelineRequest{Key: []string{ImageKey}, Value: []string{base64.StdEncoding.EncodeToString(image)}}
}

// ParseRequest reads the body a user gives (field names it in errors). A
// JSON object with "key" and "value" lists is a pipeline request and is
// sent as it is; any other JSON object gives one key per field, in
// sorted order, with string values as they are and others as their JSON
// text (the pipeline's values are strings: a list of numbers travels as
// "[1, 2]").
func ParseRequest(field string, data []byte) (PipelineRequest, error) {
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return PipelineRequest{}, fmt.Errorf("%s: not a JSON object: %v", field, err)
	}
	if obj == nil {
		return PipelineRequest{}, fmt.Errorf("%s: not a JSON object: null", field)
	}
	if dec.More() {
		return PipelineRequest{}, fmt.Errorf("%s: more than one JSON value", field)
	}
	if _, hasKey := obj["key"]; hasKey {
		if _, hasValue := obj["value"]; hasValue {
			return parsePipeline(field, data)
		}
	}
	if len(obj) == 0 {
		return PipelineRequest{}, fmt.Errorf("%s: the object has no fields to send", field)
	}
	var r PipelineRequest
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		raw := obj[k]
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			s = string(compact(raw))
		}
		r.Key = append(r.Key, k)
		r.Value = append(r.Value, s)
	}
	return r, nil
}

func parsePipeline(field string, data []byte) (PipelineRequest, error) {
	var raw struct {
		Key   []string          `json:"key"`
		Value []json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return PipelineRequest{}, fmt.Errorf("%s: a pipeline request has a list of string keys and a list of values: %v", field, err)
	}
	if len(raw.Key) != len(raw.Value) {
		return PipelineRequest{}, fmt.Errorf("%s: %d keys but %d values: the pipeline pairs them one to one", field, len(raw.Key), len(raw.Value))
	}
	if len(raw.Key) == 0 {
		return PipelineRequest{}, fmt.Errorf("%s: the request has no keys", field)
	}
	r := PipelineRequest{Key: raw.Key}
	for _, v := range raw.Value {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			s = string(compact(v))
		}
		r.Value = append(r.Value, s)
	}
	return r, nil
}

func compact(raw json.RawMessage) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// ParseResponse reads a pipeline web service's answer; ok is false when
// the body is not one.
func ParseResponse(body []byte) (PipelineResponse, bool) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return PipelineResponse{}, false
	}
	if _, ok := probe["err_no"]; !ok {
		return PipelineResponse{}, false
	}
	var r PipelineResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return PipelineResponse{}, false
	}
	return r, true
}

// Lines renders an answer for people: KEY: VALUE, one pair a line.
func (r PipelineResponse) Lines() string {
	var b strings.Builder
	for i, k := range r.Key {
		v := ""
		if i < len(r.Value) {
			v = r.Value[i]
		}
		fmt.Fprintf(&b, "%s: %s\n", k, v)
	}
	return b.String()
}
