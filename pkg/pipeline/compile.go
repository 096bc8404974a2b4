package pipeline

import (
	"fmt"
	"strings"

	"github.com/paddleflow/paddlex/pkg/image"

	"github.com/paddleflow/paddlex/pkg/exit"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/pkg/dataset"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/serve"
	"github.com/paddleflow/paddlex/pkg/train"
)

// Options tune Compile.
type Options struct {
	// ServiceAccount runs the workflow as an existing account; empty runs it
	// as the run's own account (Runner), whose ServiceAccount, token Secret,
	// Role and RoleBinding Compile renders.
	ServiceAccount string
	// Name names the run; empty means the pipeline's name. Commands pick
	// NAME-xxxxx themselves (RunName) rather than leave it to the API
	// server, so the run's account can be named after it.
	Name string
	// GenerateName, without Name, leaves the Workflow's name to the API
	// server (NAME-xxxxx); the account is then named after the pipeline.
	GenerateName bool
	// ImageRegistry, when set, moves every image the steps run onto that
	// registry (--image-registry).
	ImageRegistry image.Registry
}

// RunName returns a run name NAME-xxxxx with a random suffix drawn as the
// API server draws generateName's.
func RunName(pipeline string) string { return pipeline + "-" + utilrand.String(5) }

// Compiled is a compiled pipeline.
type Compiled struct {
	Workflow *wfv1.Workflow
	// RBAC are the run's ServiceAccount, token Secret, Role and
	// RoleBinding, in apply order; empty when Options.ServiceAccount names
	// an account. Once the Workflow exists, OwnedBy hands them to it.
	RBAC []*unstructured.Unstructured
}

// Objects returns what a run applies, in order: the RBAC objects, then the
// Workflow.
func (c *Compiled) Objects() ([]*unstructured.Unstructured, error) {
	wf, err := WorkflowObject(c.Workflow)
	if err != nil {
		return nil, err
	}
	out := append([]*unstructured.Unstructured{}, c.RBAC...)
	return append(out, wf), nil
}

// Conditions Argo evaluates on the objects of paddlex steps. They are label
// selectors over JSON paths, so Knative's Ready condition is found by
// position: Knative keeps conditions sorted by type (ConfigurationsReady,
// Ready, RoutesReady). A batch Job's first condition is its terminal one:
// FailureTarget (Kubernetes 1.31 and later) or Failed.
const (
	JobSuccess     = "status.succeeded > 0"
	JobFailure     = "status.conditions.0.type in (Failed,FailureTarget)"
	KnativeSuccess = "status.conditions.1.type == Ready,status.conditions.1.status == True"
	KnativeFailure = "status.conditions.1.status == False"
)

// PhaseCondition is the condition that status.phase is one of phases.
func PhaseCondition(phases []string) string {
	if len(phases) == 1 {
		return "status.phase == " + phases[0]
	}
	return "status.phase in (" + strings.Join(phases, ",") + ")"
}

// part is one resource (or container) template of a step and the parts of
// the same step it runs after.
type part struct {
	name string
	deps []string
	tmpl wfv1.Template
}

