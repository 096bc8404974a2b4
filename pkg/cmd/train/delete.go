package train

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/train"
)

// DeleteOptions are the options of `train delete`.
type DeleteOptions struct {
	Name      string
	Namespace string
	Delete    cmdutil.DeleteFlags
	cmdutil.Engine

	Streams cmdutil.IOStreams
}

// NewCmdDelete returns `train delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	o := &DeleteOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Remove a training: its PaddleJob, Jobs and VisualDL board",
		Long: `Remove every object of a training, found by its paddlex.io/train label: the
PaddleJob (of either backend) and its pods, the export and conversion Jobs, and
the VisualDL Deployment and Service. The task volume and what training wrote
to it stay.`,
		Example: `  paddlex train delete ppocr-det
  paddlex train delete ppocr-det --wait=false`,
		ValidArgsFunction: completeTrainings(f),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	o.Delete.AddFlags(cmd.Flags(), true, 5*time.Minute)
	return cmd
}

// Complete takes NAME and the namespace.
func (o *DeleteOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	return nil
}

// Validate checks the arguments.
func (o *DeleteOptions) Validate() error {
	if err := validate.Name("NAME", o.Name); err != nil {
		return err
	}
	if err := validate.Name("--namespace", o.Namespace); err != nil {
		return err
	}
	return o.Delete.Validate()
}

// RunTimeout is --timeout.
func (o *DeleteOptions) RunTimeout() time.Duration { return o.Delete.Timeout }

// Find lists the objects of training name, in apply order; kinds the
// cluster does not serve are skipped.
func Find(ctx context.Context, k kube.Interface, namespace, name string) ([]kube.ObjectRef, error) {
	var refs []kube.ObjectRef
	seen := map[kube.ObjectRef]bool{}
	for _, backend := range []string{train.BackendPaddleOperator, train.BackendTrainingOperator} {
		for _, gvk := range train.ObjectKinds(backend) {
			items, err := k.List(ctx, gvk, kube.ListOptions{Namespace: namespace, LabelSelector: train.Selector(name)})
			if kube.IsNoKind(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			for i := range items {
				r := kube.RefOf(&items[i])
				if !seen[r] {
					seen[r] = true
					refs = append(refs, r)
				}
			}
		}
	}
	return refs, nil
}

// Run deletes the training's objects.
func (o *DeleteOptions) Run(ctx context.Context) error {
	refs, err := Find(ctx, o.Kube, o.Namespace, o.Name)
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		return exit.FailedErrorf("no training %s in namespace %s", o.Name, o.Namespace)
	}
	if err := o.Kube.Delete(ctx, refs, o.Delete.Options(true)); err != nil {
		return err
	}
	for _, r := range refs {
		fmt.Fprintf(o.Streams.Out, "%s/%s deleted%s\n", strings.ToLower(r.GVK.Kind), r.Name, o.Delete.Note())
	}
	return nil
}
