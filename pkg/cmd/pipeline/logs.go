package pipeline

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/pipeline"
	"github.com/paddleflow/paddlex/pkg/podlogs"
	"github.com/paddleflow/paddlex/pkg/train"
)

// Argo's pod label and annotation naming a workflow's pods and their nodes.
const (
	argoWorkflowLabel  = "workflows.argoproj.io/workflow"
	argoNodeAnnotation = "workflows.argoproj.io/node-name"
)

// LogsOptions are the options of `pipeline logs`.
type LogsOptions struct {
	Name, Step string
	Namespace  string
	Follow     bool
	Tail       int64

	Streams   cmdutil.IOStreams
	Kube      kube.Interface
	Clientset kubernetes.Interface
}

// NewCmdLogs returns `pipeline logs`.
func NewCmdLogs(f *cmdutil.Factory, runF func(*LogsOptions) error) *cobra.Command {
	o := &LogsOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "logs NAME [STEP]",
		Short: "Print the logs of a run's pods, or of one step's, each line prefixed",
		Long: `Print the logs of the pods of a run, or of one step: the pods Argo runs for
it and the pods of the objects it creates (training workers, export and
upload Jobs, serving revisions). Each line is prefixed with [STEP/POD].`,
		Example: `  paddlex pipeline logs ppocr-det
  paddlex pipeline logs ppocr-det train -f`,
		ValidArgsFunction: completeRunAndStep(f),
		Args:              cobra.RangeArgs(1, 2),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep streaming until the containers stop")
	cmd.Flags().Int64Var(&o.Tail, "tail", -1, "lines of each pod's recent log to show (-1: all)")
	return cmd
}

// Complete takes NAME, STEP and the namespace.
func (o *LogsOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	if len(args) == 2 {
		o.Step = args[1]
	}
	return nil
}

// Validate checks NAME and --tail.
func (o *LogsOptions) Validate() error {
	if err := validate.Subdomain("NAME", o.Name); err != nil {
		return err
	}
	if o.Tail < -1 {
		return exit.UsageErrorf("--tail must be -1 (all lines) or more, not %d", o.Tail)
	}
	return nil
}

// Connect takes the engine and the clientset the logs are read through.
func (o *LogsOptions) Connect(f *cmdutil.Factory) error {
	var err error
	if o.Kube, err = f.Kube(); err != nil {
		return err
	}
	o.Clientset, err = f.Clientset()
	return err
}

// Run finds the pods and streams them.
func (o *LogsOptions) Run(ctx context.Context) error {
	wf, _, err := getWorkflow(ctx, o.Kube, o.Namespace, o.Name)
	if err != nil {
		return err
	}
	var steps []string
	for _, n := range pipeline.Tree(wf) {
		steps = append(steps, n.Name)
	}
	if o.Step != "" {
		found := false
		for _, s := range steps {
			found = found || s == o.Step
		}
		if !found {
			return exit.UsageErrorf("STEP %q: workflow %s has no such step (steps: %s)", o.Step, o.Name, strings.Join(steps, ", "))
		}
		steps = []string{o.Step}
	}
	stepOf := map[string]string{}
	var pods []corev1.Pod
	add := func(list []corev1.Pod, step func(*corev1.Pod) string) {
		for i := range list {
			p := &list[i]
			s := step(p)
			if s == "" {
				continue
			}
			if _, dup := stepOf[p.Name]; dup {
				continue
			}
			stepOf[p.Name] = s
			pods = append(pods, *p)
		}
	}
	argoPods, err := podlogs.List(ctx, o.Clientset, o.Namespace, argoWorkflowLabel+"="+wf.Name)
	if err != nil {
		return err
	}
	add(argoPods, func(p *corev1.Pod) string {
		node := strings.TrimPrefix(p.Annotations[argoNodeAnnotation], wf.Name+".")
		for _, s := range steps {
			if node == s || strings.HasPrefix(node, s+".") {
				return strings.ReplaceAll(node, ".", "/")
			}
		}
		return ""
	})
	for _, s := range steps {
		for _, sel := range stepSelectors(wf, s) {
			list, err := podlogs.List(ctx, o.Clientset, o.Namespace, sel)
			if err != nil {
				return err
			}
			add(list, func(*corev1.Pod) string { return s })
		}
	}
	if len(pods) == 0 {
		fmt.Fprintf(o.Streams.ErrOut, "no pods yet for %s: Argo has not started them, or they were removed\n", strings.Join(steps, ", "))
		return nil
	}
	sort.SliceStable(pods, func(i, j int) bool { return stepOf[pods[i].Name] < stepOf[pods[j].Name] })
	opts := podlogs.Options{Follow: o.Follow, Tail: o.Tail, Prefix: func(p *corev1.Pod) string {
		return "[" + stepOf[p.Name] + "/" + p.Name + "] "
	}}
	return podlogs.Stream(ctx, mainContainer(podlogs.ClientOpener(o.Clientset)), pods, o.Streams.Out, opts)
}

// mainContainer reads the "main" container of Argo's pods (their first is
// the executor's "wait"), and the first container of any other pod.
func mainContainer(open podlogs.Opener) podlogs.Opener {
	return func(ctx context.Context, p *corev1.Pod, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
		if _, ok := p.Labels[argoWorkflowLabel]; ok {
			for _, c := range p.Spec.Containers {
				if c.Name == "main" {
					opts.Container = "main"
				}
			}
		}
		return open(ctx, p, opts)
	}
}

// stepSelectors returns label selectors for the pods of the objects a step
// creates, from the paddlex labels on its manifests.
func stepSelectors(w *wfv1.Workflow, step string) []string {
	seen := map[string]bool{}
	var out []string
	for _, t := range pipeline.ResourceTemplates(w) {
		if t.Name != step && !strings.HasPrefix(t.Name, step+"--") {
			continue
		}
		obj, err := pipeline.Manifest(t)
		if err != nil {
			continue
		}
		sel := ""
		switch obj.GroupVersionKind() {
		case train.JobGVK():
			sel = "batch.kubernetes.io/job-name=" + obj.GetName()
		case paddle.PaddleJobGVK, paddle.TrainingOperatorJobGVK:
			sel = paddle.LabelTrain + "=" + obj.GetLabels()[paddle.LabelTrain]
		case paddle.KnativeServiceGVK:
			sel = "serving.knative.dev/service=" + obj.GetName()
		}
		if sel != "" && !seen[sel] {
			seen[sel] = true
			out = append(out, sel)
		}
	}
	sort.Strings(out)
	return out
}
