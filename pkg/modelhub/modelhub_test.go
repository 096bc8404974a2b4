package modelhub

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/paddleflow/paddlex/internal/golden"
	"github.com/paddleflow/paddlex/internal/hermetic"
)

func spec() Spec {
	s := Spec{Name: "ppocr-det", Namespace: "kubeflow", ModelName: "ppocr-det", ModelVersion: "v1", PVCName: "ppocr-det",
		Framework: "PaddleOCR", Labels: map[string]string{"dataset": "icdar2015", "app": "ocr"}}
	s.Defaults()
	return s
}

func TestRenderJobGolden(t *testing.T) {
	s := spec()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	golden.AssertObjects(t, "testdata/push-job.golden.yaml", Render(s))

	d := Spec{Name: "m", Namespace: "team-a", ModelName: "ppocr-rec", PVCName: "task", Force: true, Endpoint: "https://s3.example.com"}
	d.Defaults()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	golden.AssertObjects(t, "testdata/push-job-force.golden.yaml", Render(d))
}

func TestRenderJobKeepsSecretsOutOfArgs(t *testing.T) {
	job := RenderJob(spec())
	b, _ := json.Marshal(job.Object)
	text := string(b)
	for _, want := range []string{`"secretKeyRef":{"key":"access-key","name":"data-center"}`, `"secretKeyRef":{"key":"secret-key","name":"data-center"}`} {
		if !strings.Contains(text, want) {
			t.Errorf("job lacks %s", want)
		}
	}
	// The keys reach mc on stdin: no mc invocation names them.
	for _, line := range strings.Split(uploadScript, "\n") {
		if strings.Contains(line, "mc ") && strings.Contains(line, "KEY") && !strings.HasPrefix(line, "printf") {
			t.Errorf("script passes keys in arguments: %s", line)
		}
	}
	for _, want := range []string{"mc alias set", "mc mb --ignore-existing", "mc cp"} {
		if !strings.Contains(uploadScript, want) {
			t.Errorf("script lacks %q", want)
		}
	}
}

