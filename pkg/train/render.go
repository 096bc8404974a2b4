package train

import (
	"path"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// Components label each object's part in a training.
const (
	ComponentTraining = "training"
	ComponentExport   = "inference-convert"
	ComponentConvert  = "serving-convert"
	ComponentVisualDL = "visualdl"
)

// AnnotationProject records the suite on the PaddleJob, for get and describe.
const AnnotationProject = "paddlex.io/project"

// LabelRole is the role ("worker" or "ps") on every training pod.
const LabelRole = "paddlex.io/role"

// VisualDLPort is where the board listens, as in the original platform.
const VisualDLPort = 8040

// ContainerName is the training container's name; the training-operator
// requires it.
const ContainerName = "paddle"

var (
	jobGVK        = schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}
	deploymentGVK = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	serviceGVK    = schema.GroupVersionKind{Version: "v1", Kind: "Service"}
)

// Object names the spec renders.
func (s *Spec) ExportJobName() string  { return s.Name + "-inference-convert" }
func (s *Spec) ConvertJobName() string { return s.Name + "-serving-convert" }
func (s *Spec) VisualDLName() string   { return s.Name + "-visualdl" }

// Archive is the serving model tarball the conversion leaves in the task volume.
func (s *Spec) Archive() string { return TaskMountPath + s.Name + ".tar.gz" }

// PaddleJobGVK returns the kind the spec's backend trains with.
func (s *Spec) PaddleJobGVK() schema.GroupVersionKind {
	if s.Backend == BackendTrainingOperator {
		return paddle.TrainingOperatorJobGVK
	}
	return paddle.PaddleJobGVK
}

// Mode is "PS" with parameter servers, else "Collective".
func (s *Spec) Mode() string {
	if s.PSReplicas > 0 {
		return "PS"
	}
	return "Collective"
}

// Labels are the labels every object of a training carries.
func Labels(name, component string) map[string]any {
	return map[string]any{
		kube.LabelManagedBy: kube.ManagedByValue,
		paddle.LabelTrain:   name,
		kube.LabelComponent: component,
	}
}

// Selector selects every object of the training name.
func Selector(name string) string { return paddle.LabelTrain + "=" + name }

func object(gvk schema.GroupVersionKind, name, ns string, labels map[string]any, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvk.GroupVersion().String(),
		"kind":       gvk.Kind,
		"metadata":   map[string]any{"name": name, "namespace": ns, "labels": labels},
		"spec":       spec,
	}}
}

// Render returns the objects a create or apply makes at once, in apply
// order: the PaddleJob and, with VisualDL, its Deployment and Service, so
// curves are live while training runs.
func Render(s Spec) []*unstructured.Unstructured {
	objs := []*unstructured.Unstructured{RenderPaddleJob(s)}
	if s.VisualDL() {
		objs = append(objs, RenderVisualDL(s)...)
	}
	return objs
}

// RenderAll returns every object a training makes over its life: Render's,
// then the export and conversion Jobs applied after training succeeds.
func RenderAll(s Spec) []*unstructured.Unstructured {
	objs := Render(s)
	if s.Export() {
		objs = append(objs, RenderExportJob(s))
	}
	if s.Convert() {
		objs = append(objs, RenderConvertJob(s))
	}
	return objs
}

// inputs resolves the paths a suite's settings point at.
func (s *Spec) inputs() Inputs {
	in := Inputs{VisualDL: s.VisualDL(), GPU: s.GPUPerNode > 0, Distributed: s.WorkerReplicas > 1 || s.PSReplicas > 0}
	if s.Dataset != "" {
		in.DataDir = paddle.DataMountPath + "/" + s.Dataset + "/"
		label := func(l string) string {
			if l == "" || strings.HasPrefix(l, "/") {
				return l
			}
			return in.DataDir + l
		}
		in.TrainLabel, in.TestLabel = label(s.TrainLabel), label(s.TestLabel)
	}
	in.Pretrained = s.pretrainPath()
	return in
}

func (s *Spec) pretrainURL() bool {
	return strings.HasPrefix(s.PretrainModel, "http://") || strings.HasPrefix(s.PretrainModel, "https://")
}

// pretrainPath is where the pretrained weights are read from.
func (s *Spec) pretrainPath() string {
	if !s.pretrainURL() {
		return s.PretrainModel
	}
	p := s.PretrainModel
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	return PretrainDir + path.Base(p)
}