// Compile compiles a completed and valid pipeline to one Workflow.
func Compile(p *Pipeline, opts Options) (*Compiled, error) {
	c := &compiler{p: p, reg: opts.ImageRegistry}
	wf := &wfv1.Workflow{
		TypeMeta: metav1.TypeMeta{APIVersion: wfv1.SchemeGroupVersion.String(), Kind: "Workflow"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: p.Namespace,
			Labels:    map[string]string{kube.LabelManagedBy: kube.ManagedByValue, LabelPipeline: p.Name},
		},
	}
	switch {
	case opts.Name != "":
		wf.Name = opts.Name
	case opts.GenerateName:
		wf.GenerateName = p.Name + "-"
	default:
		wf.Name = p.Name
	}
	if p.Description != "" {
		wf.Annotations = map[string]string{AnnotationDescription: p.Description}
	}
	size, err := resource.ParseQuantity(p.Volume.Size)
	if err != nil {
		return nil, exit.UsageErrorf("volume: size %q: %v", p.Volume.Size, err)
	}
	sc := p.Volume.StorageClass
	wf.Spec = wfv1.WorkflowSpec{
		Entrypoint: EntrypointName,
		VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
			ObjectMeta: metav1.ObjectMeta{Name: p.Volume.Name},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.PersistentVolumeAccessMode(p.Volume.AccessMode)},
				StorageClassName: &sc,
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
			},
		}},
		// A failed run keeps its volume, so a retry resumes from the
		// trained model instead of an empty disk.
		VolumeClaimGC: &wfv1.VolumeClaimGC{Strategy: wfv1.VolumeClaimGCOnSuccess},
		// Every step's pod, Argo's executor containers included, runs
		// as a non-root user with the runtime's seccomp profile.
		SecurityContext: paddle.PodSecurity(),
	}
	if opts.ServiceAccount != "" {
		wf.Spec.ServiceAccountName = opts.ServiceAccount
	}

	main := wfv1.Template{Name: EntrypointName, DAG: &wfv1.DAGTemplate{}}
	var templates []wfv1.Template
	for i := range p.Steps {
		s := &p.Steps[i]
		parts, err := c.step(s)
		if err != nil {
			return nil, err
		}
		main.DAG.Tasks = append(main.DAG.Tasks, wfv1.DAGTask{Name: s.Name, Template: s.Name, Dependencies: append([]string(nil), s.After...)})
		if len(parts) == 1 && parts[0].name == "" {
			t := parts[0].tmpl
			t.Name = s.Name
			templates = append(templates, t)
			continue
		}
		dag := wfv1.Template{Name: s.Name, DAG: &wfv1.DAGTemplate{}}
		for _, pt := range parts {
			tn := s.Name + "--" + pt.name
			dag.DAG.Tasks = append(dag.DAG.Tasks, wfv1.DAGTask{Name: pt.name, Template: tn, Dependencies: pt.deps})
			t := pt.tmpl
			t.Name = tn
			templates = append(templates, t)
		}
		templates = append(templates, dag)
	}
	// The entrypoint, then per step its DAG after its parts.
	wf.Spec.Templates = append([]wfv1.Template{main}, templates...)
	wf.Spec.Volumes = c.volumes()

	out := &Compiled{Workflow: wf}
	if opts.ServiceAccount == "" {
		run := wf.Name
		if run == "" {
			run = p.Name
		}
		SetRunner(wf, Runner(run))
		rbac, err := RBAC(Runner(run), p.Name, p.Namespace, wf)
		if err != nil {
			return nil, err
		}
		out.RBAC = rbac
	}
	return out, nil
}

type compiler struct {
	p      *Pipeline
	claims map[string]bool
	reg    image.Registry
}

func (c *compiler) volumes() []corev1.Volume {
	var out []corev1.Volume
	for _, name := range sortedKeys(c.claims) {
		out = append(out, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name}}})
	}
	return out
}

func (c *compiler) step(s *Step) ([]part, error) {
	switch {
	case s.Dataset != nil:
		return c.dataset(s)
	case s.Train != nil:
		return c.train(s)
	case s.ModelHub != nil:
		return c.modelhub(s)
	case s.Serve != nil:
		return c.serve(s)
	case s.Container != nil:
		return c.container(s)
	case s.Resource != nil:
		return c.resource(s)
	}
	return nil, exit.UsageErrorf("step %q: set exactly one of %s", s.Name, strings.Join(Kinds, ", "))
}

// durable maps a spec's action onto the action of the objects that outlive
// the run (the SampleSet cache, the Knative Service).
func durable(action string) string {
	if action == paddle.ActionCreate {
		return paddle.ActionCreate
	}
	return paddle.ActionApply
}

// dataset: the SampleSet cache, the sync then the warmup SampleJob, and,
// as the dataset command does, both SampleJobs deleted once done.
func (c *compiler) dataset(s *Step) ([]part, error) {
	spec := *s.Dataset
	set, sync, warmup := dataset.RenderSampleSet(spec), dataset.RenderSyncJob(spec), dataset.RenderWarmupJob(spec)
	jobOK, jobFail := PhaseCondition(paddle.SampleJobSuccess), PhaseCondition(paddle.SampleJobFailure)
	parts := []part{
		c.res("sampleset", nil, set, durable(spec.Action), false, PhaseCondition(paddle.SampleSetSuccess), PhaseCondition(paddle.SampleSetFailure)),
		c.res("sync", []string{"sampleset"}, sync, paddle.ActionCreate, true, jobOK, jobFail),
		c.res("warmup", []string{"sync"}, warmup, paddle.ActionCreate, true, jobOK, jobFail),
		c.res("cleanup-sync", []string{"warmup"}, stub(sync), paddle.ActionDelete, false, "", ""),
		c.res("cleanup-warmup", []string{"warmup"}, stub(warmup), paddle.ActionDelete, false, "", ""),
	}
	return c.checked(s, parts)
}

