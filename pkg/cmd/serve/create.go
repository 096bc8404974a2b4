package serve

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	modelhubcmd "github.com/paddleflow/paddlex/pkg/cmd/modelhub"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/modelstore"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/serve"
)

// CreateOptions are the options of `serve create|apply|patch`.
type CreateOptions struct {
	// Verb is the command's own action; Spec.Action may override it.
	Verb   string
	File   string
	Spec   serve.Spec
	Env    []string
	Apply  cmdutil.ApplyFlags
	Output cmdutil.OutputFlags

	// S3 reaches the model center, where Run resolves a tag (latest, or no
	// --model-version) to the version it points to.
	S3    modelhubcmd.S3Options
	Store *modelstore.Store

	Streams cmdutil.IOStreams
	Kube    kube.Interface
}

// NewCmdCreate returns `serve create`, `apply` or `patch`; runF replaces Run in tests.
func NewCmdCreate(f *cmdutil.Factory, verb string, runF func(*CreateOptions) error) *cobra.Command {
	o := &CreateOptions{Verb: verb, Streams: f.Streams}
	short := map[string]string{
		paddle.ActionCreate: "Serve a model version as a new Knative Service",
		paddle.ActionApply:  "Serve a model version, creating or updating its Knative Service",
		paddle.ActionPatch:  "Update the Knative Service of a served model that exists",
	}[verb]
	cmd := &cobra.Command{
		Use:   verb + " NAME --model-version VERSION [--image IMAGE:TAG] [--min-scale N] [--max-scale N]",
		Short: short,
		Long: short + `.

It renders a Knative Service whose revision NAME-VERSION fetches the model
from the model center, verifies its sha256 and serves it with Paddle Serving
on --port, then waits until the Service is Ready and prints its URL. The
revision gets all the traffic, tagged "current"; to shift traffic gradually
use ` + "`paddlex serve rollout`" + ` instead.

Without --model-version, or with latest, the version is the one the model
center's latest tag points to at that moment (paddlex modelhub tag): it is
looked up in the model center, with the keys of --secret, said on stderr and
recorded on the Service (annotation paddlex.io/model-tag), and the revision
serves that version, NAME-VERSION, even after latest moves on.

A revision never changes: to change the scaling or environment of a model
version that is being served, use ` + "`paddlex serve update`" + `, which serves it
as a new revision.

-f takes a spec file with the Serving API's keys (name, namespace, action,
image, model_name, model_version, endpoint, port, min_scale, max_scale,
secret, target, metric, gpu, cpu, memory, env); flags override the file. --action
(or the file's action key) overrides the verb.`,
		Example: fmt.Sprintf(`  paddlex serve %[1]s ppocr-det --model-version v1
  paddlex serve %[1]s ppocr-det --model-version v1 --min-scale 1 --max-scale 5 --target 10 --gpu 1
  paddlex serve %[1]s -f ppocr-det.yaml
  paddlex serve %[1]s ppocr-det --model-version v1 --dry-run=client -o yaml`, verb),
		Args: cobra.MaximumNArgs(1),
		RunE: cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.File, "filename", "f", "", "spec file (YAML or JSON, - for stdin) with the Serving API's keys")
	fs.StringVar(&o.Spec.Action, "action", "", "create, apply, patch or delete; overrides the verb")
	fs.StringVar(&o.Spec.Image, "image", serve.DefaultImage, "Paddle Serving runtime image, with a tag or digest")
	fs.StringVar(&o.Spec.ModelName, "model-name", "", "model in the model center (default NAME)")
	fs.StringVar(&o.Spec.ModelVersion, "model-version", "", "model version to serve, as pushed with 'paddlex modelhub push'; names the revision NAME-VERSION (default: the version latest points to now)")
	fs.StringVar(&o.Spec.Endpoint, "endpoint", modelhub.DefaultEndpoint, "model center's S3 endpoint, as pods in the cluster reach it")
	fs.StringVar(&o.Spec.Secret, "secret", paddle.DataCenterSecret, "Secret with the model center's keys (access-key, secret-key) in the service's namespace")
	fs.Int32Var(&o.Spec.Port, "port", serve.DefaultPort, "port the model server listens on")
	fs.Int32Var(&o.Spec.MinScale, "min-scale", 0, fmt.Sprintf("fewest pods kept running, 0-%d; 0 scales to zero when idle", validate.MaxReplicas))
	fs.Int32Var(&o.Spec.MaxScale, "max-scale", 0, fmt.Sprintf("most pods, up to %d; 0 leaves it to the cluster's limit", validate.MaxReplicas))
	fs.Int32Var(&o.Spec.Target, "target", 0, fmt.Sprintf("per-pod value of --metric the autoscaler aims at, up to %d (default: Knative's)", validate.MaxTarget))
	fs.StringVar(&o.Spec.Metric, "metric", serve.MetricConcurrency, "what the autoscaler scales on: concurrency (in-flight requests per pod) or rps")
	fs.Int32Var(&o.Spec.GPU, "gpu", 0, fmt.Sprintf("GPUs per pod (nvidia.com/gpu), 0-%d", validate.MaxGPUs))
	fs.StringVar(&o.Spec.CPU, "cpu", "", "CPU each pod requests, e.g. 2 or 500m")
	fs.StringVar(&o.Spec.Memory, "memory", "", "memory each pod requests and is limited to, e.g. 4Gi")
	fs.StringArrayVar(&o.Env, "env", nil, "environment variable of the model server as KEY=VALUE (repeatable)")
	o.Apply.AddFlags(fs, true, 10*time.Minute)
	o.Output.AddFlags(fs)
	return cmd
}