// TrainCommand returns the training container's command: an argv array,
// or, when the weights are downloaded first, sh -c with every value quoted.
func TrainCommand(s Spec) []string {
	suite, _ := Lookup(s.Project)
	in := s.inputs()
	changes := append(suite.Settings(in), s.ConfigChanges.Pairs()...)
	argv := []string{"python"}
	if launch := s.launchArgs(); launch != nil {
		argv = append(argv, launch...)
	}
	argv = append(argv, suite.TrainArgs(&s, in, changes)...)
	if !s.pretrainURL() {
		return argv
	}
	// Every replica downloads to its own file and renames it into place,
	// so replicas sharing the volume never read a half-written file.
	dst := in.Pretrained
	part := Quote(dst) + `.$(hostname).part`
	script := "set -e; mkdir -p " + Quote(PretrainDir) + "; " +
		"test -s " + Quote(dst) + " || { python -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' " +
		Quote(s.PretrainModel) + " " + part + " && mv -f " + part + " " + Quote(dst) + "; }; " +
		"exec " + Join(argv)
	return []string{"sh", "-c", script}
}

// launchArgs returns paddle.distributed.launch's arguments when one pod runs
// several GPUs or the job spans several pods, and nil otherwise.
// paddle-operator's parameter-server pods take their role from the
// environment it sets, so they run the trainer directly.
func (s *Spec) launchArgs() []string {
	distributed := s.WorkerReplicas > 1 || s.PSReplicas > 0
	if s.GPUPerNode <= 1 && !distributed {
		return nil
	}
	if s.PSReplicas > 0 && s.Backend == BackendPaddleOperator {
		return nil
	}
	args := []string{"-m", "paddle.distributed.launch"}
	if s.GPUPerNode > 0 {
		gpus := make([]string, s.GPUPerNode)
		for i := range gpus {
			gpus[i] = strconv.Itoa(i)
		}
		args = append(args, "--gpus", strings.Join(gpus, ","))
	}
	return append(args, "--log_dir", LogDir)
}

func (s *Spec) env() []any {
	env := []any{map[string]any{"name": "PYTHONUNBUFFERED", "value": "1"}}
	for _, k := range sortedKeys(s.Env) {
		if k == "PYTHONUNBUFFERED" {
			env[0] = map[string]any{"name": k, "value": s.Env[k]}
			continue
		}
		env = append(env, map[string]any{"name": k, "value": s.Env[k]})
	}
	return env
}

func taskVolumes(s *Spec) ([]any, []any) {
	mounts := []any{
		map[string]any{"name": "dshm", "mountPath": "/dev/shm"},
		map[string]any{"name": "task-center", "mountPath": TaskMountPath},
	}
	vols := []any{
		map[string]any{"name": "dshm", "emptyDir": map[string]any{"medium": "Memory"}},
		map[string]any{"name": "task-center", "persistentVolumeClaim": map[string]any{"claimName": s.PVCName}},
	}
	return mounts, vols
}

// placement adds the scheduling fields every pod of the training shares.
func placement(s *Spec, pod map[string]any) {
	if len(s.NodeSelector) > 0 {
		ns := map[string]any{}
		for k, v := range s.NodeSelector {
			ns[k] = v
		}
		pod["nodeSelector"] = ns
	}
	if len(s.Tolerations) > 0 {
		var ts []any
		for _, t := range s.Tolerations {
			tol, _ := ParseToleration(t)
			m := map[string]any{"key": tol.Key, "operator": string(tol.Operator)}
			if tol.Value != "" {
				m["value"] = tol.Value
			}
			if tol.Effect != "" {
				m["effect"] = string(tol.Effect)
			}
			ts = append(ts, m)
		}
		pod["tolerations"] = ts
	}
	if s.PriorityClass != "" {
		pod["priorityClassName"] = s.PriorityClass
	}
}

