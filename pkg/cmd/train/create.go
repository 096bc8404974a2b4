package train

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/podlogs"
	"github.com/paddleflow/paddlex/pkg/train"
)

// CreateOptions are the options of `train create|apply|patch`.
type CreateOptions struct {
	// Verb is the command's own action; Spec.Action may override it.
	Verb string
	File string
	Spec train.Spec
	// Keep leaves the export and conversion Jobs after they succeed.
	Keep   bool
	Apply  cmdutil.ApplyFlags
	Output cmdutil.OutputFlags

	// Flag forms of the spec's lists and maps.
	configChanges string
	configChange  []string
	env           []string
	nodeSelector  []string
	podLabels     []string
	useVisualDL   bool
	saveInference bool
	needConvert   bool

	Streams   cmdutil.IOStreams
	Kube      kube.Interface
	Clientset kubernetes.Interface
}

// NewCmdCreate returns `train create`, `apply` or `patch`; runF replaces Run in tests.
func NewCmdCreate(f *cmdutil.Factory, verb string, runF func(*CreateOptions) error) *cobra.Command {
	o := &CreateOptions{Verb: verb, Streams: f.Streams}
	short := map[string]string{
		paddle.ActionCreate: "Train a model with a Paddle suite on the cluster",
		paddle.ActionApply:  "Train a model, creating or updating its objects",
		paddle.ActionPatch:  "Update a training that exists",
	}[verb]
	cmd := &cobra.Command{
		Use:   verb + " NAME --project SUITE --image IMAGE --config-path CONFIG --pvc-name PVC [flags]",
		Short: short,
		Long: short + `.

It applies a PaddleJob NAME (paddle-operator's batch.paddlepaddle.org/v1, or with
--backend training-operator Kubeflow's kubeflow.org/v1) running the suite's
training command on --worker-replicas workers (and --ps-replicas parameter
servers, for suites that train that way), with the data set at
/mnt/data-center/DATASET/ and the task volume --pvc-name at /mnt/task-center/.
With --use-visualdl a VisualDL board NAME-visualdl starts with it.

It waits for the PaddleJob to finish, then runs Job NAME-inference-convert
(the suite's export of the TRAINED best weights into /mnt/task-center/inference/)
and Job NAME-serving-convert (Paddle Serving conversion, packed as
/mnt/task-center/NAME.tar.gz), each waited on, and removes those Jobs unless
--keep. A failed training exits 1 and names the failing rank.

-f takes a spec file with the Training API's keys (project, image, config_path,
dataset, pvc_name, worker_replicas, ps_replicas, gpu_per_node, config_changes,
pretrain_model, pretrain_sha256, train_label, test_label, use_visualdl, save_inference,
need_convert, and env, cpu, memory, backend, ...); flags override the file.
config_changes is a list, or one comma-separated string when no value holds a
comma; on the command line repeat --config-change KEY=VALUE.

Suites: PaddleOCR and PaddleClas (config file, -o changes), PaddleNLP
(config_path is the training script, changes become --KEY VALUE flags),
PaddleRec (config file; parameter servers with --ps-replicas).`,
		Example: fmt.Sprintf(`  # PP-OCR text detection on ICDAR2015, two workers with one GPU each
  paddlex train %[1]s ppocr-det --project PaddleOCR \
    --image registry.baidubce.com/paddleflow-public/paddleocr:2.1.3-gpu-cuda10.2-cudnn7 \
    --config-path configs/det/det_mv3_db.yml --dataset icdar2015 --pvc-name task-center \
    --worker-replicas 2 --gpu-per-node 1 --config-change Global.epoch_num=10 \
    --pretrain-model https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/MobileNetV3_large_x0_5_pretrained.pdparams \
    --train-label train_icdar2015_label.txt --test-label test_icdar2015_label.txt --use-visualdl
  # the same from a spec file, on the Kubeflow training-operator
  paddlex train %[1]s -f ppocr-det.yaml --backend training-operator
  # print what would be applied
  paddlex train %[1]s -f ppocr-det.yaml --dry-run=client -o yaml`, verb),
		Args: cobra.MaximumNArgs(1),
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.File, "filename", "f", "", "spec file (YAML or JSON, - for stdin) with the Training API's keys")
	fs.StringVar(&o.Spec.Action, "action", "", "create, apply, patch or delete; overrides the verb")
	fs.StringVar(&o.Spec.Project, "project", "", "suite: "+strings.Join(train.SuiteNames(), ", "))
	fs.StringVar(&o.Spec.Image, "image", "", "training image holding the suite, with a pinned tag")
	fs.StringVar(&o.Spec.ConfigPath, "config-path", "", "the suite's config file in the image (PaddleNLP: the training script)")
	fs.StringVar(&o.Spec.Dataset, "dataset", "", "data set in the SampleSet cache, mounted at /mnt/data-center/DATASET/")
	fs.StringVar(&o.Spec.PVCName, "pvc-name", "", "task volume (PersistentVolumeClaim) for checkpoints, models and logs, at /mnt/task-center/")
	fs.Int32Var(&o.Spec.WorkerReplicas, "worker-replicas", 1, fmt.Sprintf("training workers, 1-%d", validate.MaxReplicas))
	fs.Int32Var(&o.Spec.PSReplicas, "ps-replicas", 0, fmt.Sprintf("parameter servers, 0-%d (parameter-server mode; PaddleRec)", validate.MaxReplicas))
	fs.Int32Var(&o.Spec.GPUPerNode, "gpu-per-node", 0, fmt.Sprintf("GPUs per worker, 0-%d; more than one runs paddle.distributed.launch --gpus 0,...", validate.MaxGPUs))
	fs.StringVar(&o.configChanges, "config-changes", "", "config changes as KEY=VALUE,KEY=VALUE (no commas inside values; else use --config-change)")
	fs.StringArrayVar(&o.configChange, "config-change", nil, "a config change KEY=VALUE (repeatable; the value may hold commas)")
	fs.StringVar(&o.Spec.PretrainModel, "pretrain-model", "", "pretrained weights: an https:// URL (or the model center's) downloaded first, or a path under /mnt/task-center/ or /mnt/data-center/")
	fs.StringVar(&o.Spec.PretrainSHA256, "pretrain-sha256", "", "sha256 the downloaded --pretrain-model weights must have; the download fails otherwise")
	fs.StringVar(&o.Spec.TrainLabel, "train-label", "", "training label file, relative to the data set")
	fs.StringVar(&o.Spec.TestLabel, "test-label", "", "evaluation label file, relative to the data set")
	fs.BoolVar(&o.useVisualDL, "use-visualdl", false, "start a VisualDL board NAME-visualdl with the training")
	fs.BoolVar(&o.saveInference, "save-inference", true, "export the trained model for inference (Job NAME-inference-convert)")
	fs.BoolVar(&o.needConvert, "need-convert", true, "convert the inference model for Paddle Serving (Job NAME-serving-convert)")
	fs.StringArrayVar(&o.env, "env", nil, "environment variable KEY=VALUE for the training pods (repeatable; the value may hold commas)")
	fs.StringVar(&o.Spec.CPU, "cpu", "", "CPU request and limit of each training pod, e.g. 4")
	fs.StringVar(&o.Spec.Memory, "memory", "", "memory request and limit of each training pod, e.g. 16Gi")
	fs.StringVar(&o.Spec.Backend, "backend", train.BackendPaddleOperator, "paddle-operator or training-operator (Kubeflow)")
	fs.StringVar(&o.Spec.SampleSet, "sampleset", paddle.DefaultSampleSet, "SampleSet cache holding --dataset")
	fs.StringArrayVar(&o.nodeSelector, "node-selector", nil, "node label KEY=VALUE the pods must run on (repeatable)")
	fs.StringArrayVar(&o.Spec.Tolerations, "tolerations", nil, "toleration KEY=VALUE:EFFECT, KEY:EFFECT or KEY (repeatable)")
	fs.StringVar(&o.Spec.PriorityClass, "priority-class", "", "PriorityClass of the pods")
	fs.StringVar(&o.Spec.Scheduler, "scheduler", "", `"volcano" gang-schedules all replicas at once (minAvailable = every replica)`)
	fs.StringVar(&o.Spec.Queue, "queue", "", "Volcano queue (with --scheduler volcano)")
	fs.StringArrayVar(&o.podLabels, "pod-label", nil, "label KEY=VALUE added to the training pods (repeatable)")
	fs.StringVar(&o.Spec.ModelFilename, "model-filename", "", "exported model file the serving conversion reads (default: the suite's)")
	fs.StringVar(&o.Spec.ParamsFilename, "params-filename", "", "exported parameters file the serving conversion reads (default: the suite's)")
	fs.StringVar(&o.Spec.ServingImage, "serving-image", "", "image with paddle_serving_client for the conversion (default --image)")
	fs.StringVar(&o.Spec.VisualDLImage, "visualdl-image", "", "image with visualdl for the board (default --image)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the export and conversion Jobs after they succeed")
	o.Apply.AddFlags(fs, true, 0)
	_ = cmd.RegisterFlagCompletionFunc("project", cmdutil.CompleteFlagFixed(train.SuiteNames()...))
	_ = cmd.RegisterFlagCompletionFunc("backend", cmdutil.CompleteFlagFixed(train.BackendPaddleOperator, train.BackendTrainingOperator))
	o.Output.AddFlags(fs)
	return cmd
}

