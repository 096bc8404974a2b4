package serve

import (
	"encoding/json"
	"strings"
	"testing"
)

// detConf is what paddle_serving_client.convert writes for PP-OCR's
// detection model: one float32 image tensor of variable height and width.
const detConf = `feed_var {
  name: "x"
  alias_name: "x"
  is_lod_tensor: false
  feed_type: 1
  shape: 3
  shape: -1
  shape: -1
}
fetch_var {
  name: "save_infer_model/scale_0.tmp_1"
  alias_name: "save_infer_model/scale_0.tmp_1"
  is_lod_tensor: false
  fetch_type: 1
  shape: 1
  shape: -1
  shape: -1
}
`

// mixedConf has a feed of each type the command converts.
const mixedConf = `feed_var {
  name: "dense_input"
  alias_name: "dense"
  is_lod_tensor: false
  feed_type: 1
  shape: 2
  shape: 2
}
feed_var {
  name: "C1"
  alias_name: "C1"
  is_lod_tensor: true
  feed_type: 0
  shape: -1
}
feed_var {
  name: "n"
  is_lod_tensor: false
  feed_type: 2
  shape: 1
}
feed_var { name: "text" alias_name: "text" feed_type: 3 shape: 1 }
fetch_var {
  name: "prob"
  alias_name: "prob"
  fetch_type: 1
  shape: 1
}
fetch_var {
  name: "label"
  alias_name: "label"
  fetch_type: 0
  shape: 1
}
`