// podTemplate renders one role's pod template. Workers and parameter
// servers get the same command, volumes and environment; only workers get
// GPUs.
func podTemplate(s *Spec, role string) map[string]any {
	mounts, vols := taskVolumes(s)
	if s.Dataset != "" && s.Backend == BackendTrainingOperator {
		// paddle-operator mounts the SampleSet through sampleSetRef; the
		// training-operator needs the SampleSet's PVC mounted by hand.
		mounts = append(mounts, map[string]any{"name": "data-center", "mountPath": paddle.DataMountPath})
		vols = append(vols, map[string]any{"name": "data-center", "persistentVolumeClaim": map[string]any{"claimName": s.SampleSet}})
	}
	resources := map[string]any{}
	requests, limits := map[string]any{}, map[string]any{}
	if s.CPU != "" {
		requests["cpu"], limits["cpu"] = s.CPU, s.CPU
	}
	if s.Memory != "" {
		requests["memory"], limits["memory"] = s.Memory, s.Memory
	}
	if s.GPUPerNode > 0 && role == "worker" {
		limits["nvidia.com/gpu"] = int64(s.GPUPerNode)
	}
	if len(requests) > 0 {
		resources["requests"] = requests
	}
	if len(limits) > 0 {
		resources["limits"] = limits
	}
	container := map[string]any{
		"name":         ContainerName,
		"image":        s.Image,
		"command":      toAny(TrainCommand(*s)),
		"env":          s.env(),
		"volumeMounts": mounts,
	}
	if len(resources) > 0 {
		container["resources"] = resources
	}
	pod := map[string]any{
		"containers":    []any{container},
		"volumes":       vols,
		"restartPolicy": "Never",
	}
	if s.Scheduler == SchedulerVolcano {
		pod["schedulerName"] = SchedulerVolcano
	}
	placement(s, pod)
	labels := Labels(s.Name, ComponentTraining)
	for k, v := range s.PodLabels {
		labels[k] = v
	}
	labels[LabelRole] = role
	return map[string]any{"metadata": map[string]any{"labels": labels}, "spec": pod}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// RenderPaddleJob renders the training: a batch.paddlepaddle.org/v1
// PaddleJob, or with --backend training-operator a kubeflow.org/v1 one
// (whose Master replicas are the parameter servers).
func RenderPaddleJob(s Spec) *unstructured.Unstructured {
	total := int64(s.WorkerReplicas + s.PSReplicas)
	var sched map[string]any
	if s.Scheduler == SchedulerVolcano {
		sched = map[string]any{"minAvailable": total}
		if s.Queue != "" {
			sched["queue"] = s.Queue
		}
		if s.PriorityClass != "" {
			sched["priorityClass"] = s.PriorityClass
		}
	}
	job := renderPaddleJob(s, sched)
	job.SetAnnotations(map[string]string{AnnotationProject: s.Project})
	return job
}

func renderPaddleJob(s Spec, sched map[string]any) *unstructured.Unstructured {
	if s.Backend == BackendTrainingOperator {
		replicas := map[string]any{
			"Worker": map[string]any{"replicas": int64(s.WorkerReplicas), "restartPolicy": "Never", "template": podTemplate(&s, "worker")},
		}
		if s.PSReplicas > 0 {
			replicas["Master"] = map[string]any{"replicas": int64(s.PSReplicas), "restartPolicy": "Never", "template": podTemplate(&s, "ps")}
		}
		// Pods stay after the run so `paddlex train logs` can read them.
		run := map[string]any{"cleanPodPolicy": "None"}
		if sched != nil {
			run["schedulingPolicy"] = sched
		}
		return object(paddle.TrainingOperatorJobGVK, s.Name, s.Namespace, Labels(s.Name, ComponentTraining),
			map[string]any{"runPolicy": run, "paddleReplicaSpecs": replicas})
	}
	spec := map[string]any{
		"cleanPodPolicy": "OnCompletion",
		"withGloo":       int64(1),
		"intranet":       "PodIP",
		"worker":         map[string]any{"replicas": int64(s.WorkerReplicas), "template": podTemplate(&s, "worker")},
	}
	if s.PSReplicas > 0 {
		spec["ps"] = map[string]any{"replicas": int64(s.PSReplicas), "template": podTemplate(&s, "ps")}
	}
	if s.Dataset != "" {
		spec["sampleSetRef"] = map[string]any{"name": s.SampleSet, "namespace": s.Namespace, "mountPath": paddle.DataMountPath}
	}
	if sched != nil {
		spec["schedulingPolicy"] = sched
	}
	return object(paddle.PaddleJobGVK, s.Name, s.Namespace, Labels(s.Name, ComponentTraining), spec)
}

// jobObject renders a run-once Job of the training.
func jobObject(s *Spec, name, component, image, workdir string, command []string) *unstructured.Unstructured {
	mounts, vols := taskVolumes(s)
	container := map[string]any{
		"name":         component,
		"image":        image,
		"command":      toAny(command),
		"env":          s.env(),
		"volumeMounts": mounts,
	}
	if workdir != "" {
		container["workingDir"] = workdir
	}
	pod := map[string]any{"restartPolicy": "Never", "containers": []any{container}, "volumes": vols}
	placement(s, pod)
	return object(jobGVK, name, s.Namespace, Labels(s.Name, component), map[string]any{
		"backoffLimit": int64(0),
		"template":     map[string]any{"metadata": map[string]any{"labels": Labels(s.Name, component)}, "spec": pod},
	})
}

// RenderExportJob renders Job NAME-inference-convert: the suite's export
// of the trained weights into /mnt/task-center/inference/.
func RenderExportJob(s Spec) *unstructured.Unstructured {
	suite, _ := Lookup(s.Project)
	return jobObject(&s, s.ExportJobName(), ComponentExport, s.Image, "", suite.ExportCommand(&s))
}

// ConvertCommand converts the inference model for Paddle Serving and packs
// it as NAME.tar.gz in the task volume.
func ConvertCommand(s Spec) []string {
	convert := []string{"python3", "-m", "paddle_serving_client.convert",
		"--dirname", InferenceDir,
		"--model_filename", s.ModelFilename,
		"--params_filename", s.ParamsFilename,
		"--serving_server", "./" + s.Name + "/server/",
		"--serving_client", "./" + s.Name + "/client/"}
	script := "set -e; cd " + Quote(TaskMountPath) + "; " + Join(convert) + "; " +
		Join([]string{"tar", "czf", s.Name + ".tar.gz", s.Name + "/"})
	return []string{"sh", "-c", script}
}

// RenderConvertJob renders Job NAME-serving-convert.
func RenderConvertJob(s Spec) *unstructured.Unstructured {
	return jobObject(&s, s.ConvertJobName(), ComponentConvert, s.ServingImage, TaskMountPath, ConvertCommand(s))
}

// RenderVisualDL renders the board reading the training's VisualDL logs:
// a Deployment and a Service NAME-visualdl on port 8040.
func RenderVisualDL(s Spec) []*unstructured.Unstructured {
	mounts, vols := taskVolumes(&s)
	sel := map[string]any{paddle.LabelTrain: s.Name, kube.LabelComponent: ComponentVisualDL}
	script := "mkdir -p " + Quote(VisualDLDir) + " && exec " +
		Join([]string{"visualdl", "--logdir", VisualDLDir, "--host", "0.0.0.0", "--port", strconv.Itoa(VisualDLPort)})
	container := map[string]any{
		"name":         "visualdl",
		"image":        s.VisualDLImage,
		"command":      []any{"sh", "-c", script},
		"ports":        []any{map[string]any{"name": "http", "containerPort": int64(VisualDLPort)}},
		"volumeMounts": mounts,
		"readinessProbe": map[string]any{
			"tcpSocket":     map[string]any{"port": "http"},
			"periodSeconds": int64(5),
		},
	}
	pod := map[string]any{"containers": []any{container}, "volumes": vols}
	placement(&s, pod)
	dep := object(deploymentGVK, s.VisualDLName(), s.Namespace, Labels(s.Name, ComponentVisualDL), map[string]any{
		"replicas": int64(1),
		"selector": map[string]any{"matchLabels": sel},
		"template": map[string]any{"metadata": map[string]any{"labels": Labels(s.Name, ComponentVisualDL)}, "spec": pod},
	})
	svc := object(serviceGVK, s.VisualDLName(), s.Namespace, Labels(s.Name, ComponentVisualDL), map[string]any{
		"selector": sel,
		"ports":    []any{map[string]any{"name": "http", "port": int64(VisualDLPort), "targetPort": "http"}},
	})
	return []*unstructured.Unstructured{dep, svc}
}

// ObjectKinds are the kinds a training may own, in apply order, for get
// and delete to find them by label.
func ObjectKinds(backend string) []schema.GroupVersionKind {
	s := Spec{Backend: backend}
	return []schema.GroupVersionKind{s.PaddleJobGVK(), deploymentGVK, serviceGVK, jobGVK}
}

// JobGVK, DeploymentGVK and ServiceGVK are the built-in kinds a training renders.
func JobGVK() schema.GroupVersionKind        { return jobGVK }
func DeploymentGVK() schema.GroupVersionKind { return deploymentGVK }
func ServiceGVK() schema.GroupVersionKind    { return serviceGVK }
