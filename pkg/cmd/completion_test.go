package cmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/paddleflow/paddlex/internal/golden"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

func object(gvk schema.GroupVersionKind, ns, name string, labels map[string]string, fields map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{}}
	for k, v := range fields {
		o.Object[k] = v
	}
	o.SetGroupVersionKind(gvk)
	o.SetNamespace(ns)
	o.SetName(name)
	o.SetLabels(labels)
	return o
}

var jobGVK = schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}

// cluster holds objects of every noun in kubeflow and team-a, plus
// look-alikes paddlex does not manage.
func cluster() *kube.Fake {
	served := func(ns, name, model, version string) *unstructured.Unstructured {
		return object(paddle.KnativeServiceGVK, ns, name,
			map[string]string{kube.LabelManagedBy: kube.ManagedByValue, paddle.LabelServe: name, paddle.LabelModel: model},
			map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{
				paddle.LabelModel: model, "paddlex.io/model-version": version}}}}})
	}
	upload := func(ns, name, model, version string) *unstructured.Unstructured {
		return object(jobGVK, ns, name+"-model-hub", map[string]string{kube.LabelManagedBy: kube.ManagedByValue, paddle.LabelModel: model},
			map[string]any{"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
				map[string]any{"name": "mc", "env": []any{
					map[string]any{"name": "MODEL_NAME", "value": model},
					map[string]any{"name": "MODEL_VERSION", "value": version}}}}}}}})
	}
	workflow := func(name string, steps ...string) *unstructured.Unstructured {
		var tasks []any
		for _, st := range steps {
			tasks = append(tasks, map[string]any{"name": st, "template": st})
		}
		return object(paddle.WorkflowGVK, "kubeflow", name, map[string]string{"paddlex.io/pipeline": "ppocr-det"},
			map[string]any{"spec": map[string]any{"entrypoint": "main", "templates": []any{
				map[string]any{"name": "main", "dag": map[string]any{"tasks": tasks}}}}})
	}
	sampleJob := func(ns, name, dataset string) *unstructured.Unstructured {
		return object(paddle.SampleJobGVK, ns, name, map[string]string{paddle.LabelDataset: dataset}, nil)
	}
	return kube.NewFake(
		object(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "", "kubeflow", nil, nil),
		object(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, "", "team-a", nil, nil),
		object(paddle.SampleSetGVK, "kubeflow", "data-center", nil, nil),
		object(paddle.SampleSetGVK, "kubeflow", "imagenet-cache", nil, nil),
		object(paddle.SampleSetGVK, "team-a", "team-cache", nil, nil),
		sampleJob("kubeflow", "icdar2015-sync", "icdar2015"),
		sampleJob("kubeflow", "icdar2015-warmup", "icdar2015"),
		sampleJob("kubeflow", "flowers-sync", "flowers"),
		sampleJob("team-a", "imdb-sync", "imdb"),
		object(paddle.SampleJobGVK, "kubeflow", "by-hand", nil, nil),
		served("kubeflow", "ppocr-det", "ppocr-det", "v2"),
		served("kubeflow", "ppocr-rec", "ppocr-rec", "v1"),
		served("kubeflow", "pp-clas", "resnet50", "v3"),
		served("team-a", "team-serve", "bert", "v1"),
		object(paddle.KnativeServiceGVK, "kubeflow", "not-paddlex", nil, nil),
		object(paddle.PaddleJobGVK, "kubeflow", "ppocr-det", map[string]string{paddle.LabelTrain: "ppocr-det"}, nil),
		object(paddle.TrainingOperatorJobGVK, "kubeflow", "wide-deep", map[string]string{paddle.LabelTrain: "wide-deep"}, nil),
		object(paddle.PaddleJobGVK, "kubeflow", "by-hand", nil, nil),
		object(paddle.PaddleJobGVK, "team-a", "team-train", map[string]string{paddle.LabelTrain: "team-train"}, nil),
		workflow("ppocr-det", "dataset", "train", "modelhub", "serve"),
		workflow("ppocr-det-x7k2p", "dataset", "train"),
		object(paddle.WorkflowGVK, "kubeflow", "argo-own", nil, nil),
		upload("kubeflow", "ppocr-det-v1", "ppocr-det", "v1"),
		upload("kubeflow", "ppocr-det-v3", "ppocr-det", "v3"),
		upload("kubeflow", "ppocr-rec-v1", "ppocr-rec", "v1"),
	)
}

