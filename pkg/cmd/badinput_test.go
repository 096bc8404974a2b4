package cmd

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
)

// badInput is one command line that must be refused as bad usage: exit 2,
// a message naming the flag or field at fault, and no request sent.
type badInput struct {
	name string
	// args run after --kubeconfig; "$DIR" is replaced by a directory holding
	// files, and "$S3" by the counting server's URL (an S3 endpoint that
	// must not be contacted either).
	args []string
	// files are written to $DIR before the run, name → content.
	files map[string]string
	// stdin is the command's standard input, for -f -.
	stdin string
	// env are PADDLEX_* variables; XDG_CONFIG_HOME is always a fresh
	// directory, so the developer's own config file is never read.
	env map[string]string
	// want are substrings the error must hold: the flag or field, and what
	// is wrong with it.
	want []string
}

// countingServer answers every request with 503 and counts them: a cluster
// (and an S3 endpoint) that proves nothing was sent.
type countingServer struct {
	*httptest.Server
	requests atomic.Int64
	paths    chan string
}

func newCountingServer(t *testing.T) *countingServer {
	t.Helper()
	s := &countingServer{paths: make(chan string, 64)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		select {
		case s.paths <- r.Method + " " + r.URL.Path:
		default:
		}
		http.Error(w, "the bad-input test server was contacted", http.StatusServiceUnavailable)
	}))
	t.Cleanup(s.Close)
	return s
}

// kubeconfig writes a kubeconfig pointing at the server.
func (s *countingServer) kubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "` + s.URL + `"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// drain lists the requests the server saw, for a failure message.
func (s *countingServer) drain() []string {
	var out []string
	for {
		select {
		case p := <-s.paths:
			out = append(out, p)
		default:
			return out
		}
	}
}

// runBadInput runs each case in-process and checks exit 2, the message, and
// that neither the cluster nor the S3 endpoint saw a request.
func runBadInput(t *testing.T, cases []badInput) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newCountingServer(t)
			dir := t.TempDir()
			for name, content := range c.files {
				path := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"--kubeconfig", srv.kubeconfig(t)}
			for _, a := range c.args {
				a = strings.ReplaceAll(a, "$DIR", dir)
				args = append(args, strings.ReplaceAll(a, "$S3", srv.URL))
			}
			env := map[string]string{"XDG_CONFIG_HOME": t.TempDir()}
			for k, v := range c.env {
				env[k] = strings.ReplaceAll(v, "$DIR", dir)
			}
			var out, errOut bytes.Buffer
			f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(c.stdin), Out: &out, ErrOut: &errOut}})
			code := Run(context.Background(), f, args, Options{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
			var problems []string
			if code != exit.Usage {
				problems = append(problems, fmt.Sprintf("exit %d, want %d", code, exit.Usage))
			}
			for _, w := range c.want {
				if !strings.Contains(errOut.String(), w) {
					problems = append(problems, fmt.Sprintf("the error does not say %q", w))
				}
			}
			if n := srv.requests.Load(); n != 0 {
				problems = append(problems, fmt.Sprintf("%d requests reached the server before the input was refused: %v", n, srv.drain()))
			}
			if len(problems) > 0 {
				t.Errorf("paddlex %s\n%s\nstdout: %s\nstderr: %s", strings.Join(c.args, " "), strings.Join(problems, "\n"), out.String(), errOut.String())
			}
		})
	}
}

// Valid command lines the cases below break one thing of.
var (
	datasetArgs = []string{"dataset", "create", "icdar2015", "--source-uri", "s3://b/icdar2015/"}
	trainArgs   = []string{"train", "create", "ppocr-det", "--project", "PaddleOCR", "--image", "paddleocr:2.1.3", "--config-path", "c.yml", "--pvc-name", "task"}
	pushArgs    = []string{"modelhub", "push", "ppocr-det", "--model-name", "ppocr-det", "--model-version", "v1", "--pvc-name", "task"}
	serveArgs   = []string{"serve", "create", "ppocr-det", "--model-version", "v1"}
	rolloutArgs = []string{"serve", "rollout", "ppocr-det", "--model-version", "v2"}
	s3Args      = []string{"--endpoint", "$S3", "--s3-access-key", "minio", "--s3-secret-key", "minio123"}
)

