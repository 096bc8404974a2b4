package cmdutil

import (
	"context"

	"github.com/spf13/cobra"
)

// Phased is an options type with kubectl's phases: Complete reads spec
// files, flags and the namespace; Validate checks them without a cluster;
// Connect builds clients (none for a client dry run); Run does the work.
type Phased interface {
	Complete(f *Factory, cmd *cobra.Command, args []string) error
	Validate() error
	Connect(f *Factory) error
	Run(ctx context.Context) error
}

// PhasedRunE returns a cobra RunE that runs o's phases in order. When runF
// is set it replaces Connect and Run, so tests check flag parsing and
// validation without a cluster.
func PhasedRunE[O Phased](f *Factory, o O, runF func(O) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := o.Complete(f, cmd, args); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		if runF != nil {
			return runF(o)
		}
		if err := o.Connect(f); err != nil {
			return err
		}
		return o.Run(cmd.Context())
	}
}
