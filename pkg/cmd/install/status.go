package install

import (
	"context"
	"fmt"
	"strings"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
)

var secretGVK = corev1.SchemeGroupVersion.WithKind("Secret")

// StatusOptions are the options of `paddlex status`.
type StatusOptions struct {
	Components []string
	Source     SourceFlags

	Streams cmdutil.IOStreams
	Catalog *install.Catalog
	Kube    kube.Interface
}

// NewCmdStatus returns `paddlex status`.
func NewCmdStatus(f *cmdutil.Factory, runF func(*StatusOptions) error) *cobra.Command {
	o := &StatusOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "status [--component NAME]",
		Short: "Show whether the installed platform is ready, and what to fix",
		Long: `For each installed component: its version, ready/total workloads and the
CRDs it serves. Then what to fix: why pods are Pending (from their events),
containers that cannot start, a missing default StorageClass.

Exits 4 when something is not ready.`,
		Example: `  paddlex status
  paddlex status --component paddle-operator`,
		Args: cobra.NoArgs,
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().StringSliceVar(&o.Components, "component", nil, "only these components (comma-separated)")
	o.Source.addCatalogFlag(cmd.Flags())
	return cmd
}

// Complete loads the catalog.
func (o *StatusOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	var err error
	o.Catalog, err = o.Source.catalog()
	return err
}

// Validate checks --component against the catalog.
func (o *StatusOptions) Validate() error {
	for _, c := range o.Components {
		if o.Catalog.Component(c) == nil {
			return exit.UsageErrorf("--component: unknown component %q: the catalog has %s", c, strings.Join(o.Catalog.Names(), ", "))
		}
	}
	return nil
}

// Connect builds the engine.
func (o *StatusOptions) Connect(f *cmdutil.Factory) error {
	var err error
	o.Kube, err = connect(f)
	return err
}

// Run reads and prints the status.
func (o *StatusOptions) Run(ctx context.Context) error {
	var comps []*install.Component
	if len(o.Components) > 0 {
		for _, c := range o.Catalog.Components {
			for _, n := range o.Components {
				if c.Name == n {
					comps = append(comps, c)
				}
			}
		}
	} else {
		var err error
		if comps, err = install.Installed(ctx, o.Kube, o.Catalog); err != nil {
			return err
		}
		if len(comps) == 0 {
			return exit.PreconditionErrorf("paddlex is not installed on this cluster: run `paddlex install-standalone` or `paddlex install`")
		}
	}
	rep, err := install.Status(ctx, o.Kube, comps)
	if err != nil {
		return err
	}
	return printStatus(o.Streams, rep)
}

// printStatus prints the table and what to fix; not ready exits 4.
func printStatus(s cmdutil.IOStreams, rep install.Report) error {
	t := cmdutil.NewTable(s.Out, "COMPONENT", "VERSION", "READY", "WORKLOADS", "CRDS", "STATUS")
	var fixes []string
	for _, c := range rep.Components {
		state := "ready"
		switch {
		case !c.Installed:
			state = "not installed"
		case !c.Ready():
			state = "not ready"
		}
		crds := fmt.Sprint(len(c.CRDs))
		if len(c.MissingCRDs) > 0 {
			crds = fmt.Sprintf("%d/%d", len(c.CRDs), len(c.CRDs)+len(c.MissingCRDs))
		}
		version := cmdutil.OrNone(c.Version)
		t.Row(c.Name, version, fmt.Sprint(c.Ready()), c.ReadyCount(), crds, state)
		for _, p := range c.Problems {
			fixes = append(fixes, c.Name+": "+p)
		}
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if len(rep.Settings) > 0 {
		fmt.Fprintln(s.Out, "\nSettings:")
		for _, l := range rep.Settings {
			fmt.Fprintln(s.Out, "  - "+l)
		}
	}
	fixes = append(fixes, rep.Fixes...)
	if len(fixes) > 0 {
		fmt.Fprintln(s.Out, "\nTo fix:")
		for _, f := range fixes {
			fmt.Fprintln(s.Out, "  - "+f)
		}
	}
	if !rep.Ready() {
		n := 0
		for _, c := range rep.Components {
			if !c.Ready() {
				n++
			}
		}
		return exit.PreconditionErrorf("%d of %d components not ready", n, len(rep.Components))
	}
	return nil
}
