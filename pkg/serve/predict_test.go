package serve

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{`{"key": ["image"], "value": ["aGk="]}`, `{"key":["image"],"value":["aGk="]}`, ""},
		{`{"key": ["x", "y"], "value": [[1, 2], "3"]}`, `{"key":["x","y"],"value":["[1,2]","3"]}`, ""},
		{`{"x": [0.5, 1.5], "a": "text", "n": 12345678901234567890}`, `{"key":["a","n","x"],"value":["text","12345678901234567890","[0.5,1.5]"]}`, ""},
		{`{"key": ["x"], "value": []}`, "", "1 keys but 0 values"},
		{`{"key": [], "value": []}`, "", "no keys"},
		{`{}`, "", "no fields"},
		{`[1]`, "", "not a JSON object"},
		{`null`, "", "not a JSON object"},
		{`{"x": 1} {"y": 2}`, "", "more than one JSON value"},
		{`{"x": `, "", "not a JSON object"},
	} {
		r, err := ParseRequest("--data", []byte(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.HasPrefix(err.Error(), "--data: ") {
				t.Errorf("%s: err = %v, want %q", c.in, err, c.err)
			}
			continue
		}
		b, _ := json.Marshal(r)
		if err != nil || string(b) != c.want {
			t.Errorf("%s: %s, %v; want %s", c.in, b, err, c.want)
		}
	}
	if b, _ := json.Marshal(ImageRequest([]byte("hi"))); string(b) != `{"key":["image"],"value":["aGk="]}` {
		t.Errorf("image request: %s", b)
	}
}

func TestParseResponse(t *testing.T) {
	r, ok := ParseResponse([]byte(`{"err_no": 0, "err_msg": "", "key": ["res", "n"], "value": ["[['text', [[1, 2]]]]", "1"]}`))
	if !ok || r.ErrNo != 0 || r.Lines() != "res: [['text', [[1, 2]]]]\nn: 1\n" {
		t.Errorf("%+v %v %q", r, ok, r.Lines())
	}
	if r, ok := ParseResponse([]byte(`{"err_no": 3, "err_msg": "bad"}`)); !ok || r.ErrNo != 3 || r.ErrMsg != "bad" {
		t.Errorf("%+v", r)
	}
	for _, body := range []string{`{"outputs": []}`, `not json`, `[]`} {
		if _, ok := ParseResponse([]byte(body)); ok {
			t.Errorf("%s read as a pipeline answer", body)
		}
	}
}
