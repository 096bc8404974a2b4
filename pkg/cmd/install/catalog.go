package install

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/install"
)

// NewCmdCatalog returns `paddlex install catalog`.
func NewCmdCatalog(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Maintain the component catalog",
		Long: `Maintain the catalog of pinned upstream artifacts that install applies.

A maintainer with internet access fetches a release with 'paddlex install
bundle', then pins the sha256 of every artifact it holds with 'catalog pin', so
install refuses any download whose bytes differ.`,
		Example: `  # pin every artifact of a freshly fetched bundle
  paddlex install bundle -o bundle.tgz
  paddlex install catalog pin --from-bundle bundle.tgz`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdCatalogPin(f, nil))
	return cmd
}

// PinOptions are the options of `install catalog pin`.
type PinOptions struct {
	FromBundle string
	Output     string

	Streams cmdutil.IOStreams
	Index   *install.BundleIndex
	cmdutil.Offline
}

// NewCmdCatalogPin returns `paddlex install catalog pin`.
func NewCmdCatalogPin(f *cmdutil.Factory, runF func(*PinOptions) error) *cobra.Command {
	o := &PinOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "pin --from-bundle BUNDLE",
		Short: "Print catalog lines pinning the sha256 of every artifact in a bundle",
		Long: `Print the sha256 of every artifact a bundle holds as catalog lines, so a
release is pinned in one step: write a bundle where there is internet with
'paddlex install bundle', check what it fetched, then pin it.

-o yaml (the default) prints a pins: block for a --catalog file; -o go prints
the entries of the checksums table in pkg/install/default.go.`,
		Example: `  paddlex install bundle -o bundle.tgz && paddlex install catalog pin --from-bundle bundle.tgz
  paddlex install catalog pin --from-bundle ./unpacked-bundle -o go`,
		Args: cobra.NoArgs,
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().StringVar(&o.FromBundle, "from-bundle", "", "bundle file, or a directory holding an unpacked bundle's bundle.yaml")
	cmd.Flags().StringVarP(&o.Output, "output", "o", "yaml", "yaml (a pins: block for --catalog files) or go (entries of the built-in checksums table)")
	return cmd
}

// Complete reads the bundle's index (exit 2 for a bundle that cannot be
// read).
func (o *PinOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	if o.FromBundle == "" {
		return exit.UsageErrorf("--from-bundle is required")
	}
	st, err := os.Stat(o.FromBundle)
	if err != nil {
		return exit.UsageErrorf("--from-bundle: %v", err)
	}
	if st.IsDir() {
		data, err := os.ReadFile(filepath.Join(o.FromBundle, install.BundleIndexName))
		if err != nil {
			return exit.UsageErrorf("--from-bundle %s: %v", o.FromBundle, err)
		}
		o.Index = &install.BundleIndex{}
		if err := yaml.UnmarshalStrict(data, o.Index); err != nil {
			return exit.UsageErrorf("--from-bundle %s: %s: %v", o.FromBundle, install.BundleIndexName, err)
		}
		return nil
	}
	b, err := install.OpenBundle(o.FromBundle)
	if err != nil {
		return exit.UsageErrorf("--from-bundle %s: %v", o.FromBundle, err)
	}
	o.Index = &b.Index
	return nil
}

// Validate checks -o.
func (o *PinOptions) Validate() error {
	if o.Output != "yaml" && o.Output != "go" {
		return exit.UsageErrorf("-o must be yaml or go, not %q", o.Output)
	}
	return nil
}

// Run prints the pins, sorted by URL.
func (o *PinOptions) Run(context.Context) error {
	pins := map[string]string{}
	for _, c := range o.Index.Components {
		for _, a := range c.Artifacts {
			pins[a.URL] = a.SHA256
		}
	}
	urls := make([]string, 0, len(pins))
	for u := range pins {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	if o.Output == "go" {
		for _, u := range urls {
			fmt.Fprintf(o.Streams.Out, "\t%q: %q,\n", u, pins[u])
		}
		return nil
	}
	fmt.Fprintln(o.Streams.Out, "pins:")
	for _, u := range urls {
		fmt.Fprintf(o.Streams.Out, "  %q: %s\n", u, pins[u])
	}
	return nil
}