func with(base []string, extra ...string) []string {
	return append(append([]string{}, base...), extra...)
}

// badName are names no Kubernetes object may have.
var badNames = []struct{ name, value string }{
	{"upper case", "PPOCR"},
	{"underscore", "pp_ocr"},
	{"too long", strings.Repeat("a", 254)},
	{"trailing dash", "ppocr-"},
}

func TestInvalidNamesExitTwo(t *testing.T) {
	var cases []badInput
	for _, b := range badNames {
		for _, c := range []struct {
			cmd  string
			args []string
			want string
		}{
			{"dataset create", []string{"dataset", "create", b.value, "--source-uri", "s3://b/d/"}, "name"},
			{"dataset delete", []string{"dataset", "delete", b.value}, "NAME"},
			{"dataset describe", []string{"dataset", "describe", b.value}, "SAMPLESET"},
			{"dataset get", []string{"dataset", "get", b.value}, "SAMPLESET"},
			{"dataset --sampleset", with(datasetArgs, "--sampleset", b.value), "--sampleset"},
			{"train create", with([]string{"train", "create", b.value}, trainArgs[3:]...), "name"},
			{"train delete", []string{"train", "delete", b.value}, "NAME"},
			{"train describe", []string{"train", "describe", b.value}, "NAME"},
			{"train get", []string{"train", "get", b.value}, "NAME"},
			{"train logs", []string{"train", "logs", b.value}, "NAME"},
			{"train visualdl", []string{"train", "visualdl", b.value}, "NAME"},
			{"train --pvc-name", with(trainArgs, "--pvc-name", b.value), "--pvc-name"},
			{"modelhub push", with([]string{"modelhub", "push", b.value}, pushArgs[3:]...), "NAME"},
			{"modelhub push --model-name", with(pushArgs, "--model-name", b.value), "--model-name"},
			{"modelhub push --secret", with(pushArgs, "--secret", b.value), "--secret"},
			{"modelhub versions", with([]string{"modelhub", "versions", b.value}, s3Args...), "MODEL"},
			{"modelhub pull", with([]string{"modelhub", "pull", b.value + ":v1"}, s3Args...), "MODEL"},
			{"modelhub tag", with([]string{"modelhub", "tag", b.value + ":v1", "stable"}, s3Args...), "MODEL"},
			{"modelhub delete", with([]string{"modelhub", "delete", b.value + ":v1"}, s3Args...), "MODEL"},
			{"serve create", []string{"serve", "create", b.value, "--model-version", "v1"}, "name"},
			{"serve create --secret", with(serveArgs, "--secret", b.value), "--secret"},
			{"serve delete", []string{"serve", "delete", b.value}, "NAME"},
			{"serve describe", []string{"serve", "describe", b.value}, "NAME"},
			{"serve get", []string{"serve", "get", b.value}, "NAME"},
			{"serve rollout", []string{"serve", "rollout", b.value, "--model-version", "v2"}, "NAME"},
			{"serve promote", []string{"serve", "promote", b.value}, "NAME"},
			{"serve rollback", []string{"serve", "rollback", b.value}, "NAME"},
			{"pipeline run --set name", []string{"pipeline", "run", "--builtin", "ppocr-det", "--set", "name=" + b.value}, "name"},
			{"pipeline get", []string{"pipeline", "get", b.value}, "NAME"},
			{"pipeline delete", []string{"pipeline", "delete", b.value}, "NAME"},
			{"pipeline logs", []string{"pipeline", "logs", b.value}, "NAME"},
			{"pipeline retry", []string{"pipeline", "retry", b.value}, "NAME"},
			{"install --components", []string{"install", "--components", b.value}, "--components"},
			{"install --skip", []string{"install", "--skip", b.value}, "--skip"},
			{"status --component", []string{"status", "--component", b.value}, "--component"},
			{"uninstall --component", []string{"uninstall", "--component", b.value}, "--component"},
		} {
			cases = append(cases, badInput{name: c.cmd + "/" + b.name, args: c.args, want: []string{c.want, quoteArg(b.value)}})
		}
	}
	runBadInput(t, cases)
}

