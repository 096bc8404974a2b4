package train

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/train"
	"github.com/paddleflow/paddlex/pkg/validate"
)

// WaitOptions are the options of `train wait`.
type WaitOptions struct {
	Name      string
	Namespace string
	For       string
	// Target is --for parsed: train.ForSucceeded, ForRunning, ForFailed or
	// ForDelete.
	Target  string
	Timeout time.Duration
	Output  cmdutil.OutputFlags

	Streams   cmdutil.IOStreams
	Kube      kube.Interface
	Clientset kubernetes.Interface
}

// NewCmdWait returns `train wait`.
func NewCmdWait(f *cmdutil.Factory, runF func(*WaitOptions) error) *cobra.Command {
	o := &WaitOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "wait NAME [--for condition=Succeeded|Running|Failed | --for delete] [--timeout D]",
		Short: "Wait for a training to succeed, run, fail or be deleted; the exit code is the outcome",
		Long: `Wait for a training (a PaddleJob of either backend), as kubectl wait does.

--for condition=Succeeded (the default) waits for the training to finish: exit
0 when it succeeded, 1 when it failed, naming the first failing rank and why.
--for condition=Running waits until every rank runs (exit 1 if it finishes or
fails first); --for condition=Failed waits for a failure (exit 1 if it
succeeds); --for delete waits until it is gone. kubectl's spelling
condition=NAME=True is accepted too. When --timeout runs out first the exit
code is 3; the training goes on. A training already in the awaited state
returns at once.

Progress lines (the ranks running) go to stderr; on success stdout gets
"training.paddlex.io/NAME condition met", or the PaddleJob with -o yaml|json.`,
		Example: `  paddlex train wait ppocr-det
  paddlex train wait ppocr-det --for condition=Running --timeout 10m
  paddlex train wait ppocr-det --timeout 6h && paddlex modelhub push ppocr-det --model-name ppocr-det --model-version v2 --pvc-name task-center
  paddlex train delete ppocr-det --wait=false && paddlex train wait ppocr-det --for delete`,
		ValidArgsFunction: completeTrainings(f),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.For, "for", "", "what to wait for: condition=Succeeded (default), condition=Running, condition=Failed, or delete")
	fs.DurationVar(&o.Timeout, "timeout", 0, fmt.Sprintf("how long to wait before giving up with exit code 3, at most %dh (0 waits forever)", int(validate.MaxTimeout.Hours())))
	_ = cmd.RegisterFlagCompletionFunc("for", cmdutil.CompleteFlagFixed("condition=Succeeded", "condition=Running", "condition=Failed", "delete"))
	o.Output.AddFlags(fs)
	return cmd
}

// Complete takes NAME and the namespace.
func (o *WaitOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	return nil
}

// Validate checks NAME, --for, --timeout and -o.
func (o *WaitOptions) Validate() error {
	if err := validate.Name("NAME", o.Name); err != nil {
		return err
	}
	if err := validate.Name("--namespace", o.Namespace); err != nil {
		return err
	}
	var err error
	if o.Target, err = train.ParseFor(o.For); err != nil {
		return err
	}
	if o.Timeout < 0 {
		return exit.UsageErrorf("--timeout must not be negative, not %s (0 waits without a limit)", o.Timeout)
	}
	if o.Timeout > validate.MaxTimeout {
		return exit.UsageErrorf("--timeout must be at most %dh, not %s (0 waits without a limit)", int(validate.MaxTimeout.Hours()), o.Timeout)
	}
	if o.Output.Wide() {
		return exit.UsageErrorf("--output wide does not apply to wait: use yaml, json, name or jsonpath")
	}
	return o.Output.Validate()
}

// Connect builds the engine, and the typed client that reads failed pods.
func (o *WaitOptions) Connect(f *cmdutil.Factory) error {
	var err error
	if o.Kube, err = f.Kube(); err != nil {
		return err
	}
	o.Clientset, err = f.Clientset()
	return err
}

// RunTimeout is --timeout.
func (o *WaitOptions) RunTimeout() time.Duration { return o.Timeout }

// Run finds the training's kind, then waits.
func (o *WaitOptions) Run(ctx context.Context) error {
	job, err := findTraining(ctx, o.Kube, o.Namespace, o.Name)
	if err != nil {
		if o.Target == train.ForDelete && exit.Code(err) == exit.Failed {
			fmt.Fprintf(o.Streams.Out, "training.paddlex.io/%s deleted\n", o.Name)
			return nil
		}
		return err
	}
	backend := train.BackendPaddleOperator
	if train.IsTrainingOperator(job) {
		backend = train.BackendTrainingOperator
	}
	done, err := o.Kube.Wait(ctx, kube.RefOf(job), train.WaitCondition(o.Target, backend))
	var fe *kube.FailedError
	if errors.As(err, &fe) {
		return trainingFailed(ctx, o.Clientset, o.Name, o.Namespace, done, err)
	}
	if err != nil {
		return err
	}
	if o.Target == train.ForDelete {
		_, err := fmt.Fprintf(o.Streams.Out, "training.paddlex.io/%s deleted\n", o.Name)
		return err
	}
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, []*unstructured.Unstructured{done})
	}
	_, err = fmt.Fprintf(o.Streams.Out, "training.paddlex.io/%s condition met\n", o.Name)
	return err
}

// findTraining reads training name, a PaddleJob of either backend; exit 1
// naming the way to list them when there is none, exit 4 when neither
// operator's kind is installed.
func findTraining(ctx context.Context, k kube.Interface, ns, name string) (*unstructured.Unstructured, error) {
	var lastErr error
	missing := 0
	for _, gvk := range []kube.ObjectRef{
		{GVK: paddle.PaddleJobGVK, Namespace: ns, Name: name},
		{GVK: paddle.TrainingOperatorJobGVK, Namespace: ns, Name: name},
	} {
		obj, err := k.Get(ctx, gvk)
		switch {
		case err == nil:
			return obj, nil
		case kube.IsNoKind(err):
			missing++
			lastErr = err
		case !apierrors.IsNotFound(err):
			return nil, err
		}
	}
	if missing == 2 {
		return nil, lastErr
	}
	return nil, exit.FailedErrorf("training %s not found in namespace %s: `paddlex train list -n %s` shows the trainings", name, ns, ns)
}
