package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/image"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/manifests"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

// RunOptions are the options of `pipeline run`.
type RunOptions struct {
	File           string
	Builtin        string
	Sets           []string
	GenerateName   bool
	Watch          bool
	ServiceAccount string
	ImageRegistry  image.Registry
	Apply          cmdutil.ApplyFlags
	Output         cmdutil.OutputFlags

	// Pipeline is the loaded, completed and validated pipeline.
	Pipeline *pipeline.Pipeline

	Streams cmdutil.IOStreams
	Kube    kube.Interface
	stepLogs
	Now func() time.Time
}

// NewCmdRun returns `pipeline run`; runF replaces Run in tests.
func NewCmdRun(f *cmdutil.Factory, runF func(*RunOptions) error) *cobra.Command {
	o := &RunOptions{Streams: f.Streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "run (-f FILE | --builtin NAME) [--set STEP.KEY=VALUE ...]",
		Short: "Compile a pipeline to an Argo Workflow and submit it",
		Long: `Compile a pipeline file (or a built-in pipeline) to one Argo Workflow and
submit it. Each step creates the same objects its command would (dataset,
train, modelhub, serve), or runs a container, or manages one object; Argo
waits on each until its phase says done.

Each run has its own ServiceAccount, pipeline-runner-RUN, with a Role
granting exactly what its steps need: both are applied first and then owned
by the Workflow, so deleting the run deletes them. The steps' pods mount no
token (a container step asks for one with service_account_token: true).
--service-account runs it as an existing account instead and applies no RBAC. The task volume is a
volumeClaimTemplate: the claim is WORKFLOW-NAME-task-center.

--set overrides a key of a step's spec (STEP.KEY=VALUE, nested keys with
dots), a parameter (params.NAME=VALUE), the volume (volume.size=50Gi), or the
name and namespace. --watch follows the run: a live tree on a terminal, one
line per step change otherwise, JSON lines with -o json; it exits 0 when the
workflow succeeds, 1 when it fails (naming the failing step) and 3 on
--timeout.

--dry-run=client -o yaml prints exactly what would be applied;
--dry-run=server also sends every object the steps will create to the API
server with dry-run, so the cluster's schemas check them.`,
		Example: `  paddlex pipeline run --builtin ppocr-det --watch
  paddlex pipeline run -f my-pipeline.yaml --set train.worker_replicas=2 --generate-name
  paddlex pipeline run --builtin ppocr-det --dry-run=client -o yaml
  paddlex pipeline run --builtin ppocr-det --dry-run=server`,
		Args: cobra.NoArgs,
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.File, "filename", "f", "", "pipeline file (YAML or JSON, - for stdin)")
	fs.StringVar(&o.Builtin, "builtin", "", "run a built-in pipeline (see 'paddlex pipeline builtins')")
	fs.StringArrayVar(&o.Sets, "set", nil, "override STEP.KEY=VALUE, params.NAME=VALUE or volume.KEY=VALUE (repeatable)")
	fs.BoolVar(&o.GenerateName, "generate-name", false, "name the workflow NAME-xxxxx so that runs do not collide")
	fs.BoolVar(&o.Watch, "watch", false, "follow the run until it finishes")
	fs.StringVar(&o.ServiceAccount, "service-account", "", "run as this existing ServiceAccount and apply no RBAC")
	o.Apply.AddFlags(fs, false, 0)
	_ = fs.MarkHidden("wait")
	_ = cmd.RegisterFlagCompletionFunc("builtin", completeBuiltins)
	o.Output.AddFlags(fs)
	return cmd
}

// readPipeline loads -f or --builtin with the --set overrides.
func readPipeline(file, builtin string, sets []string, stdin io.Reader) (*pipeline.Pipeline, error) {
	switch {
	case file != "" && builtin != "":
		return nil, exit.UsageErrorf("-f and --builtin are exclusive: give one")
	case builtin != "":
		bs, err := pipeline.Builtins(manifests.Pipelines, "pipelines")
		if err != nil {
			return nil, err
		}
		b, err := pipeline.FindBuiltin(bs, builtin)
		if err != nil {
			return nil, err
		}
		return pipeline.Load(b.Data, "--builtin "+builtin, sets)
	case file != "":
		var data []byte
		var err error
		if file == "-" {
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(file)
		}
		if err != nil {
			return nil, exit.UsageErrorf("-f %s: %v", file, err)
		}
		return pipeline.Load(data, "-f "+file, sets)
	}
	return nil, exit.UsageErrorf("a pipeline is required: -f FILE or --builtin NAME (see `paddlex pipeline builtins`)")
}

