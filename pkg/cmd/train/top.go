package train

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/podlogs"
	"github.com/paddleflow/paddlex/pkg/train"
	"github.com/paddleflow/paddlex/pkg/validate"
)

// TopOptions are the options of `train top`.
type TopOptions struct {
	Namespace     string
	AllNamespaces bool
	All           bool
	Output        string

	Streams   cmdutil.IOStreams
	Kube      kube.Interface
	Clientset kubernetes.Interface
	Now       func() time.Time
}

// NewCmdTop returns `train top`.
func NewCmdTop(f *cmdutil.Factory, runF func(*TopOptions) error) *cobra.Command {
	o := &TopOptions{Streams: f.Streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Show the running trainings: ranks ready, GPUs and CPU they requested",
		Long: `Show the trainings that have not finished, as arena top job does: each
one's phase, its ranks (worker and parameter-server pods) ready out of those
it asked for, the GPUs and CPU each worker pod requests, the GPUs its pods
hold in all, and its age. --all adds the finished ones.

-o wide adds each rank's pod phase and node; -o json prints the same as
objects, one per training.`,
		Example: `  paddlex train top
  paddlex train top -A -o wide
  paddlex train top -o json | jq '[.[].gpus] | add'`,
		Args: cobra.NoArgs,
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	fs.BoolVar(&o.All, "all", false, "also show trainings that succeeded or failed")
	fs.StringVarP(&o.Output, "output", "o", "", `"wide" adds each rank's pod phase and node; "json" prints objects (default: a table)`)
	return cmd
}

// Complete takes the namespace.
func (o *TopOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, _ []string) error {
	o.Namespace = f.Namespace()
	return nil
}

// Validate checks -o and the namespace.
func (o *TopOptions) Validate() error {
	switch o.Output {
	case "", "wide", "json":
	default:
		return exit.UsageErrorf("--output must be wide or json, not %q", o.Output)
	}
	if o.AllNamespaces {
		return nil
	}
	return validate.Name("--namespace", o.Namespace)
}

// Connect builds the engine and the typed client for pods.
func (o *TopOptions) Connect(f *cmdutil.Factory) error {
	var err error
	if o.Kube, err = f.Kube(); err != nil {
		return err
	}
	o.Clientset, err = f.Clientset()
	return err
}

// TopRank is one rank of a training in `train top -o json`.
type TopRank struct {
	Rank  string `json:"rank"`
	Pod   string `json:"pod"`
	Phase string `json:"phase"`
	Ready bool   `json:"ready"`
	Node  string `json:"node,omitempty"`
	GPUs  int64  `json:"gpus"`
}

// TopRow is one training in `train top`.
type TopRow struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Phase     string `json:"phase"`
	Backend   string `json:"backend"`
	// Ready and Total count the ranks: pods ready, replicas asked for.
	Ready int64 `json:"ready"`
	Total int64 `json:"total"`
	// GPUsPerPod and CPUPerPod are what each worker pod requests.
	GPUsPerPod int64  `json:"gpusPerPod"`
	CPUPerPod  string `json:"cpuPerPod,omitempty"`
	// GPUs is what the training's pods that exist hold in all.
	GPUs    int64     `json:"gpus"`
	Created time.Time `json:"created"`
	Ranks   []TopRank `json:"ranks"`
}

