package serve_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/pkg/exit"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/internal/golden"
	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/cmd"
	servecmd "github.com/paddleflow/paddlex/pkg/cmd/serve"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/image"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/modelstore"
	"github.com/paddleflow/paddlex/pkg/modelstore/s3test"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/serve"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{CRDs: []string{testenv.CRDsKnative}}))
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs paddlex in-process against fake (nil: a fake that fails every
// call, proving nothing reached a cluster).
func run(t *testing.T, fake *kube.Fake, args ...string) result {
	t.Helper()
	if fake == nil {
		fake = kube.NewFake()
		fake.Err = errNoCluster{}
	}
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}})
	f.KubeOverride = fake
	code := cmd.Run(context.Background(), f, append([]string{"--kubeconfig", filepath.Join(t.TempDir(), "none")}, args...), cmd.Options{Env: func(string) (string, bool) { return "", false }})
	return result{out.String(), errOut.String(), code}
}

// secret is the model center's keys in kubeflow, as install creates them.
func secret() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "data-center", "namespace": "kubeflow"},
		"data":     map[string]any{"access-key": "bWluaW8=", "secret-key": "bWluaW8xMjM="}}}
}

type errNoCluster struct{}

func (errNoCluster) Error() string { return "the test cluster was contacted" }

// ready plays Knative's controller on the fake: the Service becomes Ready
// with a URL and per-tag URLs.
func ready(fake *kube.Fake, status, reason, message string) func(kube.ObjectRef) {
	return func(ref kube.ObjectRef) {
		obj := fake.Object(ref)
		if obj == nil {
			return
		}
		var traffic []any
		for _, x := range serve.TrafficOf(obj, "spec") {
			traffic = append(traffic, map[string]any{"revisionName": x.Revision, "percent": x.Percent, "tag": x.Tag,
				"url": "http://" + x.Tag + "-" + ref.Name + "." + ref.Namespace + ".example.com"})
		}
		_ = unstructured.SetNestedField(obj.Object, map[string]any{
			"url":        "http://" + ref.Name + "." + ref.Namespace + ".example.com",
			"conditions": []any{map[string]any{"type": "Ready", "status": status, "reason": reason, "message": message}},
			"traffic":    traffic,
		}, "status")
		fake.Set(obj)
	}
}

func TestBadInputExits2BeforeAnyRequest(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "create", "ppocr-det", "--model-version", "v1", "--image", "paddle/serving"}, "--image \"paddle/serving\" has no tag"},
		{[]string{"serve", "create", "ppocr-det", "--model-version", "v1", "--port", "0"}, "--port 0 is out of range"},
		{[]string{"serve", "apply", "ppocr-det", "--model-version", "v1", "--port", "65536"}, "--port 65536 is out of range"},
		{[]string{"serve", "create", "ppocr-det", "--model-version", "v1", "--min-scale", "3", "--max-scale", "1"}, "--min-scale 3 is greater than --max-scale 1"},
		{[]string{"serve", "create", "PPOCR", "--model-version", "v1"}, "name \"PPOCR\" is not a valid name"},
		{[]string{"serve", "create", "ppocr-det", "--model-version", "v1", "-n", "Bad_NS"}, "--namespace"},
		{[]string{"serve", "create", "ppocr-det", "--dry-run=client"}, "--model-version: latest is resolved against the model center when applied"},
		{[]string{"serve", "create", "ppocr-det", "--model-version", "latest", "--dry-run=client"}, "give the version itself"},
		{[]string{"serve", "create", "ppocr-det", "--model-version", "v1", "--metric", "cpu"}, "--metric"},
		{[]string{"serve", "create", "ppocr-det", "--model-version", "v1", "--env", "NOVALUE"}, "--env \"NOVALUE\""},
		{[]string{"serve", "create", "ppocr-det", "--model-version", "v1", "--memory", "lots"}, "--memory"},
		{[]string{"serve", "create", "ppocr-det", "--model-version", "v1", "--port", "many"}, "invalid argument"},
		{[]string{"serve", "rollout", "ppocr-det", "--model-version", "v2", "--traffic", "101"}, "--traffic 101 is outside 0-100"},
		{[]string{"serve", "rollout", "ppocr-det", "--model-version", "v2", "--traffic", "-5"}, "--traffic -5 is outside 0-100"},
		{[]string{"serve", "rollout", "ppocr-det", "--traffic", "5"}, "--model-version is required"},
		{[]string{"serve", "rollout", "ppocr-det", "--model-version", "v2", "--image", "serving"}, "has no tag"},
		{[]string{"serve", "promote", "Bad"}, "NAME \"Bad\""},
		{[]string{"serve", "rollback"}, "accepts 1 arg"},
		{[]string{"serve", "delete", "ppocr-det", "--dry-run=client"}, "--dry-run of a delete must be none or server"},
		{[]string{"serve", "get", "x", "-o", "toml"}, "--output"},
	} {
		r := run(t, nil, c.args...)
		if r.code != exit.Usage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, r.code, r.stderr, c.want)
		}
		if strings.Contains(r.stderr, "test cluster was contacted") {
			t.Errorf("%v: contacted the cluster", c.args)
		}
	}
}

