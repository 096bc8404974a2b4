package modelhub_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/cmd"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/modelstore"
	"github.com/paddleflow/paddlex/pkg/modelstore/s3test"
)

func TestMain(m *testing.M) {
	stage, err := filepath.Abs("testdata/pod-fail-exit-2.yaml")
	if err != nil {
		panic(err)
	}
	os.Exit(testenv.Main(m, testenv.Options{Cluster: true, Stages: []string{stage}}))
}

type result struct {
	Stdout, Stderr string
	Code           int
}

// run runs paddlex in-process without a cluster, with env as the only
// environment variables.
func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}})
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if _, ok := env["PADDLEX_CONFIG"]; !ok {
		env = withEnv(env, "XDG_CONFIG_HOME", t.TempDir())
	}
	code := cmd.Run(context.Background(), f, args, cmd.Options{Env: lookup})
	return result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

func startS3(t *testing.T) *s3test.Server { return s3test.Start(t) }

func withEnv(env map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range env {
		out[a] = b
	}
	return out
}

func writeArchive(t *testing.T, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	p := filepath.Join(t.TempDir(), "ppocr-det.tar.gz")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, data
}

func expect(t *testing.T, r result, code int, stdout ...string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.Code, code, r.Stdout, r.Stderr)
	}
	for _, s := range stdout {
		if !strings.Contains(r.Stdout+r.Stderr, s) {
			t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", s, r.Stdout, r.Stderr)
		}
	}
}

// The whole local flow against a real S3 server over HTTP: keys from the
// environment, as a user sets them.
func TestLocalFlow(t *testing.T) {
	srv := s3test.Start(t)
	env := map[string]string{"PADDLEX_S3_ACCESS_KEY": srv.AccessKey, "PADDLEX_S3_SECRET_KEY": srv.SecretKey, "PADDLEX_ENDPOINT": srv.Endpoint}
	file, data := writeArchive(t, 256<<10)

	r := run(t, env, "modelhub", "push", "ppocr-det:v1", "--from-file", file, "--framework", "PaddleOCR", "--label", "dataset=icdar2015")
	expect(t, r, 0, "model ppocr-det:v1 pushed: 256.0KiB")
	if strings.Contains(r.Stdout+r.Stderr, srv.SecretKey) {
		t.Error("the secret key was printed")
	}
	// Immutable without --force.
	expect(t, run(t, env, "modelhub", "push", "ppocr-det:v1", "--from-file", file), 2, "already exists", "--force")
	expect(t, run(t, env, "modelhub", "push", "ppocr-det:v1", "--from-file", file, "--force", "--framework", "PaddleOCR", "--label", "dataset=icdar2015"), 0)
	expect(t, run(t, env, "modelhub", "push", "ppocr-det:v2", "--from-file", file), 0)

	r = run(t, env, "modelhub", "list")
	expect(t, r, 0, "MODEL", "ppocr-det", "v1", "v2", "256.0KiB", "file://"+file)
	r = run(t, env, "modelhub", "versions", "ppocr-det", "-o", "wide")
	expect(t, r, 0, "VERSION", "PaddleOCR", "dataset=icdar2015")
	if strings.Contains(r.Stdout, "MODEL") {
		t.Errorf("versions repeats the model column:\n%s", r.Stdout)
	}

	expect(t, run(t, env, "modelhub", "tag", "ppocr-det:v1", "latest"), 0, "model ppocr-det:latest -> v1")
	expect(t, run(t, env, "modelhub", "tag", "ppocr-det:v2", "latest"), 0, "model ppocr-det:latest -> v2")
	r = run(t, env, "modelhub", "versions", "ppocr-det", "-o", "json")
	expect(t, r, 0)
	var vs []modelstore.Version
	if err := json.Unmarshal([]byte(r.Stdout), &vs); err != nil {
		t.Fatalf("-o json: %v\n%s", err, r.Stdout)
	}
	if len(vs) != 2 || vs[1].Version != "v2" || len(vs[1].Tags) != 1 || vs[1].Tags[0] != "latest" || vs[0].SHA256 == "" {
		t.Fatalf("versions = %+v", vs)
	}

	dir := t.TempDir()
	expect(t, run(t, env, "modelhub", "pull", "ppocr-det", "-o", dir), 0, "model ppocr-det:latest (v2) pulled", "verified")
	if got, _ := os.ReadFile(filepath.Join(dir, "ppocr-det.tar.gz")); !bytes.Equal(got, data) {
		t.Error("pulled archive differs")
	}

	// A corrupted archive is refused and leaves nothing behind.
	bad := append([]byte{}, data...)
	bad[0] ^= 1
	srv.Put(t, modelhub.Bucket, modelhub.ArchiveKey("ppocr-det", "v1"), bad)
	dir = t.TempDir()
	expect(t, run(t, env, "modelhub", "pull", "ppocr-det:v1", "-o", dir), 1, "corrupt", "sha256")
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left %v", entries)
	}

	expect(t, run(t, env, "modelhub", "delete", "ppocr-det:v2"), 0, "model ppocr-det:latest deleted", "model ppocr-det:v2 deleted")
	r = run(t, env, "modelhub", "versions", "ppocr-det")
	expect(t, r, 0, "v1")
	if strings.Contains(r.Stdout, "v2") || strings.Contains(r.Stdout, "latest") {
		t.Errorf("v2 or latest left:\n%s", r.Stdout)
	}
	expect(t, run(t, env, "modelhub", "delete", "ppocr-det:v2"), 1, "not found")
}

