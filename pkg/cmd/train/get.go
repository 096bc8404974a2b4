package train

import (
	"context"
	"fmt"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/train"
)

// GetOptions are the options of `train get` and `train list`.
type GetOptions struct {
	cmdutil.ListFlags
	cmdutil.Engine

	Streams cmdutil.IOStreams
	Now     func() time.Time
}

// NewCmdGet returns `train get` (or its twin `list`).
func NewCmdGet(f *cmdutil.Factory, use string, runF func(*GetOptions) error) *cobra.Command {
	o := &GetOptions{Streams: f.Streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   use + " [NAME...]",
		Short: "List trainings with their phase, mode and workers",
		Long: `List the PaddleJobs paddlex created, of both backends, with their phase, mode
(Collective or PS), ready workers and parameter servers, age and duration.
-o wide adds the image and GPUs per worker.`,
		Example: fmt.Sprintf(`  paddlex train %[1]s
  paddlex train %[1]s ppocr-det -o yaml
  paddlex train %[1]s -A -o wide`, use),
		ValidArgsFunction: completeTrainings(f),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	o.ListFlags.AddFlags(cmd.Flags())
	return cmd
}

// ListJobs returns the PaddleJobs of both backends carrying the train label.
func ListJobs(ctx context.Context, k kube.Interface, namespace string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	missing := 0
	var lastErr error
	for _, gvk := range []schema.GroupVersionKind{paddle.PaddleJobGVK, paddle.TrainingOperatorJobGVK} {
		items, err := k.List(ctx, gvk, kube.ListOptions{Namespace: namespace, LabelSelector: paddle.LabelTrain})
		if kube.IsNoKind(err) {
			missing++
			lastErr = err
			continue
		}
		if err != nil {
			return nil, err
		}
		for i := range items {
			out = append(out, &items[i])
		}
	}
	if missing == 2 {
		return nil, lastErr
	}
	return out, nil
}

// Complete takes the NAME arguments and the namespace.
func (o *GetOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.ListFlags.Complete(f, args)
	return nil
}

// Validate checks the arguments and -o.
func (o *GetOptions) Validate() error { return o.ListFlags.Validate("NAME") }

// Run lists and prints.
func (o *GetOptions) Run(ctx context.Context) error {
	ns := o.ListNamespace()
	jobs, err := ListJobs(ctx, o.Kube, ns)
	if err != nil {
		return err
	}
	var selected []*unstructured.Unstructured
	for _, j := range jobs {
		if len(o.Names) == 0 || contains(o.Names, j.GetName()) {
			selected = append(selected, j)
		}
	}
	for _, n := range o.Names {
		found := false
		for _, s := range selected {
			found = found || s.GetName() == n
		}
		if !found {
			return exit.FailedErrorf("training %s not found in namespace %s", n, o.Namespace)
		}
	}
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, selected)
	}
	if len(selected) == 0 {
		where := "namespace " + ns
		if ns == "" {
			where = "any namespace"
		}
		fmt.Fprintf(o.Streams.ErrOut, "No trainings found in %s.\n", where)
		return nil
	}
	headers := []string{"NAME", "PHASE", "MODE", "WORKERS", "PS", "AGE", "DURATION"}
	if o.AllNamespaces {
		headers = append([]string{"NAMESPACE"}, headers...)
	}
	if o.Output.Wide() {
		headers = append(headers, "BACKEND", "PROJECT", "IMAGE", "GPUS")
	}
	now := o.Now()
	t := cmdutil.NewTable(o.Streams.Out, headers...)
	for _, j := range selected {
		workers, ps := "-", "-"
		for _, r := range train.Roles(j) {
			ready := fmt.Sprintf("%d/%d", min(r.Running+r.Succeeded, r.Replicas), r.Replicas)
			if r.Role == "worker" {
				workers = ready
			} else {
				ps = ready
			}
		}
		mode := "Collective"
		if ps != "-" {
			mode = "PS"
		}
		row := []string{j.GetName(), cmdutil.OrNone(train.Phase(j)), mode, workers, ps,
			cmdutil.Age(j.GetCreationTimestamp(), now), duration(j, now)}
		if o.AllNamespaces {
			row = append([]string{j.GetNamespace()}, row...)
		}
		if o.Output.Wide() {
			backend := train.BackendPaddleOperator
			if train.IsTrainingOperator(j) {
				backend = train.BackendTrainingOperator
			}
			image, gpus := podSummary(j)
			row = append(row, backend, orDash(j.GetAnnotations()[train.AnnotationProject]), image, gpus)
		}
		t.Row(row...)
	}
	return t.Flush()
}

// duration is how long the training ran: start to completion, or to now.
func duration(j *unstructured.Unstructured, now time.Time) string {
	start, end := train.Read(j).Times()
	if start.IsZero() {
		return "-"
	}
	if end.IsZero() {
		end = now
	}
	return end.Sub(start).Round(time.Second).String()
}

// podSummary returns the worker image and GPUs per worker.
func podSummary(j *unstructured.Unstructured) (string, string) {
	pod := train.Read(j).WorkerPod()
	if pod == nil || len(pod.Containers) == 0 {
		return "-", "-"
	}
	c := pod.Containers[0]
	gpus := "0"
	if q, ok := c.Resources.Limits[train.GPUResource]; ok {
		gpus = q.String()
	}
	return orDash(c.Image), gpus
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
