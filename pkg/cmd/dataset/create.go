package dataset

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/dataset"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// CreateOptions are the options of `dataset create|apply|patch`.
type CreateOptions struct {
	// Verb is the command's own action; Spec.Action may override it.
	Verb   string
	File   string
	Spec   dataset.Spec
	Apply  cmdutil.ApplyFlags
	Output cmdutil.OutputFlags

	Streams cmdutil.IOStreams
	Kube    kube.Interface
}

// NewCmdCreate returns `dataset create`, `apply` or `patch`; runF replaces Run in tests.
func NewCmdCreate(f *cmdutil.Factory, verb string, runF func(*CreateOptions) error) *cobra.Command {
	o := &CreateOptions{Verb: verb, Streams: f.Streams}
	short := map[string]string{
		paddle.ActionCreate: "Cache a new data set in the cluster",
		paddle.ActionApply:  "Cache a data set, creating or updating its objects",
		paddle.ActionPatch:  "Update the cache of a data set that exists",
	}[verb]
	cmd := &cobra.Command{
		Use:   verb + " NAME --source-uri URI [--source-secret SECRET] [--partitions N]",
		Short: short,
		Long: short + `.

It applies, in order and waiting on each: the SampleSet cache (data-center
unless --sampleset), a "sync" SampleJob that copies --source-uri into it, and a
"warmup" SampleJob that loads it onto the cache nodes; then it removes the two
SampleJobs. With --wait=false it applies all three and returns.

-f takes a spec file with the original API's keys (name, namespace, action,
partitions, source_uri, source_secret, sampleset); flags override the file.
--action (or the file's action key) overrides the verb.`,
		Example: fmt.Sprintf(`  paddlex dataset %[1]s icdar2015 --source-uri bos://paddleflow-public.hkg.bcebos.com/icdar2015/ --source-secret icdar2015
  paddlex dataset %[1]s -f icdar2015.yaml
  paddlex dataset %[1]s imagenet --source-uri s3://data/imagenet/ --partitions 3 --dry-run=client -o yaml`, verb),
		Args: cobra.MaximumNArgs(1),
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.File, "filename", "f", "", "spec file (YAML or JSON, - for stdin) with the Dataset API's keys")
	fs.StringVar(&o.Spec.Action, "action", "", "create, apply, patch or delete; overrides the verb")
	fs.Int32Var(&o.Spec.Partitions, "partitions", 1, fmt.Sprintf("cache partitions, 1-%d: one partition is one cache node", validate.MaxReplicas))
	fs.StringVar(&o.Spec.SourceURI, "source-uri", "", "where the samples are stored, e.g. bos://paddleflow/imagenet/")
	fs.StringVar(&o.Spec.SourceSecret, "source-secret", "", "Secret with the access keys of the sample storage")
	fs.StringVar(&o.Spec.SampleSet, "sampleset", paddle.DefaultSampleSet, "SampleSet cache the data set goes into")
	fs.StringVar(&o.Spec.CacheSecret, "cache-secret", paddle.DataCenterSecret, "JuiceFS Secret the SampleSet cache mounts with")
	o.Apply.AddFlags(fs, true, time.Hour)
	o.Output.AddFlags(fs)
	return cmd
}