func TestKeysFromFlagsAndAliases(t *testing.T) {
	srv := s3test.Start(t)
	file, _ := writeArchive(t, 10)
	expect(t, run(t, nil, "modelhub", "push", "m:v1", "--from-file", file, "--endpoint", srv.Endpoint,
		"--access-key", srv.AccessKey, "--secret-key", srv.SecretKey), 0, "model m:v1 pushed")
	expect(t, run(t, nil, "modelhub", "list", "--endpoint", srv.Endpoint,
		"--s3-access-key", srv.AccessKey, "--s3-secret-key", srv.SecretKey), 0, "m ", "v1")
	// The config file.
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte("endpoint: "+srv.Endpoint+"\ns3-access-key: "+srv.AccessKey+"\ns3-secret-key: "+srv.SecretKey+"\n"), 0o600)
	expect(t, run(t, map[string]string{"PADDLEX_CONFIG": cfg}, "modelhub", "versions", "m"), 0, "v1")
}

func TestWrongKeyExits4(t *testing.T) {
	srv := s3test.Start(t)
	file, _ := writeArchive(t, 10)
	env := map[string]string{"PADDLEX_S3_ACCESS_KEY": srv.AccessKey, "PADDLEX_S3_SECRET_KEY": "wrong-secret", "PADDLEX_ENDPOINT": srv.Endpoint}
	for _, args := range [][]string{
		{"modelhub", "push", "m:v1", "--from-file", file},
		{"modelhub", "list"},
		{"modelhub", "pull", "m:v1", "-o", t.TempDir()},
		{"modelhub", "delete", "m:v1"},
		{"modelhub", "tag", "m:v1", "latest"},
	} {
		r := run(t, env, args...)
		expect(t, r, 4, "refused the credentials")
		if strings.Contains(r.Stdout+r.Stderr, "wrong-secret") {
			t.Errorf("%v printed the key", args)
		}
	}
}

func TestUnreachableEndpointExits4(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	r := run(t, nil, "modelhub", "list", "--endpoint", "http://"+addr, "--access-key", "a", "--secret-key", "b")
	expect(t, r, 4, "cannot reach the model center")
}

func TestBadInputExits2(t *testing.T) {
	file, _ := writeArchive(t, 10)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"push", "Bad:v1", "--from-file", file}, "M:V: model"},
		{[]string{"push", "m:v/1", "--from-file", file}, "M:V: version"},
		{[]string{"push", "m:v1", "--from-file", file, "--pvc-name", "x"}, "--pvc-name"},
		{[]string{"push", "m:v1", "--from-file", file, "--endpoint", "minio:9000"}, "--endpoint"},
		{[]string{"push", "m:v1", "--from-file", file, "--access-key", "only-one"}, "--s3-secret-key"},
		{[]string{"push", "m:v1", "--from-file", file, "--label", "nolabel"}, "--label"},
		{[]string{"push", "job", "--pvc-name", "p"}, "--model-name"},
		{[]string{"push", "job", "--model-name", "m", "--pvc-name", "p", "--archive-path", "../x"}, "--archive-path"},
		{[]string{"push", "job", "--model-name", "m", "--model-version", "v 1", "--pvc-name", "p"}, "--model-version"},
		{[]string{"push", "m:v1", "--model-name", "m", "--pvc-name", "p"}, "MODEL:VERSION"},
		{[]string{"pull", "m:v1", "-o", ""}, "--output-dir"},
		{[]string{"delete", "m"}, "MODEL:VERSION"},
		{[]string{"tag", "m:v1", "bad/tag"}, "TAG"},
		{[]string{"list", "-o", "table"}, "--output"},
		{[]string{"versions"}, "accepts 1 arg"},
	} {
		r := run(t, nil, append([]string{"modelhub"}, c.args...)...)
		if r.Code != 2 || !strings.Contains(r.Stderr, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming %s", c.args, r.Code, r.Stderr, c.msg)
		}
	}
}

func TestPushJobDryRunPrintsTheJob(t *testing.T) {
	r := run(t, nil, "modelhub", "push", "ppocr-det", "--model-name", "ppocr-det", "--model-version", "v1", "--pvc-name", "ppocr-det",
		"-n", "kubeflow", "--dry-run=client", "-o", "yaml")
	expect(t, r, 0)
	s := modelhub.Spec{Name: "ppocr-det", Namespace: "kubeflow", ModelName: "ppocr-det", ModelVersion: "v1", PVCName: "ppocr-det"}
	s.Defaults()
	var want bytes.Buffer
	o := cmdutil.OutputFlags{Output: "yaml"}
	o.PrintObjects(&want, modelhub.Render(s))
	if r.Stdout != want.String() {
		t.Errorf("dry run printed:\n%s\nwant:\n%s", r.Stdout, want.String())
	}
	// A spec file with the original API's keys renders the same Job.
	spec := filepath.Join(t.TempDir(), "modelhub.yaml")
	os.WriteFile(spec, []byte("name: ppocr-det\nnamespace: kubeflow\nmodel_name: ppocr-det\nmodel_version: v1\npvc_name: ppocr-det\nendpoint: http://minio-service.kubeflow:9000\n"), 0o644)
	r = run(t, nil, "modelhub", "push", "-f", spec, "--dry-run=client", "-o", "yaml")
	expect(t, r, 0)
	if r.Stdout != want.String() {
		t.Errorf("spec file rendered:\n%s", r.Stdout)
	}
	os.WriteFile(spec, []byte("name: x\nmodel: y\n"), 0o644)
	expect(t, run(t, nil, "modelhub", "push", "-f", spec, "--dry-run=client"), 2, "unknown key")
}