// quoteArg is how messages show a value: quoted, as %q prints it.
func quoteArg(v string) string { return `"` + v + `"` }

func TestInvalidNamespacesExitTwo(t *testing.T) {
	lines := map[string][]string{
		"dataset create":     datasetArgs,
		"dataset delete":     {"dataset", "delete", "icdar2015"},
		"dataset get":        {"dataset", "get"},
		"dataset describe":   {"dataset", "describe", "data-center"},
		"train create":       trainArgs,
		"train delete":       {"train", "delete", "ppocr-det"},
		"train get":          {"train", "get"},
		"train describe":     {"train", "describe", "ppocr-det"},
		"train logs":         {"train", "logs", "ppocr-det"},
		"train visualdl":     {"train", "visualdl", "ppocr-det"},
		"modelhub push":      pushArgs,
		"modelhub versions":  with([]string{"modelhub", "versions", "ppocr-det"}, s3Args...),
		"serve create":       serveArgs,
		"serve delete":       {"serve", "delete", "ppocr-det"},
		"serve get":          {"serve", "get"},
		"serve describe":     {"serve", "describe", "ppocr-det"},
		"serve rollout":      rolloutArgs,
		"serve promote":      {"serve", "promote", "ppocr-det"},
		"pipeline run":       {"pipeline", "run", "--builtin", "ppocr-det"},
		"pipeline list":      {"pipeline", "list"},
		"pipeline get":       {"pipeline", "get", "ppocr-det"},
		"pipeline delete":    {"pipeline", "delete", "ppocr-det"},
		"pipeline logs":      {"pipeline", "logs", "ppocr-det"},
		"pipeline retry":     {"pipeline", "retry", "ppocr-det"},
		"install standalone": {"install-standalone"},
		"status":             {"status"},
		"uninstall":          {"uninstall"},
	}
	var cases []badInput
	for cmd, args := range lines {
		for _, b := range badNames {
			cases = append(cases,
				badInput{name: cmd + "/-n " + b.name, args: with(args, "-n", b.value), want: []string{"--namespace", quoteArg(b.value)}},
			)
		}
		cases = append(cases, badInput{name: cmd + "/PADDLEX_NAMESPACE", args: args, env: map[string]string{"PADDLEX_NAMESPACE": "Kube_Flow"},
			want: []string{"--namespace", `"Kube_Flow"`}})
	}
	runBadInput(t, cases)
}

