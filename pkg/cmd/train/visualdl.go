package train

import (
	"context"
	"fmt"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/portforward"
	"github.com/paddleflow/paddlex/pkg/train"
)

// VisualDLOptions are the options of `train visualdl`.
type VisualDLOptions struct {
	Name      string
	Namespace string
	Port      int
	Address   string

	Streams   cmdutil.IOStreams
	Config    *rest.Config
	Clientset kubernetes.Interface
	// Forward options for tests (a dialer that does not need a kubelet).
	Forward portforward.Options
}

// NewCmdVisualDL returns `train visualdl`.
func NewCmdVisualDL(f *cmdutil.Factory, runF func(*VisualDLOptions) error) *cobra.Command {
	o := &VisualDLOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "visualdl NAME [--port N]",
		Short: "Open a training's VisualDL board on a local port",
		Long: `Forward a local port to the training's VisualDL service NAME-visualdl
through the API server (as kubectl port-forward does), print the local URL and
keep forwarding until interrupted. The training must have been created with
--use-visualdl.`,
		Example: `  paddlex train visualdl ppocr-det
  paddlex train visualdl ppocr-det --port 8040`,
		ValidArgsFunction: completeTrainings(f),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().IntVar(&o.Port, "port", 0, "local port (0 picks a free one)")
	cmd.Flags().StringVar(&o.Address, "address", "127.0.0.1", "local address to listen on")
	return cmd
}

// Complete takes NAME and the namespace.
func (o *VisualDLOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	return nil
}

// Validate checks the name and --port.
func (o *VisualDLOptions) Validate() error {
	if err := validate.Name("NAME", o.Name); err != nil {
		return err
	}
	if err := validate.Name("--namespace", o.Namespace); err != nil {
		return err
	}
	if o.Port < 0 || o.Port > 65535 {
		return exit.UsageErrorf("--port must be between 0 and 65535")
	}
	return nil
}

// Connect builds the clients a port-forward needs.
func (o *VisualDLOptions) Connect(f *cmdutil.Factory) error {
	var err error
	if o.Config, err = f.RESTConfig(); err != nil {
		return err
	}
	o.Clientset, err = f.Clientset()
	return err
}

// Run forwards until ctx ends or the connection breaks.
func (o *VisualDLOptions) Run(ctx context.Context) error {
	opts := o.Forward
	opts.LocalPort, opts.Address, opts.ErrOut = o.Port, o.Address, o.Streams.ErrOut
	target := portforward.Target{Namespace: o.Namespace, Service: o.Name + "-visualdl", Port: train.VisualDLPort}
	fw, err := portforward.Start(ctx, o.Config, o.Clientset, target, opts)
	if err != nil {
		return exit.FailedErrorf("visualdl %s: %v (was the training created with --use-visualdl? `paddlex train describe %s -n %s` shows)", o.Name, err, o.Name, o.Namespace)
	}
	defer fw.Close()
	fmt.Fprintln(o.Streams.Out, fw.URL())
	fmt.Fprintf(o.Streams.ErrOut, "forwarding %s to pod %s port %d; press Ctrl-C to stop\n", fw.URL(), fw.Pod, fw.RemotePort)
	if err := fw.Wait(ctx); err != nil {
		return fmt.Errorf("visualdl %s: port-forward ended: %w", o.Name, err)
	}
	return nil
}