// Complete merges the spec file, the flags the user set and the namespace.
func (o *CreateOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	flags := o.Spec
	if o.File != "" {
		var file dataset.Spec
		if err := cmdutil.LoadSpecFile(o.File, o.Streams.In, &file); err != nil {
			return err
		}
		o.Spec = file
		fs := cmd.Flags()
		for name, set := range map[string]func(){
			"action":        func() { o.Spec.Action = flags.Action },
			"partitions":    func() { o.Spec.Partitions = flags.Partitions },
			"source-uri":    func() { o.Spec.SourceURI = flags.SourceURI },
			"source-secret": func() { o.Spec.SourceSecret = flags.SourceSecret },
			"sampleset":     func() { o.Spec.SampleSet = flags.SampleSet },
			"cache-secret":  func() { o.Spec.CacheSecret = flags.CacheSecret },
		} {
			if cmdutil.Changed(fs, name) {
				set()
			}
		}
		if o.Spec.Action != "" {
			if err := validate.Action("-f "+o.File+": action", o.Spec.Action); err != nil {
				return err
			}
		}
	}
	if len(args) == 1 {
		if o.Spec.Name != "" && o.Spec.Name != args[0] {
			return exit.UsageErrorf("NAME %q differs from the spec file's name %q", args[0], o.Spec.Name)
		}
		o.Spec.Name = args[0]
	}
	if o.Spec.Name == "" {
		return exit.UsageErrorf("a data set NAME is required, as an argument or the spec file's name key")
	}
	if o.Spec.Namespace == "" || cmdutil.Changed(cmd.Flags(), "namespace") {
		o.Spec.Namespace = f.Namespace()
	}
	if o.Spec.Action == "" {
		o.Spec.Action = o.Verb
	}
	o.Spec.Defaults()
	if cmdutil.Changed(cmd.Flags(), "partitions") {
		// An explicit --partitions 0 is an error, not a request for the default.
		o.Spec.Partitions = flags.Partitions
	}
	return nil
}

// Validate checks flags and spec without contacting the cluster.
func (o *CreateOptions) Validate() error {
	if err := o.Apply.Validate(); err != nil {
		return err
	}
	if err := o.Output.Validate(); err != nil {
		return err
	}
	if o.Spec.Action == paddle.ActionDelete {
		if err := o.Apply.ValidateDelete(); err != nil {
			return err
		}
	}
	return o.Spec.Validate()
}

// RunTimeout is --timeout.
func (o *CreateOptions) RunTimeout() time.Duration { return o.Apply.Timeout }

// Connect builds the clients; nothing is needed for a client dry run.
func (o *CreateOptions) Connect(f *cmdutil.Factory) error {
	if o.Apply.ClientDryRun() {
		return nil
	}
	var err error
	o.Kube, err = f.Kube()
	return err
}

// Run renders, applies and waits.
func (o *CreateOptions) Run(ctx context.Context) error {
	if o.Spec.Action == paddle.ActionDelete {
		d := &DeleteOptions{Name: o.Spec.Name, Namespace: o.Spec.Namespace, SampleSet: o.Spec.SampleSet,
			Delete: o.Apply.ForDelete(), Streams: o.Streams, Engine: cmdutil.Engine{Kube: o.Kube}}
		return d.Run(ctx)
	}
	objs := dataset.Render(o.Spec)
	if o.Apply.ClientDryRun() {
		return o.print(objs, "(dry run)")
	}
	if err := o.preflight(ctx); err != nil {
		return err
	}
	opts := o.Apply.ApplyOptions()
	if !o.Apply.Wait || opts.DryRun == kube.DryRunServer {
		applied, err := o.Kube.Apply(ctx, objs, opts)
		if err != nil {
			return err
		}
		suffix := ""
		if opts.DryRun == kube.DryRunServer {
			suffix = "(server dry run)"
		}
		return o.print(applied, suffix)
	}

	// Sync needs the cache mounted, and warmup needs the synced files:
	// each step waits for the one before it.
	steps := []struct {
		obj  *unstructured.Unstructured
		cond kube.Condition
	}{
		{objs[0], dataset.SampleSetCondition()},
		{objs[1], dataset.SampleJobCondition()},
		{objs[2], dataset.SampleJobCondition()},
	}
	var applied []*unstructured.Unstructured
	for _, s := range steps {
		out, err := o.Kube.Apply(ctx, []*unstructured.Unstructured{s.obj}, opts)
		if err != nil {
			return o.leftBehind(applied, err)
		}
		applied = append(applied, out...)
		if _, err := o.Kube.Wait(ctx, kube.RefOf(s.obj), s.cond); err != nil {
			return o.leftBehind(applied, err)
		}
	}
	// The SampleJobs have done their work; the data stays in the cache.
	jobs := []kube.ObjectRef{kube.RefOf(objs[1]), kube.RefOf(objs[2])}
	if err := o.Kube.Delete(ctx, jobs, kube.DeleteOptions{IgnoreNotFound: true, Wait: true}); err != nil {
		return fmt.Errorf("data set %s is cached, but cleaning up its SampleJobs failed: %w", o.Spec.Name, err)
	}
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, applied[:1])
	}
	_, err := fmt.Fprintf(o.Streams.Out, "dataset %s cached in SampleSet %s/%s: training pods read it at %s\n",
		o.Spec.Name, o.Spec.Namespace, o.Spec.SampleSet, o.Spec.MountPath())
	return err
}