// Run lists the trainings and their pods and prints them.
func (o *TopOptions) Run(ctx context.Context) error {
	ns := o.Namespace
	if o.AllNamespaces {
		ns = ""
	}
	jobs, err := ListJobs(ctx, o.Kube, ns)
	if err != nil {
		return err
	}
	pods, err := podlogs.List(ctx, o.Clientset, ns, paddle.LabelTrain+","+kube.LabelComponent+"="+train.ComponentTraining)
	if err != nil {
		return err
	}
	rows := TopRows(jobs, pods, o.All)
	if o.Output == "json" {
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(o.Streams.Out, string(b))
		return err
	}
	if len(rows) == 0 {
		where := "namespace " + ns
		if ns == "" {
			where = "any namespace"
		}
		what := "running trainings"
		if o.All {
			what = "trainings"
		}
		fmt.Fprintf(o.Streams.ErrOut, "No %s found in %s.\n", what, where)
		return nil
	}
	headers := []string{"NAME", "PHASE", "RANKS", "GPUS/POD", "CPU/POD", "GPUS", "AGE"}
	if o.AllNamespaces {
		headers = append([]string{"NAMESPACE"}, headers...)
	}
	if o.Output == "wide" {
		headers = append(headers, "BACKEND", "PODS", "NODES")
	}
	t := cmdutil.NewTable(o.Streams.Out, headers...)
	now := o.Now()
	for _, r := range rows {
		row := []string{r.Name, cmdutil.OrNone(r.Phase), fmt.Sprintf("%d/%d", r.Ready, r.Total), fmt.Sprint(r.GPUsPerPod),
			orDash(r.CPUPerPod), fmt.Sprint(r.GPUs), cmdutil.Age(metav1.NewTime(r.Created), now)}
		if o.AllNamespaces {
			row = append([]string{r.Namespace}, row...)
		}
		if o.Output == "wide" {
			var podsCol []string
			nodes := map[string]bool{}
			for _, k := range r.Ranks {
				podsCol = append(podsCol, k.Rank+":"+k.Phase)
				if k.Node != "" {
					nodes[k.Node] = true
				}
			}
			row = append(row, r.Backend, orDash(strings.Join(podsCol, ",")), orDash(strings.Join(sortedKeys(nodes), ",")))
		}
		t.Row(row...)
	}
	return t.Flush()
}

// TopRows joins trainings with their pods: the unfinished ones (all with
// all), busiest first (most GPUs, then most ranks), then by name.
func TopRows(jobs []*unstructured.Unstructured, pods []corev1.Pod, all bool) []TopRow {
	byTraining := map[string][]corev1.Pod{}
	for _, p := range pods {
		key := p.Namespace + "/" + p.Labels[paddle.LabelTrain]
		byTraining[key] = append(byTraining[key], p)
	}
	var rows []TopRow
	for _, j := range jobs {
		if !all && train.Finished(j) {
			continue
		}
		job := train.Read(j)
		r := TopRow{Name: j.GetName(), Namespace: j.GetNamespace(), Phase: job.Phase(), Backend: train.BackendPaddleOperator,
			Created: j.GetCreationTimestamp().Time, Ranks: []TopRank{}}
		if train.IsTrainingOperator(j) {
			r.Backend = train.BackendTrainingOperator
		}
		for _, role := range job.Roles() {
			r.Total += role.Replicas
		}
		if pod := job.WorkerPod(); pod != nil && len(pod.Containers) > 0 {
			res := pod.Containers[0].Resources
			r.GPUsPerPod = gpus(res)
			if q, ok := res.Requests[corev1.ResourceCPU]; ok {
				r.CPUPerPod = q.String()
			} else if q, ok := res.Limits[corev1.ResourceCPU]; ok {
				r.CPUPerPod = q.String()
			}
		}
		ps := byTraining[j.GetNamespace()+"/"+j.GetName()]
		SortPods(j.GetName(), ps)
		for i := range ps {
			p := &ps[i]
			k := TopRank{Rank: Rank(j.GetName(), p), Pod: p.Name, Phase: string(p.Status.Phase), Node: p.Spec.NodeName, Ready: podReady(p)}
			for _, c := range p.Spec.Containers {
				k.GPUs += gpus(c.Resources)
			}
			if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				r.GPUs += k.GPUs
			}
			if k.Ready {
				r.Ready++
			}
			r.Ranks = append(r.Ranks, k)
		}
		rows = append(rows, r)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.GPUs != b.GPUs {
			return a.GPUs > b.GPUs
		}
		if a.Total != b.Total {
			return a.Total > b.Total
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return rows
}

// gpus is the GPUs a container asks for: the device plugin's resource is
// set as a limit (the request, when set, must equal it).
func gpus(res corev1.ResourceRequirements) int64 {
	for _, l := range []corev1.ResourceList{res.Limits, res.Requests} {
		if q, ok := l[train.GPUResource]; ok {
			return q.Value()
		}
	}
	return 0
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