func TestDryRunClientPrintsWhatWouldBeApplied(t *testing.T) {
	r := run(t, nil, "serve", "create", "ppocr-det", "-n", "kubeflow", "--model-version", "v1", "--max-scale", "4", "--target", "8",
		"--gpu", "1", "--cpu", "2", "--memory", "6Gi", "--env", "OMP_NUM_THREADS=4", "--env", "A=b=c", "--dry-run=client", "-o", "yaml")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden.Assert(t, "testdata/create-dry-run.golden.yaml", []byte(r.stdout))
	// The printed bytes are the rendered object, nothing else.
	s := serve.Spec{Name: "ppocr-det", Namespace: "kubeflow", Action: "create", ModelVersion: "v1", MaxScale: 4, Target: 8, GPU: 1, CPU: "2", Memory: "6Gi",
		Env: map[string]string{"OMP_NUM_THREADS": "4", "A": "b=c"}}
	s.Defaults()
	want, _ := yaml.Marshal(serve.Render(s)[0].Object)
	if r.stdout != string(want) {
		t.Errorf("dry-run output differs from Render:\n%s\nvs\n%s", r.stdout, want)
	}
}

func TestSpecFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "spec.yaml")
	_ = os.WriteFile(file, []byte(`name: ppocr-det
namespace: models
action: apply
image: registry.example.com/serving:1.0
model_name: ch-ppocr
model_version: v3
endpoint: http://minio.models:9000
port: 9000
min_scale: 1
max_scale: 3
target: 5
metric: rps
gpu: 1
cpu: "4"
memory: 8Gi
env:
  A: "1"
`), 0o644)
	var got *servecmd.CreateOptions
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}})
	c := servecmd.NewCmdCreate(f, "create", func(o *servecmd.CreateOptions) error { got = o; return nil })
	c.SetArgs([]string{"-f", file, "--max-scale", "6", "--env", "B=2"})
	if err := c.Execute(); err != nil {
		t.Fatal(err)
	}
	s := got.Spec
	if s.Name != "ppocr-det" || s.Namespace != "models" || s.Action != "apply" || s.Image != "registry.example.com/serving:1.0" ||
		s.ModelName != "ch-ppocr" || s.ModelVersion != "v3" || s.Endpoint != "http://minio.models:9000" || s.Port != 9000 ||
		s.MinScale != 1 || s.MaxScale != 6 || s.Target != 5 || s.Metric != "rps" || s.GPU != 1 || s.CPU != "4" || s.Memory != "8Gi" ||
		s.Env["A"] != "1" || s.Env["B"] != "2" {
		t.Errorf("spec = %+v", s)
	}

	_ = os.WriteFile(file, []byte("name: x\nmodel_version: v1\nreplicas: 2\n"), 0o644)
	r := run(t, nil, "serve", "create", "-f", file)
	if r.code != exit.Usage || !strings.Contains(r.stderr, "unknown key") {
		t.Errorf("unknown key: exit %d, %s", r.code, r.stderr)
	}
}

func TestCreateWaitsForReadyAndPrintsURL(t *testing.T) {
	fake := kube.NewFake(secret())
	fake.OnWait = ready(fake, "True", "", "")
	r := run(t, fake, "serve", "create", "ppocr-det", "-n", "kubeflow", "--model-version", "v1", "--image", "serving:latest")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if r.stdout != "http://ppocr-det.kubeflow.example.com\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
	if !strings.Contains(r.stderr, "latest tag moves") {
		t.Errorf("no warning for :latest: %s", r.stderr)
	}
	if got := strings.Join(fake.Calls, "; "); !strings.Contains(got, "apply Service kubeflow/ppocr-det; wait Service kubeflow/ppocr-det") {
		t.Errorf("calls = %s", got)
	}

	// A second create refuses; apply updates.
	r = run(t, fake, "serve", "create", "ppocr-det", "-n", "kubeflow", "--model-version", "v1")
	if r.code != 1 || !strings.Contains(r.stderr, "already exists: use `paddlex serve apply`") {
		t.Errorf("second create: exit %d, %s", r.code, r.stderr)
	}
	r = run(t, fake, "serve", "patch", "other", "-n", "kubeflow", "--model-version", "v1")
	if r.code != 1 || !strings.Contains(r.stderr, "does not exist: use `paddlex serve create` first") {
		t.Errorf("patch of a missing service: exit %d, %s", r.code, r.stderr)
	}
}

