package train

import (
	"path"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"

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
func Labels(name, component string) map[string]string {
	return map[string]string{
		kube.LabelManagedBy: kube.ManagedByValue,
		paddle.LabelTrain:   name,
		kube.LabelComponent: component,
	}
}

// Selector selects every object of the training name.
func Selector(name string) string { return paddle.LabelTrain + "=" + name }

func objectMeta(name, ns string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}
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
		"python -c " + Quote(pretrainScript) + " " + Quote(s.PretrainModel) + " " + Quote(dst) + " " + part + " " + Quote(strings.ToLower(s.PretrainSHA256)) + "; " +
		"exec " + Join(argv)
	return []string{"sh", "-c", script}
}

// pretrainScript downloads the weights (argv: URL, destination, part file,
// sha256 or ""), unless the destination holds them already, and checks their
// sha256 when one is given, before renaming them into place.
const pretrainScript = `import hashlib, os, sys, urllib.request
url, dst, part, want = sys.argv[1:5]
def sha(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()
if os.path.exists(dst) and os.path.getsize(dst) > 0 and (not want or sha(dst) == want):
    sys.exit(0)
urllib.request.urlretrieve(url, part)
if want:
    got = sha(part)
    if got != want:
        os.remove(part)
        sys.exit("pretrained weights %s have sha256 %s, but --pretrain-sha256 is %s: check the URL and the digest" % (url, got, want))
os.replace(part, dst)
`

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

// env is the training containers' environment: unbuffered Python, so logs
// are live, and a HOME the non-root user can write (paddle.HomeDir), each
// unless --env sets it, then --env's variables in order.
func (s *Spec) env() []corev1.EnvVar {
	env := []corev1.EnvVar{{Name: "PYTHONUNBUFFERED", Value: "1"}, {Name: "HOME", Value: paddle.HomeDir}}
	for _, k := range sortedKeys(s.Env) {
		switch k {
		case "PYTHONUNBUFFERED":
			env[0] = corev1.EnvVar{Name: k, Value: s.Env[k]}
		case "HOME":
			env[1] = corev1.EnvVar{Name: k, Value: s.Env[k]}
		default:
			env = append(env, corev1.EnvVar{Name: k, Value: s.Env[k]})
		}
	}
	return env
}

func pvcVolume(name, claim string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}
}

func taskVolumes(s *Spec) ([]corev1.VolumeMount, []corev1.Volume) {
	mounts := []corev1.VolumeMount{
		{Name: "dshm", MountPath: "/dev/shm"},
		{Name: "task-center", MountPath: TaskMountPath},
	}
	vols := []corev1.Volume{
		{Name: "dshm", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
		pvcVolume("task-center", s.PVCName),
	}
	return mounts, vols
}

// placement adds the scheduling fields every pod of the training shares.
func placement(s *Spec, pod *corev1.PodSpec) {
	if len(s.NodeSelector) > 0 {
		pod.NodeSelector = make(map[string]string, len(s.NodeSelector))
		for k, v := range s.NodeSelector {
			pod.NodeSelector[k] = v
		}
	}
	for _, t := range s.Tolerations {
		tol, _ := ParseToleration(t)
		pod.Tolerations = append(pod.Tolerations, corev1.Toleration{
			Key: tol.Key, Operator: tol.Operator, Value: tol.Value, Effect: tol.Effect})
	}
	pod.PriorityClassName = s.PriorityClass
}

// GPUResource is the extended resource the NVIDIA device plugin advertises.
const GPUResource corev1.ResourceName = "nvidia.com/gpu"

// podTemplate renders one role's pod template. Workers and parameter
// servers get the same command, volumes and environment; only workers get
// GPUs.
func podTemplate(s *Spec, role string) corev1.PodTemplateSpec {
	mounts, vols := taskVolumes(s)
	if s.Dataset != "" && s.Backend == BackendTrainingOperator {
		// paddle-operator mounts the SampleSet through sampleSetRef; the
		// training-operator needs the SampleSet's PVC mounted by hand.
		mounts = append(mounts, corev1.VolumeMount{Name: "data-center", MountPath: paddle.DataMountPath})
		vols = append(vols, pvcVolume("data-center", s.SampleSet))
	}
	var res corev1.ResourceRequirements
	set := func(l *corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
		if *l == nil {
			*l = corev1.ResourceList{}
		}
		(*l)[name] = q
	}
	if s.CPU != "" {
		q := resource.MustParse(s.CPU)
		set(&res.Requests, corev1.ResourceCPU, q)
		set(&res.Limits, corev1.ResourceCPU, q)
	}
	if s.Memory != "" {
		q := resource.MustParse(s.Memory)
		set(&res.Requests, corev1.ResourceMemory, q)
		set(&res.Limits, corev1.ResourceMemory, q)
	}
	if s.GPUPerNode > 0 && role == "worker" {
		set(&res.Limits, GPUResource, *resource.NewQuantity(int64(s.GPUPerNode), resource.DecimalSI))
	}
	pod := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:         ContainerName,
			Image:        s.ImageRegistry.Rewrite(s.Image),
			Command:      TrainCommand(*s),
			Env:          s.env(),
			VolumeMounts: mounts,
			Resources:    res,
			// A failed rank's last log lines become its termination
			// message, so the tool's own error shows in the pod's status.
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		}},
		Volumes:       vols,
		RestartPolicy: corev1.RestartPolicyNever,
	}
	if s.Scheduler == SchedulerVolcano {
		pod.SchedulerName = SchedulerVolcano
	}
	paddle.RestrictPod(&pod)
	placement(s, &pod)
	labels := Labels(s.Name, ComponentTraining)
	for k, v := range s.PodLabels {
		labels[k] = v
	}
	labels[LabelRole] = role
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: pod}
}