// train: the PaddleJob, then the export Job, then the serving conversion
// Job, with the VisualDL board alongside the training from its start.
func (c *compiler) train(s *Step) ([]part, error) {
	spec := *s.Train
	spec.ImageRegistry = c.reg
	job := train.RenderPaddleJob(spec)
	ok, fail := PhaseCondition(paddle.PaddleJobSuccess), PhaseCondition(paddle.PaddleJobFailure)
	if spec.Backend == train.BackendTrainingOperator {
		// The training-operator reports conditions in arrival order, not
		// a phase: count the workers instead.
		ok = fmt.Sprintf("status.replicaStatuses.Worker.succeeded > %d", spec.WorkerReplicas-1)
		fail = "status.replicaStatuses.Worker.failed > 0"
	}
	parts := []part{c.res("paddlejob", nil, job, paddle.ActionCreate, true, ok, fail)}
	if spec.VisualDL() {
		for _, obj := range train.RenderVisualDL(spec) {
			parts = append(parts, c.res("visualdl-"+strings.ToLower(obj.GetKind()), nil, obj, paddle.ActionApply, true, "", ""))
		}
	}
	last := "paddlejob"
	if spec.Export() {
		parts = append(parts, c.res("export", []string{last}, train.RenderExportJob(spec), paddle.ActionCreate, true, JobSuccess, JobFailure))
		last = "export"
	}
	if spec.Convert() {
		parts = append(parts, c.res("convert", []string{last}, train.RenderConvertJob(spec), paddle.ActionCreate, true, JobSuccess, JobFailure))
	}
	return c.checked(s, parts)
}

// modelhub: the upload Job.
func (c *compiler) modelhub(s *Step) ([]part, error) {
	spec := *s.ModelHub
	spec.ImageRegistry = c.reg
	return c.checked(s, []part{c.res("upload", nil, modelhub.RenderJob(spec), paddle.ActionCreate, true, JobSuccess, JobFailure)})
}

// serve: the Knative Service, until Ready. It is the pipeline's product,
// so it outlives the run.
func (c *compiler) serve(s *Step) ([]part, error) {
	var parts []part
	spec := *s.Serve
	spec.ImageRegistry = c.reg
	for _, obj := range serve.Render(spec) {
		parts = append(parts, c.res("service", nil, obj, durable(s.Serve.Action), false, KnativeSuccess, KnativeFailure))
	}
	return c.checked(s, parts)
}

func (c *compiler) container(s *Step) ([]part, error) {
	ct := s.Container
	container := &corev1.Container{
		Image:   c.reg.Rewrite(ct.Image),
		Command: ct.Command,
		Args:    ct.Args,
		Env:     ct.Env,
		// The step's image runs as a non-root user, with no capability.
		SecurityContext: paddle.ContainerSecurity(),
	}
	for _, m := range ct.VolumeMounts {
		container.VolumeMounts = append(container.VolumeMounts, corev1.VolumeMount{Name: m.Name, MountPath: m.MountPath, SubPath: m.SubPath, ReadOnly: m.ReadOnly})
		if m.Name != c.p.Volume.Name {
			if c.claims == nil {
				c.claims = map[string]bool{}
			}
			c.claims[m.Name] = true
		}
	}
	t := wfv1.Template{Container: container}
	if ct.ServiceAccountToken {
		// The workflow mounts no token (SetRunner); this step asked for
		// the run's.
		on := true
		t.AutomountServiceAccountToken = &on
	}
	return []part{{tmpl: t}}, nil
}

func (c *compiler) resource(s *Step) ([]part, error) {
	r := s.Resource
	obj := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(r.Manifest)}
	lbls := obj.GetLabels()
	if lbls == nil {
		lbls = map[string]string{}
	}
	if _, ok := lbls[kube.LabelManagedBy]; !ok {
		lbls[kube.LabelManagedBy] = kube.ManagedByValue
	}
	if _, ok := lbls[LabelPipeline]; !ok {
		lbls[LabelPipeline] = c.p.Name
	}
	obj.SetLabels(lbls)
	owner := r.Action == paddle.ActionCreate
	if r.SetOwnerReference != nil {
		owner = *r.SetOwnerReference
	}
	if r.Action == paddle.ActionDelete {
		owner = false
	}
	pt := c.res("", nil, obj, r.Action, owner, r.SuccessCondition, r.FailureCondition)
	return c.checked(s, []part{pt})
}

