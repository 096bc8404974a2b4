package serve

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/pkg/exit"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/internal/golden"
)

func spec(mut func(*Spec)) Spec {
	s := Spec{Name: "ppocr-det", Namespace: "kubeflow", ModelVersion: "v1"}
	if mut != nil {
		mut(&s)
	}
	s.Defaults()
	return s
}

func TestRenderDefaults(t *testing.T) {
	golden.AssertObjects(t, "testdata/default.golden.yaml", Render(spec(nil)))
}

func TestRenderAllFields(t *testing.T) {
	s := spec(func(s *Spec) {
		s.Image = "registry.example.com/serving:0.9.0-cuda11.2"
		s.ModelName = "ch-ppocr-det"
		s.ModelVersion = "2.1_rc"
		s.Endpoint = "https://s3.example.com/"
		s.Port = 9393
		s.MinScale, s.MaxScale, s.Target, s.Metric = 1, 5, 20, MetricRPS
		s.GPU, s.CPU, s.Memory = 1, "2", "8Gi"
		s.Env = map[string]string{"OMP_NUM_THREADS": "4", "FLAGS_fraction_of_gpu_memory_to_use": "0.5"}
	})
	golden.AssertObjects(t, "testdata/all-fields.golden.yaml", Render(s))
}

func TestRenderIsDeterministic(t *testing.T) {
	s := spec(func(s *Spec) { s.Env = map[string]string{"B": "2", "A": "1", "C": "3"} })
	first := string(golden.YAML(t, Render(s)))
	for i := 0; i < 20; i++ {
		if got := string(golden.YAML(t, Render(s))); got != first {
			t.Fatalf("render %d differs:\n%s\nvs\n%s", i, got, first)
		}
	}
}

func TestRenderServesOnConfiguredPort(t *testing.T) {
	obj := Render(spec(func(s *Spec) { s.Port = 9292 + 1 }))[0]
	c := container(t, obj, "containers")
	if got := c["command"]; !reflect.DeepEqual(got, []any{"python3", "-m", "paddle_serving_server.serve", "--model", "ppocr-det/server", "--port", "9293"}) {
		t.Errorf("command = %v", got)
	}
	if got := c["ports"].([]any)[0].(map[string]any)["containerPort"]; got != int64(9293) {
		t.Errorf("containerPort = %v", got)
	}
	if got := c["readinessProbe"].(map[string]any)["tcpSocket"].(map[string]any)["port"]; got != int64(9293) {
		t.Errorf("probe port = %v", got)
	}
}

func TestRenderFetchesFromModelCenter(t *testing.T) {
	obj := Render(spec(func(s *Spec) { s.Endpoint = "http://minio:9000/"; s.ModelVersion = "v2"; s.Secret = "s3-keys" }))[0]
	cs := initContainers(t, obj)
	env := map[string]string{}
	secrets := map[string]string{}
	for _, e := range cs[0]["env"].([]any) {
		m := e.(map[string]any)
		if v, ok := m["value"].(string); ok {
			env[m["name"].(string)] = v
			continue
		}
		ref := m["valueFrom"].(map[string]any)["secretKeyRef"].(map[string]any)
		secrets[m["name"].(string)] = ref["name"].(string) + "/" + ref["key"].(string)
	}
	for k, want := range map[string]string{
		"ARCHIVE_URL":     "http://minio:9000/model-center/ppocr-det/v2/ppocr-det.tar.gz",
		"METADATA_URL":    "http://minio:9000/model-center/ppocr-det/v2/model.json",
		"ENDPOINT":        "http://minio:9000",
		"ARCHIVE_OBJECT":  "model-center/ppocr-det/v2/ppocr-det.tar.gz",
		"METADATA_OBJECT": "model-center/ppocr-det/v2/model.json",
	} {
		if env[k] != want {
			t.Errorf("%s = %q, want %q", k, env[k], want)
		}
	}
	// The keys come from the Secret, never as values or arguments.
	if secrets["ACCESS_KEY"] != "s3-keys/access-key" || secrets["SECRET_KEY"] != "s3-keys/secret-key" {
		t.Errorf("secret env = %v", secrets)
	}
	if cs[1]["image"] != DefaultImage {
		t.Errorf("verify-model runs %v, want the serving image", cs[1]["image"])
	}
	name, _, _ := unstructured.NestedString(obj.Object, "spec", "template", "metadata", "name")
	if name != "ppocr-det-v2" {
		t.Errorf("revision name = %q", name)
	}
}

