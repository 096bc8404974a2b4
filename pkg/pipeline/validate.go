package pipeline

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/validate"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// volumeSentinel stands in for the task volume's claim while the steps'
// own validation and rendering run (a claim name must be a DNS name there);
// the compiler then swaps it for the Argo expression of the claim.
const volumeSentinel = "paddlex-pipeline-task-volume-claim"

// Complete fills defaults: the namespace (when the file sets none), the
// task volume, and in each step the name and namespace its spec leaves
// empty and the task volume as pvc_name, then the spec's own defaults.
func (p *Pipeline) Complete(namespace string) {
	if p.Namespace == "" {
		p.Namespace = namespace
	}
	p.Defaults()
	for i := range p.Steps {
		s := &p.Steps[i]
		fill := func(name, ns *string) {
			if *name == "" {
				*name = s.Name
			}
			if *ns == "" {
				*ns = p.Namespace
			}
		}
		switch {
		case s.Dataset != nil:
			fill(&s.Dataset.Name, &s.Dataset.Namespace)
			s.Dataset.Defaults()
		case s.Train != nil:
			fill(&s.Train.Name, &s.Train.Namespace)
			if s.Train.PVCName == "" {
				s.Train.PVCName = volumeSentinel
			}
			s.Train.Defaults()
		case s.ModelHub != nil:
			fill(&s.ModelHub.Name, &s.ModelHub.Namespace)
			if s.ModelHub.PVCName == "" {
				s.ModelHub.PVCName = volumeSentinel
			}
			s.ModelHub.Defaults()
		case s.Serve != nil:
			fill(&s.Serve.Name, &s.Serve.Namespace)
			s.Serve.Defaults()
		case s.Resource != nil:
			if s.Resource.Action == "" {
				s.Resource.Action = paddle.ActionCreate
			}
			if s.Resource.Manifest != nil {
				md, _ := s.Resource.Manifest["metadata"].(map[string]any)
				if md != nil {
					if ns, _ := md["namespace"].(string); ns == "" {
						md["namespace"] = p.Namespace
					}
				}
			}
		case s.Container != nil:
			if len(s.Container.VolumeMounts) == 0 {
				s.Container.VolumeMounts = []VolumeMount{{Name: p.Volume.Name, MountPath: DefaultMountPath}}
			}
		}
	}
}

// Validate checks the pipeline after Complete. Errors exit 2 and name the
// step and key: the graph first (kinds, names, after, cycles), then each
// step's spec with the checks its own command makes.
func (p *Pipeline) Validate() error {
	if err := validate.Name("name", p.Name); err != nil {
		return err
	}
	if err := validate.Name("namespace", p.Namespace); err != nil {
		return err
	}
	if err := p.validateVolume(); err != nil {
		return err
	}
	if len(p.Steps) == 0 {
		return exit.UsageErrorf("steps: at least one step is required")
	}
	seen := map[string]int{}
	for i := range p.Steps {
		s := &p.Steps[i]
		where := fmt.Sprintf("steps[%d]", i)
		if s.Name == "" {
			return exit.UsageErrorf("%s: name is required", where)
		}
		where = fmt.Sprintf("step %q", s.Name)
		if errs := validation.IsDNS1123Label(s.Name); len(errs) > 0 {
			return exit.UsageErrorf("%s: name is not a valid name: %s", where, strings.Join(errs, "; "))
		}
		if s.Name == EntrypointName {
			return exit.UsageErrorf("%s: name %q is reserved for the workflow's entrypoint: choose another", where, EntrypointName)
		}
		if strings.Contains(s.Name, "--") {
			return exit.UsageErrorf("%s: name must not contain \"--\" (it separates a step from its parts in template names)", where)
		}
		if j, dup := seen[s.Name]; dup {
			return exit.UsageErrorf("%s: duplicate step name (steps[%d] and steps[%d])", where, j, i)
		}
		seen[s.Name] = i
		switch k := s.kinds(); len(k) {
		case 0:
			return exit.UsageErrorf("%s: set exactly one of %s", where, strings.Join(Kinds, ", "))
		case 1:
		default:
			return exit.UsageErrorf("%s: sets both %s and %s: a step has exactly one kind; split it into steps joined by after", where, k[0], k[1])
		}
	}
	for _, s := range p.Steps {
		afterSeen := map[string]bool{}
		for _, a := range s.After {
			if a == s.Name {
				return exit.UsageErrorf("step %q: after: a step cannot run after itself", s.Name)
			}
			if _, ok := seen[a]; !ok {
				return exit.UsageErrorf("step %q: after: no step named %q (steps: %s)", s.Name, a, strings.Join(p.stepNames(), ", "))
			}
			if afterSeen[a] {
				return exit.UsageErrorf("step %q: after: %q is listed twice", s.Name, a)
			}
			afterSeen[a] = true
		}
	}
	if cycle := p.cycle(); cycle != nil {
		return exit.UsageErrorf("step %q: after: the steps %s form a cycle", cycle[0], strings.Join(cycle, " → "))
	}
	for i := range p.Steps {
		if err := p.validateStep(&p.Steps[i]); err != nil {
			return err
		}
	}
	return nil
}

