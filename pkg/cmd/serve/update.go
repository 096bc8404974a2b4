package serve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/serve"
	"github.com/paddleflow/paddlex/pkg/validate"
)

// UpdateOptions are the options of `serve update`.
type UpdateOptions struct {
	Name      string
	Namespace string
	Tag       string
	Change    serve.Change
	Env       []string
	Apply     cmdutil.ApplyFlags
	Output    cmdutil.OutputFlags
	cmdutil.Engine

	Streams cmdutil.IOStreams
	// minScale, maxScale and target hold the flags; Complete moves the
	// ones given into Change.
	minScale, maxScale, target int32
}

// NewCmdUpdate returns `serve update`.
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	o := &UpdateOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "update NAME [--min-scale N] [--max-scale N] [--target N] [--env KEY=VALUE|KEY- ...]",
		Short: "Change the scaling or environment of a served model version, as a new revision",
		Long: `Change how the model version tagged current (or --tag) is served: its
autoscaling bounds, its autoscaling target, or its environment. A revision
never changes, so the change is served by a new revision of the same model
version, NAME-VERSION-2 (then -3, and so on), which takes the old one's share
of the traffic and its tag once it is Ready; every other revision, share and
setting stays as it was. The old revision stays in the cluster until Knative
collects it.

--env KEY=VALUE sets a variable of the model server, --env KEY- removes one.
--dry-run=client prints what would change (-o yaml: the Service) without
contacting the cluster beyond reading the Service; --dry-run=server also has
the API server check it.`,
		Example: `  paddlex serve update ppocr-det --min-scale 1 --max-scale 5
  paddlex serve update ppocr-det --target 20 --env LOG_LEVEL=debug
  paddlex serve update ppocr-det --tag candidate --max-scale 2
  paddlex serve update ppocr-det --env LOG_LEVEL- --dry-run`,
		ValidArgsFunction: cmdutil.CompleteNames(f, paddle.KnativeServiceGVK, paddle.LabelServe),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.Int32Var(&o.minScale, "min-scale", 0, fmt.Sprintf("fewest pods kept running, 0-%d; 0 scales to zero when idle", validate.MaxReplicas))
	fs.Int32Var(&o.maxScale, "max-scale", 0, fmt.Sprintf("most pods, up to %d; 0 leaves it to the cluster's limit", validate.MaxReplicas))
	fs.Int32Var(&o.target, "target", 0, fmt.Sprintf("per-pod value of the service's metric the autoscaler aims at, up to %d; 0 returns to Knative's default", validate.MaxTarget))
	fs.StringArrayVar(&o.Env, "env", nil, "set a variable of the model server as KEY=VALUE, or remove one with KEY- (repeatable)")
	fs.StringVar(&o.Tag, "tag", serve.TagCurrent, "the traffic tag whose revision to change: current, candidate or previous")
	o.Apply.AddFlags(fs, true, 10*time.Minute)
	o.Output.AddFlags(fs)
	return cmd
}

// Complete takes NAME, the namespace, and the settings given.
func (o *UpdateOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	fs := cmd.Flags()
	for name, p := range map[string]**int32{"min-scale": &o.Change.MinScale, "max-scale": &o.Change.MaxScale, "target": &o.Change.Target} {
		if cmdutil.Changed(fs, name) {
			v := map[string]int32{"min-scale": o.minScale, "max-scale": o.maxScale, "target": o.target}[name]
			*p = &v
		}
	}
	for _, kv := range o.Env {
		if k, ok := strings.CutSuffix(kv, "-"); ok && !strings.Contains(kv, "=") {
			o.Change.Unset = append(o.Change.Unset, k)
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return exit.UsageErrorf("--env %q: write KEY=VALUE to set a variable, or KEY- to remove it", kv)
		}
		if o.Change.Env == nil {
			o.Change.Env = map[string]string{}
		}
		o.Change.Env[k] = v
	}
	return nil
}

// Validate checks the flags without contacting the cluster; the new
// settings as a whole are checked once the Service is read.
func (o *UpdateOptions) Validate() error {
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
	if o.Change.Empty() {
		return exit.UsageErrorf("nothing to update: give --min-scale, --max-scale, --target or --env")
	}
	if err := validate.Name("--tag", o.Tag); err != nil {
		return err
	}
	for _, k := range o.Change.Unset {
		if err := validate.EnvVarName("--env", k); err != nil {
			return err
		}
	}
	// The flags alone, on a spec of defaults: bounds, names and reserved
	// variables are checked before any request.
	probe := serve.Spec{Name: o.Name, Namespace: o.Namespace, ModelVersion: "v1", Action: paddle.ActionApply}
	probe.Defaults()
	probe = o.Change.Apply(probe)
	return probe.Validate()
}

// RunTimeout is --timeout.
func (o *UpdateOptions) RunTimeout() time.Duration { return o.Apply.Timeout }

