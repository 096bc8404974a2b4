package install

import (
	"bytes"
	"context"
	"fmt"
	"os"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/install"
)

// BundleOptions are the options of `install bundle`.
type BundleOptions struct {
	Output     string
	Profile    string
	Networking string
	Components []string
	Skip       []string
	Source     SourceFlags

	Streams cmdutil.IOStreams
	Catalog *install.Catalog
	Plan    []*install.Component
}

// NewCmdBundle returns `paddlex install bundle`.
func NewCmdBundle(f *cmdutil.Factory, runF func(*BundleOptions) error) *cobra.Command {
	o := &BundleOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "bundle -o FILE",
		Short: "Write every artifact of a profile to one file for air-gapped clusters",
		Long: `Write every upstream artifact of a profile, with an index of their sha256
checksums, to one gzipped tar. Install from it where there is no internet
with --from-bundle FILE, or unpack it and use --manifests-dir DIR.
Container images are not included: mirror them into your registry.`,
		Example: `  paddlex install bundle -o paddlex-bundle.tgz
  paddlex install bundle --profile standalone --networking istio -o standalone.tgz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if o.Catalog, err = o.Source.catalog(); err != nil {
				return err
			}
			if o.Output == "" {
				return exit.UsageErrorf("-o FILE is required")
			}
			if err := o.Source.validate(); err != nil {
				return err
			}
			if o.Networking != "" && o.Networking != install.NetworkingKourier && o.Networking != install.NetworkingIstio {
				return exit.UsageErrorf("--networking must be kourier or istio, not %q", o.Networking)
			}
			if o.Plan, err = o.Catalog.Plan(install.Selection{Profile: o.Profile, Networking: o.Networking, Components: o.Components, Skip: o.Skip}); err != nil {
				return exit.UsageErrorf("%v", err)
			}
			if runF != nil {
				return runF(o)
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.Output, "output", "o", "", "bundle file to write")
	fs.StringVar(&o.Profile, "profile", install.ProfileFull, "profile whose artifacts to bundle: standalone or full")
	fs.StringVar(&o.Networking, "networking", "", "Knative networking layer: kourier or istio")
	fs.StringSliceVar(&o.Components, "components", nil, "bundle only these components")
	fs.StringSliceVar(&o.Skip, "skip", nil, "leave these components out")
	o.Source.addFlags(fs)
	return cmd
}

// Run fetches and writes the bundle; the file appears only when complete.
func (o *BundleOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	fetcher, err := o.Source.fetcher(o.Catalog, func(msg string) { fmt.Fprintln(o.Streams.ErrOut, msg) })
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	idx, err := install.WriteBundle(ctx, &buf, fetcher, o.Plan)
	if err != nil {
		return err
	}
	tmp := o.Output + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, o.Output); err != nil {
		return err
	}
	n := 0
	for _, c := range idx.Components {
		n += len(c.Artifacts)
	}
	fmt.Fprintf(o.Streams.Out, "wrote %s: %d artifacts of %d components (%d bytes)\n", o.Output, n, len(idx.Components), buf.Len())
	return nil
}