// preflight reports up front what would otherwise only show as a Warning
// event and a wait that never ends.
func (o *CreateOptions) preflight(ctx context.Context) error {
	secretGVK := corev1.SchemeGroupVersion.WithKind("Secret")
	for _, s := range []struct{ name, flag string }{{o.Spec.SourceSecret, "--source-secret"}, {o.Spec.CacheSecret, "--cache-secret"}} {
		if s.name == "" {
			continue
		}
		_, err := o.Kube.Get(ctx, kube.ObjectRef{GVK: secretGVK, Namespace: o.Spec.Namespace, Name: s.name})
		switch {
		case err == nil:
		case apierrors.IsNotFound(err):
			hint := "create it with the storage's access keys"
			if s.flag == "--cache-secret" && s.name == paddle.DataCenterSecret {
				hint = "run `" + install.PrerequisitesCommand(o.Spec.Namespace) + "` to create it"
			} else if s.flag == "--cache-secret" {
				hint = "create it with the JuiceFS settings of data-center (name, metaurl, storage, bucket, access-key, secret-key)"
			}
			return exit.PreconditionErrorf("%s: Secret %s/%s does not exist: %s", s.flag, o.Spec.Namespace, s.name, hint)
		case kube.IsForbidden(err):
			fmt.Fprintf(o.Streams.ErrOut, "warning: cannot check that Secret %s/%s exists: %v\n", o.Spec.Namespace, s.name, err)
		default:
			return err
		}
	}
	switch o.Spec.Action {
	case paddle.ActionPatch:
		ref := kube.RefOf(dataset.RenderSampleSet(o.Spec))
		if _, err := o.Kube.Get(ctx, ref); apierrors.IsNotFound(err) {
			return exit.FailedErrorf("patch: %s does not exist: use `paddlex dataset create` first", ref)
		} else if err != nil {
			return err
		}
	case paddle.ActionCreate:
		ref := kube.RefOf(dataset.RenderSyncJob(o.Spec))
		if _, err := o.Kube.Get(ctx, ref); err == nil {
			return exit.FailedErrorf("create: data set %s is already being synced (%s exists): use `paddlex dataset apply` to update it", o.Spec.Name, ref)
		} else if !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// leftBehind adds to err what stays in the cluster after a failed step.
func (o *CreateOptions) leftBehind(applied []*unstructured.Unstructured, err error) error {
	if len(applied) == 0 {
		return err
	}
	names := make([]string, len(applied))
	for i, a := range applied {
		names[i] = kube.RefOf(a).String()
	}
	fmt.Fprintf(o.Streams.ErrOut, "left in the cluster: %s\n  inspect: paddlex dataset describe %s -n %s\n  remove:  paddlex dataset delete %s -n %s\n",
		strings.Join(names, ", "), o.Spec.SampleSet, o.Spec.Namespace, o.Spec.Name, o.Spec.Namespace)
	return err
}

func (o *CreateOptions) print(objs []*unstructured.Unstructured, suffix string) error {
	return o.Output.PrintApplied(o.Streams.Out, objs, o.Spec.Action, suffix)
}
