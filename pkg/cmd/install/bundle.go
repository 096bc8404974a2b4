package install

import (
	"bytes"
	"context"
	"errors"
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
	// Verify checks an existing bundle instead of writing one.
	Verify bool
	Source SourceFlags

	Streams cmdutil.IOStreams
	Catalog *install.Catalog
	Plan    []*install.Component
	// requireChecksumsSet says --require-checksums was given.
	requireChecksumsSet bool
	cmdutil.Offline
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
Container images are not included: mirror them into your registry.

--verify checks an existing bundle instead: every artifact of the profile is
there, matches the sha256 of the bundle's index and the one the catalog
records; it implies --require-checksums (refuse artifacts whose catalog
entry records no sha256) unless --require-checksums=false is given.
Exit code 4 when the bundle fails the check.`,
		Example: `  paddlex install bundle -o paddlex-bundle.tgz
  paddlex install bundle --profile standalone --networking istio -o standalone.tgz
  paddlex install bundle --verify -o paddlex-bundle.tgz`,
		Args: cobra.NoArgs,
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.Output, "output", "o", "", "bundle file to write")
	fs.StringVar(&o.Profile, "profile", install.ProfileFull, "profile whose artifacts to bundle: standalone or full")
	fs.StringVar(&o.Networking, "networking", "", "Knative networking layer: kourier or istio")
	fs.StringSliceVar(&o.Components, "components", nil, "bundle only these components")
	fs.StringSliceVar(&o.Skip, "skip", nil, "leave these components out")
	fs.BoolVar(&o.Verify, "verify", false, "check the bundle named by -o against its index and the catalog instead of writing it")
	o.Source.addFlags(fs)
	return cmd
}

// Complete loads the catalog.
func (o *BundleOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.requireChecksumsSet = cmdutil.Changed(cmd.Flags(), "require-checksums")
	var err error
	o.Catalog, err = o.Source.catalog()
	return err
}

// Validate checks the flags and plans the bundle.
func (o *BundleOptions) Validate() error {
	if o.Output == "" {
		return exit.UsageErrorf("-o FILE is required")
	}
	if err := o.Source.validate(); err != nil {
		return err
	}
	if o.Verify {
		if o.Source.FromBundle != "" || o.Source.ManifestsDir != "" {
			return exit.UsageErrorf("--verify checks the bundle named by -o: drop --from-bundle and --manifests-dir")
		}
		if !o.requireChecksumsSet {
			o.Source.RequireChecksums = true
		}
	}
	if o.Networking != "" && o.Networking != install.NetworkingKourier && o.Networking != install.NetworkingIstio {
		return exit.UsageErrorf("--networking must be kourier or istio, not %q", o.Networking)
	}
	var err error
	if o.Plan, err = o.Catalog.Plan(install.Selection{Profile: o.Profile, Networking: o.Networking, Components: o.Components, Skip: o.Skip}); err != nil {
		return exit.UsageErrorf("%v", err)
	}
	return nil
}

// Run fetches and writes the bundle; the file appears only when complete.
func (o *BundleOptions) Run(ctx context.Context) error {
	say := func(msg string) { fmt.Fprintln(o.Streams.ErrOut, msg) }
	if o.Verify {
		return o.verify(ctx, say)
	}
	fetcher, err := o.Source.fetcher(o.Catalog, say)
	if err != nil {
		return err
	}
	if err := o.Source.checkUnverified(fetcher, o.Plan, say); err != nil {
		return err
	}
	var buf bytes.Buffer
	idx, err := install.WriteBundle(ctx, &buf, fetcher, o.Plan)
	if err != nil {
		var ce *install.ChecksumError
		if errors.As(err, &ce) {
			return fetchError(err)
		}
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
	for _, c := range idx.Components {
		for _, a := range c.Artifacts {
			fmt.Fprintf(o.Streams.Out, "%s  %s\n", a.SHA256, a.URL)
		}
	}
	return nil
}

// verify checks the bundle at -o: each artifact of the plan is in it and
// matches its index and the catalog.
func (o *BundleOptions) verify(ctx context.Context, say func(string)) error {
	b, err := install.OpenBundle(o.Output)
	if err != nil {
		return exit.PreconditionErrorf("--verify %s: %v", o.Output, err)
	}
	fetcher := &install.Fetcher{Bundle: b}
	if err := o.Source.checkUnverified(&install.Fetcher{}, o.Plan, say); err != nil {
		return err
	}
	if _, err := fetcher.FetchAll(ctx, o.Plan); err != nil {
		return exit.PreconditionErrorf("--verify %s: %v", o.Output, err)
	}
	n := 0
	for _, c := range o.Plan {
		n += len(c.Sources)
	}
	fmt.Fprintf(o.Streams.Out, "%s: %d artifacts of %d components verified\n", o.Output, n, len(o.Plan))
	return nil
}