// Run reads the Service and the revisions Knative made, plans the new
// revision, prints what changes, applies and waits.
func (o *UpdateOptions) Run(ctx context.Context) error {
	ref := serviceRef(o.Namespace, o.Name)
	live, err := o.Kube.Get(ctx, ref)
	if apierrors.IsNotFound(err) {
		return exit.FailedErrorf("update: %s not found: serve the model first with `paddlex serve create %s --model-version VERSION`", ref, o.Name)
	} else if err != nil {
		return err
	}
	revs, err := o.Kube.List(ctx, serve.RevisionGVK, kube.ListOptions{Namespace: o.Namespace, LabelSelector: serve.LabelKnativeService + "=" + o.Name})
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, r := range revs {
		used[r.GetName()] = true
	}
	u, err := serve.UpdateService(live, o.Tag, o.Change, used)
	switch {
	case errors.Is(err, serve.ErrNoChange):
		fmt.Fprintf(o.Streams.ErrOut, "nothing to update: the revision tagged %s already has these settings\n", o.Tag)
		return nil
	case errors.Is(err, serve.ErrNotServed):
		return exit.FailedErrorf("update: %s is %v: serve the model with `paddlex serve apply` first", ref, err)
	case err != nil && exit.Code(err) == exit.Usage:
		return err
	case err != nil:
		return exit.FailedErrorf("update %s: %v", o.Name, err)
	}
	next := u.New
	next.Action = paddle.ActionApply
	if err := next.Validate(); err != nil {
		return err
	}
	diff := o.diff(live, u)
	if o.Apply.ClientDryRun() {
		if !o.Output.Table() {
			return o.Output.PrintObjects(o.Streams.Out, []*unstructured.Unstructured{u.Service})
		}
		_, err := fmt.Fprint(o.Streams.Out, diff)
		return err
	}
	fmt.Fprint(o.Streams.ErrOut, diff)
	opts := o.Apply.ApplyOptions()
	applied, err := o.Kube.Apply(ctx, []*unstructured.Unstructured{u.Service}, opts)
	if err != nil {
		if apierrors.IsConflict(err) {
			return exit.FailedErrorf("update: %s changed while paddlex was updating it: run the command again: %v", ref, err)
		}
		return explainApply(err, next.RevisionName())
	}
	if !o.Apply.Wait || opts.DryRun == kube.DryRunServer {
		if !o.Output.Table() {
			return o.Output.PrintObjects(o.Streams.Out, applied)
		}
		suffix := ""
		if opts.DryRun == kube.DryRunServer {
			suffix = " (server dry run)"
		}
		_, err := fmt.Fprintf(o.Streams.Out, "service.serving.knative.dev/%s updated: %s%s\n", o.Name, u.Traffic, suffix)
		return err
	}
	ready, err := o.Kube.Wait(ctx, ref, kube.ConditionTrue("Ready"))
	if err != nil {
		fmt.Fprintf(o.Streams.ErrOut, "the new revision %s is not ready; the traffic already names it, so undo the change with\n  paddlex serve update %s -n %s%s\n",
			next.RevisionName(), o.Name, o.Namespace, undoFlags(u))
		whatNext(o.Streams.ErrOut, "describe", o.Name, o.Namespace)
		return err
	}
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, []*unstructured.Unstructured{ready})
	}
	return printTraffic(o.Streams.Out, ready)
}

// diff says which revision is replaced by which, and what changes.
func (o *UpdateOptions) diff(live *unstructured.Unstructured, u *serve.Update) string {
	var b strings.Builder
	old, _ := serve.TrafficOf(live, "spec").Find(u.Tag)
	fmt.Fprintf(&b, "service %s/%s: revision %s (%s, %d%%) -> %s\n", o.Namespace, o.Name, old.Revision, u.Tag, old.Percent, u.New.RevisionName())
	for _, l := range serve.Diff(u.Old, u.New) {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	fmt.Fprintf(&b, "traffic: %s -> %s\n", serve.TrafficOf(live, "spec"), u.Traffic)
	return b.String()
}

// undoFlags are the flags that restore the old settings.
func undoFlags(u *serve.Update) string {
	var parts []string
	if u.Old.MinScale != u.New.MinScale {
		parts = append(parts, fmt.Sprintf("--min-scale %d", u.Old.MinScale))
	}
	if u.Old.MaxScale != u.New.MaxScale {
		parts = append(parts, fmt.Sprintf("--max-scale %d", u.Old.MaxScale))
	}
	if u.Old.Target != u.New.Target {
		parts = append(parts, fmt.Sprintf("--target %d", u.Old.Target))
	}
	for k := range u.New.Env {
		if _, ok := u.Old.Env[k]; !ok {
			parts = append(parts, "--env "+k+"-")
		}
	}
	for k, v := range u.Old.Env {
		if u.New.Env[k] != v {
			parts = append(parts, "--env "+k+"=VALUE")
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, " ")
}
