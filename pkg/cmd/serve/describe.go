package serve

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/serve"
	"github.com/paddleflow/paddlex/pkg/validate"
)

// DescribeOptions are the options of `serve describe`.
type DescribeOptions struct {
	Name      string
	Namespace string
	cmdutil.Engine

	Streams cmdutil.IOStreams
	Now     func() time.Time
}

// NewCmdDescribe returns `serve describe`.
func NewCmdDescribe(f *cmdutil.Factory, runF func(*DescribeOptions) error) *cobra.Command {
	o := &DescribeOptions{Streams: f.Streams, Now: time.Now}
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a served model: model, scaling, revisions with traffic, conditions and events",
		Long: `Show a served model in detail: its URL and readiness (with the reason when
it is not ready), the model and image of its template, the autoscaling
settings, each revision's traffic share, tag and tag URL, the Service's
conditions and its recent events.`,
		Example:           "  paddlex serve describe ppocr-det",
		ValidArgsFunction: cmdutil.CompleteNames(f, paddle.KnativeServiceGVK, paddle.LabelServe),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
}

// Complete takes NAME and the namespace.
func (o *DescribeOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	return nil
}

// Validate checks the names.
func (o *DescribeOptions) Validate() error {
	if err := validate.Name("NAME", o.Name); err != nil {
		return err
	}
	return validate.Name("--namespace", o.Namespace)
}

// Run prints the description.
func (o *DescribeOptions) Run(ctx context.Context) error {
	ref := serviceRef(o.Namespace, o.Name)
	obj, err := o.Kube.Get(ctx, ref)
	if err != nil {
		return notFound(err, ref)
	}
	st := serve.StatusOf(obj)
	spec, ok, _ := serve.SpecOf(obj)
	w := o.Streams.Out
	fmt.Fprintf(w, "Name:        %s\nNamespace:   %s\nURL:         %s\nReady:       %s", obj.GetName(), obj.GetNamespace(), cmdutil.OrNone(st.URL), cmdutil.OrNone(st.Ready))
	if st.Reason != "" && st.Ready != "True" {
		fmt.Fprintf(w, " (%s: %s)", st.Reason, st.Message)
	}
	fmt.Fprintf(w, "\nAge:         %s\n", cmdutil.Age(obj.GetCreationTimestamp(), o.Now()))
	model := cmdutil.OrNone(st.ModelName) + ":" + cmdutil.OrNone(st.Version)
	if tag := obj.GetAnnotations()[serve.AnnotationModelTag]; tag != "" {
		model += " (" + tag + " when applied)"
	}
	fmt.Fprintf(w, "Template:\n  Revision:  %s\n  Model:     %s\n  Image:     %s\n", cmdutil.OrNone(serve.Read(obj).Spec.Template.Name), model, cmdutil.OrNone(st.Image))
	if ok {
		fmt.Fprintf(w, "  Endpoint:  %s\n  Port:      %d\n", spec.Endpoint, spec.Port)
		target := "Knative's default"
		if spec.Target > 0 {
			target = fmt.Sprint(spec.Target)
		}
		fmt.Fprintf(w, "Scaling:\n  Min:       %s\n  Max:       %s\n  Metric:    %s (target %s)\n", st.MinScale, orDash(st.MaxScale), spec.Metric, target)
		if spec.GPU > 0 || spec.CPU != "" || spec.Memory != "" {
			fmt.Fprintf(w, "Resources:   cpu %s, memory %s, gpu %d\n", orDash(spec.CPU), orDash(spec.Memory), spec.GPU)
		}
	} else {
		fmt.Fprintf(w, "Scaling:\n  Min:       %s\n  Max:       %s\n", st.MinScale, orDash(st.MaxScale))
	}
	fmt.Fprintf(w, "Latest revision: created %s, ready %s\n", cmdutil.OrNone(st.LatestCreated), cmdutil.OrNone(st.LatestReady))
	fmt.Fprintln(w, "Traffic:")
	t := cmdutil.NewTable(w, "  REVISION", "TAG", "TRAFFIC", "TAG URL")
	for _, x := range st.Traffic {
		name := x.Revision
		if name == "" {
			name = "@latest"
		}
		t.Row("  "+name, orDash(x.Tag), fmt.Sprintf("%d%%", x.Percent), orDash(st.TagURLs[x.Tag]))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "Conditions:")
	svc := serve.Read(obj)
	conds := svc.Status.Conditions
	if len(conds) == 0 {
		fmt.Fprintln(w, "  <none>")
	} else {
		ct := cmdutil.NewTable(w, "  TYPE", "STATUS", "REASON", "MESSAGE")
		for _, c := range conds {
			ct.Row("  "+c.Type, c.Status, orDash(c.Reason), c.Message)
		}
		if err := ct.Flush(); err != nil {
			return err
		}
	}
	return cmdutil.PrintEvents(ctx, w, o.Kube, ref, o.Now())
}