// parseKV parses repeated KEY=VALUE flags into a map.
func parseKV(flag string, items []string) (map[string]string, error) {
	if len(items) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if !ok || k == "" {
			return nil, exit.UsageErrorf("%s %q is not KEY=VALUE", flag, it)
		}
		m[k] = v
	}
	return m, nil
}

// Complete merges the spec file, the flags the user set and the namespace.
func (o *CreateOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	fs := cmd.Flags()
	changed := func(name string) bool { return cmdutil.Changed(fs, name) }
	flags := o.Spec
	var flagChanges train.ConfigChanges
	if o.configChanges != "" {
		parsed, err := train.SplitConfigChanges(o.configChanges)
		if err != nil {
			return exit.UsageErrorf("--%v", err)
		}
		flagChanges = parsed
	}
	flagChanges = append(flagChanges, o.configChange...)
	env, err := parseKV("--env", o.env)
	if err != nil {
		return err
	}
	nodeSel, err := parseKV("--node-selector", o.nodeSelector)
	if err != nil {
		return err
	}
	podLabels, err := parseKV("--pod-label", o.podLabels)
	if err != nil {
		return err
	}
	flags.Env, flags.NodeSelector, flags.PodLabels, flags.ConfigChanges = env, nodeSel, podLabels, flagChanges
	flags.UseVisualDL, flags.SaveInference, flags.NeedConvert = train.Bool(o.useVisualDL), train.Bool(o.saveInference), train.Bool(o.needConvert)

	if o.File == "" {
		o.Spec = flags
	} else {
		var file train.Spec
		if err := cmdutil.LoadSpecFile(o.File, o.Streams.In, &file); err != nil {
			return err
		}
		o.Spec = file
		for name, set := range map[string]func(){
			"action":          func() { o.Spec.Action = flags.Action },
			"project":         func() { o.Spec.Project = flags.Project },
			"image":           func() { o.Spec.Image = flags.Image },
			"config-path":     func() { o.Spec.ConfigPath = flags.ConfigPath },
			"dataset":         func() { o.Spec.Dataset = flags.Dataset },
			"pvc-name":        func() { o.Spec.PVCName = flags.PVCName },
			"worker-replicas": func() { o.Spec.WorkerReplicas = flags.WorkerReplicas },
			"ps-replicas":     func() { o.Spec.PSReplicas = flags.PSReplicas },
			"gpu-per-node":    func() { o.Spec.GPUPerNode = flags.GPUPerNode },
			"pretrain-model":  func() { o.Spec.PretrainModel = flags.PretrainModel },
			"pretrain-sha256": func() { o.Spec.PretrainSHA256 = flags.PretrainSHA256 },
			"train-label":     func() { o.Spec.TrainLabel = flags.TrainLabel },
			"test-label":      func() { o.Spec.TestLabel = flags.TestLabel },
			"use-visualdl":    func() { o.Spec.UseVisualDL = flags.UseVisualDL },
			"save-inference":  func() { o.Spec.SaveInference = flags.SaveInference },
			"need-convert":    func() { o.Spec.NeedConvert = flags.NeedConvert },
			"env":             func() { o.Spec.Env = flags.Env },
			"cpu":             func() { o.Spec.CPU = flags.CPU },
			"memory":          func() { o.Spec.Memory = flags.Memory },
			"backend":         func() { o.Spec.Backend = flags.Backend },
			"sampleset":       func() { o.Spec.SampleSet = flags.SampleSet },
			"node-selector":   func() { o.Spec.NodeSelector = flags.NodeSelector },
			"tolerations":     func() { o.Spec.Tolerations = flags.Tolerations },
			"priority-class":  func() { o.Spec.PriorityClass = flags.PriorityClass },
			"scheduler":       func() { o.Spec.Scheduler = flags.Scheduler },
			"queue":           func() { o.Spec.Queue = flags.Queue },
			"pod-label":       func() { o.Spec.PodLabels = flags.PodLabels },
			"model-filename":  func() { o.Spec.ModelFilename = flags.ModelFilename },
			"params-filename": func() { o.Spec.ParamsFilename = flags.ParamsFilename },
			"serving-image":   func() { o.Spec.ServingImage = flags.ServingImage },
			"visualdl-image":  func() { o.Spec.VisualDLImage = flags.VisualDLImage },
		} {
			if changed(name) {
				set()
			}
		}
		if changed("config-changes") || changed("config-change") {
			o.Spec.ConfigChanges = flags.ConfigChanges
		}
		if o.Spec.Action != "" {
			if err := validate.Action("-f "+o.File+": action", o.Spec.Action); err != nil {
				return err
			}
		}
	}
	if len(args) == 1 {
		if o.Spec.Name != "" && o.Spec.Name != args[0] {
			return exit.UsageErrorf("NAME %q differs from the spec file's name %q", args[0], o.Spec.Name)
		}
		o.Spec.Name = args[0]
	}
	if o.Spec.Name == "" {
		return exit.UsageErrorf("a training NAME is required, as an argument or the spec file's name key")
	}
	if o.Spec.Namespace == "" || changed("namespace") {
		o.Spec.Namespace = f.Namespace()
	}
	if o.Spec.Action == "" {
		o.Spec.Action = o.Verb
	}
	o.Spec.Defaults()
	o.Spec.ImageRegistry = f.ImageRegistry
	if changed("worker-replicas") {
		// An explicit 0 is an error, not the default.
		o.Spec.WorkerReplicas = flags.WorkerReplicas
	}
	return nil
}