func TestNumbersOutOfBoundsExitTwo(t *testing.T) {
	pipelineArgs := []string{"pipeline", "run", "--builtin", "ppocr-det"}
	type numCase struct {
		name string
		args []string
		want string
	}
	cases := []numCase{
		{"partitions zero", with(datasetArgs, "--partitions", "0"), "--partitions must be at least 1, not 0"},
		{"partitions negative", with(datasetArgs, "--partitions", "-3"), "--partitions must be at least 1, not -3"},
		{"partitions absurd", with(datasetArgs, "--partitions", "100000"), "--partitions must be at most 1000, not 100000"},
		{"partitions overflow", with(datasetArgs, "--partitions", "99999999999"), "--partitions"},
		{"partitions not a number", with(datasetArgs, "--partitions", "many"), "--partitions"},
		{"workers negative", with(trainArgs, "--worker-replicas", "-1"), "--worker-replicas must be at least 1, not -1"},
		{"workers absurd", with(trainArgs, "--worker-replicas", "5000"), "--worker-replicas must be at most 1000, not 5000"},
		{"ps negative", with(trainArgs, "--project", "PaddleRec", "--ps-replicas", "-2"), "--ps-replicas must not be negative, not -2"},
		{"ps absurd", with(trainArgs, "--project", "PaddleRec", "--ps-replicas", "1001"), "--ps-replicas must be at most 1000, not 1001"},
		{"gpus negative", with(trainArgs, "--gpu-per-node", "-1"), "--gpu-per-node must not be negative, not -1"},
		{"gpus absurd", with(trainArgs, "--gpu-per-node", "64"), "--gpu-per-node must be at most 16, not 64"},
		{"serve gpus negative", with(serveArgs, "--gpu", "-1"), "--gpu must not be negative, not -1"},
		{"serve gpus absurd", with(serveArgs, "--gpu", "100"), "--gpu must be at most 16, not 100"},
		{"min-scale negative", with(serveArgs, "--min-scale", "-1"), "--min-scale must not be negative, not -1"},
		{"min-scale absurd", with(serveArgs, "--min-scale", "2000"), "--min-scale must be at most 1000, not 2000"},
		{"max-scale negative", with(serveArgs, "--max-scale", "-5"), "--max-scale must not be negative, not -5"},
		{"max-scale absurd", with(serveArgs, "--max-scale", "1000000"), "--max-scale must be at most 1000, not 1000000"},
		{"min above max", with(serveArgs, "--min-scale", "5", "--max-scale", "2"), "--min-scale 5 is greater than --max-scale 2"},
		{"target negative", with(serveArgs, "--target", "-10"), "--target must not be negative, not -10"},
		{"target absurd", with(serveArgs, "--target", "2000000"), "--target must be at most 10000, not 2000000"},
		{"port zero", with(serveArgs, "--port", "0"), "--port 0 is out of range"},
		{"port absurd", with(serveArgs, "--port", "70000"), "--port 70000 is out of range"},
		{"traffic above 100", with(rolloutArgs, "--traffic", "101"), "--traffic 101 is outside 0-100"},
		{"traffic negative", with(rolloutArgs, "--traffic", "-1"), "--traffic -1 is outside 0-100"},
		{"visualdl port absurd", []string{"train", "visualdl", "ppocr-det", "--port", "70000"}, "--port"},
		{"logs rank negative", []string{"train", "logs", "ppocr-det", "--rank", "-2"}, "--rank must not be negative"},
		{"logs since negative", []string{"train", "logs", "ppocr-det", "--since", "-5m"}, "--since must not be negative"},
		{"logs tail below -1", []string{"train", "logs", "ppocr-det", "--tail", "-5"}, "--tail must be -1 (all lines) or more, not -5"},
		{"pipeline logs tail below -1", []string{"pipeline", "logs", "ppocr-det", "--tail", "-5"}, "--tail must be -1 (all lines) or more, not -5"},
		{"pipeline step workers absurd", with(pipelineArgs, "--set", "train.worker_replicas=5000"), `step "train": train: worker_replicas must be at most 1000, not 5000`},
		{"pipeline step gpus negative", with(pipelineArgs, "--set", "train.gpu_per_node=-1"), `step "train": train: gpu_per_node must not be negative, not -1`},
		{"pipeline step partitions absurd", with(pipelineArgs, "--set", "dataset.partitions=100000"), `step "dataset": dataset: partitions must be at most 1000, not 100000`},
		{"pipeline step max scale absurd", with(pipelineArgs, "--set", "serve.max_scale=1000000"), `step "serve": serve: max_scale must be at most 1000, not 1000000`},
	}
	timeouts := map[string][]string{
		"dataset":   datasetArgs,
		"train":     trainArgs,
		"modelhub":  pushArgs,
		"serve":     serveArgs,
		"rollout":   rolloutArgs,
		"pipeline":  pipelineArgs,
		"install":   {"install-standalone"},
		"uninstall": {"uninstall"},
	}
	for noun, args := range timeouts {
		cases = append(cases,
			numCase{noun + " timeout negative", with(args, "--timeout", "-1s"), "--timeout must not be negative, not -1s"},
			numCase{noun + " timeout absurd", with(args, "--timeout", "100000h"), "--timeout must be at most 720h, not 100000h0m0s"},
			numCase{noun + " timeout not a duration", with(args, "--timeout", "10"), "--timeout"},
		)
	}
	var bad []badInput
	for _, c := range cases {
		bad = append(bad, badInput{name: c.name, args: c.args, want: []string{c.want}})
	}
	runBadInput(t, bad)
}