// Complete merges the spec file, the flags the user set and the namespace.
func (o *CreateOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	flags := o.Spec
	fs := cmd.Flags()
	if o.File != "" {
		var file serve.Spec
		if err := cmdutil.LoadSpecFile(o.File, o.Streams.In, &file); err != nil {
			return err
		}
		o.Spec = file
		for name, set := range map[string]func(){
			"action":        func() { o.Spec.Action = flags.Action },
			"image":         func() { o.Spec.Image = flags.Image },
			"model-name":    func() { o.Spec.ModelName = flags.ModelName },
			"model-version": func() { o.Spec.ModelVersion = flags.ModelVersion },
			"endpoint":      func() { o.Spec.Endpoint = flags.Endpoint },
			"secret":        func() { o.Spec.Secret = flags.Secret },
			"port":          func() { o.Spec.Port = flags.Port },
			"min-scale":     func() { o.Spec.MinScale = flags.MinScale },
			"max-scale":     func() { o.Spec.MaxScale = flags.MaxScale },
			"target":        func() { o.Spec.Target = flags.Target },
			"metric":        func() { o.Spec.Metric = flags.Metric },
			"gpu":           func() { o.Spec.GPU = flags.GPU },
			"cpu":           func() { o.Spec.CPU = flags.CPU },
			"memory":        func() { o.Spec.Memory = flags.Memory },
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
	if len(o.Env) > 0 {
		env := map[string]string{}
		for k, v := range o.Spec.Env {
			env[k] = v
		}
		for _, kv := range o.Env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return exit.UsageErrorf("--env %q: write it as KEY=VALUE", kv)
			}
			env[k] = v
		}
		o.Spec.Env = env
	}
	if len(args) == 1 {
		if o.Spec.Name != "" && o.Spec.Name != args[0] {
			return exit.UsageErrorf("NAME %q differs from the spec file's name %q", args[0], o.Spec.Name)
		}
		o.Spec.Name = args[0]
	}
	if o.Spec.Name == "" {
		return exit.UsageErrorf("a service NAME is required, as an argument or the spec file's name key")
	}
	if o.Spec.Namespace == "" || cmdutil.Changed(fs, "namespace") {
		o.Spec.Namespace = f.Namespace()
	}
	if o.Spec.Action == "" {
		o.Spec.Action = o.Verb
	}
	// Defaults would turn an explicit --port 0 into 8040.
	if cmdutil.Changed(fs, "port") && o.Spec.Port == 0 {
		return exit.UsageErrorf("--port 0 is out of range: use 1-65535 (default %d)", serve.DefaultPort)
	}
	o.Spec.Defaults()
	if o.Spec.Action != paddle.ActionDelete && (o.Spec.ModelVersion == "" || o.Spec.ModelVersion == modelhub.DefaultVersion) {
		o.Spec.ModelVersion, o.Spec.ModelTag = "", modelhub.DefaultVersion
	}
	if f.ImageRegistry != "" {
		o.Spec.ImageRegistry = f.ImageRegistry
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
	if o.Spec.ModelTag == "" {
		return o.Spec.Validate()
	}
	if o.Apply.ClientDryRun() {
		return exit.UsageErrorf("--model-version: %s is resolved against the model center when applied, and a client dry run contacts nothing: give the version itself (list them with `paddlex modelhub versions %s`), or use --dry-run=server", o.Spec.ModelTag, o.Spec.ModelName)
	}
	// The version is known only in Run: check the rest now.
	s := o.Spec
	s.ModelVersion = "v1"
	return s.Validate()
}

// RunTimeout is --timeout.
func (o *CreateOptions) RunTimeout() time.Duration { return o.Apply.Timeout }

// Connect builds the clients; nothing is needed for a client dry run.
func (o *CreateOptions) Connect(f *cmdutil.Factory) error {
	if o.Apply.ClientDryRun() {
		return nil
	}
	var err error
	if o.Kube, err = f.Kube(); err != nil {
		return err
	}
	if o.Spec.ModelTag != "" {
		o.S3.Complete(f)
		o.S3.Endpoint, o.S3.Secret, o.S3.Namespace = o.Spec.Endpoint, o.Spec.Secret, o.Spec.Namespace
	}
	return nil
}

// resolveTag looks up the version the spec's tag points to in the model
// center, and serves that version.
func (o *CreateOptions) resolveTag(ctx context.Context) error {
	v, err := resolveTag(ctx, &o.S3, &o.Store, o.Spec.Name, o.Spec.ModelName, o.Spec.ModelTag)
	if err != nil {
		return err
	}
	o.Spec.ModelVersion = v
	fmt.Fprintf(o.Streams.ErrOut, "model %s:%s is version %s: serving %s:%s as revision %s\n",
		o.Spec.ModelName, o.Spec.ModelTag, v, o.Spec.ModelName, v, o.Spec.RevisionName())
	return nil
}

// resolveTag returns the version a model center tag points to now, for the
// revision of service name (serve create and serve rollout).
func resolveTag(ctx context.Context, s3 *modelhubcmd.S3Options, store **modelstore.Store, name, model, tag string) (string, error) {
	closeStore, err := s3.Open(ctx, store)
	if err != nil {
		return "", fmt.Errorf("resolve %s:%s to a version: %w", model, tag, err)
	}
	defer closeStore()
	m, err := (*store).Get(ctx, modelhub.Ref{Model: model, Version: tag})
	if err != nil {
		return "", fmt.Errorf("resolve %s:%s to a version: %w", model, tag, err)
	}
	if m.TagOf == "" {
		return "", exit.FailedErrorf("%s:%s is a version of its own, not a tag, and a revision serves a fixed version: point %s at a version with `paddlex modelhub tag %s:VERSION %s --force`, or give --model-version",
			model, tag, tag, model, tag)
	}
	if err := serve.ValidateVersion(name, m.TagOf); err != nil {
		return "", fmt.Errorf("%s:%s points to version %s: %w", model, tag, m.TagOf, err)
	}
	return m.TagOf, nil
}

// Run renders, applies and waits.
func (o *CreateOptions) Run(ctx context.Context) error {
	if o.Spec.Action == paddle.ActionDelete {
		d := &DeleteOptions{Name: o.Spec.Name, Namespace: o.Spec.Namespace, Delete: o.Apply.ForDelete(), Streams: o.Streams, Engine: cmdutil.Engine{Kube: o.Kube}}
		return d.Run(ctx)
	}
	for _, w := range o.Spec.Warnings() {
		fmt.Fprintln(o.Streams.ErrOut, "warning:", w)
	}
	if o.Apply.ClientDryRun() {
		return o.print(serve.Render(o.Spec), "(dry run)")
	}
	if err := o.preflight(ctx); err != nil {
		return err
	}
	if o.Spec.ModelTag != "" {
		if err := o.resolveTag(ctx); err != nil {
			return err
		}
	}
	objs := serve.Render(o.Spec)
	opts := o.Apply.ApplyOptions()
	applied, err := o.Kube.Apply(ctx, objs, opts)
	if err != nil {
		return explainApply(err, o.Spec.RevisionName())
	}
	if !o.Apply.Wait || opts.DryRun == kube.DryRunServer {
		suffix := ""
		if opts.DryRun == kube.DryRunServer {
			suffix = "(server dry run)"
		}
		return o.print(applied, suffix)
	}
	ready, err := o.Kube.Wait(ctx, kube.RefOf(objs[0]), kube.ConditionTrue("Ready"))
	if err != nil {
		whatNext(o.Streams.ErrOut, "delete", o.Spec.Name, o.Spec.Namespace)
		return err
	}
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, []*unstructured.Unstructured{ready})
	}
	printReady(o.Streams.Out, o.Streams.ErrOut, ready)
	return nil
}