// Validate checks flags and spec without contacting the cluster, and warns
// about images without a pinned tag.
func (o *CreateOptions) Validate() error {
	if err := o.Apply.Validate(); err != nil {
		return err
	}
	if err := o.Output.Validate(); err != nil {
		return err
	}
	if err := o.Spec.Validate(); err != nil {
		return err
	}
	if o.Spec.Action == paddle.ActionDelete {
		if err := o.Apply.ValidateDelete(); err != nil {
			return err
		}
	} else {
		for _, w := range o.Spec.Warnings() {
			fmt.Fprintln(o.Streams.ErrOut, "warning:", w)
		}
	}
	return nil
}

// RunTimeout is --timeout.
func (o *CreateOptions) RunTimeout() time.Duration { return o.Apply.Timeout }

// Connect builds the clients; nothing is needed for a client dry run.
func (o *CreateOptions) Connect(f *cmdutil.Factory) error {
	if o.Apply.ClientDryRun() {
		return nil
	}
	var err error
	if o.Kube, err = f.Kube(); err != nil {
		return err
	}
	o.Clientset, err = f.Clientset()
	return err
}

// Run renders, applies and waits.
func (o *CreateOptions) Run(ctx context.Context) error {
	s := o.Spec
	if s.Action == paddle.ActionDelete {
		d := &DeleteOptions{Name: s.Name, Namespace: s.Namespace, Delete: o.Apply.ForDelete(), Streams: o.Streams, Engine: cmdutil.Engine{Kube: o.Kube}}
		return d.Run(ctx)
	}
	if o.Apply.ClientDryRun() {
		return o.print(train.RenderAll(s), "(dry run)")
	}
	if err := o.preflight(ctx); err != nil {
		return err
	}
	opts := o.Apply.ApplyOptions()
	objs := train.Render(s)
	if opts.DryRun == kube.DryRunServer {
		applied, err := o.Kube.Apply(ctx, train.RenderAll(s), opts)
		if err != nil {
			return err
		}
		return o.print(applied, "(server dry run)")
	}
	applied, err := o.Kube.Apply(ctx, objs, opts)
	if err != nil {
		return err
	}
	if !o.Apply.Wait {
		if s.Export() || s.Convert() {
			fmt.Fprintf(o.Streams.ErrOut, "not waiting: the export and conversion Jobs run after training succeeds, so they are not created; run `paddlex train apply` again with --wait to create them\n")
		}
		return o.print(applied, "")
	}
	job := applied[0]
	if s.VisualDL() {
		fmt.Fprintf(o.Streams.ErrOut, "VisualDL: run `paddlex train visualdl %s -n %s` to open the board\n", s.Name, s.Namespace)
	}
	done, err := o.Kube.Wait(ctx, kube.RefOf(job), train.Condition(s.Backend))
	if err != nil {
		var fe *kube.FailedError
		if errors.As(err, &fe) {
			return o.trainingFailed(ctx, done, err)
		}
		return err
	}
	var jobs []*unstructured.Unstructured
	if s.Export() {
		jobs = append(jobs, train.RenderExportJob(s))
	}
	if s.Convert() {
		if !s.Export() {
			fmt.Fprintf(o.Streams.ErrOut, "warning: --need-convert without --save-inference converts what is already in %s\n", train.InferenceDir)
		}
		jobs = append(jobs, train.RenderConvertJob(s))
	}
	for _, j := range jobs {
		if _, err := o.Kube.Apply(ctx, []*unstructured.Unstructured{j}, opts); err != nil {
			return err
		}
		if _, err := o.Kube.Wait(ctx, kube.RefOf(j), kube.JobComplete()); err != nil {
			fmt.Fprintf(o.Streams.ErrOut, "left in the cluster for inspection: %s\n  logs:   kubectl logs job/%s -n %s\n  remove: paddlex train delete %s -n %s\n",
				kube.RefOf(j), j.GetName(), s.Namespace, s.Name, s.Namespace)
			var fe *kube.FailedError
			if errors.As(err, &fe) {
				return o.jobFailed(ctx, j, err)
			}
			return err
		}
	}
	if len(jobs) > 0 && !o.Keep {
		refs := make([]kube.ObjectRef, len(jobs))
		for i, j := range jobs {
			refs[i] = kube.RefOf(j)
		}
		if err := o.Kube.Delete(ctx, refs, kube.DeleteOptions{IgnoreNotFound: true}); err != nil {
			return fmt.Errorf("training %s succeeded, but removing its Jobs failed: %w", s.Name, err)
		}
	}
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, []*unstructured.Unstructured{done})
	}
	msg := fmt.Sprintf("training %s succeeded", s.Name)
	switch {
	case s.Convert():
		msg += fmt.Sprintf(": serving model %s in PersistentVolumeClaim %s", s.Archive(), s.PVCName)
	case s.Export():
		msg += fmt.Sprintf(": inference model in %s of PersistentVolumeClaim %s", train.InferenceDir, s.PVCName)
	default:
		msg += fmt.Sprintf(": checkpoints in %s of PersistentVolumeClaim %s", train.ModelsDir, s.PVCName)
	}
	_, err = fmt.Fprintln(o.Streams.Out, msg)
	return err
}