func TestParseSignature(t *testing.T) {
	sig, err := ParseSignature(detConf)
	if err != nil {
		t.Fatal(err)
	}
	if len(sig.Feeds) != 1 || sig.Feeds[0].String() != "x (float32 [3 -1 -1])" || sig.Fetches[0].Alias != "save_infer_model/scale_0.tmp_1" {
		t.Errorf("%+v", sig)
	}
	sig, err = ParseSignature(mixedConf)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range append(sig.Feeds, sig.Fetches...) {
		got = append(got, v.Name+"="+v.String())
	}
	if want := "dense_input=dense (float32 [2 2]) C1=C1 (int64 [-1]) n=n (int32 [1]) text=text (string [1]) prob=prob (float32 [1]) label=label (int64 [1])"; strings.Join(got, " ") != want {
		t.Errorf("vars:\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	if !sig.Feeds[1].LoD || sig.Feeds[0].LoD {
		t.Errorf("lod: %+v", sig.Feeds)
	}
	for _, bad := range []string{"", "feed_var {}", `fetch_var { name: "y" }`, `feed_var { name: x }`, `feed_var { name: "x" shape: many }`} {
		if _, err := ParseSignature(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestRequest(t *testing.T) {
	sig, _ := ParseSignature(mixedConf)
	in := func(s string) map[string]json.RawMessage {
		m, err := CheckInput("--data", []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	req, err := sig.Request("--data", in(`{"dense": [[0.5, 1], [2, 3]], "C1": [1, 2, 3], "C1.lod": [0, 3], "n": 7, "text": "hello"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(req)
	want := `{"tensor":[` +
		`{"int64_data":[1,2,3],"elem_type":0,"shape":[1,-1],"lod":[0,3],"name":"C1","alias_name":"C1"},` +
		`{"float_data":[0.5,1,2,3],"elem_type":1,"shape":[1,2,2],"name":"dense_input","alias_name":"dense"},` +
		`{"int_data":[7],"elem_type":2,"shape":[1],"name":"n","alias_name":"n"},` +
		`{"data":["hello"],"elem_type":3,"shape":[1],"name":"text","alias_name":"text"}],` +
		`"fetch_var_names":["prob","label"],"log_id":0}`
	if string(b) != want {
		t.Errorf("request:\n%s\nwant\n%s", b, want)
	}
	req, err = sig.Request("--data", in(`{"dense": [1, 2, 3, 4], "C1": [9], "n": [1], "text": ["a"]}`), []string{"label"})
	if err != nil || strings.Join(req.FetchVarNames, ",") != "label" {
		t.Errorf("--fetch label: %+v %v", req, err)
	}
	for _, c := range []struct{ in, err string }{
		{`{"dense": [1, 2, 3], "C1": [1], "n": 1, "text": "a"}`, "feed dense (float32 [2 2]): takes 4 values (shape [2 2]), got 3"},
		{`{"dense": [1, 2, 3, 4], "C1": [1.5], "n": 1, "text": "a"}`, "feed C1 (int64 [-1]): takes integers, got 1.5"},
		{`{"dense": [1, 2, 3, 4], "C1": [1], "n": 3000000000, "text": "a"}`, "out of int32's range"},
		{`{"dense": [1, 2, 3, "4"], "C1": [1], "n": 1, "text": "a"}`, `takes numbers, got "4"`},
		{`{"dense": [1, 2, 3, 4], "C1": [1], "n": 1, "text": 5}`, "takes strings, got 5"},
		{`{"dense": [1, 2, 3, 4], "C1": [], "n": 1, "text": "a"}`, "feed C1 (int64 [-1]): no values"},
		{`{"dense": [1, 2, 3, 4], "C1": [1], "text": "a"}`, "the model also takes n (int32 [1])"},
		{`{"dense": [1, 2, 3, 4], "C1": [1], "n": 1, "text": "a", "dense_input": [1]}`, `"dense_input" is not a feed of the model; its feeds: dense (float32 [2 2]), C1 (int64 [-1]), n (int32 [1]), text (string [1])`},
	} {
		_, err := sig.Request("--data", in(c.in), nil)
		if err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), "--data: ") {
			t.Errorf("%s: %v, want %q", c.in, err, c.err)
		}
	}
	if _, err := sig.Request("--data", in(`{"dense": [1, 2, 3, 4], "C1": [1], "n": 1, "text": "a"}`), []string{"logits"}); err == nil ||
		!strings.Contains(err.Error(), `--fetch: "logits" is not a fetch variable of the model; its fetch variables: prob (float32 [1]), label (int64 [1])`) {
		t.Errorf("--fetch logits: %v", err)
	}
}

func TestImageRequest(t *testing.T) {
	sig, _ := ParseSignature(`feed_var { name: "image" alias_name: "image" feed_type: 3 shape: 1 } fetch_var { name: "res" alias_name: "res" fetch_type: 3 shape: 1 }`)
	req, err := sig.ImageRequest([]byte("hi"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(req); string(b) != `{"tensor":[{"data":["aGk="],"elem_type":3,"shape":[1],"name":"image","alias_name":"image"}],"fetch_var_names":["res"],"log_id":0}` {
		t.Errorf("image request: %s", b)
	}
	det, _ := ParseSignature(detConf)
	if _, err := det.ImageRequest([]byte("hi"), nil); err == nil || !strings.Contains(err.Error(), "the model takes x (float32 [3 -1 -1]), not one string feed") {
		t.Errorf("image to a tensor model: %v", err)
	}
}

func TestCheckInput(t *testing.T) {
	for _, c := range []struct{ in, err string }{
		{`{}`, "no feeds"},
		{`[1]`, "not a JSON object"},
		{`null`, "not a JSON object"},
		{`{"x": 1} {"y": 2}`, "more than one JSON value"},
		{`{"x": `, "not a JSON object"},
		{`{"tensor": [{"float_data": [1]}]}`, `needs "fetch_var_names"`},
		{`{"tensor": 1, "fetch_var_names": ["y"]}`, "must be the server's Request"},
	} {
		if _, err := CheckInput("-f req.json", []byte(c.in)); err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), "-f req.json: ") {
			t.Errorf("%s: %v, want %q", c.in, err, c.err)
		}
	}
	whole := `{"tensor": [{"float_data": [1], "elem_type": 1, "name": "x", "alias_name": "x", "shape": [1, 1]}], "fetch_var_names": ["y"]}`
	if _, err := CheckInput("--data", []byte(whole)); err != nil || !IsRequest([]byte(whole)) || IsRequest([]byte(`{"x": [1]}`)) {
		t.Errorf("a whole request: %v", err)
	}
}

func TestParseResponse(t *testing.T) {
	body := `{"err_no": 0, "err_msg": "", "outputs": [{"tensor": [` +
		`{"float_data": [0.25, 0.75], "elem_type": 1, "shape": [1, 2], "name": "prob", "alias_name": "prob"},` +
		`{"int64_data": [3], "elem_type": 0, "shape": [1, 1], "name": "label", "alias_name": "label"},` +
		`{"float_data": [1, 2, 3, 4], "elem_type": 1, "shape": [1, 2, 2], "name": "map"},` +
		`{"data": ["a, b"], "elem_type": 3, "shape": [1], "name": "text", "alias_name": "text"}], "engine_name": "general_infer_0"}], "log_id": 0}`
	r, ok := ParseResponse([]byte(body))
	if want := "prob: [0.25, 0.75]\nlabel: [3]\nmap: [1, 2, 3, 4] (shape [1 2 2])\ntext: [\"a, b\"]\n"; !ok || r.ErrNo != 0 || r.Lines() != want {
		t.Errorf("%+v %v\n%s\nwant\n%s", r, ok, r.Lines(), want)
	}
	if r, ok := ParseResponse([]byte(`{"err_no": 3, "err_msg": "bad"}`)); !ok || r.ErrNo != 3 || r.ErrMsg != "bad" {
		t.Errorf("%+v", r)
	}
	for _, body := range []string{`{"key": ["x"]}`, `not json`, `[]`} {
		if _, ok := ParseResponse([]byte(body)); ok {
			t.Errorf("%s read as an answer", body)
		}
	}
}