func TestReadyFalseExits1WithReason(t *testing.T) {
	fake := kube.NewFake(secret())
	fake.OnWait = ready(fake, "False", "RevisionFailed", "Revision \"ppocr-det-v1\" failed with message: init container fetch-model exited 1.")
	r := run(t, fake, "serve", "apply", "ppocr-det", "-n", "kubeflow", "--model-version", "v1")
	if r.code != 1 || !strings.Contains(r.stderr, "RevisionFailed") || !strings.Contains(r.stderr, "init container fetch-model exited 1") {
		t.Errorf("exit %d, stderr %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "paddlex serve describe ppocr-det -n kubeflow") {
		t.Errorf("no hint: %s", r.stderr)
	}
}

func TestKnativeWithoutInitContainersExits4(t *testing.T) {
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "config-features", "namespace": "knative-serving"}, "data": map[string]any{}}}
	fake := kube.NewFake(cm, secret())
	r := run(t, fake, "serve", "create", "ppocr-det", "-n", "kubeflow", "--model-version", "v1")
	if r.code != exit.Precondition || !strings.Contains(r.stderr, "kubernetes.podspec-init-containers") {
		t.Errorf("exit %d, stderr %s", r.code, r.stderr)
	}
	for _, c := range fake.Calls {
		if strings.HasPrefix(c, "apply") {
			t.Errorf("applied despite the precondition: %v", fake.Calls)
		}
	}
	_ = unstructured.SetNestedField(cm.Object, "Enabled", "data", "kubernetes.podspec-init-containers")
	fake = kube.NewFake(cm, secret())
	fake.OnWait = ready(fake, "True", "", "")
	if r := run(t, fake, "serve", "create", "ppocr-det", "-n", "kubeflow", "--model-version", "v1"); r.code != 0 {
		t.Errorf("enabled: exit %d, %s", r.code, r.stderr)
	}
}

func TestMissingSecretExits4(t *testing.T) {
	fake := kube.NewFake()
	r := run(t, fake, "serve", "create", "ppocr-det", "-n", "kubeflow", "--model-version", "v1", "--secret", "s3")
	if r.code != exit.Precondition || !strings.Contains(r.stderr, "--secret: Secret kubeflow/s3 does not exist") {
		t.Errorf("exit %d, stderr %s", r.code, r.stderr)
	}
	if len(fake.Calls) != 0 {
		t.Errorf("changed the cluster: %v", fake.Calls)
	}
}