// res builds the resource template of one object. The task volume's
// stand-in becomes the claim's Argo expression.
func (c *compiler) res(name string, deps []string, obj *unstructured.Unstructured, action string, owner bool, success, failure string) part {
	o := &unstructured.Unstructured{Object: replaceStrings(runtime.DeepCopyJSON(obj.Object), volumeSentinel, c.p.ClaimExpr()).(map[string]any)}
	manifest, err := yaml.Marshal(o.Object)
	if err != nil {
		// Rendered objects hold only JSON values: this cannot happen.
		panic(fmt.Sprintf("marshal %s: %v", kube.RefOf(o), err))
	}
	return part{name: name, deps: deps, tmpl: wfv1.Template{Resource: &wfv1.ResourceTemplate{
		Action:            action,
		Manifest:          string(manifest),
		SetOwnerReference: owner,
		SuccessCondition:  success,
		FailureCondition:  failure,
	}}}
}

// checked verifies the conditions of a step's templates parse as Argo's
// executor parses them.
func (c *compiler) checked(s *Step, parts []part) ([]part, error) {
	for _, pt := range parts {
		r := pt.tmpl.Resource
		if r == nil {
			continue
		}
		for _, cond := range []string{r.SuccessCondition, r.FailureCondition} {
			if err := validateCondition(cond); err != nil {
				return nil, exit.UsageErrorf("step %q: condition %q: %v", s.Name, cond, err)
			}
		}
	}
	return parts, nil
}

// stub is the least manifest that names obj, for delete templates.
func stub(obj *unstructured.Unstructured) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": obj.GetAPIVersion(),
		"kind":       obj.GetKind(),
		"metadata":   map[string]any{"name": obj.GetName(), "namespace": obj.GetNamespace()},
	}}
}

// replaceStrings replaces old with new in every string of a JSON value.
func replaceStrings(v any, old, new string) any {
	switch t := v.(type) {
	case string:
		return strings.ReplaceAll(t, old, new)
	case map[string]any:
		for k, x := range t {
			t[k] = replaceStrings(x, old, new)
		}
		return t
	case []any:
		for i := range t {
			t[i] = replaceStrings(t[i], old, new)
		}
		return t
	}
	return v
}

// WorkflowObject converts a Workflow to the object paddlex applies and
// prints: no status, no empty creationTimestamp.
func WorkflowObject(wf *wfv1.Workflow) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(wf)
	if err != nil {
		return nil, fmt.Errorf("convert Workflow: %w", err)
	}
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return &unstructured.Unstructured{Object: pruneNulls(m).(map[string]any)}, nil
}

// FromObject reads a Workflow the API server returned.
func FromObject(obj *unstructured.Unstructured) (*wfv1.Workflow, error) {
	wf := &wfv1.Workflow{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, wf); err != nil {
		return nil, fmt.Errorf("read Workflow %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	return wf, nil
}

// pruneNulls drops null values and the empty maps they leave: Go's zero
// structs (a template's empty inputs, a claim template's status) are not
// part of what paddlex means to apply.
func pruneNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			x = pruneNulls(x)
			if x == nil {
				delete(t, k)
				continue
			}
			if m, ok := x.(map[string]any); ok && len(m) == 0 {
				delete(t, k)
				continue
			}
			t[k] = x
		}
		return t
	case []any:
		for i := range t {
			t[i] = pruneNulls(t[i])
		}
		return t
	}
	return v
}

// ResourceTemplates returns the Workflow's resource templates, in template
// order.
func ResourceTemplates(wf *wfv1.Workflow) []wfv1.Template {
	var out []wfv1.Template
	for _, t := range wf.Spec.Templates {
		if t.Resource != nil {
			out = append(out, t)
		}
	}
	return out
}

// Manifest parses a resource template's manifest.
func Manifest(t wfv1.Template) (*unstructured.Unstructured, error) {
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(t.Resource.Manifest), &obj.Object); err != nil {
		return nil, fmt.Errorf("template %s: manifest: %w", t.Name, err)
	}
	return obj, nil
}