// complete runs `paddlex __complete args...` through the real root command.
func complete(t *testing.T, k kube.Interface, env map[string]string, args ...string) (string, int, time.Duration) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}})
	f.KubeOverride = k
	vars := map[string]string{"XDG_CONFIG_HOME": t.TempDir()}
	for k, v := range env {
		vars[k] = v
	}
	start := time.Now()
	code := Run(context.Background(), f, append([]string{"__complete"}, args...), Options{Env: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }})
	return out.String(), code, time.Since(start)
}

func TestCompletionFromCluster(t *testing.T) {
	cases := []struct {
		env  map[string]string
		args []string
	}{
		{nil, []string{"dataset", "get", ""}},
		{nil, []string{"dataset", "list", "data-center", ""}},
		{nil, []string{"dataset", "describe", "im"}},
		{nil, []string{"dataset", "describe", "data-center", ""}},
		{nil, []string{"dataset", "delete", ""}},
		{nil, []string{"dataset", "delete", "-n", "team-a", ""}},
		{map[string]string{"PADDLEX_NAMESPACE": "team-a"}, []string{"dataset", "get", ""}},
		{nil, []string{"serve", "get", ""}},
		{nil, []string{"serve", "describe", "ppocr-"}},
		{nil, []string{"serve", "delete", "ppocr-det", ""}},
		{nil, []string{"serve", "rollout", ""}},
		{nil, []string{"serve", "promote", "pp-"}},
		{nil, []string{"serve", "rollback", "--namespace=team-a", ""}},
		{nil, []string{"modelhub", "list", ""}},
		{nil, []string{"modelhub", "versions", "ppocr"}},
		{nil, []string{"modelhub", "pull", ""}},
		{nil, []string{"modelhub", "pull", "ppocr-det:"}},
		{nil, []string{"modelhub", "delete", "ppocr-det:v"}},
		{nil, []string{"modelhub", "delete", "ppocr-rec:"}},
		{nil, []string{"modelhub", "tag", "ppocr-det:v1", ""}},
		{nil, []string{"completion", ""}},
		{nil, []string{"train", "get", ""}},
		{nil, []string{"train", "logs", "pp"}},
		{nil, []string{"train", "describe", "-n", "team-a", ""}},
		{nil, []string{"train", "delete", "ppocr-det", ""}},
		{nil, []string{"train", "visualdl", ""}},
		{nil, []string{"train", "create", "x", "--project", ""}},
		{nil, []string{"train", "create", "x", "--backend", ""}},
		{nil, []string{"pipeline", "get", ""}},
		{nil, []string{"pipeline", "delete", "ppocr-det", ""}},
		{nil, []string{"pipeline", "retry", "ppocr-det-"}},
		{nil, []string{"pipeline", "logs", ""}},
		{nil, []string{"pipeline", "logs", "ppocr-det", ""}},
		{nil, []string{"pipeline", "logs", "ppocr-det-x7k2p", "t"}},
		{nil, []string{"pipeline", "logs", "ppocr-det", "train", ""}},
		{nil, []string{"pipeline", "run", "--builtin", ""}},
		{nil, []string{"pipeline", "init", "--builtin", "ppocr-"}},
		{nil, []string{"dataset", "get", "-n", ""}},
		{nil, []string{"serve", "describe", "--namespace", "te"}},
	}
	var b strings.Builder
	for _, c := range cases {
		out, code, _ := complete(t, cluster(), c.env, c.args...)
		if code != 0 {
			t.Errorf("%v: exit %d", c.args, code)
		}
		var env []string
		for k, v := range c.env {
			env = append(env, k+"="+v+" ")
		}
		fmt.Fprintf(&b, "$ %spaddlex __complete %s\n%s\n", strings.Join(env, ""), strings.Join(c.args, " "), out)
	}
	golden.Assert(t, "testdata/completion.golden", []byte(b.String()))
}

