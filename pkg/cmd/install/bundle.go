package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/image"
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
	// Images adds every image of `install images` as an OCI image layout.
	Images bool
	// ImagesFrom is a mirror to pull the images from (MIRROR/PATH:TAG).
	ImagesFrom   string
	MaxImageSize string
	Source       SourceFlags

	// maxImageSize is MaxImageSize in bytes.
	maxImageSize int64

	Streams cmdutil.IOStreams
	Catalog *install.Catalog
	Plan    []*install.Component
	// requireChecksumsSet says --require-checksums was given.
	requireChecksumsSet bool
	maxImageSizeSet     bool
	cmdutil.Offline
}

// NewCmdBundle returns `paddlex install bundle`.
func NewCmdBundle(f *cmdutil.Factory, runF func(*BundleOptions) error) *cobra.Command {
	o := &BundleOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "bundle -o FILE|DIR/",
		Short: "Write every artifact (and image) of a profile to one file for air-gapped clusters",
		Long: `Write every upstream artifact of a profile, with an index of their sha256
checksums, to one gzipped tar; or, when -o names a directory (an existing
one, or a path ending in /), into that directory unpacked. Install from it
where there is no internet with --from-bundle FILE|DIR.

--images adds every image 'paddlex install images' lists for the same
profile flags (the install's and the commands'), as an OCI image layout
under images/, with the digest of each in the index. Every platform an
image is published for is kept, so references pinned by digest keep
resolving. An image larger than --max-image-size stops the bundle before
its layers are downloaded. --images-from MIRROR pulls them from a mirror
holding them as MIRROR/PATH:TAG instead of their own registries. On the
cluster side, 'paddlex install --from-bundle BUNDLE --image-registry R'
pushes them to R before applying.

--verify checks an existing bundle instead: every artifact of the profile is
there, matches the sha256 of the bundle's index and the one the catalog
records, and every blob of its images matches its digest; it implies --require-checksums (refuse artifacts whose catalog
entry records no sha256) unless --require-checksums=false is given.
Exit code 4 when the bundle fails the check.`,
		Example: `  paddlex install bundle -o paddlex-bundle.tgz
  paddlex install bundle --profile standalone --networking istio -o standalone.tgz
  paddlex install bundle --profile standalone --images -o standalone.tgz
  paddlex install bundle --images -o paddlex-bundle/
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
	fs.BoolVar(&o.Images, "images", false, "add every container image of the profile and the commands, as an OCI image layout")
	fs.StringVar(&o.ImagesFrom, "images-from", "", "with --images: pull from this mirror, which holds each image as MIRROR/PATH:TAG")
	fs.StringVar(&o.MaxImageSize, "max-image-size", "20Gi", "with --images: refuse an image larger than this (all its platforms together), e.g. 8Gi")
	o.Source.addFlags(fs)
	return cmd
}

// Complete loads the catalog.
func (o *BundleOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.requireChecksumsSet = cmdutil.Changed(cmd.Flags(), "require-checksums")
	o.maxImageSizeSet = cmdutil.Changed(cmd.Flags(), "max-image-size")
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
	if !o.Images && (o.ImagesFrom != "" || o.maxImageSizeSet) {
		return exit.UsageErrorf("--images-from and --max-image-size need --images")
	}
	if o.Images && o.Verify {
		return exit.UsageErrorf("--verify checks the images a bundle holds without --images: drop --images")
	}
	if err := image.ValidateRegistry("--images-from", o.ImagesFrom); err != nil {
		return exit.UsageErrorf("%v", err)
	}
	q, err := resource.ParseQuantity(o.MaxImageSize)
	if err != nil || q.Sign() <= 0 {
		return exit.UsageErrorf("--max-image-size %q: want a positive size such as 20Gi or 500Mi", o.MaxImageSize)
	}
	o.maxImageSize = q.Value()
	if o.Networking != "" && o.Networking != install.NetworkingKourier && o.Networking != install.NetworkingIstio {
		return exit.UsageErrorf("--networking must be kourier or istio, not %q", o.Networking)
	}
	if o.Plan, err = o.Catalog.Plan(install.Selection{Profile: o.Profile, Networking: o.Networking, Components: o.Components, Skip: o.Skip}); err != nil {
		return exit.UsageErrorf("%v", err)
	}
	return nil
}

// Run fetches and writes the bundle; it appears at -o only when complete.
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
	if o.toDir() {
		return o.writeDir(ctx, fetcher, say)
	}
	return o.writeArchive(ctx, fetcher, say)
}

// toDir says -o names a directory: an existing one, or a path ending in /.
func (o *BundleOptions) toDir() bool {
	if strings.HasSuffix(o.Output, "/") || strings.HasSuffix(o.Output, string(os.PathSeparator)) {
		return true
	}
	st, err := os.Stat(o.Output)
	return err == nil && st.IsDir()
}

// pullImages pulls every image of the plan and the commands into the
// layout at dir.
func (o *BundleOptions) pullImages(ctx context.Context, dir string, say func(string)) (*install.BundleImages, error) {
	refs, err := planImages(ctx, o.Catalog, o.Plan, &o.Source, o.Networking, say)
	if err != nil {
		return nil, err
	}
	var digestFree []string
	for _, r := range refs {
		if image.Parse(r).Tag == "" && image.Parse(r).Digest == "" {
			digestFree = append(digestFree, r)
		}
	}
	if len(digestFree) > 0 {
		say("warning: no tag or digest (pulled as :latest, which can change): " + strings.Join(digestFree, ", "))
	}
	say(fmt.Sprintf("pulling %d images into %s", len(refs), dir))
	stored, err := image.Pull(ctx, dir, refs, image.PullOptions{From: image.Registry(o.ImagesFrom), MaxSize: o.maxImageSize, Progress: say})
	if err != nil {
		var tl *image.TooLargeError
		if errors.As(err, &tl) {
			return nil, exit.PreconditionErrorf("--max-image-size: %v: raise --max-image-size, or leave the component that runs it out with --skip; nothing was written", err)
		}
		return nil, exit.PreconditionErrorf("%v; nothing was written (a mirror: --images-from)", err)
	}
	return &install.BundleImages{Layout: dir, Stored: stored}, nil
}

// writeArchive writes the bundle as a gzipped tar, pulling the images (if
// any) into a layout beside it first.
func (o *BundleOptions) writeArchive(ctx context.Context, fetcher *install.Fetcher, say func(string)) error {
	var imgs *install.BundleImages
	if o.Images {
		tmp, err := os.MkdirTemp(filepath.Dir(o.Output), "."+filepath.Base(o.Output)+".images-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if imgs, err = o.pullImages(ctx, tmp, say); err != nil {
			return err
		}
	}
	tmp := o.Output + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	counter := &countingWriter{w: out}
	idx, err := install.WriteBundle(ctx, counter, fetcher, o.Plan, imgs)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var ce *install.ChecksumError
		if errors.As(err, &ce) {
			return fetchError(err)
		}
		return err
	}
	if err := os.Rename(tmp, o.Output); err != nil {
		return err
	}
	o.report(idx, fmt.Sprintf("%d bytes", counter.n))
	return nil
}

// writeDir writes the bundle unpacked into -o; its index, written last,
// makes it a bundle.
func (o *BundleOptions) writeDir(ctx context.Context, fetcher *install.Fetcher, say func(string)) error {
	dir := strings.TrimRight(o.Output, "/"+string(os.PathSeparator))
	if dir == "" {
		dir = o.Output
	}
	if _, err := os.Stat(filepath.Join(dir, install.BundleIndexName)); err == nil {
		// A bundle is rewritten whole: drop the old index first, so an
		// interrupted rewrite is not taken for a complete bundle.
		if err := os.Remove(filepath.Join(dir, install.BundleIndexName)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var imgs *install.BundleImages
	if o.Images {
		layoutDir := filepath.Join(dir, install.BundleImagesDir)
		if err := os.RemoveAll(layoutDir); err != nil {
			return err
		}
		var err error
		if imgs, err = o.pullImages(ctx, layoutDir, say); err != nil {
			return err
		}
	}
	idx, err := install.WriteBundleDir(ctx, dir, fetcher, o.Plan, imgs)
	if err != nil {
		var ce *install.ChecksumError
		if errors.As(err, &ce) {
			return fetchError(err)
		}
		return err
	}
	o.report(idx, "a directory")
	return nil
}

// report prints what the bundle holds, with every sha256 and digest.
func (o *BundleOptions) report(idx *install.BundleIndex, size string) {
	n := 0
	for _, c := range idx.Components {
		n += len(c.Artifacts)
	}
	images := ""
	if len(idx.Images) > 0 {
		images = fmt.Sprintf(" and %d images", len(idx.Images))
	}
	fmt.Fprintf(o.Streams.Out, "wrote %s: %d artifacts of %d components%s (%s)\n", o.Output, n, len(idx.Components), images, size)
	for _, c := range idx.Components {
		for _, a := range c.Artifacts {
			fmt.Fprintf(o.Streams.Out, "%s  %s\n", a.SHA256, a.URL)
		}
	}
	for _, im := range idx.Images {
		fmt.Fprintf(o.Streams.Out, "%s  %s\n", im.Digest, im.Ref)
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
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
	images := ""
	if len(b.Index.Images) > 0 {
		dir, done, err := b.ImageLayout("")
		if err != nil {
			return exit.PreconditionErrorf("--verify %s: %v", o.Output, err)
		}
		defer done()
		if err := image.Verify(dir, b.ImageDigests()); err != nil {
			return exit.PreconditionErrorf("--verify %s: %v", o.Output, err)
		}
		images = fmt.Sprintf(" and %d images", len(b.Index.Images))
	}
	fmt.Fprintf(o.Streams.Out, "%s: %d artifacts of %d components%s verified\n", o.Output, n, len(o.Plan), images)
	return nil
}
