package pipeline

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/validate"
)

// RerunFlags are what retry and resubmit share: the run they start from,
// and the submit flags of the new run.
type RerunFlags struct {
	Name      string
	Namespace string
	Watch     bool
	Apply     cmdutil.ApplyFlags
	Output    cmdutil.OutputFlags
}

func (r *RerunFlags) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&r.Watch, "watch", false, "follow the new run until it finishes")
	r.Apply.AddFlags(fs, false, 0)
	_ = fs.MarkHidden("wait")
	r.Output.AddFlags(fs)
}

// Complete takes NAME and the namespace.
func (r *RerunFlags) Complete(f *cmdutil.Factory, _ *cobra.Command, args []string) error {
	r.Name, r.Namespace = args[0], f.Namespace()
	return nil
}

// Validate checks NAME, the namespace and the flags run, retry and resubmit share.
func (r *RerunFlags) Validate() error {
	if err := validate.Subdomain("NAME", r.Name); err != nil {
		return err
	}
	if err := validate.Name("--namespace", r.Namespace); err != nil {
		return err
	}
	return validateSubmit(&r.Apply, r.Output.Output, r.Watch)
}
