package serve

import (
	"context"
	"fmt"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// DeleteOptions are the options of `serve delete`.
type DeleteOptions struct {
	Name      string
	Namespace string
	// IgnoreNotFound succeeds when the service is already gone.
	IgnoreNotFound bool
	Delete         cmdutil.DeleteFlags
	cmdutil.Engine

	Streams cmdutil.IOStreams
}

// NewCmdDelete returns `serve delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	o := &DeleteOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Stop serving a model: delete its Knative Service and every revision",
		Long: `Delete the Knative Service of a served model; Knative removes its revisions,
routes and pods with it. The model stays in the model center.`,
		Example: `  paddlex serve delete ppocr-det
  paddlex serve delete ppocr-det --dry-run=server`,
		ValidArgsFunction: cmdutil.CompleteNames(f, paddle.KnativeServiceGVK, paddle.LabelServe),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().BoolVar(&o.IgnoreNotFound, "ignore-not-found", false, "succeed when the service does not exist")
	o.Delete.AddFlags(cmd.Flags(), true, 5*time.Minute)
	return cmd
}

// Complete takes NAME and the namespace.
func (o *DeleteOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	return nil
}

// RunTimeout is --timeout.
func (o *DeleteOptions) RunTimeout() time.Duration { return o.Delete.Timeout }

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

// Run deletes the Service and, with --wait, waits until it is gone.
func (o *DeleteOptions) Run(ctx context.Context) error {
	ref := serviceRef(o.Namespace, o.Name)
	if _, err := o.Kube.Get(ctx, ref); apierrors.IsNotFound(err) {
		if o.IgnoreNotFound {
			return nil
		}
		return exit.FailedErrorf("%s not found: `paddlex serve list -n %s` shows the served models", ref, o.Namespace)
	} else if err != nil {
		return err
	}
	if err := o.Kube.Delete(ctx, []kube.ObjectRef{ref}, o.Delete.Options(true)); err != nil {
		return err
	}
	_, err := fmt.Fprintf(o.Streams.Out, "service.serving.knative.dev/%s deleted%s\n", o.Name, o.Delete.Note())
	return err
}