// trainingFailed names the first failing rank and why, from its pod, or
// from the operator's counts when the pods are gone.
func (o *CreateOptions) trainingFailed(ctx context.Context, job *unstructured.Unstructured, cause error) error {
	return trainingFailed(ctx, o.Clientset, o.Spec.Name, o.Spec.Namespace, job, cause)
}

// trainingFailed explains the failure of training name: the first failing
// rank and why, from its pod (cs may be nil), with the end of its output,
// or from the operator's counts when the pods are gone; and where its logs
// are.
func trainingFailed(ctx context.Context, cs kubernetes.Interface, name, namespace string, job *unstructured.Unstructured, cause error) error {
	detail, output := "", ""
	if cs != nil {
		pods, err := podlogs.List(ctx, cs, namespace, TrainingPodSelector(name, ""))
		if err == nil {
			SortPods(name, pods)
			if f, ok := podlogs.FirstFailure(pods); ok {
				detail, output = fmt.Sprintf("%s %s", Rank(name, f.Pod), f), podOutput(f)
			}
		}
	}
	if detail == "" && job != nil {
		for _, r := range train.Roles(job) {
			if r.Failed > 0 {
				detail = fmt.Sprintf("%d %s pod(s) failed", r.Failed, r.Role)
				break
			}
		}
	}
	if detail == "" {
		return exit.WithCode(exit.Failed, fmt.Errorf("training %s failed: %w\n  logs: paddlex train logs %s -n %s", name, cause, name, namespace))
	}
	return exit.FailedErrorf("training %s failed: %s (%v)\n%s  logs: paddlex train logs %s -n %s", name, detail, cause, output, name, namespace)
}