// RenderPaddleJob renders the training: a batch.paddlepaddle.org/v1
// PaddleJob, or with --backend training-operator a kubeflow.org/v1 one
// (whose Master replicas are the parameter servers).
func RenderPaddleJob(s Spec) *unstructured.Unstructured {
	var sched *paddle.SchedulingPolicy
	if s.Scheduler == SchedulerVolcano {
		sched = &paddle.SchedulingPolicy{MinAvailable: ptr(int32(s.WorkerReplicas + s.PSReplicas)),
			Queue: s.Queue, PriorityClass: s.PriorityClass}
	}
	meta := objectMeta(s.Name, s.Namespace, Labels(s.Name, ComponentTraining))
	meta.Annotations = map[string]string{AnnotationProject: s.Project}
	if s.Backend == BackendTrainingOperator {
		replicas := map[string]*paddle.ReplicaSpec{
			paddle.ReplicaWorker: {Replicas: ptr(int32(s.WorkerReplicas)), RestartPolicy: "Never", Template: podTemplate(&s, "worker")},
		}
		if s.PSReplicas > 0 {
			replicas[paddle.ReplicaMaster] = &paddle.ReplicaSpec{Replicas: ptr(int32(s.PSReplicas)), RestartPolicy: "Never", Template: podTemplate(&s, "ps")}
		}
		return kube.ToUnstructured(&paddle.KubeflowPaddleJob{
			TypeMeta:   kube.TypeMeta(paddle.TrainingOperatorJobGVK),
			ObjectMeta: meta,
			Spec: paddle.KubeflowPaddleJobSpec{
				// Pods stay after the run so `paddlex train logs` can read them.
				RunPolicy:          paddle.RunPolicy{CleanPodPolicy: ptr("None"), SchedulingPolicy: sched},
				PaddleReplicaSpecs: replicas,
			},
		})
	}
	spec := paddle.PaddleJobSpec{
		CleanPodPolicy:   "OnCompletion",
		WithGloo:         ptr(int32(1)),
		Intranet:         "PodIP",
		Worker:           &paddle.ResourceSpec{Replicas: int32(s.WorkerReplicas), Template: podTemplate(&s, "worker")},
		SchedulingPolicy: sched,
	}
	if s.PSReplicas > 0 {
		spec.PS = &paddle.ResourceSpec{Replicas: int32(s.PSReplicas), Template: podTemplate(&s, "ps")}
	}
	if s.Dataset != "" {
		spec.SampleSetRef = &paddle.SampleSetRef{Name: s.SampleSet, Namespace: s.Namespace, MountPath: paddle.DataMountPath}
	}
	return kube.ToUnstructured(&paddle.PaddleJob{TypeMeta: kube.TypeMeta(paddle.PaddleJobGVK), ObjectMeta: meta, Spec: spec})
}

func ptr[T any](v T) *T { return &v }

// jobObject renders a run-once Job of the training.
func jobObject(s *Spec, name, component, image, workdir string, command []string) *unstructured.Unstructured {
	mounts, vols := taskVolumes(s)
	pod := corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers: []corev1.Container{{
			Name:         component,
			Image:        s.ImageRegistry.Rewrite(image),
			Command:      command,
			Env:          s.env(),
			VolumeMounts: mounts,
			WorkingDir:   workdir,
			// The export or conversion tool's error shows in the pod's status.
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
		}},
		Volumes: vols,
	}
	paddle.RestrictPod(&pod)
	placement(s, &pod)
	return kube.ToUnstructured(&batchv1.Job{
		TypeMeta:   kube.TypeMeta(jobGVK),
		ObjectMeta: objectMeta(name, s.Namespace, Labels(s.Name, component)),
		Spec: batchv1.JobSpec{
			BackoffLimit: ptr(int32(0)),
			Template:     corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: Labels(s.Name, component)}, Spec: pod},
		},
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
	sel := map[string]string{paddle.LabelTrain: s.Name, kube.LabelComponent: ComponentVisualDL}
	script := "mkdir -p " + Quote(VisualDLDir) + " && exec " +
		Join([]string{"visualdl", "--logdir", VisualDLDir, "--host", "0.0.0.0", "--port", strconv.Itoa(VisualDLPort)})
	pod := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name:         "visualdl",
			Image:        s.ImageRegistry.Rewrite(s.VisualDLImage),
			Command:      []string{"sh", "-c", script},
			Env:          []corev1.EnvVar{{Name: "HOME", Value: paddle.HomeDir}},
			Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: VisualDLPort}},
			VolumeMounts: mounts,
			ReadinessProbe: &corev1.Probe{
				ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}},
				PeriodSeconds: 5,
			},
		}},
		Volumes: vols,
	}
	paddle.RestrictPod(&pod)
	placement(&s, &pod)
	meta := objectMeta(s.VisualDLName(), s.Namespace, Labels(s.Name, ComponentVisualDL))
	dep := kube.ToUnstructured(&appsv1.Deployment{
		TypeMeta:   kube.TypeMeta(deploymentGVK),
		ObjectMeta: meta,
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: Labels(s.Name, ComponentVisualDL)}, Spec: pod},
		},
	})
	svc := kube.ToUnstructured(&corev1.Service{
		TypeMeta:   kube.TypeMeta(serviceGVK),
		ObjectMeta: meta,
		Spec: corev1.ServiceSpec{
			Selector: sel,
			Ports:    []corev1.ServicePort{{Name: "http", Port: VisualDLPort, TargetPort: intstr.FromString("http")}},
		},
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
