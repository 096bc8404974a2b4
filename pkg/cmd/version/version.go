// Package version implements `paddlex version`.
package version

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/internal/buildinfo"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

// Options are the options of `paddlex version`.
type Options struct {
	Output  string
	Streams cmdutil.IOStreams
	cmdutil.NoArgs
	cmdutil.Offline
}

// NewCmdVersion returns the version command.
func NewCmdVersion(f *cmdutil.Factory) *cobra.Command {
	o := &Options{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the paddlex version",
		Long:    "Print the version, commit and build date of this paddlex binary. It does not contact a cluster.",
		Example: "  paddlex version\n  paddlex version -o json",
		Args:    cobra.NoArgs,
		RunE:    cmdutil.PhasedRunE(f, o, nil),
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "output format: json or yaml (default: one line)")
	return cmd
}

// Validate checks -o.
func (o *Options) Validate() error {
	switch o.Output {
	case "", "json", "yaml":
		return nil
	}
	return exit.UsageErrorf("--output must be json or yaml, not %q", o.Output)
}

// Run prints the version.
func (o *Options) Run(context.Context) error {
	info := buildinfo.Get()
	switch o.Output {
	case "json":
		b, err := json.MarshalIndent(info, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(o.Streams.Out, string(b))
		return err
	case "yaml":
		b, err := yaml.Marshal(info)
		if err != nil {
			return err
		}
		_, err = o.Streams.Out.Write(b)
		return err
	}
	_, err := fmt.Fprintf(o.Streams.Out, "paddlex %s (commit %s, built %s, %s, %s)\n", info.Version, info.Commit, info.Date, info.GoVersion, info.Platform)
	return err
}
