package train

import (
	"context"
	"fmt"
	"io"
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
	"github.com/paddleflow/paddlex/pkg/podlogs"
	"github.com/paddleflow/paddlex/pkg/train"
)

// DescribeOptions are the options of `train describe`.
type DescribeOptions struct {
	Name      string
	Namespace string

	Streams   cmdutil.IOStreams
	Kube      kube.Interface
	Clientset kubernetes.Interface
	Now       func() time.Time
}

// NewCmdDescribe returns `train describe`.
func NewCmdDescribe(f *cmdutil.Factory, runF func(*DescribeOptions) error) *cobra.Command {
	o := &DescribeOptions{Streams: f.Streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a training: spec, pods per role, conditions, events, VisualDL",
		Long: `Show a training in detail: its kind and backend, suite, image, GPUs per
worker, phase and replicas; the PaddleJob's conditions; each pod's rank, phase,
node, restarts and exit, with the first failure; the export and conversion
Jobs; and the VisualDL board's address when it has one.`,
		Example:           `  paddlex train describe ppocr-det`,
		ValidArgsFunction: completeTrainings(f),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	return cmd
}

// FindJob returns the training's PaddleJob, of whichever backend.
func FindJob(ctx context.Context, k kube.Interface, namespace, name string) (*unstructured.Unstructured, error) {
	jobs, err := ListJobs(ctx, k, namespace)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		if j.GetName() == name {
			return j, nil
		}
	}
	return nil, exit.FailedErrorf("training %s not found in namespace %s", name, namespace)
}

// Complete takes NAME and the namespace.
func (o *DescribeOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	return nil
}

// Validate checks the names.
func (o *DescribeOptions) Validate() error {
	if err := validate.Name("NAME", o.Name); err != nil {
		return err
	}
	return validate.Name("--namespace", o.Namespace)
}

// Connect builds the engine and the typed client for pods.
func (o *DescribeOptions) Connect(f *cmdutil.Factory) error {
	var err error
	if o.Kube, err = f.Kube(); err != nil {
		return err
	}
	o.Clientset, err = f.Clientset()
	return err
}

// Run prints the description.
func (o *DescribeOptions) Run(ctx context.Context) error {
	job, err := FindJob(ctx, o.Kube, o.Namespace, o.Name)
	if err != nil {
		return err
	}
	w := o.Streams.Out
	now := o.Now()
	backend := train.BackendPaddleOperator
	if train.IsTrainingOperator(job) {
		backend = train.BackendTrainingOperator
	}
	image, gpus := podSummary(job)
	fmt.Fprintf(w, "Name:        %s\nNamespace:   %s\nKind:        %s\nBackend:     %s\nProject:     %s\nImage:       %s\nGPUs/worker: %s\nPhase:       %s\nAge:         %s\nDuration:    %s\n",
		job.GetName(), job.GetNamespace(), job.GroupVersionKind().GroupKind(), backend,
		orDash(job.GetAnnotations()[train.AnnotationProject]), image, gpus,
		cmdutil.OrNone(train.Phase(job)), cmdutil.Age(job.GetCreationTimestamp(), now), duration(job, now))
	fmt.Fprintln(w, "Replicas:")
	for _, r := range train.Roles(job) {
		fmt.Fprintf(w, "  %s\n", r)
	}
	o.printPods(ctx, w)
	conds := train.Read(job).Conditions()
	fmt.Fprintln(w, "Conditions:")
	if len(conds) == 0 {
		fmt.Fprintln(w, "  <none>")
	} else {
		t := cmdutil.NewTable(w, "  TYPE", "STATUS", "REASON", "MESSAGE")
		for _, c := range conds {
			t.Row("  "+c.Type, c.Status, orDash(c.Reason), c.Message)
		}
		t.Flush()
	}
	o.printJobs(ctx, w)
	o.printVisualDL(ctx, w)
	return cmdutil.PrintEvents(ctx, w, o.Kube, kube.RefOf(job), now)
}

func (o *DescribeOptions) printPods(ctx context.Context, w io.Writer) {
	fmt.Fprintln(w, "Pods:")
	if o.Clientset == nil {
		fmt.Fprintln(w, "  <unknown>")
		return
	}
	pods, err := podlogs.List(ctx, o.Clientset, o.Namespace, TrainingPodSelector(o.Name, ""))
	if err != nil {
		fmt.Fprintf(w, "  <%v>\n", err)
		return
	}
	if len(pods) == 0 {
		fmt.Fprintln(w, "  <none>")
		return
	}
	SortPods(o.Name, pods)
	t := cmdutil.NewTable(w, "  RANK", "POD", "PHASE", "NODE", "RESTARTS", "EXIT")
	for i := range pods {
		p := &pods[i]
		restarts, exit := int32(0), "-"
		for _, cs := range p.Status.ContainerStatuses {
			restarts += cs.RestartCount
			if t := cs.State.Terminated; t != nil {
				exit = fmt.Sprintf("%d (%s)", t.ExitCode, t.Reason)
			}
		}
		t.Row("  "+Rank(o.Name, p), p.Name, string(p.Status.Phase), orDash(p.Spec.NodeName), fmt.Sprint(restarts), exit)
	}
	t.Flush()
	if f, ok := podlogs.FirstFailure(pods); ok {
		fmt.Fprintf(w, "  first failure: %s %s\n%s", Rank(o.Name, f.Pod), f, podOutput(f))
	}
}

func (o *DescribeOptions) printJobs(ctx context.Context, w io.Writer) {
	jobs, err := o.Kube.List(ctx, train.JobGVK(), kube.ListOptions{Namespace: o.Namespace, LabelSelector: train.Selector(o.Name)})
	if err != nil || len(jobs) == 0 {
		return
	}
	fmt.Fprintln(w, "Jobs:")
	for i := range jobs {
		done, status, err := kube.JobComplete().Check(&jobs[i])
		switch {
		case err != nil:
			status = "failed: " + err.Error()
		case done:
			status = "complete"
		}
		fmt.Fprintf(w, "  %s: %s\n", jobs[i].GetName(), status)
	}
}

func (o *DescribeOptions) printVisualDL(ctx context.Context, w io.Writer) {
	ref := kube.ObjectRef{GVK: train.ServiceGVK(), Namespace: o.Namespace, Name: o.Name + "-visualdl"}
	_, err := o.Kube.Get(ctx, ref)
	switch {
	case apierrors.IsNotFound(err):
		fmt.Fprintln(w, "VisualDL:    <none> (create the training with --use-visualdl)")
	case err != nil:
		fmt.Fprintf(w, "VisualDL:    <%v>\n", err)
	default:
		fmt.Fprintf(w, "VisualDL:    http://%s.%s.svc:%d/ in the cluster; `paddlex train visualdl %s -n %s` opens it here\n",
			ref.Name, o.Namespace, train.VisualDLPort, o.Name, o.Namespace)
	}
}

// prefixFor labels log lines by rank.
func prefixFor(job string) func(*corev1.Pod) string {
	return func(p *corev1.Pod) string { return "[" + Rank(job, p) + "] " }
}
