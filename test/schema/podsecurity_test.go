package schema

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/paddleflow/paddlex/internal/testenv"
)

// podGoldens are the golden files of the objects the commands render for
// users' namespaces: trainings, their Jobs and boards, model uploads,
// served models and pipelines. The install's own components run in the
// platform's namespaces, whose labels fit them (docs/install.md).
var podGoldens = []string{
	"../../pkg/train/testdata/*.golden.yaml",
	"../../pkg/serve/testdata/*.golden.yaml",
	"../../pkg/modelhub/testdata/*.golden.yaml",
	"../../pkg/dataset/testdata/*.golden.yaml",
	"../../pkg/pipeline/testdata/*.golden.yaml",
	"../../pkg/cmd/*/testdata/*.golden.yaml",
}

// usersOwn are objects in the goldens that paddlex passes through as the user
// wrote them (a custom pipeline's resource step with the user's own Job):
// paddlex renders no part of their pods, so it does not harden them; the
// tenant namespace's baseline enforcement applies to them as to any pod.
var usersOwn = map[string]string{
	"pkg/pipeline/testdata/custom.golden.yaml Job check": "the custom pipeline's resource step is the user's own manifest",
}

// renderedPod is one pod template an object holds, named for the log.
type renderedPod struct {
	where string
	spec  corev1.PodSpec
}

// podTemplates returns the pod templates o holds: a workload's template,
// each replica of a PaddleJob (either operator's), a Knative Service's
// revision template, and an Argo Workflow's container steps as Argo runs
// them (the Workflow's pod securityContext, the step's container). Argo's
// resource steps run Argo's executor image, configured by the install, and
// the objects they create are checked as objects of their own.
func podTemplates(t *testing.T, o *unstructured.Unstructured) []renderedPod {
	t.Helper()
	id := o.GetKind() + " " + o.GetName()
	var out []renderedPod
	add := func(where string, m map[string]any) {
		var spec corev1.PodSpec
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(m, &spec, true); err != nil {
			t.Errorf("%s: %s is not a pod spec: %v", id, where, err)
			return
		}
		out = append(out, renderedPod{where: id + " " + where, spec: spec})
	}
	nested := func(path ...string) map[string]any {
		m, _, _ := unstructured.NestedMap(o.Object, path...)
		return m
	}
	switch gk := o.GroupVersionKind().GroupKind(); {
	case gk.Group == "apps" || gk.Group == "batch" && gk.Kind == "Job":
		if m := nested("spec", "template", "spec"); m != nil {
			add(".spec.template.spec", m)
		}
	case gk.Group == "batch.paddlepaddle.org" && gk.Kind == "PaddleJob":
		for _, role := range []string{"worker", "ps", "heter"} {
			if m := nested("spec", role, "template", "spec"); m != nil {
				add(".spec."+role+".template.spec", m)
			}
		}
	case gk.Group == "kubeflow.org" && gk.Kind == "PaddleJob":
		replicas := nested("spec", "paddleReplicaSpecs")
		for _, r := range sortedKeys(replicas) {
			if m := nested("spec", "paddleReplicaSpecs", r, "template", "spec"); m != nil {
				add(".spec.paddleReplicaSpecs."+r+".template.spec", m)
			}
		}
	case gk.Group == "serving.knative.dev" && gk.Kind == "Service":
		if m := nested("spec", "template", "spec"); m != nil {
			add(".spec.template.spec", m)
		}
	case gk.Group == "argoproj.io" && gk.Kind == "Workflow":
		podSC := nested("spec", "securityContext")
		tmpls, _, _ := unstructured.NestedSlice(o.Object, "spec", "templates")
		for _, tm := range tmpls {
			m, _ := tm.(map[string]any)
			c, ok := m["container"].(map[string]any)
			if !ok {
				continue
			}
			c = runtime.DeepCopyJSONValue(c).(map[string]any)
			c["name"] = "main"
			// The Workflow's volumes stand for the claims Argo creates.
			spec := map[string]any{"containers": []any{c}, "restartPolicy": "Never"}
			if podSC != nil {
				spec["securityContext"] = podSC
			}
			if vols, ok, _ := unstructured.NestedSlice(o.Object, "spec", "volumes"); ok {
				spec["volumes"] = vols
			}
			var mounts []any
			if ms, ok := c["volumeMounts"].([]any); ok {
				mounts = ms
			}
			for _, mt := range mounts {
				name, _ := mt.(map[string]any)["name"].(string)
				if !hasVolume(spec, name) {
					spec["volumes"] = append(volumesOf(spec), map[string]any{"name": name, "emptyDir": map[string]any{}})
				}
			}
			add("template "+m["name"].(string), spec)
		}
	}
	return out
}