// preflight checks what the API server would otherwise report late or in
// terms of Knative's internals.
func (o *CreateOptions) preflight(ctx context.Context) error {
	ref := serviceRef(o.Spec.Namespace, o.Spec.Name)
	_, err := o.Kube.Get(ctx, ref)
	switch {
	case err != nil && !apierrors.IsNotFound(err):
		return err
	case err == nil && o.Spec.Action == paddle.ActionCreate:
		return exit.FailedErrorf("create: %s already exists: use `paddlex serve apply` to update it, or `paddlex serve rollout` to shift traffic to a new version gradually", ref)
	case err != nil && o.Spec.Action == paddle.ActionPatch:
		return exit.FailedErrorf("patch: %s does not exist: use `paddlex serve create` first", ref)
	}
	if err := checkSecret(ctx, o.Kube, o.Streams.ErrOut, o.Spec.Namespace, o.Spec.Secret); err != nil {
		return err
	}
	return checkInitContainers(ctx, o.Kube, o.Streams.ErrOut)
}

func (o *CreateOptions) print(objs []*unstructured.Unstructured, suffix string) error {
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, objs)
	}
	for _, obj := range objs {
		line := fmt.Sprintf("service.serving.knative.dev/%s %s", obj.GetName(), cmdutil.PastTense(o.Spec.Action))
		if suffix != "" {
			line += " " + suffix
		}
		fmt.Fprintln(o.Streams.Out, line)
	}
	return nil
}
