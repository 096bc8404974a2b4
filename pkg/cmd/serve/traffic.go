package serve

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/image"
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

// Traffic commands.
const (
	ModeRollout  = "rollout"
	ModePromote  = "promote"
	ModeRollback = "rollback"
)

// TrafficOptions are the options of `serve rollout|promote|rollback`.
type TrafficOptions struct {
	Mode      string
	Name      string
	Namespace string
	// ModelVersion, Image and Percent are rollout's. ModelTag is the
	// model center tag (latest) Run resolves ModelVersion from.
	ModelVersion string
	ModelTag     string
	Image        string
	Percent      int64
	// ImageRegistry is the root's --image-registry: a rollout's candidate
	// runs its images from there. Promote and rollback restore revisions
	// as they were recorded.
	ImageRegistry image.Registry
	Apply         cmdutil.ApplyFlags
	Output        cmdutil.OutputFlags
	cmdutil.Engine

	// S3 reaches the model center, with the service's endpoint and Secret,
	// where Run resolves latest.
	S3    modelhubcmd.S3Options
	Store *modelstore.Store

	Streams cmdutil.IOStreams
}

// NewCmdTraffic returns `serve rollout`, `promote` or `rollback`.
func NewCmdTraffic(f *cmdutil.Factory, mode string, runF func(*TrafficOptions) error) *cobra.Command {
	o := &TrafficOptions{Mode: mode, Streams: f.Streams}
	cmd := &cobra.Command{
		ValidArgsFunction: cmdutil.CompleteNames(f, paddle.KnativeServiceGVK, paddle.LabelServe),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	switch mode {
	case ModeRollout:
		cmd.Use = "rollout NAME --model-version VERSION [--traffic PERCENT]"
		cmd.Short = "Start serving a new model version next to the current one, with a share of the traffic"
		cmd.Long = `Add the revision NAME-VERSION, tagged "candidate", with --traffic percent of
the requests (canary); the current revision keeps the rest. With --traffic 0
the candidate takes no traffic but answers on its own tag URL (blue-green).
The candidate keeps every other setting of the service; --image changes its
runtime image. Run it again to change the candidate's share, then promote or
roll back.

--model-version latest is the version the model center's latest tag points
to at that moment: it is looked up with the service's endpoint and Secret,
said on stderr and recorded on the Service (annotation paddlex.io/model-tag),
and the candidate serves that version even after latest moves on.`
		cmd.Example = `  paddlex serve rollout ppocr-det --model-version v2 --traffic 10
  paddlex serve rollout ppocr-det --model-version v2 --traffic 50
  paddlex serve rollout ppocr-det --model-version v3 --traffic 0   # blue-green: try it on its tag URL first
  paddlex serve rollout ppocr-det --model-version latest           # the version latest points to now`
		cmd.Flags().StringVar(&o.ModelVersion, "model-version", "", "model version the candidate serves (required); latest means the version latest points to now")
		cmd.Flags().Int64Var(&o.Percent, "traffic", 10, "percent of the requests the candidate gets, 0-100")
		cmd.Flags().StringVar(&o.Image, "image", "", "runtime image of the candidate (default: the service's)")
	case ModePromote:
		cmd.Use = "promote NAME"
		cmd.Short = "Give the candidate revision all the traffic"
		cmd.Long = `Give the candidate revision all the traffic: it becomes "current", and the
revision it replaces stays addressable as "previous" for a rollback.`
		cmd.Example = "  paddlex serve promote ppocr-det"
	case ModeRollback:
		cmd.Use = "rollback NAME"
		cmd.Short = "Send all the traffic back to the revision that served before"
		cmd.Long = `Send all the traffic back to the revision that served before: during a
rollout the current one (the candidate is dropped), after a promotion the
previous one. The service's template returns to that revision, whose pods
Knative already knows.`
		cmd.Example = "  paddlex serve rollback ppocr-det"
	}
	o.Apply.AddFlags(cmd.Flags(), true, 10*time.Minute)
	o.Output.AddFlags(cmd.Flags())
	return cmd
}

// Validate checks the flags without contacting the cluster.
func (o *TrafficOptions) Validate() error {
	if err := validate.Name("NAME", o.Name); err != nil {
		return err
	}
	if err := validate.Name("--namespace", o.Namespace); err != nil {
		return err
	}
	if err := o.Apply.Validate(); err != nil {
		return err
	}
	if err := o.Output.Validate(); err != nil {
		return err
	}
	if o.Mode != ModeRollout {
		return nil
	}
	if o.ModelTag != "" {
		if o.Apply.ClientDryRun() {
			return exit.UsageErrorf("--model-version: %s is resolved against the model center when applied, and a client dry run contacts nothing: give the version itself (list them with `paddlex modelhub versions MODEL`), or use --dry-run=server", o.ModelTag)
		}
	} else if err := serve.ValidateVersion(o.Name, o.ModelVersion); err != nil {
		return err
	}
	if o.Percent < 0 || o.Percent > 100 {
		return exit.UsageErrorf("--traffic %d is outside 0-100: it is the candidate's percent of the requests", o.Percent)
	}
	if o.Image != "" {
		return serve.ValidateImage("--image", o.Image)
	}
	return nil
}

// Complete takes NAME and the namespace.
func (o *TrafficOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	o.ImageRegistry = f.ImageRegistry
	if o.Mode == ModeRollout && o.ModelVersion == modelhub.DefaultVersion {
		o.ModelVersion, o.ModelTag = "", modelhub.DefaultVersion
		o.S3.Complete(f)
	}
	return nil
}

// RunTimeout is --timeout.
func (o *TrafficOptions) RunTimeout() time.Duration { return o.Apply.Timeout }

// Run reads the Service, computes the new traffic, applies it and waits.
func (o *TrafficOptions) Run(ctx context.Context) error {
	ref := serviceRef(o.Namespace, o.Name)
	live, err := o.Kube.Get(ctx, ref)
	if apierrors.IsNotFound(err) {
		return exit.FailedErrorf("%s: %s not found: serve the model first with `paddlex serve create %s --model-version VERSION`", o.Mode, ref, o.Name)
	} else if err != nil {
		return err
	}
	if o.ModelTag != "" {
		if err := o.resolveTag(ctx, live); err != nil {
			return err
		}
	}
	next, rev, err := o.transition(live)
	if err != nil {
		return err
	}
	if o.Apply.ClientDryRun() {
		return o.print(next, "(dry run)")
	}
	if o.Mode == ModeRollout {
		spec, _, _ := serve.SpecOf(next)
		if err := checkSecret(ctx, o.Kube, o.Streams.ErrOut, o.Namespace, spec.Secret); err != nil {
			return err
		}
		if err := checkInitContainers(ctx, o.Kube, o.Streams.ErrOut); err != nil {
			return err
		}
	}
	opts := o.Apply.ApplyOptions()
	applied, err := o.Kube.Apply(ctx, []*unstructured.Unstructured{next}, opts)
	if err != nil {
		if apierrors.IsConflict(err) {
			return exit.FailedErrorf("%s: %s changed while paddlex was updating it: run the command again: %v", o.Mode, ref, err)
		}
		return explainApply(err, rev)
	}
	if !o.Apply.Wait || opts.DryRun == kube.DryRunServer {
		suffix := ""
		if opts.DryRun == kube.DryRunServer {
			suffix = "(server dry run)"
		}
		return o.print(applied[0], suffix)
	}
	ready, err := o.Kube.Wait(ctx, ref, kube.ConditionTrue("Ready"))
	if err != nil {
		undo := "rollback"
		if o.Mode == ModeRollback {
			undo = "describe"
		}
		whatNext(o.Streams.ErrOut, undo, o.Name, o.Namespace)
		return err
	}
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, []*unstructured.Unstructured{ready})
	}
	return printTraffic(o.Streams.Out, ready)
}