// Complete loads the pipeline and resolves its namespace: -n wins, then
// the file's namespace, then the context's.
func (o *RunOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, _ []string) error {
	p, err := readPipeline(o.File, o.Builtin, o.Sets, o.Streams.In)
	if err != nil {
		return err
	}
	ns := f.Namespace()
	if cmdutil.Changed(cmd.Flags(), "namespace") {
		p.Namespace = ns
	}
	p.Complete(ns)
	o.Pipeline = p
	o.ImageRegistry = f.ImageRegistry
	return nil
}

// RunTimeout is --timeout.
func (o *RunOptions) RunTimeout() time.Duration { return o.Apply.Timeout }

// Validate checks flags and the pipeline without contacting the cluster.
func (o *RunOptions) Validate() error {
	if err := validateSubmit(&o.Apply, o.Output.Output, o.Watch); err != nil {
		return err
	}
	if o.Watch && o.Output.Output != "" && o.Output.Output != "json" {
		return exit.UsageErrorf("--watch prints a tree, lines, or with -o json JSON lines: -o %s does not apply", o.Output.Output)
	}
	if o.ServiceAccount != "" {
		if err := validate.Subdomain("--service-account", o.ServiceAccount); err != nil {
			return err
		}
	}
	return o.Pipeline.Validate()
}

// Connect builds the clients; a client dry run needs none.
func (o *RunOptions) Connect(f *cmdutil.Factory) error {
	if o.Apply.ClientDryRun() {
		return nil
	}
	var err error
	if o.Kube, err = f.Kube(); err != nil {
		return err
	}
	return o.stepLogs.connect(f)
}

// Run compiles, applies the runner's RBAC, submits the Workflow and, with
// --watch, follows it.
func (o *RunOptions) Run(ctx context.Context) error {
	p := o.Pipeline
	opts := pipeline.Options{ServiceAccount: o.ServiceAccount, GenerateName: o.GenerateName, ImageRegistry: o.ImageRegistry}
	if o.GenerateName && !o.Apply.ClientDryRun() {
		// The run's own account is named after the run.
		opts.Name = pipeline.RunName(p.Name)
	}
	compiled, err := pipeline.Compile(p, opts)
	if err != nil {
		return err
	}
	objs, err := compiled.Objects()
	if err != nil {
		return err
	}
	for _, g := range p.DatasetGaps() {
		o.warnGap(ctx, g)
	}
	if o.Apply.ClientDryRun() {
		return o.print(objs, objs[len(objs)-1], "(dry run)")
	}

	dry := o.Apply.DryRun == cmdutil.DryRunServer
	wf := objs[len(objs)-1]
	created, err := submit(ctx, o.Kube, o.Apply, compiled.RBAC, wf)
	if err != nil {
		return err
	}
	if dry {
		n, err := o.dryRunSteps(ctx, compiled, created.GetName())
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Streams.ErrOut, "the API server accepts the workflow and the %d objects its steps create (server dry run)\n", n)
		return o.print(append(objs[:len(objs)-1:len(objs)-1], created), created, "(server dry run)")
	}
	if !o.Watch {
		if err := o.print([]*unstructured.Unstructured{created}, created, "submitted"); err != nil {
			return err
		}
		fmt.Fprintf(o.Streams.ErrOut, "follow it: paddlex pipeline get %s -n %s (or run with --watch)\n", created.GetName(), created.GetNamespace())
		return nil
	}
	if o.Output.Output == "" {
		fmt.Fprintf(o.Streams.ErrOut, "workflow.argoproj.io/%s submitted\n", created.GetName())
	}
	v := newView(o.Streams.Out, o.Streams.OutTTY, o.Output.Output == "json", o.Now)
	return follow(ctx, o.Kube, o.Clientset, kube.RefOf(created), v, o.Streams.ErrOut, o.Apply.Timeout)
}