func volumesOf(spec map[string]any) []any {
	v, _ := spec["volumes"].([]any)
	return v
}

func hasVolume(spec map[string]any, name string) bool {
	for _, v := range volumesOf(spec) {
		if n, _ := v.(map[string]any)["name"].(string); n == name {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Every pod template paddlex renders for a user's namespace is admitted by
// Pod Security's restricted profile: each is created as a Pod, as a server
// dry run, in a namespace that enforces restricted. Pod Security admission
// runs in the API server, as on a cluster. A pod without the settings is
// refused there first, so the check can fail.
func TestRenderedPodsPassRestrictedPodSecurity(t *testing.T) {
	e := testenv.Get(t)
	ctx := context.Background()
	const ns = "restricted-pods"
	e.Apply(t, "", `apiVersion: v1
kind: Namespace
metadata:
  name: `+ns+`
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/enforce-version: latest
`)
	create := func(where string, spec corev1.PodSpec) error {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "check-", Namespace: ns}, Spec: spec}
		_, err := e.Clientset.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}
	bare := corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}
	if err := create("probe", bare); err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Fatalf("a pod with no securityContext: err = %v; want it refused by Pod Security admission", err)
	}

	var files []string
	for _, g := range podGoldens {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	checked := map[string]int{}
	// Trainings name a PriorityClass of the user's cluster (--priority-class):
	// the check creates the ones the goldens name, as a cluster has them.
	priorities := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(f, "../../")
		objs, err := decode(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, o := range objs {
			if o.GetKind() == "Workflow" {
				inner, err := embedded(o)
				if err != nil {
					t.Errorf("%s: workflow %s: %v", name, o.GetName(), err)
				}
				objs = append(objs, inner...)
			}
		}
		for _, o := range objs {
			if why, ok := usersOwn[name+" "+o.GetKind()+" "+o.GetName()]; ok {
				t.Logf("%s: %s %s not checked: %s", name, o.GetKind(), o.GetName(), why)
				continue
			}
			for _, p := range podTemplates(t, o) {
				if pc := p.spec.PriorityClassName; pc != "" && !priorities[pc] {
					e.Apply(t, "", "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata:\n  name: "+pc+"\nvalue: 1000\n")
					priorities[pc] = true
					// The Priority admission plugin reads PriorityClasses from
					// its informer: wait until it has this one. Nothing to
					// watch there, so ask until it answers (bounded).
					err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
						err := create("priority "+pc, p.spec)
						return err == nil || !strings.Contains(err.Error(), "no PriorityClass"), nil
					})
					if err != nil {
						t.Fatalf("PriorityClass %s never reached admission: %v", pc, err)
					}
				}
				if err := create(p.where, p.spec); err != nil {
					t.Errorf("%s: %s: %v", name, p.where, err)
					continue
				}
				checked[o.GetKind()]++
			}
		}
	}
	total := 0
	for _, n := range checked {
		total += n
	}
	// Every renderer that makes pods is represented.
	for _, kind := range []string{"PaddleJob", "Job", "Deployment", "Service", "Workflow"} {
		if checked[kind] == 0 {
			t.Errorf("no %s pod template was checked; the golden files or the extraction are stale", kind)
		}
	}
	t.Logf("%d pod templates of %d golden files admitted under restricted Pod Security: %v", total, len(files), checked)
}
