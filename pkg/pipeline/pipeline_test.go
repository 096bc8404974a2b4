package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/paddleflow/paddlex/internal/golden"
	"github.com/paddleflow/paddlex/manifests"
)

func builtins(t testing.TB) []Builtin {
	t.Helper()
	bs, err := Builtins(manifests.Pipelines, "pipelines")
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func compileData(t testing.TB, data []byte, sets []string, opts Options) (*Pipeline, *Compiled) {
	t.Helper()
	p, err := Load(data, "test", sets)
	if err != nil {
		t.Fatal(err)
	}
	p.Complete("kubeflow")
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := Compile(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

func objectsYAML(t testing.TB, c *Compiled) []byte {
	t.Helper()
	objs, err := c.Objects()
	if err != nil {
		t.Fatal(err)
	}
	return golden.YAML(t, objs)
}

// thirteen are the built-in pipelines, sorted: the workflows the product
// promises per suite.
var thirteen = []string{
	"paddleclas-cls", "paddleclas-shitu",
	"paddlenlp-dialogue", "paddlenlp-mrc", "paddlenlp-mt", "paddlenlp-senti",
	"paddlerec-content", "paddlerec-match", "paddlerec-rank", "paddlerec-recall",
	"ppocr-det", "ppocr-layout-table", "ppocr-rec",
}

func TestBuiltinGoldens(t *testing.T) {
	bs := builtins(t)
	if len(bs) != len(thirteen) {
		t.Fatalf("want the %d workflows, got %d built-ins", len(thirteen), len(bs))
	}
	for i, b := range bs {
		if b.Name != thirteen[i] {
			t.Errorf("built-in %d is %s, want %s", i, b.Name, thirteen[i])
		}
	}
	suites := map[string]bool{}
	for _, b := range bs {
		t.Run(b.Name, func(t *testing.T) {
			suites[b.Suite] = true
			if b.Description == "" {
				t.Error("no description")
			}
			_, c := compileData(t, b.Data, nil, Options{})
			got := objectsYAML(t, c)
			golden.Assert(t, "testdata/"+b.Name+".golden.yaml", got)
			// Pure and deterministic: the same file compiles to the same bytes.
			_, again := compileData(t, b.Data, nil, Options{})
			if !bytes.Equal(got, objectsYAML(t, again)) {
				t.Error("compiling twice gave different output")
			}
		})
	}
	for _, s := range []string{"PaddleOCR", "PaddleClas", "PaddleNLP", "PaddleRec"} {
		if !suites[s] {
			t.Errorf("no built-in for %s", s)
		}
	}
}

func TestPPOCRDetValues(t *testing.T) {
	b, err := FindBuiltin(builtins(t), "ppocr-det")
	if err != nil {
		t.Fatal(err)
	}
	p, c := compileData(t, b.Data, nil, Options{})
	ds, _ := p.Step("dataset")
	tr, _ := p.Step("train")
	if ds.Dataset.Name != "icdar2015" || ds.Dataset.SourceURI != "bos://paddleflow-public.hkg.bcebos.com/icdar2015/" {
		t.Errorf("dataset = %+v", ds.Dataset)
	}
	if tr.Train.ConfigPath != "configs/det/det_mv3_db.yml" || tr.Train.TrainLabel != "train_icdar2015_label.txt" ||
		tr.Train.TestLabel != "test_icdar2015_label.txt" ||
		tr.Train.PretrainModel != "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/MobileNetV3_large_x0_5_pretrained.pdparams" {
		t.Errorf("train = %+v", tr.Train)
	}
	versions := map[string]bool{}
	for _, s := range p.Steps {
		if s.ModelHub != nil {
			versions[s.ModelHub.ModelVersion] = true
		}
	}
	if !versions["latest"] {
		t.Errorf("modelhub does not push latest: %v", versions)
	}
	// The task volume reaches every step through Argo's variable.
	y := string(objectsYAML(t, c))
	if strings.Contains(y, volumeSentinel) {
		t.Error("the volume stand-in leaked into the output")
	}
	if n := strings.Count(y, "claimName: '{{workflow.name}}-task-center'"); n < 4 {
		t.Errorf("claim expression used %d times", n)
	}
	vct := c.Workflow.Spec.VolumeClaimTemplates
	if len(vct) != 1 || vct[0].Name != "task-center" || *vct[0].Spec.StorageClassName != "task-center" ||
		vct[0].Spec.AccessModes[0] != "ReadWriteMany" || vct[0].Spec.Resources.Requests.Storage().String() != "10Gi" {
		t.Errorf("volumeClaimTemplates = %+v", vct)
	}
}

// templateNamed finds a template.
func templateNamed(wf *wfv1.Workflow, name string) *wfv1.Template {
	for i := range wf.Spec.Templates {
		if wf.Spec.Templates[i].Name == name {
			return &wf.Spec.Templates[i]
		}
	}
	return nil
}

func TestConditionsAndOwnership(t *testing.T) {
	b, _ := FindBuiltin(builtins(t), "ppocr-det")
	_, c := compileData(t, b.Data, nil, Options{})
	wf := c.Workflow
	for _, tc := range []struct {
		tmpl, action, success, failure string
		owner                          bool
	}{
		{"dataset--sampleset", "apply", "status.phase == Ready", "status.phase == SyncFailed", false},
		{"dataset--sync", "create", "status.phase == Succeeded", "status.phase == Failed", true},
		{"dataset--cleanup-sync", "delete", "", "", false},
		{"train--paddlejob", "create", "status.phase in (Completed,Succeed)", "status.phase in (Failed,Terminated)", true},
		{"train--export", "create", JobSuccess, JobFailure, true},
		{"train--convert", "create", JobSuccess, JobFailure, true},
		{"modelhub--upload", "create", JobSuccess, JobFailure, true},
		{"serve--service", "apply", KnativeSuccess, KnativeFailure, false},
	} {
		tm := templateNamed(wf, tc.tmpl)
		if tm == nil || tm.Resource == nil {
			t.Errorf("no resource template %s", tc.tmpl)
			continue
		}
		r := tm.Resource
		if r.Action != tc.action || r.SuccessCondition != tc.success || r.FailureCondition != tc.failure || r.SetOwnerReference != tc.owner {
			t.Errorf("%s = %s %q %q owner=%v", tc.tmpl, r.Action, r.SuccessCondition, r.FailureCondition, r.SetOwnerReference)
		}
	}
	// Every condition evaluates as Argo's executor evaluates it.
	for _, tm := range ResourceTemplates(wf) {
		for _, cond := range []string{tm.Resource.SuccessCondition, tm.Resource.FailureCondition} {
			if cond == "" {
				continue
			}
			if _, err := labels.Parse(cond); err != nil {
				t.Errorf("%s: %q: %v", tm.Name, cond, err)
			}
		}
	}
	// The DAG: train runs after dataset, its parts in order, VisualDL alongside.
	main := templateNamed(wf, EntrypointName)
	deps := map[string][]string{}
	for _, task := range main.DAG.Tasks {
		deps[task.Name] = task.Dependencies
	}
	if fmt.Sprint(deps["train"]) != "[dataset]" || fmt.Sprint(deps["serve"]) != "[modelhub]" || len(deps["dataset"]) != 0 {
		t.Errorf("main DAG = %v", deps)
	}
	trainDAG := templateNamed(wf, "train")
	sub := map[string][]string{}
	for _, task := range trainDAG.DAG.Tasks {
		sub[task.Name] = task.Dependencies
	}
	if fmt.Sprint(sub["export"]) != "[paddlejob]" || fmt.Sprint(sub["convert"]) != "[export]" || len(sub["visualdl-deployment"]) != 0 {
		t.Errorf("train DAG = %v", sub)
	}
}

func TestRBACHasExactlyTheVerbs(t *testing.T) {
	b, _ := FindBuiltin(builtins(t), "ppocr-det")
	_, c := compileData(t, b.Data, nil, Options{})
	if len(c.RBAC) != 4 {
		t.Fatalf("RBAC objects = %d", len(c.RBAC))
	}
	// The run has an account of its own, named after it; its pods mount no
	// token, and Argo's executor gets the account's from its token Secret.
	runner := "pipeline-runner-ppocr-det"
	var kinds []string
	for _, o := range c.RBAC {
		kinds = append(kinds, o.GetKind()+" "+o.GetName())
	}
	if got := strings.Join(kinds, ", "); got != "ServiceAccount "+runner+", Secret "+runner+".service-account-token, Role "+runner+", RoleBinding "+runner {
		t.Errorf("RBAC objects: %s", got)
	}
	spec := c.Workflow.Spec
	if spec.ServiceAccountName != runner || spec.Executor == nil || spec.Executor.ServiceAccountName != runner ||
		spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("workflow runs as %s, executor %v, automount %v", spec.ServiceAccountName, spec.Executor, spec.AutomountServiceAccountToken)
	}
	if ann := c.RBAC[1].GetAnnotations()["kubernetes.io/service-account.name"]; ann != runner {
		t.Errorf("token Secret for %q", ann)
	}
	got := map[string]string{}
	for _, r := range c.RBAC[2].Object["rules"].([]any) {
		m := r.(map[string]any)
		got[fmt.Sprintf("%s/%s", m["apiGroups"].([]any)[0], m["resources"].([]any)[0])] = fmt.Sprint(m["verbs"])
	}
	want := map[string]string{
		"/services":                         "[create get patch]",
		"apps/deployments":                  "[create get patch]",
		"argoproj.io/workflowtaskresults":   "[create patch]",
		"argoproj.io/workflows/finalizers":  "[update]",
		"batch/jobs":                        "[create get]",
		"batch.paddlepaddle.org/paddlejobs": "[create get]",
		"batch.paddlepaddle.org/samplejobs": "[create delete get list watch]",
		"batch.paddlepaddle.org/samplesets": "[create get patch]",
		"serving.knative.dev/services":      "[create get patch]",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rules:\n got %v\nwant %v", got, want)
	}

	// With --service-account nothing is rendered and the workflow uses it.
	_, c = compileData(t, b.Data, nil, Options{ServiceAccount: "argo-runner", GenerateName: true})
	if len(c.RBAC) != 0 || c.Workflow.Spec.ServiceAccountName != "argo-runner" {
		t.Errorf("with a service account: %d RBAC objects, runs as %s", len(c.RBAC), c.Workflow.Spec.ServiceAccountName)
	}
	if c.Workflow.Name != "" || c.Workflow.GenerateName != "ppocr-det-" {
		t.Errorf("generate name: %q %q", c.Workflow.Name, c.Workflow.GenerateName)
	}
}

func TestSetAndParams(t *testing.T) {
	b, _ := FindBuiltin(builtins(t), "ppocr-det")
	p, c := compileData(t, b.Data, []string{
		"train.worker_replicas=2", "train.gpu_per_node=2", "params.model=det-v2", "params.version=v7",
		"dataset.source_uri=s3://mine/icdar/", "volume.size=50Gi", "namespace=ocr", "train.env.FOO=bar",
	}, Options{})
	tr, _ := p.Step("train")
	if tr.Train.WorkerReplicas != 2 || tr.Train.GPUPerNode != 2 || tr.Train.Name != "det-v2" || tr.Train.Env["FOO"] != "bar" {
		t.Errorf("train = %+v", tr.Train)
	}
	sv, _ := p.Step("serve")
	if sv.Serve.ModelVersion != "v7" || sv.Serve.ModelName != "det-v2" {
		t.Errorf("serve = %+v", sv.Serve)
	}
	ds, _ := p.Step("dataset")
	if ds.Dataset.SourceURI != "s3://mine/icdar/" || p.Volume.Size != "50Gi" || p.Namespace != "ocr" || c.Workflow.Namespace != "ocr" {
		t.Errorf("dataset %+v volume %+v namespace %s", ds.Dataset, p.Volume, p.Namespace)
	}
}

const minimal = `apiVersion: paddlex.io/v1alpha1
kind: Pipeline
name: p
steps:
- name: a
  container:
    image: busybox:1.37
    command: [sh, -c, "ls /mnt/task-center"]
`

func TestLoadAndValidateErrors(t *testing.T) {
	base := `apiVersion: paddlex.io/v1alpha1
kind: Pipeline
name: p
`
	cases := []struct {
		name, file string
		sets       []string
		want       string
	}{
		{"unknown top key", base + "stepz: []\nsteps:\n- name: a\n  container: {image: x}\n", nil, `unknown key "stepz"`},
		{"unknown step key", base + "steps:\n- name: a\n  needs: [b]\n  container: {image: x}\n", nil, `step "a": unknown key "needs"`},
		{"unknown spec key", base + "steps:\n- name: t\n  train: {project: PaddleOCR, image: x:1, config_path: c, epoch: 3}\n", nil, `step "t": train: unknown key "epoch"`},
		{"unknown dataset key", base + "steps:\n- name: d\n  dataset: {source_uri: 'bos://a/b/', sorce_secret: s}\n", nil, `step "d": dataset: unknown key "sorce_secret"`},
		{"unknown volume key", base + "volume: {class: x}\nsteps:\n- name: a\n  container: {image: x}\n", nil, `volume: unknown key "class"`},
		{"wrong type", base + "steps:\n- name: t\n  train: {project: PaddleOCR, image: x:1, config_path: c, worker_replicas: two}\n", nil, `step "t": train: worker_replicas: a number cannot hold a string`},
		{"wrong apiVersion", "apiVersion: v1\nkind: Pipeline\nname: p\nsteps: [{name: a, container: {image: x}}]\n", nil, "apiVersion: paddlex.io/v1alpha1"},
		{"no steps", base + "steps: []\n", nil, "steps: at least one step"},
		{"duplicate names", base + "steps:\n- name: a\n  container: {image: x}\n- name: a\n  container: {image: z}\n", nil, `step "a": duplicate step name`},
		{"after missing", base + "steps:\n- name: a\n  after: [b]\n  container: {image: x}\n", nil, `step "a": after: no step named "b"`},
		{"after self", base + "steps:\n- name: a\n  after: [a]\n  container: {image: x}\n", nil, `step "a": after: a step cannot run after itself`},
		{"cycle", base + "steps:\n- name: a\n  after: [c]\n  container: {image: x}\n- name: b\n  after: [a]\n  container: {image: x}\n- name: c\n  after: [b]\n  container: {image: x}\n", nil, "form a cycle"},
		{"no kind", base + "steps:\n- name: a\n  after: []\n", nil, `step "a": set exactly one of dataset, train, modelhub, serve, container, resource`},
		{"two kinds", base + "steps:\n- name: a\n  container: {image: x}\n  dataset: {source_uri: 'bos://a/b/'}\n", nil, `step "a": sets both dataset and container`},
		{"reserved name", base + "steps:\n- name: main\n  container: {image: x}\n", nil, `step "main": name "main" is reserved`},
		{"bad step name", base + "steps:\n- name: Train_1\n  container: {image: x}\n", nil, `step "Train_1": name is not a valid name`},
		{"train spec invalid", base + "steps:\n- name: t\n  train: {project: PaddleOCR, config_path: c}\n", nil, `step "t": train: image is required`},
		{"train unknown suite", base + "steps:\n- name: t\n  train: {project: PaddleSeg, image: x:1, config_path: c}\n", nil, `step "t": train: project "PaddleSeg"`},
		{"dataset spec invalid", base + "steps:\n- name: d\n  dataset: {source_uri: nowhere}\n", nil, `step "d": dataset: source_uri "nowhere" has no scheme`},
		{"serve latest", base + "steps:\n- name: s\n  serve: {model_version: latest}\n", nil, `step "s": serve: model_version latest`},
		{"modelhub no model", base + "steps:\n- name: m\n  modelhub: {}\n", nil, `step "m": modelhub: model_name`},
		{"delete action", base + "steps:\n- name: d\n  dataset: {source_uri: 'bos://a/b/', action: delete}\n", nil, `step "d": dataset: action "delete"`},
		{"undefined param", base + "steps:\n- name: a\n  container: {image: \"{{params.img}}\"}\n", nil, `step "a": container.image: {{params.img}} is not defined`},
		{"bad set", minimal, []string{"nosuch.image=x"}, `--set nosuch.image=x: no step named "nosuch"`},
		{"set without value", minimal, []string{"a.image"}, "--set a.image: write STEP.KEY=VALUE"},
		{"container no image", base + "steps:\n- name: a\n  container: {command: [ls]}\n", nil, `step "a": container: image is required`},
		{"container relative mount", base + "steps:\n- name: a\n  container: {image: x, volume_mounts: [{name: task-center, mount_path: data}]}\n", nil, `step "a": container: volume_mounts[0]: mount_path "data"`},
		{"resource no manifest", base + "steps:\n- name: r\n  resource: {action: create}\n", nil, `step "r": resource: manifest is required`},
		{"resource bad action", base + "steps:\n- name: r\n  resource: {action: replace, manifest: {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}}\n", nil, `step "r": resource: action "replace"`},
		{"resource bad condition", base + "steps:\n- name: r\n  resource: {manifest: {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}, success_condition: 'status.conditions.#(type==Ready).status == True'}\n", nil, `step "r": resource: success_condition`},
		{"resource cluster scoped", base + "steps:\n- name: r\n  resource: {manifest: {apiVersion: v1, kind: Namespace, metadata: {name: x}}}\n", nil, "cluster-scoped"},
		{"resource generateName", base + "steps:\n- name: r\n  resource: {manifest: {apiVersion: v1, kind: ConfigMap, metadata: {generateName: x-}}}\n", nil, "metadata.name is required"},
		{"bad volume size", base + "volume: {size: lots}\nsteps:\n- name: a\n  container: {image: x}\n", nil, `volume: size "lots"`},
		{"bad access mode", base + "volume: {access_mode: RWX}\nsteps:\n- name: a\n  container: {image: x}\n", nil, `volume: access_mode "RWX"`},
		{"duplicate yaml key", base + "steps:\n- name: a\n  name: b\n  container: {image: x}\n", nil, "already set"},
		{"empty", "", nil, "the file is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Load([]byte(tc.file), "-f p.yaml", tc.sets)
			if err == nil {
				p.Complete("kubeflow")
				err = p.Validate()
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if code := exit.Code(err); code != exit.Usage {
				t.Errorf("exit %d, want 2: %v", code, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestDatasetGaps(t *testing.T) {
	file := `apiVersion: paddlex.io/v1alpha1
kind: Pipeline
name: p
steps:
- name: data
  dataset: {name: icdar2015, source_uri: 'bos://a/icdar2015/'}
- name: ordered
  after: [data]
  train: {project: PaddleOCR, image: x:1, config_path: c, dataset: icdar2015}
- name: unordered
  train: {project: PaddleOCR, image: x:1, config_path: c, dataset: icdar2015}
- name: elsewhere
  train: {project: PaddleOCR, image: x:1, config_path: c, dataset: imagenet}
- name: nodata
  train: {project: PaddleOCR, image: x:1, config_path: c}
`
	p, _ := compileData(t, []byte(file), nil, Options{})
	gaps := p.DatasetGaps()
	if len(gaps) != 2 {
		t.Fatalf("gaps = %v", gaps)
	}
	if gaps[0].Step != "elsewhere" || gaps[0].Dataset != "imagenet" || gaps[0].Unordered != "" {
		t.Errorf("gap 0 = %+v", gaps[0])
	}
	if gaps[1].Step != "unordered" || gaps[1].Unordered != "data" || !strings.Contains(gaps[1].String(), `add "data" to its after list`) {
		t.Errorf("gap 1 = %+v: %s", gaps[1], gaps[1])
	}
}

func TestContainerAndResourceStepsGolden(t *testing.T) {
	file := `apiVersion: paddlex.io/v1alpha1
kind: Pipeline
name: custom
namespace: team
steps:
- name: prepare
  container:
    image: busybox:1.37
    command: [sh, -c]
    args: ["ls /mnt/task-center /data"]
    env:
    - {name: TOKEN, valueFrom: {secretKeyRef: {name: s, key: token}}}
    volume_mounts:
    - {name: task-center, mount_path: /mnt/task-center}
    - {name: data-center, mount_path: /data, read_only: true}
- name: config
  after: [prepare]
  resource:
    action: apply
    manifest:
      apiVersion: v1
      kind: ConfigMap
      metadata: {name: settings}
      data: {a: "1"}
- name: job
  after: [config]
  resource:
    manifest:
      apiVersion: batch/v1
      kind: Job
      metadata: {name: check}
      spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox:1.37}]}}}
    success_condition: status.succeeded > 0
    failure_condition: status.failed > 0
`
	_, c := compileData(t, []byte(file), nil, Options{})
	golden.Assert(t, "testdata/custom.golden.yaml", objectsYAML(t, c))
	wf := c.Workflow
	prep := templateNamed(wf, "prepare")
	if prep.Container == nil || len(prep.Container.VolumeMounts) != 2 {
		t.Fatalf("prepare = %+v", prep)
	}
	if len(wf.Spec.Volumes) != 1 || wf.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-center" {
		t.Errorf("volumes = %+v", wf.Spec.Volumes)
	}
	cfg := templateNamed(wf, "config").Resource
	if cfg.Action != "apply" || cfg.SetOwnerReference {
		t.Errorf("config = %+v", cfg)
	}
	job := templateNamed(wf, "job").Resource
	if job.Action != "create" || !job.SetOwnerReference || !strings.Contains(job.Manifest, "namespace: team") ||
		!strings.Contains(job.Manifest, "paddlex.io/pipeline: custom") {
		t.Errorf("job = %+v", job)
	}
}

// withStatus gives wf the node statuses Argo would record.
func withStatus(wf *wfv1.Workflow, name string, phase wfv1.WorkflowPhase, nodes map[string]wfv1.NodePhase) *wfv1.Workflow {
	wf = wf.DeepCopy()
	wf.Name, wf.GenerateName = name, ""
	wf.Status.Phase = phase
	wf.Status.Nodes = wfv1.Nodes{}
	for n, ph := range nodes {
		id := strings.ReplaceAll(name+"."+n, ".", "-")
		wf.Status.Nodes[id] = wfv1.NodeStatus{ID: id, Name: name + "." + n, Phase: ph, Message: "msg " + n,
			StartedAt: metav1.Unix(1000, 0), FinishedAt: metav1.Unix(1060, 0)}
	}
	return wf
}

func TestRetrySkipsSucceededSteps(t *testing.T) {
	b, _ := FindBuiltin(builtins(t), "ppocr-det")
	_, c := compileData(t, b.Data, nil, Options{GenerateName: true})
	old := withStatus(c.Workflow, "ppocr-det-abcde", wfv1.WorkflowFailed, map[string]wfv1.NodePhase{
		"dataset": "Succeeded", "dataset.sampleset": "Succeeded", "dataset.sync": "Succeeded", "dataset.warmup": "Succeeded",
		"dataset.cleanup-sync": "Succeeded", "dataset.cleanup-warmup": "Succeeded",
		"train": "Failed", "train.paddlejob": "Succeeded", "train.visualdl-deployment": "Succeeded",
		"train.visualdl-service": "Succeeded", "train.export": "Failed", "train.convert": "Omitted",
	})
	plan, err := Retry(old)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(plan.Skipped, ","); got != "dataset,train/paddlejob,train/visualdl-deployment,train/visualdl-service" {
		t.Errorf("skipped = %s", got)
	}
	if got := strings.Join(plan.Rerun, ","); got != "train/export,train/convert,modelhub/upload,modelhub-latest/upload,serve/service" {
		t.Errorf("rerun = %s", got)
	}
	var left []string
	for _, r := range plan.Leftovers {
		left = append(left, r.String())
	}
	if got := strings.Join(left, ","); got != "Job kubeflow/ppocr-det-inference-convert,Job kubeflow/ppocr-det-serving-convert,Job kubeflow/ppocr-det-model-hub,Job kubeflow/ppocr-det-latest-model-hub" {
		t.Errorf("leftovers = %s", got)
	}
	wf := plan.Workflow
	if wf.GenerateName != "ppocr-det-retry-" || wf.Labels[LabelRetryOf] != "ppocr-det-abcde" || wf.Labels[LabelPipeline] != "ppocr-det" {
		t.Errorf("meta = %+v", wf.ObjectMeta)
	}
	main := templateNamed(wf, EntrypointName)
	for _, task := range main.DAG.Tasks {
		if (task.Name == "dataset") != (task.When == "false") {
			t.Errorf("task %s when=%q", task.Name, task.When)
		}
	}
	for _, task := range templateNamed(wf, "train").DAG.Tasks {
		skipped := task.Name == "paddlejob" || strings.HasPrefix(task.Name, "visualdl")
		if skipped != (task.When == "false") {
			t.Errorf("train/%s when=%q", task.Name, task.When)
		}
	}
	// The retry mounts the failed run's volume instead of a new one.
	if len(wf.Spec.VolumeClaimTemplates) != 0 || plan.Claim != "ppocr-det-abcde-task-center" {
		t.Errorf("claim templates %d, claim %q", len(wf.Spec.VolumeClaimTemplates), plan.Claim)
	}
	if v := wf.Spec.Volumes; len(v) != 1 || v[0].Name != "task-center" || v[0].PersistentVolumeClaim.ClaimName != "ppocr-det-abcde-task-center" {
		t.Errorf("volumes = %+v", v)
	}
	if m := templateNamed(wf, "train--export").Resource.Manifest; strings.Contains(m, "{{workflow.name}}") || !strings.Contains(m, "claimName: ppocr-det-abcde-task-center") {
		t.Errorf("export manifest still names the new run's claim:\n%s", m)
	}
	// The old workflow is untouched.
	if templateNamed(old, EntrypointName).DAG.Tasks[0].When != "" || len(old.Spec.VolumeClaimTemplates) != 1 {
		t.Error("Retry changed the old workflow")
	}
	// Named, the retry gets an account of its own with the rights of what
	// it runs; the failed run's account goes with the failed run.
	rbac, err := plan.Named("ppocr-det-retry-fghij")
	if err != nil {
		t.Fatal(err)
	}
	if wf.Name != "ppocr-det-retry-fghij" || wf.GenerateName != "" || wf.Spec.ServiceAccountName != "pipeline-runner-ppocr-det-retry-fghij" ||
		wf.Spec.Executor.ServiceAccountName != wf.Spec.ServiceAccountName || len(rbac) != 4 || rbac[2].GetName() != wf.Spec.ServiceAccountName {
		t.Errorf("retry %s runs as %s with %d objects", wf.Name, wf.Spec.ServiceAccountName, len(rbac))
	}
	if old.Spec.ServiceAccountName != "pipeline-runner-ppocr-det" {
		t.Errorf("Named changed the old workflow's account: %s", old.Spec.ServiceAccountName)
	}

	for _, phase := range []wfv1.WorkflowPhase{wfv1.WorkflowRunning, wfv1.WorkflowSucceeded, ""} {
		_, err := Retry(withStatus(c.Workflow, "x", phase, nil))
		if exit.Code(err) != exit.Precondition {
			t.Errorf("retry of a %q workflow: %v", phase, err)
		}
	}
}

func TestTreeAndProgress(t *testing.T) {
	b, _ := FindBuiltin(builtins(t), "ppocr-det")
	_, c := compileData(t, b.Data, nil, Options{})
	wf := withStatus(c.Workflow, "ppocr-det", wfv1.WorkflowFailed, map[string]wfv1.NodePhase{
		"dataset": "Succeeded", "dataset.sampleset": "Succeeded", "dataset.sync": "Succeeded", "dataset.warmup": "Succeeded",
		"dataset.cleanup-sync": "Succeeded", "dataset.cleanup-warmup": "Succeeded",
		"train": "Failed", "train.paddlejob": "Failed",
	})
	tree := Tree(wf)
	var names []string
	for _, n := range tree {
		names = append(names, fmt.Sprintf("%s:%s:%d", n.Name, n.Phase, len(n.Children)))
	}
	if got := strings.Join(names, " "); got != "dataset:Succeeded:5 train:Failed:5 modelhub:Waiting:1 modelhub-latest:Waiting:1 serve:Waiting:1" {
		t.Errorf("tree = %s", got)
	}
	if d := tree[0].Duration(tree[0].FinishedAt); d.Seconds() != 60 {
		t.Errorf("duration = %s", d)
	}
	path, n, ok := Failure(tree)
	if !ok || path != "train/paddlejob" || n.Message != "msg train.paddlejob" {
		t.Errorf("failure = %s %+v %v", path, n, ok)
	}
	if done, total := Progress(tree); done != 5 || total != 13 {
		t.Errorf("progress = %d/%d", done, total)
	}
}

func TestBuiltinLookup(t *testing.T) {
	_, err := FindBuiltin(builtins(t), "nope")
	var ee *exit.Error
	if !errors.As(err, &ee) || ee.Code != 2 || !strings.Contains(err.Error(), "ppocr-det") {
		t.Errorf("err = %v", err)
	}
}

// chain returns a pipeline of n steps cycling through every kind, each after
// the one before.
func chain(n int) []byte {
	var b strings.Builder
	b.WriteString("apiVersion: paddlex.io/v1alpha1\nkind: Pipeline\nname: bench\nsteps:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "- name: s%d\n", i)
		if i > 0 {
			fmt.Fprintf(&b, "  after: [s%d]\n", i-1)
		}
		switch i % 5 {
		case 0:
			fmt.Fprintf(&b, "  dataset: {name: d%d, source_uri: 'bos://bucket/d%d/'}\n", i, i)
		case 1:
			fmt.Fprintf(&b, "  train: {name: m%d, project: PaddleOCR, image: 'paddleocr:2.1', config_path: c.yml, dataset: d%d, use_visualdl: true}\n", i, i-1)
		case 2:
			fmt.Fprintf(&b, "  modelhub: {model_name: m%d, model_version: v1}\n", i-1)
		case 3:
			fmt.Fprintf(&b, "  serve: {model_name: m%d, model_version: v1}\n", i-2)
		case 4:
			b.WriteString("  container: {image: 'busybox:1.37', command: [ls]}\n")
		}
	}
	return []byte(b.String())
}

func compileOnce(tb testing.TB, data []byte) {
	p, err := Load(data, "bench", nil)
	if err != nil {
		tb.Fatal(err)
	}
	p.Complete("kubeflow")
	if err := p.Validate(); err != nil {
		tb.Fatal(err)
	}
	c, err := Compile(p, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Objects(); err != nil {
		tb.Fatal(err)
	}
}

func benchCompile(b *testing.B, n int) {
	data := chain(n)
	for b.Loop() {
		compileOnce(b, data)
	}
}

// meanCompile times compiling data rounds times.
func meanCompile(tb testing.TB, data []byte, rounds int) time.Duration {
	start := time.Now()
	for range rounds {
		compileOnce(tb, data)
	}
	return time.Since(start) / time.Duration(rounds)
}

// BenchmarkCompile10 and BenchmarkCompile100 load, validate and compile
// pipelines of 10 and 100 steps. BenchmarkCompile100 also reports how many
// times longer 100 steps take than 10 (about 10 when compiling is linear),
// measured over rounds of its own, as `make bench` runs each benchmark once.
func BenchmarkCompile10(b *testing.B) { benchCompile(b, 10) }
func BenchmarkCompile100(b *testing.B) {
	benchCompile(b, 100)
	b.StopTimer()
	t10, t100 := meanCompile(b, chain(10), 20), meanCompile(b, chain(100), 5)
	b.ReportMetric(float64(t100)/float64(t10), "x-of-10-steps")
	b.ReportMetric(float64(t100.Microseconds())/1000, "ms-per-100-steps")
}

// BenchmarkCompileBuiltins loads, validates and compiles every built-in
// pipeline, with their RBAC and objects; `make bench` prints the time all of
// them take together, measured over rounds of its own.
func BenchmarkCompileBuiltins(b *testing.B) {
	bs := builtins(b)
	all := func() {
		for _, bi := range bs {
			compileOnce(b, bi.Data)
		}
	}
	for b.Loop() {
		all()
	}
	b.StopTimer()
	const rounds = 5
	start := time.Now()
	for range rounds {
		all()
	}
	b.ReportMetric(float64(len(bs)), "pipelines")
	b.ReportMetric(float64((time.Since(start)/rounds).Microseconds())/1000, "ms-all-builtins")
}

// TestCompile100Steps checks that a long chain compiles whole; how fast is
// BenchmarkCompile100's figure, printed by `make bench`.
func TestCompile100Steps(t *testing.T) {
	p, c := compileData(t, chain(100), nil, Options{})
	if len(p.Steps) != 100 || len(templateNamed(c.Workflow, EntrypointName).DAG.Tasks) != 100 {
		t.Fatal("not 100 steps")
	}
}

// TestExamplesMatchBuiltins keeps the copies under examples/ identical to
// the embedded built-ins.
func TestExamplesMatchBuiltins(t *testing.T) {
	for _, b := range builtins(t) {
		got, err := os.ReadFile("../../examples/pipelines/" + b.Name + ".yaml")
		if err != nil {
			t.Errorf("%v (copy manifests/pipelines/%s.yaml there)", err, b.Name)
			continue
		}
		if !bytes.Equal(got, b.Data) {
			t.Errorf("examples/pipelines/%s.yaml differs from manifests/pipelines/%s.yaml: copy it again", b.Name, b.Name)
		}
	}
}

func TestContainerStepTokenOnlyWhenAsked(t *testing.T) {
	file := `apiVersion: paddlex.io/v1alpha1
kind: Pipeline
name: token
namespace: team
steps:
- name: plain
  container: {image: busybox:1.37}
- name: api
  container: {image: bitnami/kubectl:1.31, service_account_token: true}
`
	_, c := compileData(t, []byte(file), nil, Options{Name: "token-abcde"})
	wf := c.Workflow
	if wf.Name != "token-abcde" || wf.Spec.ServiceAccountName != "pipeline-runner-token-abcde" || c.RBAC[0].GetName() != "pipeline-runner-token-abcde" {
		t.Errorf("run %s runs as %s; account %s", wf.Name, wf.Spec.ServiceAccountName, c.RBAC[0].GetName())
	}
	if *wf.Spec.AutomountServiceAccountToken {
		t.Error("the workflow mounts the token into every step")
	}
	if a := templateNamed(wf, "plain").AutomountServiceAccountToken; a != nil {
		t.Errorf("plain step: automount %v", *a)
	}
	if a := templateNamed(wf, "api").AutomountServiceAccountToken; a == nil || !*a {
		t.Error("the step that asked has no token")
	}
	owned := OwnedBy(c.RBAC, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": map[string]any{"name": "token-abcde", "uid": "u-1"},
	}})
	for _, o := range owned {
		refs := o.GetOwnerReferences()
		if len(refs) != 1 || refs[0].Kind != "Workflow" || refs[0].Name != "token-abcde" || refs[0].UID != "u-1" {
			t.Errorf("%s %s owner references %v", o.GetKind(), o.GetName(), refs)
		}
	}
	if len(c.RBAC[0].GetOwnerReferences()) != 0 {
		t.Error("OwnedBy changed its input")
	}
}