// dryRunSteps sends every object the steps create or apply to the API
// server with dry-run, Argo's variables resolved for the workflow name.
func (o *RunOptions) dryRunSteps(ctx context.Context, c *pipeline.Compiled, wfName string) (int, error) {
	var objs []*unstructured.Unstructured
	for _, t := range pipeline.ResourceTemplates(c.Workflow) {
		if t.Resource.Action == paddle.ActionDelete {
			continue
		}
		t.Resource.Manifest = strings.ReplaceAll(t.Resource.Manifest, "{{workflow.name}}", wfName)
		obj, err := pipeline.Manifest(t)
		if err != nil {
			return 0, err
		}
		objs = append(objs, obj)
	}
	opts := o.Apply.ApplyOptions()
	opts.DryRun = kube.DryRunServer
	if _, err := o.Kube.Apply(ctx, objs, opts); err != nil {
		return 0, fmt.Errorf("a step's object fails server dry run: %w", err)
	}
	return len(objs), nil
}

// warnGap warns about a train step whose data set no earlier step
// provides, unless the cluster already holds it (a SampleSet of that name,
// or the data set's SampleJobs).
func (o *RunOptions) warnGap(ctx context.Context, g pipeline.DatasetGap) {
	msg := "warning: " + g.String()
	if o.Kube == nil {
		fmt.Fprintln(o.Streams.ErrOut, msg+" (not checked against the cluster: client dry run)")
		return
	}
	if g.Unordered == "" {
		ns := o.Pipeline.Namespace
		if _, err := o.Kube.Get(ctx, kube.ObjectRef{GVK: paddle.SampleSetGVK, Namespace: ns, Name: g.Dataset}); err == nil {
			return
		}
		jobs, err := o.Kube.List(ctx, paddle.SampleJobGVK, kube.ListOptions{Namespace: ns, LabelSelector: paddle.LabelDataset + "=" + g.Dataset})
		if err == nil && len(jobs) > 0 {
			return
		}
		if err != nil && !apierrors.IsNotFound(err) && !errors.As(err, new(*kube.PreconditionError)) {
			msg += fmt.Sprintf(" (cannot check the cluster: %v)", err)
		} else {
			msg += fmt.Sprintf(", and the cluster has none in namespace %s: add a dataset step or run `paddlex dataset create %s`", ns, g.Dataset)
		}
	}
	fmt.Fprintln(o.Streams.ErrOut, msg)
}

func (o *RunOptions) print(objs []*unstructured.Unstructured, wf *unstructured.Unstructured, suffix string) error {
	return printObjects(o.Output, o.Streams, objs, wf, suffix)
}

// printRun prints one submitted Workflow.
func printRun(out cmdutil.OutputFlags, streams cmdutil.IOStreams, wf *unstructured.Unstructured, suffix string) error {
	return printObjects(out, streams, []*unstructured.Unstructured{wf}, wf, suffix)
}

func printObjects(out cmdutil.OutputFlags, streams cmdutil.IOStreams, objs []*unstructured.Unstructured, wf *unstructured.Unstructured, suffix string) error {
	o := struct {
		Output  cmdutil.OutputFlags
		Streams cmdutil.IOStreams
	}{out, streams}
	switch o.Output.Output {
	case "yaml", "json":
		return o.Output.PrintObjects(o.Streams.Out, objs)
	case "name":
		_, err := fmt.Fprintf(o.Streams.Out, "workflow.argoproj.io/%s\n", wfName(wf))
		return err
	}
	for _, obj := range objs {
		name := obj.GetName()
		if obj == wf {
			name = wfName(wf)
		}
		fmt.Fprintf(o.Streams.Out, "%s/%s %s\n", resourceName(obj), name, suffix)
	}
	return nil
}

func wfName(wf *unstructured.Unstructured) string {
	if wf.GetName() != "" {
		return wf.GetName()
	}
	return wf.GetGenerateName() + "<generated>"
}

func resourceName(obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	kind := strings.ToLower(gvk.Kind)
	if gvk.Group == "" {
		return kind
	}
	return kind + "." + gvk.Group
}

// validateSubmit checks the flags run and retry share: the apply flags,
// --output, and --watch only for a run really submitted.
func validateSubmit(apply *cmdutil.ApplyFlags, output string, watch bool) error {
	if err := apply.Validate(); err != nil {
		return err
	}
	switch output {
	case "", "yaml", "json", "name":
	default:
		return exit.UsageErrorf("--output must be yaml, json or name, not %q", output)
	}
	if watch && apply.DryRun != cmdutil.DryRunNone {
		return exit.UsageErrorf("--watch follows a submitted run: it cannot be combined with --dry-run")
	}
	return nil
}
