package serve

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/serve"
)

// GetOptions are the options of `serve get` and `serve list`.
type GetOptions struct {
	cmdutil.ListFlags
	cmdutil.Engine

	Streams cmdutil.IOStreams
	Now     func() time.Time
}

// NewCmdGet returns `serve get` (or its twin `list`).
func NewCmdGet(f *cmdutil.Factory, use string, runF func(*GetOptions) error) *cobra.Command {
	o := &GetOptions{Streams: f.Streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   use + " [NAME...]",
		Short: "List served models: URL, readiness, traffic per revision, scale bounds",
		Long: `List the models paddlex serves with their URL, whether they are Ready, how
the traffic is split between revisions (and each revision's tag), and the
autoscaling bounds. -o wide adds the model version, image and the reason a
service is not ready.`,
		Example: fmt.Sprintf(`  paddlex serve %[1]s
  paddlex serve %[1]s ppocr-det -o yaml
  paddlex serve %[1]s -A -o wide`, use),
		ValidArgsFunction: cmdutil.CompleteNames(f, paddle.KnativeServiceGVK, paddle.LabelServe),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	o.ListFlags.AddFlags(cmd.Flags())
	return cmd
}

// Complete takes the NAME arguments and the namespace.
func (o *GetOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.ListFlags.Complete(f, args)
	return nil
}

// Validate checks the arguments and -o.
func (o *GetOptions) Validate() error { return o.ListFlags.Validate("NAME") }

// Run lists and prints.
func (o *GetOptions) Run(ctx context.Context) error {
	ns := o.ListNamespace()
	var selected []*unstructured.Unstructured
	if len(o.Names) > 0 && !o.AllNamespaces {
		for _, n := range o.Names {
			obj, err := o.Kube.Get(ctx, serviceRef(ns, n))
			if err != nil {
				return notFound(err, serviceRef(ns, n))
			}
			selected = append(selected, obj)
		}
	} else {
		list, err := o.Kube.List(ctx, paddle.KnativeServiceGVK, kube.ListOptions{Namespace: ns, LabelSelector: paddle.LabelServe})
		if err != nil {
			return err
		}
		for i := range list {
			if len(o.Names) == 0 || contains(o.Names, list[i].GetName()) {
				selected = append(selected, &list[i])
			}
		}
	}
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, selected)
	}
	if len(selected) == 0 {
		where := "namespace " + ns
		if ns == "" {
			where = "any namespace"
		}
		fmt.Fprintf(o.Streams.ErrOut, "No served models found in %s.\n", where)
		return nil
	}
	headers := []string{"NAME", "URL", "READY", "TRAFFIC", "MIN", "MAX", "AGE"}
	if o.AllNamespaces {
		headers = append([]string{"NAMESPACE"}, headers...)
	}
	if o.Output.Wide() {
		headers = append(headers, "MODEL", "IMAGE", "REASON")
	}
	t := cmdutil.NewTable(o.Streams.Out, headers...)
	for _, obj := range selected {
		st := serve.StatusOf(obj)
		row := []string{obj.GetName(), orDash(st.URL), orDash(st.Ready), st.Traffic.String(), st.MinScale, orDash(st.MaxScale),
			cmdutil.Age(obj.GetCreationTimestamp(), o.Now())}
		if o.AllNamespaces {
			row = append([]string{obj.GetNamespace()}, row...)
		}
		if o.Output.Wide() {
			model := "-"
			if st.ModelName != "" {
				model = st.ModelName + ":" + st.Version
			}
			row = append(row, model, orDash(st.Image), orDash(st.Reason))
		}
		t.Row(row...)
	}
	return t.Flush()
}

// printTraffic shows a Service's URL and each revision's share, tag and tag URL.
func printTraffic(w io.Writer, obj *unstructured.Unstructured) error {
	st := serve.StatusOf(obj)
	fmt.Fprintf(w, "URL: %s\n", cmdutil.OrNone(st.URL))
	t := cmdutil.NewTable(w, "REVISION", "TAG", "TRAFFIC", "TAG URL")
	for _, x := range st.Traffic {
		name := x.Revision
		if name == "" {
			name = "@latest"
		}
		t.Row(name, orDash(x.Tag), fmt.Sprintf("%d%%", x.Percent), orDash(st.TagURLs[x.Tag]))
	}
	return t.Flush()
}

func notFound(err error, ref kube.ObjectRef) error {
	if apierrors.IsNotFound(err) {
		return exit.FailedErrorf("%s not found: `paddlex serve list -n %s` shows the served models", ref, ref.Namespace)
	}
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