// outputLines is how much of a failed container's message an error shows.
const outputLines = 20

// podOutput shows the end of a failed container's message under the pod's
// name, or "" when the message is one line (the failure line has it).
func podOutput(f podlogs.Failure) string {
	out := f.Output("    ", outputLines)
	if out == "" {
		return ""
	}
	return fmt.Sprintf("  pod %s ended with:\n%s", f.Pod.Name, out)
}

// jobFailed says why an export or conversion Job failed, from its pod's
// termination message: the tool's own error.
func (o *CreateOptions) jobFailed(ctx context.Context, job *unstructured.Unstructured, cause error) error {
	s := o.Spec
	detail, output := "", ""
	if o.Clientset != nil {
		pods, err := podlogs.List(ctx, o.Clientset, s.Namespace, "job-name="+job.GetName())
		if err == nil {
			if f, ok := podlogs.FirstFailure(pods); ok {
				detail, output = fmt.Sprintf(": pod %s %s", f.Pod.Name, f), podOutput(f)
			}
		}
	}
	return exit.FailedErrorf("training %s succeeded, but its Job %s failed%s (%v)%s",
		s.Name, job.GetName(), detail, cause, strings.TrimSuffix("\n"+output, "\n"))
}

// preflight reports up front what would otherwise leave pods Pending: the
// task volume or the data set's SampleSet missing.
func (o *CreateOptions) preflight(ctx context.Context) error {
	s := o.Spec
	checks := []struct {
		ref  kube.ObjectRef
		flag string
		hint string
	}{{
		kube.ObjectRef{GVK: corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"), Namespace: s.Namespace, Name: s.PVCName},
		"--pvc-name", "create the task volume first (the StorageClass task-center provides one)",
	}}
	if s.Dataset != "" {
		checks = append(checks, struct {
			ref  kube.ObjectRef
			flag string
			hint string
		}{
			kube.ObjectRef{GVK: paddle.SampleSetGVK, Namespace: s.Namespace, Name: s.SampleSet},
			"--dataset", fmt.Sprintf("cache the data set first: paddlex dataset create %s -n %s --source-uri ...", s.Dataset, s.Namespace),
		})
	}
	for _, c := range checks {
		_, err := o.Kube.Get(ctx, c.ref)
		switch {
		case err == nil:
		case apierrors.IsNotFound(err):
			return exit.PreconditionErrorf("%s: %s does not exist: %s", c.flag, c.ref, c.hint)
		case kube.IsForbidden(err):
			fmt.Fprintf(o.Streams.ErrOut, "warning: cannot check that %s exists: %v\n", c.ref, err)
		default:
			return err
		}
	}
	ref := kube.RefOf(train.RenderPaddleJob(s))
	_, err := o.Kube.Get(ctx, ref)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	switch {
	case s.Action == paddle.ActionCreate && exists:
		return exit.FailedErrorf("create: %s already exists: use `paddlex train apply %s` to update it, or delete it first", ref, s.Name)
	case s.Action == paddle.ActionPatch && !exists:
		return exit.FailedErrorf("patch: %s does not exist: use `paddlex train create` first", ref)
	}
	return nil
}

func (o *CreateOptions) print(objs []*unstructured.Unstructured, suffix string) error {
	return o.Output.PrintApplied(o.Streams.Out, objs, o.Spec.Action, suffix)
}

// TrainingPodSelector selects a training's pods, of one role when role is set.
func TrainingPodSelector(name, role string) string {
	sel := train.Selector(name) + "," + kube.LabelComponent + "=" + train.ComponentTraining
	if role != "" {
		sel += "," + train.LabelRole + "=" + role
	}
	return sel
}

// Rank names a training pod by role and index, e.g. "worker-0": both
// operators name pods JOB-ROLE-INDEX; the training-operator's Master
// replicas are the parameter servers.
func Rank(job string, p *corev1.Pod) string {
	r := strings.TrimPrefix(p.Name, job+"-")
	if strings.HasPrefix(r, "master-") {
		r = "ps-" + strings.TrimPrefix(r, "master-")
	}
	return r
}

// RankIndex returns the index part of Rank, or -1.
func RankIndex(job string, p *corev1.Pod) int {
	r := Rank(job, p)
	i := strings.LastIndex(r, "-")
	n, err := strconv.Atoi(r[i+1:])
	if i < 0 || err != nil {
		return -1
	}
	return n
}

// SortPods orders pods workers first, then parameter servers, each by index.
func SortPods(job string, pods []corev1.Pod) {
	key := func(p *corev1.Pod) (int, int) {
		role := 1
		if strings.HasPrefix(Rank(job, p), "worker-") {
			role = 0
		}
		return role, RankIndex(job, p)
	}
	sort.SliceStable(pods, func(i, j int) bool {
		ri, ii := key(&pods[i])
		rj, ij := key(&pods[j])
		if ri != rj {
			return ri < rj
		}
		return ii < ij
	})
}
