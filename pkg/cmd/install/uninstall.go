package install

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
)

// UninstallOptions are the options of `paddlex uninstall`.
type UninstallOptions struct {
	Components []string
	KeepData   bool
	Purge      bool
	Source     SourceFlags
	Delete     cmdutil.DeleteFlags
	// keepDataSet says --keep-data was given on the command line.
	keepDataSet bool

	Streams cmdutil.IOStreams
	Catalog *install.Catalog
	Kube    kube.Interface
	// Kinds lists the kinds to search for installed objects.
	Kinds func() ([]schema.GroupVersionKind, error)
}

// NewCmdUninstall returns `paddlex uninstall`.
func NewCmdUninstall(f *cmdutil.Factory, runF func(*UninstallOptions) error) *cobra.Command {
	o := &UninstallOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "uninstall [--component NAME] [--purge]",
		Short: "Remove the platform, in reverse dependency order",
		Long: `Remove what paddlex installed, found by its labels, component by component in
reverse dependency order.

By default data stays: PersistentVolumeClaims, the Secrets holding
credentials (MinIO keys, data-center and task-center), the namespaces that
hold them, and CRDs that still have objects (your PaddleJobs, SampleSets).
--purge removes those too. The copies of data-center that install
--secret-namespace made in other namespaces are removed either way: the
platform's own data-center keeps the keys, and a new install copies them
again.`,
		Example: `  paddlex uninstall
  paddlex uninstall --component jupyterhub
  paddlex uninstall --purge`,
		Args: cobra.NoArgs,
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&o.Components, "component", nil, "remove only these components (comma-separated)")
	fs.BoolVar(&o.KeepData, "keep-data", true, "keep volumes, credential Secrets, their namespaces and CRDs with objects")
	fs.BoolVar(&o.Purge, "purge", false, "remove data too (implies --keep-data=false)")
	o.Delete.AddFlags(fs, true, 10*time.Minute)
	o.Source.addCatalogFlag(fs)
	return cmd
}

// Complete loads the catalog.
func (o *UninstallOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.keepDataSet = cmdutil.Changed(cmd.Flags(), "keep-data")
	var err error
	o.Catalog, err = o.Source.catalog()
	return err
}

// Validate checks the flags against the catalog.
func (o *UninstallOptions) Validate() error {
	if o.Purge && o.keepDataSet && o.KeepData {
		return exit.UsageErrorf("--purge and --keep-data are exclusive")
	}
	if o.Purge {
		o.KeepData = false
	}
	if o.Delete.DryRun == cmdutil.DryRunClient {
		return exit.UsageErrorf("uninstall supports --dry-run=server, not client: it must read what is installed")
	}
	if err := o.Delete.Validate(); err != nil {
		return err
	}
	for _, c := range o.Components {
		if o.Catalog.Component(c) == nil {
			return exit.UsageErrorf("--component: unknown component %q: the catalog has %s", c, strings.Join(o.Catalog.Names(), ", "))
		}
	}
	return nil
}

// Connect builds the engine and the discovery of deletable kinds.
func (o *UninstallOptions) Connect(f *cmdutil.Factory) error {
	var err error
	if o.Kube, err = connect(f); err != nil {
		return err
	}
	o.Kinds = func() ([]schema.GroupVersionKind, error) {
		cs, err := f.Clientset()
		if err != nil {
			return nil, err
		}
		return deletableKinds(cs.Discovery())
	}
	return nil
}

// RunTimeout is --timeout.
func (o *UninstallOptions) RunTimeout() time.Duration { return o.Delete.Timeout }

// Run removes the components.
func (o *UninstallOptions) Run(ctx context.Context) error {
	comps, err := o.Catalog.Plan(install.Selection{Components: o.Catalog.Names()})
	if err != nil {
		return err
	}
	if len(o.Components) > 0 {
		var only []*install.Component
		for _, c := range comps {
			for _, n := range o.Components {
				if c.Name == n {
					only = append(only, c)
				}
			}
		}
		comps = only
	}
	kinds, err := o.Kinds()
	if err != nil {
		return err
	}
	progress := install.NewProgress(o.Streams.ErrOut, o.Streams.ErrTTY)
	removed, err := install.Uninstall(ctx, o.Kube, comps, kinds, install.UninstallOptions{
		KeepData: o.KeepData, DryRun: o.Delete.EngineDryRun(), Wait: o.Delete.Wait,
	}, progress)
	progress.Close()
	if len(removed) == 0 && err == nil {
		fmt.Fprintln(o.Streams.Out, "nothing of paddlex is installed: nothing to remove")
		return nil
	}
	t := cmdutil.NewTable(o.Streams.Out, "COMPONENT", "DELETED", "KEPT")
	var kept []string
	for _, r := range removed {
		t.Row(r.Component, fmt.Sprint(len(r.Deleted)), fmt.Sprint(len(r.Kept)))
		kept = append(kept, r.Kept...)
	}
	_ = t.Flush()
	if len(kept) > 0 {
		fmt.Fprintln(o.Streams.Out, "\nKept for their data (remove with --purge):")
		for _, k := range kept {
			fmt.Fprintln(o.Streams.Out, "  - "+k)
		}
	}
	return err
}

// deletableKinds lists the kinds the server can list and delete.
func deletableKinds(d discovery.DiscoveryInterface) ([]schema.GroupVersionKind, error) {
	lists, err := d.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, err
	}
	var out []schema.GroupVersionKind
	for _, l := range lists {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || r.Kind == "Event" {
				continue
			}
			var list, del bool
			for _, v := range r.Verbs {
				list = list || v == "list"
				del = del || v == "delete"
			}
			if list && del {
				out = append(out, gv.WithKind(r.Kind))
			}
		}
	}
	return out, nil
}