func (p *Pipeline) validateVolume() error {
	v := p.Volume
	if errs := validation.IsDNS1123Label(v.Name); len(errs) > 0 {
		return exit.UsageErrorf("volume: name %q is not a valid name: %s", v.Name, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Subdomain(v.StorageClass); len(errs) > 0 {
		return exit.UsageErrorf("volume: storage_class %q is not a valid name: %s", v.StorageClass, strings.Join(errs, "; "))
	}
	q, err := resource.ParseQuantity(v.Size)
	if err != nil || q.Sign() <= 0 {
		return exit.UsageErrorf("volume: size %q is not a positive quantity, e.g. 10Gi", v.Size)
	}
	switch corev1.PersistentVolumeAccessMode(v.AccessMode) {
	case corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteOncePod:
	default:
		return exit.UsageErrorf("volume: access_mode %q must be ReadWriteMany, ReadWriteOnce, ReadOnlyMany or ReadWriteOncePod", v.AccessMode)
	}
	return nil
}

func (p *Pipeline) stepNames() []string {
	names := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		names[i] = s.Name
	}
	return names
}

// cycle returns the steps of one cycle of after edges, first step repeated
// at the end, or nil.
func (p *Pipeline) cycle() []string {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var found []string
	var visit func(name string) bool
	visit = func(name string) bool {
		color[name] = grey
		stack = append(stack, name)
		s, _ := p.Step(name)
		for _, a := range s.After {
			switch color[a] {
			case grey:
				for i, n := range stack {
					if n == a {
						found = append(append([]string{}, stack[i:]...), a)
						return true
					}
				}
			case white:
				if visit(a) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[name] = black
		return false
	}
	for _, s := range p.Steps {
		if color[s.Name] == white && visit(s.Name) {
			// Report the cycle in run order: each step runs after the one before.
			for i, j := 0, len(found)-1; i < j; i, j = i+1, j-1 {
				found[i], found[j] = found[j], found[i]
			}
			return found
		}
	}
	return nil
}

// Ancestors returns every step name must wait for, directly or not.
func (p *Pipeline) Ancestors(name string) map[string]bool {
	out := map[string]bool{}
	var walk func(n string)
	walk = func(n string) {
		s, ok := p.Step(n)
		if !ok {
			return
		}
		for _, a := range s.After {
			if !out[a] {
				out[a] = true
				walk(a)
			}
		}
	}
	walk(name)
	return out
}

var flagRef = regexp.MustCompile(`--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)`)

// stepError prefixes a spec's validation error with the step and kind, and
// turns the flag names the commands' messages use into the file's keys.
func stepError(s *Step, err error) error {
	msg := flagRef.ReplaceAllStringFunc(err.Error(), func(f string) string {
		return strings.ReplaceAll(strings.TrimPrefix(f, "--"), "-", "_")
	})
	return exit.UsageErrorf("step %q: %s: %s", s.Name, s.Kind(), msg)
}

func (p *Pipeline) validateStep(s *Step) error {
	where := fmt.Sprintf("step %q: %s", s.Name, s.Kind())
	action := func(a string) error {
		switch a {
		case paddle.ActionCreate, paddle.ActionApply:
			return nil
		}
		return exit.UsageErrorf("%s: action %q: a pipeline step creates or applies; use create or apply (delete with the %s command)", where, a, s.Kind())
	}
	switch {
	case s.Dataset != nil:
		if err := s.Dataset.Validate(); err != nil {
			return stepError(s, err)
		}
		return action(s.Dataset.Action)
	case s.Train != nil:
		if err := s.Train.Validate(); err != nil {
			return stepError(s, err)
		}
		return action(s.Train.Action)
	case s.ModelHub != nil:
		if err := s.ModelHub.Validate(); err != nil {
			return stepError(s, err)
		}
		return action(s.ModelHub.Action)
	case s.Serve != nil:
		if err := s.Serve.Validate(); err != nil {
			return stepError(s, err)
		}
		return action(s.Serve.Action)
	case s.Container != nil:
		return p.validateContainer(s, where)
	case s.Resource != nil:
		return validateResource(s.Resource, where)
	}
	return nil
}

func (p *Pipeline) validateContainer(s *Step, where string) error {
	c := s.Container
	if strings.TrimSpace(c.Image) == "" {
		return exit.UsageErrorf("%s: image is required", where)
	}
	for i, e := range c.Env {
		if err := validate.EnvVarName(fmt.Sprintf("%s: env[%d]: name", where, i), e.Name); err != nil {
			return err
		}
		if e.Value != "" && e.ValueFrom != nil {
			return exit.UsageErrorf("%s: env[%d] (%s): set value or valueFrom, not both", where, i, e.Name)
		}
	}
	paths := map[string]bool{}
	for i, m := range c.VolumeMounts {
		if errs := validation.IsDNS1123Subdomain(m.Name); len(errs) > 0 {
			return exit.UsageErrorf("%s: volume_mounts[%d]: name %q must be the task volume (%s) or an existing claim: %s", where, i, m.Name, p.Volume.Name, strings.Join(errs, "; "))
		}
		if !path.IsAbs(m.MountPath) || path.Clean(m.MountPath) != m.MountPath {
			return exit.UsageErrorf("%s: volume_mounts[%d]: mount_path %q must be a clean absolute path", where, i, m.MountPath)
		}
		if paths[m.MountPath] {
			return exit.UsageErrorf("%s: volume_mounts[%d]: mount_path %q is mounted twice", where, i, m.MountPath)
		}
		paths[m.MountPath] = true
		if strings.HasPrefix(m.SubPath, "/") || strings.Contains(m.SubPath, "..") {
			return exit.UsageErrorf("%s: volume_mounts[%d]: sub_path %q must be relative", where, i, m.SubPath)
		}
	}
	return nil
}

func validateResource(r *Resource, where string) error {
	switch r.Action {
	case paddle.ActionCreate, paddle.ActionApply, paddle.ActionPatch, paddle.ActionDelete:
	default:
		return exit.UsageErrorf("%s: action %q must be create, apply, patch or delete", where, r.Action)
	}
	if len(r.Manifest) == 0 {
		return exit.UsageErrorf("%s: manifest is required: the object to %s", where, r.Action)
	}
	apiVersion, _ := r.Manifest["apiVersion"].(string)
	kind, _ := r.Manifest["kind"].(string)
	if apiVersion == "" || kind == "" {
		return exit.UsageErrorf("%s: manifest: apiVersion and kind are required", where)
	}
	// The runner's Role is namespaced: it cannot manage cluster-scoped kinds.
	if kube.ClusterScopedKind(kind) {
		return exit.UsageErrorf("%s: manifest: %s is cluster-scoped; resource steps manage objects in the pipeline's namespace", where, kind)
	}
	md, _ := r.Manifest["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	if name == "" {
		return exit.UsageErrorf("%s: manifest: metadata.name is required (generateName cannot be waited on or cleaned up)", where)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return exit.UsageErrorf("%s: manifest: metadata.name %q: %s", where, name, strings.Join(errs, "; "))
	}
	if r.Action == paddle.ActionDelete && (r.SuccessCondition != "" || r.FailureCondition != "") {
		return exit.UsageErrorf("%s: success_condition and failure_condition do not apply to action delete", where)
	}
	for key, c := range map[string]string{"success_condition": r.SuccessCondition, "failure_condition": r.FailureCondition} {
		if err := validateCondition(c); err != nil {
			return exit.UsageErrorf("%s: %s %q: %v", where, key, c, err)
		}
	}
	return nil
}

// validateCondition parses a condition the way Argo's executor does: a
// label selector whose keys are paths into the object.
func validateCondition(c string) error {
	if c == "" {
		return nil
	}
	if _, err := labels.Parse(c); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "unable to parse requirement: "))
	}
	return nil
}