func TestTrafficCommandsOnFake(t *testing.T) {
	fake := kube.NewFake(secret())
	fake.OnWait = ready(fake, "True", "", "")
	ref := kube.ObjectRef{GVK: paddle.KnativeServiceGVK, Namespace: "kubeflow", Name: "ppocr-det"}
	traffic := func() string { return serve.TrafficOf(fake.Object(ref), "spec").String() }

	if r := run(t, fake, "serve", "promote", "ppocr-det", "-n", "kubeflow"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("promote before create: exit %d, %s", r.code, r.stderr)
	}
	if r := run(t, fake, "serve", "create", "ppocr-det", "-n", "kubeflow", "--model-version", "v1"); r.code != 0 {
		t.Fatalf("create: %s", r.stderr)
	}
	if r := run(t, fake, "serve", "promote", "ppocr-det", "-n", "kubeflow"); r.code != 1 || !strings.Contains(r.stderr, "no candidate revision") {
		t.Errorf("promote without candidate: exit %d, %s", r.code, r.stderr)
	}
	r := run(t, fake, "serve", "rollout", "ppocr-det", "-n", "kubeflow", "--model-version", "v2", "--traffic", "10")
	if r.code != 0 || traffic() != "ppocr-det-v1=90%(current),ppocr-det-v2=10%(candidate)" {
		t.Fatalf("rollout: exit %d, %s, traffic %s", r.code, r.stderr, traffic())
	}
	if !strings.Contains(r.stdout, "ppocr-det-v2   candidate   10%") {
		t.Errorf("rollout output: %s", r.stdout)
	}
	if r := run(t, fake, "serve", "rollout", "ppocr-det", "-n", "kubeflow", "--model-version", "v2", "--traffic", "0", "--dry-run=client"); r.code != 0 ||
		!strings.Contains(r.stdout, "ppocr-det-v1=100%(current),ppocr-det-v2=0%(candidate) (dry run)") || traffic() != "ppocr-det-v1=90%(current),ppocr-det-v2=10%(candidate)" {
		t.Errorf("dry run: exit %d, %s %s, traffic %s", r.code, r.stdout, r.stderr, traffic())
	}
	if r := run(t, fake, "serve", "promote", "ppocr-det", "-n", "kubeflow"); r.code != 0 || traffic() != "ppocr-det-v2=100%(current),ppocr-det-v1=0%(previous)" {
		t.Fatalf("promote: exit %d, %s, traffic %s", r.code, r.stderr, traffic())
	}
	if r := run(t, fake, "serve", "rollback", "ppocr-det", "-n", "kubeflow"); r.code != 0 || traffic() != "ppocr-det-v1=100%(current)" {
		t.Fatalf("rollback: exit %d, %s, traffic %s", r.code, r.stderr, traffic())
	}
	if r := run(t, fake, "serve", "rollback", "ppocr-det", "-n", "kubeflow"); r.code != 1 || !strings.Contains(r.stderr, "no revision to roll back to") {
		t.Errorf("second rollback: exit %d, %s", r.code, r.stderr)
	}

	r = run(t, fake, "serve", "get", "-n", "kubeflow")
	if r.code != 0 || !strings.Contains(r.stdout, "ppocr-det-v1=100%(current)") || !strings.Contains(r.stdout, "http://ppocr-det.kubeflow.example.com") {
		t.Errorf("get: exit %d, %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, fake, "serve", "describe", "ppocr-det", "-n", "kubeflow")
	for _, want := range []string{"URL:         http://ppocr-det.kubeflow.example.com", "Ready:       True", "Model:     ppocr-det:v1", "Min:       0", "current"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("describe lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := run(t, fake, "serve", "delete", "ppocr-det", "-n", "kubeflow"); r.code != 0 || fake.Object(ref) != nil {
		t.Errorf("delete: exit %d, %s", r.code, r.stderr)
	}
	if r := run(t, fake, "serve", "delete", "ppocr-det", "-n", "kubeflow"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Errorf("delete of a missing service: exit %d, %s", r.code, r.stderr)
	}
}

// Without a version, or with latest, create serves the version latest
// points to in the model center at that moment, says so and records it.
func TestCreateResolvesLatest(t *testing.T) {
	srv := s3test.Start(t)
	st, err := modelstore.New(modelstore.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "m.tar.gz")
	_ = os.WriteFile(archive, []byte("weights"), 0o644)
	ctx := context.Background()
	for _, ref := range []modelhub.Ref{{Model: "ocr", Version: "v2"}, {Model: "ocr", Version: "v3"}, {Model: "own", Version: "latest"}} {
		if _, err := st.Push(ctx, ref, archive, modelstore.PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Tag(ctx, modelhub.Ref{Model: "ocr", Version: "v3"}, "latest", false); err != nil {
		t.Fatal(err)
	}
	keys := secret()
	keys.Object["data"] = map[string]any{"access-key": base64.StdEncoding.EncodeToString([]byte(srv.AccessKey)),
		"secret-key": base64.StdEncoding.EncodeToString([]byte(srv.SecretKey))}
	for _, args := range [][]string{{}, {"--model-version", "latest"}} {
		fake := kube.NewFake(keys)
		fake.OnWait = ready(fake, "True", "", "")
		r := run(t, fake, append([]string{"serve", "create", "ocr", "-n", "kubeflow", "--endpoint", srv.Endpoint}, args...)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, "model ocr:latest is version v3: serving ocr:v3 as revision ocr-v3") {
			t.Errorf("%v: stderr = %s", args, r.stderr)
		}
		obj := fake.Object(kube.ObjectRef{GVK: paddle.KnativeServiceGVK, Namespace: "kubeflow", Name: "ocr"})
		if obj.GetAnnotations()[serve.AnnotationModelTag] != "ocr:latest" || serve.StatusOf(obj).Version != "v3" || templateName(obj) != "ocr-v3" {
			t.Errorf("%v: annotations %v, version %s, revision %s", args, obj.GetAnnotations(), serve.StatusOf(obj).Version, templateName(obj))
		}
		if spec, _, _ := serve.SpecOf(obj); spec.ModelVersion != "v3" {
			t.Errorf("%v: recorded spec serves %s", args, spec.ModelVersion)
		}
		if r := run(t, fake, "serve", "describe", "ocr", "-n", "kubeflow"); !strings.Contains(r.stdout, "Model:     ocr:v3 (ocr:latest when applied)") {
			t.Errorf("%v: describe: %+v", args, r)
		}
	}
	fake := kube.NewFake(keys)
	r := run(t, fake, "serve", "create", "own", "-n", "kubeflow", "--endpoint", srv.Endpoint)
	if r.code != 1 || !strings.Contains(r.stderr, "own:latest is a version of its own, not a tag") {
		t.Errorf("latest as a version: exit %d: %s", r.code, r.stderr)
	}
	r = run(t, fake, "serve", "create", "none", "-n", "kubeflow", "--endpoint", srv.Endpoint)
	if r.code == 0 || !strings.Contains(r.stderr, "resolve none:latest to a version") {
		t.Errorf("no such model: exit %d: %s", r.code, r.stderr)
	}
	for _, c := range fake.Calls {
		if strings.HasPrefix(c, "apply") {
			t.Errorf("applied although unresolved: %v", fake.Calls)
		}
	}
}

// rollout --model-version latest rolls out the version latest points to
// now, looked up with the service's endpoint and Secret, says so and
// records it.
func TestRolloutResolvesLatest(t *testing.T) {
	srv := s3test.Start(t)
	st, err := modelstore.New(modelstore.Config{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "m.tar.gz")
	_ = os.WriteFile(archive, []byte("weights"), 0o644)
	ctx := context.Background()
	for _, v := range []string{"v1", "v2"} {
		if _, err := st.Push(ctx, modelhub.Ref{Model: "ocr", Version: v}, archive, modelstore.PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Tag(ctx, modelhub.Ref{Model: "ocr", Version: "v2"}, "latest", false); err != nil {
		t.Fatal(err)
	}
	keys := secret()
	keys.Object["data"] = map[string]any{"access-key": base64.StdEncoding.EncodeToString([]byte(srv.AccessKey)),
		"secret-key": base64.StdEncoding.EncodeToString([]byte(srv.SecretKey))}
	fake := kube.NewFake(keys)
	fake.OnWait = ready(fake, "True", "", "")
	if r := run(t, fake, "serve", "create", "ocr", "-n", "kubeflow", "--model-version", "v1", "--endpoint", srv.Endpoint); r.code != 0 {
		t.Fatalf("create: exit %d: %s", r.code, r.stderr)
	}
	if r := run(t, fake, "serve", "rollout", "ocr", "-n", "kubeflow", "--model-version", "latest", "--dry-run=client"); r.code != 2 || !strings.Contains(r.stderr, "a client dry run contacts nothing") {
		t.Errorf("client dry run of latest: exit %d: %s", r.code, r.stderr)
	}
	r := run(t, fake, "serve", "rollout", "ocr", "-n", "kubeflow", "--model-version", "latest", "--traffic", "20")
	if r.code != 0 {
		t.Fatalf("rollout latest: exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "model ocr:latest is version v2: rolling out ocr:v2 as revision ocr-v2") {
		t.Errorf("rollout stderr: %s", r.stderr)
	}
	obj := fake.Object(kube.ObjectRef{GVK: paddle.KnativeServiceGVK, Namespace: "kubeflow", Name: "ocr"})
	if got := serve.TrafficOf(obj, "spec").String(); got != "ocr-v1=80%(current),ocr-v2=20%(candidate)" {
		t.Errorf("traffic: %s", got)
	}
	if obj.GetAnnotations()[serve.AnnotationModelTag] != "ocr:latest" || templateName(obj) != "ocr-v2" {
		t.Errorf("annotations %v, revision %s", obj.GetAnnotations(), templateName(obj))
	}
	if spec, _, _ := serve.SpecOf(obj); spec.ModelVersion != "v2" {
		t.Errorf("recorded spec serves %s", spec.ModelVersion)
	}
}

func templateName(obj *unstructured.Unstructured) string {
	n, _, _ := unstructured.NestedString(obj.Object, "spec", "template", "metadata", "name")
	return n
}

// The missing Secret's fix names the command for the namespace in use.
func TestMissingSecretNamesTheCommandForTheNamespace(t *testing.T) {
	for ns, want := range map[string]string{
		"kubeflow": "run `paddlex install --components prerequisites`, or create it in namespace kubeflow",
		"team-a":   "run `paddlex install --components prerequisites --secret-namespace team-a`, or create it in namespace team-a",
	} {
		r := run(t, kube.NewFake(), "serve", "create", "ocr", "-n", ns, "--model-version", "v1")
		if r.code != exit.Precondition || !strings.Contains(r.stderr, want) {
			t.Errorf("%s: exit %d, %s", ns, r.code, r.stderr)
		}
	}
	r := run(t, kube.NewFake(), "serve", "create", "ocr", "-n", "team-a", "--model-version", "v1", "--secret", "keys")
	if r.code != exit.Precondition || strings.Contains(r.stderr, "install") || !strings.Contains(r.stderr, "create it in namespace team-a") {
		t.Errorf("another Secret: exit %d, %s", r.code, r.stderr)
	}
}

// TestRolloutUnderImageRegistry: a candidate rolled out with
// --image-registry runs every image from there, while the revision already
// serving keeps the images it was created with; promote and rollback
// restore revisions as recorded and say so when --image-registry differs.
func TestRolloutUnderImageRegistry(t *testing.T) {
	const reg = "mirror.example:5000/paddlex"
	fake := kube.NewFake(secret())
	fake.OnWait = ready(fake, "True", "", "")
	ref := kube.ObjectRef{GVK: paddle.KnativeServiceGVK, Namespace: "kubeflow", Name: "ppocr-det"}
	images := func() map[string][]string {
		out := map[string][]string{}
		specs, err := serve.RevisionSpecs(fake.Object(ref))
		if err != nil {
			t.Fatal(err)
		}
		tmpl, _, _ := serve.SpecOf(fake.Object(ref))
		specs[tmpl.RevisionName()] = tmpl
		for rev, s := range specs {
			s.Namespace = "kubeflow"
			out[rev] = image.List([]*unstructured.Unstructured{serve.RenderService(s, nil, nil)})
		}
		return out
	}
	if r := run(t, fake, "serve", "create", "ppocr-det", "-n", "kubeflow", "--model-version", "v1"); r.code != 0 {
		t.Fatalf("create: %s", r.stderr)
	}
	r := run(t, fake, "--image-registry", reg, "serve", "rollout", "ppocr-det", "-n", "kubeflow", "--model-version", "v2", "--traffic", "10")
	if r.code != 0 {
		t.Fatalf("rollout: exit %d, %s", r.code, r.stderr)
	}
	got := images()
	if len(got["ppocr-det-v2"]) < 2 {
		t.Fatalf("candidate images %v", got)
	}
	for _, img := range got["ppocr-det-v2"] {
		if !strings.HasPrefix(img, reg+"/") {
			t.Errorf("candidate runs %s, not from %s", img, reg)
		}
	}
	for _, img := range got["ppocr-det-v1"] {
		if strings.HasPrefix(img, reg+"/") {
			t.Errorf("the serving revision changed to %s", img)
		}
	}
	live := fake.Object(ref)
	cs, _, _ := unstructured.NestedSlice(live.Object, "spec", "template", "spec", "containers")
	if img, _ := cs[0].(map[string]any)["image"].(string); !strings.HasPrefix(img, reg+"/") {
		t.Errorf("the applied template runs %s", img)
	}
	r = run(t, fake, "--image-registry", "other.example/x", "serve", "promote", "ppocr-det", "-n", "kubeflow")
	if r.code != 0 || !strings.Contains(r.stderr, "revision ppocr-det-v2 keeps the images it was served with ("+reg+")") {
		t.Errorf("promote: exit %d, %s", r.code, r.stderr)
	}
	if got := images(); !strings.HasPrefix(got["ppocr-det-v2"][0], reg+"/") {
		t.Errorf("promote moved the images: %v", got)
	}
	if r := run(t, fake, "serve", "rollback", "ppocr-det", "-n", "kubeflow"); r.code != 0 {
		t.Fatalf("rollback: %s", r.stderr)
	}
	for _, img := range images()["ppocr-det-v1"] {
		if strings.HasPrefix(img, reg+"/") {
			t.Errorf("rollback restored %s", img)
		}
	}
}