// slowKube answers no List until the test ends, ignoring its context: the
// worst a cluster behind a dead link can do.
type slowKube struct {
	*kube.Fake
	release chan struct{}
	// listing counts the Lists that have started; none returns before release.
	listing atomic.Int32
}

func (s *slowKube) List(ctx context.Context, gvk schema.GroupVersionKind, opts kube.ListOptions) ([]unstructured.Unstructured, error) {
	s.listing.Add(1)
	<-s.release
	return s.Fake.List(ctx, gvk, opts)
}

func TestCompletionSlowClusterReturnsEmpty(t *testing.T) {
	slow := &slowKube{Fake: cluster(), release: make(chan struct{})}
	t.Cleanup(func() { close(slow.release) })
	for _, args := range [][]string{
		{"serve", "describe", ""},
		{"dataset", "delete", ""},
		{"modelhub", "pull", "ppocr-det:"},
		{"train", "logs", ""},
		{"pipeline", "logs", "ppocr-det", ""},
		{"dataset", "get", "-n", ""},
	} {
		before := slow.listing.Load()
		out, code, _ := complete(t, slow, nil, args...)
		if code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
		if want := ":4\n"; !strings.HasPrefix(out, want) {
			t.Errorf("%v: want no completions and the no-file directive, got %q", args, out)
		}
		// The completion asked the cluster and returned although no List
		// has returned: it gave up at CompletionTimeout.
		if slow.listing.Load() == before {
			t.Errorf("%v: the completion never asked the cluster", args)
		}
	}
}

func TestCompletionSetsRequestTimeout(t *testing.T) {
	// No kubeconfig override: the real client would be built, so the
	// request timeout must be in place before it is.
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}})
	env := map[string]string{"XDG_CONFIG_HOME": t.TempDir()}
	code := Run(context.Background(), f, []string{"__complete", "serve", "describe", "--kubeconfig", kubeconfig(t, ""), ""}, Options{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if code != 0 || out.String() != ":4\n" {
		t.Fatalf("exit %d, out %q, err %q", code, out.String(), errOut.String())
	}
	if *f.ConfigFlags.Timeout != cmdutil.CompletionTimeout.String() {
		t.Errorf("request timeout %q, want %v", *f.ConfigFlags.Timeout, cmdutil.CompletionTimeout)
	}
}

func TestCompletionOfKubeconfigFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: prod, cluster: {server: "https://127.0.0.1:1"}}, {name: staging, cluster: {server: "https://127.0.0.1:2"}}]
users: [{name: alice, user: {token: t}}]
contexts: [{name: gpu, context: {cluster: prod, user: alice}}, {name: cpu, context: {cluster: staging, user: alice}}]
current-context: gpu
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	for args, want := range map[string]string{
		"train list --context ":  "cpu\ngpu\n:4\n",
		"serve get --context g":  "gpu\n:4\n",
		"dataset get --cluster ": "prod\nstaging\n:4\n",
		"version --user ":        "alice\n:4\n",
	} {
		// The word being completed comes last: "" after a space.
		words := strings.Split(args, " ")
		a := append([]string{"--kubeconfig", path}, words...)
		out, code, _ := complete(t, nil, nil, a...)
		if code != 0 || out != want {
			t.Errorf("%q: exit %d, got %q, want %q", args, code, out, want)
		}
	}
}