// DatasetGap is a train step whose dataset no earlier dataset step provides.
type DatasetGap struct {
	Step, Dataset, SampleSet string
	// Unordered names a dataset step that provides the data set but that
	// the train step does not run after.
	Unordered string
}

func (g DatasetGap) String() string {
	if g.Unordered != "" {
		return fmt.Sprintf("step %q: train: dataset %q comes from step %q, which it does not run after: add %q to its after list", g.Step, g.Dataset, g.Unordered, g.Unordered)
	}
	return fmt.Sprintf("step %q: train: no earlier dataset step provides dataset %q", g.Step, g.Dataset)
}

// DatasetGaps lists the train steps whose data set no step they run after
// provides. The command checks the cluster for the rest.
func (p *Pipeline) DatasetGaps() []DatasetGap {
	var out []DatasetGap
	for _, s := range p.Steps {
		if s.Train == nil || s.Train.Dataset == "" {
			continue
		}
		anc := p.Ancestors(s.Name)
		gap := DatasetGap{Step: s.Name, Dataset: s.Train.Dataset, SampleSet: s.Train.SampleSet}
		provided := false
		for _, d := range p.Steps {
			if d.Dataset == nil || d.Dataset.Name != s.Train.Dataset || d.Dataset.SampleSet != s.Train.SampleSet {
				continue
			}
			if anc[d.Name] {
				provided = true
				break
			}
			gap.Unordered = d.Name
		}
		if !provided {
			out = append(out, gap)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	return out
}