func TestSpecRoundTrip(t *testing.T) {
	s := spec(func(s *Spec) { s.MinScale, s.MaxScale = 1, 3; s.Env = map[string]string{"A": "1"} })
	obj := Render(s)[0]
	got, ok, err := SpecOf(obj)
	if err != nil || !ok {
		t.Fatalf("SpecOf: %v %v", ok, err)
	}
	s.Action = ""
	if !reflect.DeepEqual(got, s) {
		t.Errorf("SpecOf = %+v, want %+v", got, s)
	}
}

func container(t *testing.T, obj *unstructured.Unstructured, field string) map[string]any {
	t.Helper()
	cs, _, err := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", field)
	if err != nil || len(cs) != 1 {
		t.Fatalf("%s: %v %v", field, cs, err)
	}
	return cs[0].(map[string]any)
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		mut  func(*Spec)
		want string // "" = valid
	}{
		{"defaults", nil, ""},
		{"image without tag", func(s *Spec) { s.Image = "registry.example.com:5000/paddle/serving" }, "--image \"registry.example.com:5000/paddle/serving\" has no tag"},
		{"image empty tag", func(s *Spec) { s.Image = "serving:" }, "empty tag"},
		{"image digest", func(s *Spec) { s.Image = "serving@sha256:" + strings.Repeat("a", 64) }, ""},
		{"image latest", func(s *Spec) { s.Image = "serving:latest" }, ""},
		{"port zero after defaults", func(s *Spec) { s.Port = -1 }, "--port -1 is out of range"},
		{"port too big", func(s *Spec) { s.Port = 70000 }, "--port 70000 is out of range"},
		{"port reserved", func(s *Spec) { s.Port = 8012 }, "reserved by Knative"},
		{"min above max", func(s *Spec) { s.MinScale, s.MaxScale = 3, 2 }, "--min-scale 3 is greater than --max-scale 2"},
		{"min without max", func(s *Spec) { s.MinScale = 3 }, ""},
		{"negative min", func(s *Spec) { s.MinScale = -1 }, "--min-scale must not be negative"},
		{"metric", func(s *Spec) { s.Metric = "cpu" }, "--metric \"cpu\""},
		{"cpu", func(s *Spec) { s.CPU = "two" }, "--cpu \"two\""},
		{"memory zero", func(s *Spec) { s.Memory = "0" }, "--memory \"0\""},
		{"gpu", func(s *Spec) { s.GPU = -1 }, "--gpu"},
		{"env name", func(s *Spec) { s.Env = map[string]string{"1X": "a"} }, "--env \"1X\""},
		{"env reserved", func(s *Spec) { s.Env = map[string]string{"PORT": "1"} }, "--env PORT"},
		{"no version", func(s *Spec) { s.ModelVersion = "" }, "--model-version is required"},
		{"latest version", func(s *Spec) { s.ModelVersion = "latest" }, "--model-version latest moves"},
		{"bad version", func(s *Spec) { s.ModelVersion = "v1/../x" }, "--model-version \"v1/../x\""},
		{"dotted version", func(s *Spec) { s.ModelVersion = "1.0" }, ""},
		{"long revision", func(s *Spec) { s.ModelVersion = strings.Repeat("v", 60) }, "revision name"},
		{"bad name", func(s *Spec) { s.Name = "PPOCR" }, "name \"PPOCR\" is not a valid name"},
		{"bad namespace", func(s *Spec) { s.Namespace = "a_b" }, "--namespace"},
		{"endpoint", func(s *Spec) { s.Endpoint = "minio:9000" }, "--endpoint"},
		{"endpoint path", func(s *Spec) { s.Endpoint = "http://minio:9000/bucket" }, "must not have a path"},
		{"secret", func(s *Spec) { s.Secret = "Bad Secret" }, "--secret"},
		{"action", func(s *Spec) { s.Action = "replace" }, "unknown action"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := spec(c.mut)
			err := s.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want it to contain %q", err, c.want)
			}
			if code := exit.Code(err); code != exit.Usage {
				t.Errorf("exit code = %d, want 2", code)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	if w := spec(func(s *Spec) { s.Image = "serving:latest" }).Warnings(); len(w) != 1 || !strings.Contains(w[0], "latest tag moves") {
		t.Errorf("warnings = %v", w)
	}
	if w := spec(nil).Warnings(); len(w) != 0 {
		t.Errorf("warnings = %v", w)
	}
}

func TestRevisionName(t *testing.T) {
	for in, want := range map[string]string{"v1": "svc-v1", "V2": "svc-v2", "1.0.3": "svc-1-0-3", "rc_1": "svc-rc-1"} {
		if got := RevisionName("svc", in); got != want {
			t.Errorf("RevisionName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTrafficFlow(t *testing.T) {
	tr := Initial("s-v1")
	if tr.String() != "s-v1=100%(current)" {
		t.Fatalf("initial = %s", tr)
	}
	steps := []struct {
		name string
		do   func(Traffic) (Traffic, error)
		want string
	}{
		{"canary 10", func(t Traffic) (Traffic, error) { return Rollout(t, "s-v2", 10) }, "s-v1=90%(current),s-v2=10%(candidate)"},
		{"canary 50", func(t Traffic) (Traffic, error) { return Rollout(t, "s-v2", 50) }, "s-v1=50%(current),s-v2=50%(candidate)"},
		{"promote", Promote, "s-v2=100%(current),s-v1=0%(previous)"},
		{"rollback after promote", Rollback, "s-v1=100%(current)"},
		{"blue-green", func(t Traffic) (Traffic, error) { return Rollout(t, "s-v3", 0) }, "s-v1=100%(current),s-v3=0%(candidate)"},
		{"replace candidate", func(t Traffic) (Traffic, error) { return Rollout(t, "s-v4", 100) }, "s-v1=0%(current),s-v4=100%(candidate)"},
		{"rollback during rollout", Rollback, "s-v1=100%(current)"},
	}
	for _, st := range steps {
		next, err := st.do(tr)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if next.String() != st.want {
			t.Fatalf("%s: %s, want %s", st.name, next, st.want)
		}
		if next.Total() != 100 {
			t.Fatalf("%s: total %d", st.name, next.Total())
		}
		tr = next
	}
	if _, err := Promote(tr); !errors.Is(err, ErrNoCandidate) {
		t.Errorf("promote without candidate: %v", err)
	}
	if _, err := Rollback(tr); !errors.Is(err, ErrNoPrevious) {
		t.Errorf("rollback without previous: %v", err)
	}
	if _, err := Rollout(tr, "s-v1", 10); err == nil || !strings.Contains(err.Error(), "already the current") {
		t.Errorf("rollout of current: %v", err)
	}
	for _, p := range []int64{-1, 101} {
		if _, err := Rollout(tr, "s-v9", p); err == nil {
			t.Errorf("rollout %d%%: no error", p)
		}
	}
	if _, err := Rollout(nil, "s-v9", 10); !errors.Is(err, ErrNoCurrent) {
		t.Errorf("rollout without traffic: %v", err)
	}
}

func TestTrafficOfForeignService(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"traffic": []any{
		map[string]any{"revisionName": "s-a", "percent": int64(30)},
		map[string]any{"revisionName": "s-b", "percent": float64(70)},
	}}}}
	tr := TrafficOf(obj, "spec")
	cur, ok := tr.Current()
	if !ok || cur.Revision != "s-b" {
		t.Fatalf("current = %+v", cur)
	}
	next, err := Rollout(tr, "s-c", 20)
	if err != nil || next.String() != "s-b=80%(current),s-c=20%(candidate)" {
		t.Fatalf("rollout = %s, %v", next, err)
	}
}

func TestStatusOf(t *testing.T) {
	obj := Render(spec(func(s *Spec) { s.MaxScale = 4 }))[0]
	obj.SetGeneration(2)
	_ = unstructured.SetNestedField(obj.Object, map[string]any{
		"observedGeneration": int64(1),
		"url":                "http://ppocr-det.kubeflow.example.com",
		"conditions": []any{
			map[string]any{"type": "ConfigurationsReady", "status": "True"},
			map[string]any{"type": "Ready", "status": "True"},
			map[string]any{"type": "RoutesReady", "status": "True"},
		},
		"traffic": []any{map[string]any{"revisionName": "ppocr-det-v1", "percent": int64(100), "tag": "current", "url": "http://current-ppocr-det.kubeflow.example.com"}},
	}, "status")
	st := StatusOf(obj)
	if st.Ready != "Unknown" {
		t.Errorf("stale generation: ready = %q", st.Ready)
	}
	_ = unstructured.SetNestedField(obj.Object, int64(2), "status", "observedGeneration")
	st = StatusOf(obj)
	if st.Ready != "True" || st.URL == "" || st.MinScale != "0" || st.MaxScale != "4" || st.Version != "v1" || st.ModelName != "ppocr-det" {
		t.Errorf("status = %+v", st)
	}
	if st.TagURLs[TagCurrent] != "http://current-ppocr-det.kubeflow.example.com" {
		t.Errorf("tag urls = %v", st.TagURLs)
	}
}