// resolveTag looks up the version --model-version's tag points to, in the
// model center the service fetches its versions from, with its keys.
func (o *TrafficOptions) resolveTag(ctx context.Context, live *unstructured.Unstructured) error {
	spec, ok, err := serve.SpecOf(live)
	if err != nil {
		return err
	}
	if !ok {
		return exit.FailedErrorf("%s: %s is %v: serve the model with `paddlex serve apply` first", o.Mode, kube.RefOf(live), serve.ErrNotServed)
	}
	o.S3.Endpoint, o.S3.Secret, o.S3.Namespace = spec.Endpoint, spec.Secret, o.Namespace
	v, err := resolveTag(ctx, &o.S3, &o.Store, o.Name, spec.ModelName, o.ModelTag)
	if err != nil {
		return err
	}
	o.ModelVersion = v
	fmt.Fprintf(o.Streams.ErrOut, "model %s:%s is version %s: rolling out %s:%s as revision %s\n",
		spec.ModelName, o.ModelTag, v, spec.ModelName, v, serve.RevisionName(o.Name, v))
	return nil
}

// transition computes the Service after the command, and the revision
// whose template it carries.
func (o *TrafficOptions) transition(live *unstructured.Unstructured) (*unstructured.Unstructured, string, error) {
	var next *unstructured.Unstructured
	var err error
	switch o.Mode {
	case ModeRollout:
		var cand serve.Spec
		next, cand, err = serve.RolloutService(live, o.ModelVersion, o.ModelTag, o.Image, o.ImageRegistry, o.Percent)
		if err == nil {
			cand.Action = paddle.ActionApply
			if verr := cand.Validate(); verr != nil {
				return nil, "", verr
			}
			for _, w := range cand.Warnings() {
				fmt.Fprintln(o.Streams.ErrOut, "warning:", w)
			}
		}
	case ModePromote:
		next, err = serve.PromoteService(live)
	case ModeRollback:
		next, err = serve.RollbackService(live)
	}
	if err == nil && o.Mode != ModeRollout && o.ImageRegistry != "" {
		if s, _, _ := serve.SpecOf(next); s.ImageRegistry != o.ImageRegistry {
			fmt.Fprintf(o.Streams.ErrOut, "warning: revision %s keeps the images it was served with (%s): a revision never changes; --image-registry %s applies to the next rollout\n",
				s.RevisionName(), orImages(s.ImageRegistry), o.ImageRegistry)
		}
	}
	traffic := serve.TrafficOf(live, "spec")
	switch {
	case err == nil:
		return next, serve.Read(next).Spec.Template.Name, nil
	case errors.Is(err, serve.ErrNotServed):
		return nil, "", exit.FailedErrorf("%s: %s is %v: serve the model with `paddlex serve apply` first", o.Mode, kube.RefOf(live), err)
	case errors.Is(err, serve.ErrNoCandidate):
		return nil, "", exit.FailedErrorf("%s %s: %v (traffic: %s): start one with `paddlex serve rollout %s --model-version VERSION`", o.Mode, o.Name, err, traffic, o.Name)
	case errors.Is(err, serve.ErrNoPrevious):
		return nil, "", exit.FailedErrorf("%s %s: %v (traffic: %s): nothing was promoted or rolled out since", o.Mode, o.Name, err, traffic)
	}
	return nil, "", exit.FailedErrorf("%s %s: %v (traffic: %s)", o.Mode, o.Name, err, traffic)
}

func (o *TrafficOptions) print(obj *unstructured.Unstructured, suffix string) error {
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, []*unstructured.Unstructured{obj})
	}
	line := fmt.Sprintf("service.serving.knative.dev/%s %s: %s", obj.GetName(), pastTense(o.Mode), serve.TrafficOf(obj, "spec"))
	if suffix != "" {
		line += " " + suffix
	}
	_, err := fmt.Fprintln(o.Streams.Out, line)
	return err
}

// orImages names where a revision's images come from.
func orImages(reg image.Registry) string {
	if reg == "" {
		return "their own registries"
	}
	return string(reg)
}

func pastTense(mode string) string {
	switch mode {
	case ModeRollout:
		return "rolled out"
	case ModePromote:
		return "promoted"
	}
	return "rolled back"
}
