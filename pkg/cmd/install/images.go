package install

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/manifests"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/image"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/pipeline"
	"github.com/paddleflow/paddlex/pkg/serve"
)

// ImagesOptions are the options of `install images`.
type ImagesOptions struct {
	Profile    string
	Networking string
	Components []string
	Skip       []string
	Source     SourceFlags
	Registry   image.Registry

	Streams cmdutil.IOStreams
	Catalog *install.Catalog
	Plan    []*install.Component

	cmdutil.Offline
}

// Complete takes the registry and reads the catalog.
func (o *ImagesOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, _ []string) error {
	o.Registry = f.ImageRegistry
	var err error
	o.Catalog, err = o.Source.catalog()
	return err
}

// Validate checks the flags and plans the selection.
func (o *ImagesOptions) Validate() error {
	if err := o.Source.validate(); err != nil {
		return err
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

// NewCmdImages returns `paddlex install images`.
func NewCmdImages(f *cmdutil.Factory) *cobra.Command {
	o := &ImagesOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "images",
		Short: "List every container image the install and the commands run",
		Long: `List every container image a profile's install runs (read from the rendered
upstream manifests and paddlex's own), and the images the commands run: the
Paddle Serving runtime, the MinIO client of modelhub and serve, and the Paddle
suites' images of the built-in pipelines. One per line, sorted and unique, for
crane copy or skopeo scripts. With --image-registry each line is
"SOURCE TARGET", the target being where --image-registry makes the cluster
pull from.`,
		Example: `  paddlex install images --profile standalone
  paddlex install images --image-registry mirror.example:5000/paddlex | while read src dst; do crane copy "$src" "$dst"; done`,
		Args: cobra.NoArgs,
		RunE: cmdutil.PhasedRunE(f, o, nil),
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Profile, "profile", install.ProfileFull, "profile whose images to list: standalone or full")
	fs.StringVar(&o.Networking, "networking", "", "Knative networking layer: kourier or istio")
	fs.StringSliceVar(&o.Components, "components", nil, "list only these components' images")
	fs.StringSliceVar(&o.Skip, "skip", nil, "leave these components out")
	o.Source.addFlags(fs)
	return cmd
}

// Run prints the images.
func (o *ImagesOptions) Run(ctx context.Context) error {
	imgs, err := planImages(ctx, o.Catalog, o.Plan, &o.Source, o.Networking, func(s string) { fmt.Fprintln(o.Streams.ErrOut, s) })
	if err != nil {
		return err
	}
	for _, img := range imgs {
		if o.Registry != "" {
			fmt.Fprintf(o.Streams.Out, "%s %s\n", img, o.Registry.Rewrite(img))
			continue
		}
		fmt.Fprintln(o.Streams.Out, img)
	}
	return nil
}

// planImages renders the plan (with placeholder credentials: images do not
// depend on them) and returns its images and the commands', sorted and
// unique.
func planImages(ctx context.Context, cat *install.Catalog, plan []*install.Component, src *SourceFlags, networking string, say func(string)) ([]string, error) {
	fetcher, err := src.fetcher(cat, say)
	if err != nil {
		return nil, err
	}
	arts, err := fetcher.FetchAll(ctx, plan)
	if err != nil {
		return nil, fetchError(err)
	}
	if networking == "" {
		networking = install.NetworkingKourier
	}
	settings := install.Settings{Networking: networking, Domain: "paddlex.example", Secrets: map[string]string{}}
	for _, c := range cat.Components {
		for _, s := range c.Seeds {
			settings.Secrets[s.Key] = "placeholder"
		}
	}
	settings.Secrets[install.SeedRedisPassword] = "placeholder"
	rendered, err := install.Render(plan, arts, settings)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{serve.DefaultImage: true, modelhub.DefaultImage: true}
	for _, img := range image.List(install.Objects(rendered)) {
		set[img] = true
	}
	for _, c := range plan {
		for _, img := range c.Images {
			set[img] = true
		}
	}
	pimgs, err := pipelineImages()
	if err != nil {
		return nil, err
	}
	for _, img := range pimgs {
		set[img] = true
	}
	return image.Sorted(set), nil
}

// pipelineImages are the images the built-in pipelines' steps run, read
// from their compiled Workflows (resource steps carry their objects as
// manifests).
func pipelineImages() ([]string, error) {
	bs, err := pipeline.Builtins(manifests.Pipelines, "pipelines")
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, b := range bs {
		p, err := pipeline.Load(b.Data, "built-in pipeline "+b.Name, nil)
		if err != nil {
			return nil, err
		}
		p.Complete(cmdutil.DefaultNamespace)
		c, err := pipeline.Compile(p, pipeline.Options{})
		if err != nil {
			return nil, fmt.Errorf("built-in pipeline %s: %w", b.Name, err)
		}
		wf, err := c.Objects()
		if err != nil {
			return nil, err
		}
		objs = append(objs, wf...)
		for _, t := range c.Workflow.Spec.Templates {
			if t.Resource == nil || t.Resource.Manifest == "" {
				continue
			}
			var m map[string]any
			if err := yaml.Unmarshal([]byte(t.Resource.Manifest), &m); err != nil {
				return nil, fmt.Errorf("built-in pipeline %s: %w", b.Name, err)
			}
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	return image.List(objs), nil
}