// The upload script's own shell logic (everything but mc and the cluster)
// runs for real against a fake mc on PATH.
func TestUploadScript(t *testing.T) {
	sh := hermetic.LookPath(t, "sh")
	for _, c := range []struct {
		name     string
		exists   bool
		force    bool
		noFile   bool
		prefix   string // the Secret's model-prefix, a tenant's
		wantCode int
	}{
		{name: "new version"},
		{name: "a tenant's", prefix: "team-a/"},
		{name: "exists", exists: true, wantCode: JobExitExists},
		{name: "exists forced", exists: true, force: true},
		{name: "no archive", noFile: true, wantCode: JobExitNoArchive},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := dir + "/bin"
			log := dir + "/mc.log"
			record := dir + "/tmp-model.json"
			statCode := "1"
			if c.exists {
				statCode = "0"
			}
			mustWrite(t, bin+"/mc", "#!/bin/sh\necho \"$*\" >> "+log+"\nif [ \"$1\" = alias ]; then cat >> "+log+"; fi\nif [ \"$1\" = stat ]; then exit "+statCode+"; fi\nif [ \"$1\" = cp ] && [ \"$3\" = "+record+" ]; then cp "+record+" "+dir+"/model.json; fi\n", 0o755)
			s := spec()
			s.Force = c.force
			root := dir + "/pvc"
			if !c.noFile {
				mustWrite(t, root+"/ppocr-det.tar.gz", "archive bytes", 0o644)
			}
			script := strings.ReplaceAll(uploadScript, TaskMountPath, root)
			// The container writes its metadata record to /tmp; here it goes
			// to the test's directory, which the test removes.
			if !strings.Contains(script, "/tmp/model.json") {
				t.Fatal("the upload script no longer writes /tmp/model.json: update this test")
			}
			script = strings.ReplaceAll(script, "/tmp/model.json", record)
			cmd := exec.Command(sh, "-c", script)
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=" + dir}
			for _, e := range RenderJob(s).Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["env"].([]any) {
				m := e.(map[string]any)
				v, _ := m["value"].(string)
				if m["valueFrom"] != nil {
					v = "key-of-" + m["name"].(string)
				}
				if m["name"] == "MODEL_PREFIX" {
					v = c.prefix
				}
				cmd.Env = append(cmd.Env, m["name"].(string)+"="+v)
			}
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != c.wantCode {
				t.Fatalf("exit %d, want %d: %s", code, c.wantCode, out)
			}
			calls := readFile(t, log)
			if c.noFile {
				if calls != "" {
					t.Errorf("mc ran without an archive: %s", calls)
				}
				return
			}
			if !strings.Contains(calls, "alias set --api S3v4 model-center http://minio-service.kubeflow:9000\nkey-of-ACCESS_KEY\nkey-of-SECRET_KEY\n") {
				t.Errorf("keys not passed on stdin:\n%s", calls)
			}
			if strings.Contains(strings.ReplaceAll(calls, "\nkey-of-", ""), "key-of-") {
				t.Errorf("keys in arguments:\n%s", calls)
			}
			if c.wantCode != 0 {
				if strings.Contains(calls, "cp ") {
					t.Errorf("copied despite failure:\n%s", calls)
				}
				return
			}
			if !strings.Contains(calls, "cp --quiet "+root+"/ppocr-det.tar.gz model-center/model-center/"+c.prefix+"ppocr-det/v1/ppocr-det.tar.gz") {
				t.Errorf("archive not copied:\n%s", calls)
			}
			// A tenant's keys may not make buckets; the platform's do.
			if made := strings.Contains(calls, "mb --ignore-existing"); made != (c.prefix == "") {
				t.Errorf("with prefix %q, mc mb ran: %v\n%s", c.prefix, made, calls)
			}
			m, err := ParseMetadata([]byte(readFile(t, dir+"/model.json")))
			if err != nil {
				t.Fatal(err)
			}
			if m.SHA256 != sha256hex("archive bytes") || m.Size != 13 || m.Model != "ppocr-det" || m.Version != "v1" ||
				m.Source != "pvc://ppocr-det/ppocr-det.tar.gz" || m.Framework != "PaddleOCR" || m.Labels["dataset"] != "icdar2015" || time.Since(m.Created) > time.Minute {
				t.Errorf("metadata = %+v", m)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(*Spec)
		field string
	}{
		{"bad model", func(s *Spec) { s.ModelName = "Bad_Name" }, "--model-name"},
		{"bad version", func(s *Spec) { s.ModelVersion = "v1/../x" }, "--model-version"},
		{"no pvc", func(s *Spec) { s.PVCName = "" }, "--pvc-name"},
		{"bad endpoint", func(s *Spec) { s.Endpoint = "minio:9000" }, "--endpoint"},
		{"endpoint path", func(s *Spec) { s.Endpoint = "http://minio:9000/model-center" }, "--endpoint"},
		{"escape", func(s *Spec) { s.ArchivePath = "../etc/passwd" }, "--archive-path"},
		{"abs", func(s *Spec) { s.ArchivePath = "/x.tar.gz" }, "--archive-path"},
		{"action", func(s *Spec) { s.Action = "push" }, "--action"},
		{"long name", func(s *Spec) { s.Name = strings.Repeat("a", 60) }, "NAME"},
	} {
		s := spec()
		c.edit(&s)
		err := s.Validate()
		if exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: err = %v, want a usage error naming %s", c.name, err, c.field)
		}
	}
}

func TestParseRef(t *testing.T) {
	r, err := ParseRef("M:V", "ppocr-det:v1.2")
	if err != nil || r.Model != "ppocr-det" || r.Version != "v1.2" {
		t.Errorf("got %v %v", r, err)
	}
	r, err = ParseRef("M:V", "ppocr-det")
	if err != nil || r.Version != "latest" {
		t.Errorf("got %v %v", r, err)
	}
	for _, bad := range []string{"", ":v1", "Model:v1", "m:-v", "m:a/b"} {
		if _, err := ParseRef("M:V", bad); exit.Code(err) != exit.Usage {
			t.Errorf("ParseRef(%q) = %v, want usage error", bad, err)
		}
	}
}

func TestParseLabels(t *testing.T) {
	l, err := ParseLabels("--label", []string{"a=b", "team.io/x=y=z"})
	if err != nil || l["a"] != "b" || l["team.io/x"] != "y=z" {
		t.Errorf("got %v %v", l, err)
	}
	if _, err := ParseLabels("--label", []string{"novalue"}); exit.Code(err) != exit.Usage {
		t.Errorf("want usage error, got %v", err)
	}
}
