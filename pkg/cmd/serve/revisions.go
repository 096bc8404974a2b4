package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/serve"
	"github.com/paddleflow/paddlex/pkg/validate"
)

// RevisionsOptions are the options of `serve revisions`.
type RevisionsOptions struct {
	Name      string
	Namespace string
	Output    string
	cmdutil.Engine

	Streams cmdutil.IOStreams
	Now     func() time.Time
}

// NewCmdRevisions returns `serve revisions`.
func NewCmdRevisions(f *cmdutil.Factory, runF func(*RevisionsOptions) error) *cobra.Command {
	o := &RevisionsOptions{Streams: f.Streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "revisions NAME",
		Short: "List a served model's revisions with their traffic, tags and readiness",
		Long: `List the Knative revisions of a served model, newest first: the model version
each serves, its share of the traffic, its tags (current, candidate, previous),
whether it is Ready and why not, its pods (actual/desired) and age. A revision
the traffic names but Knative has not created yet is listed first. "*" marks
the revision of the Service's template, the one Knative created last.

-o wide adds the Service generation that made each revision and the Ready
condition's message; -o json prints the rows; -o yaml prints the Revision
objects themselves.`,
		Example: `  paddlex serve revisions ppocr-det
  paddlex serve revisions ppocr-det -o wide
  paddlex serve revisions ppocr-det -o json | jq -r '.[] | select(.percent > 0) | .name'`,
		ValidArgsFunction: cmdutil.CompleteNames(f, paddle.KnativeServiceGVK, paddle.LabelServe),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", `"wide" adds columns; "json" prints the rows; "yaml" prints the Revision objects; "name" their names (default: a table)`)
	return cmd
}

// Complete takes NAME and the namespace.
func (o *RevisionsOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	return nil
}

// Validate checks NAME, the namespace and -o.
func (o *RevisionsOptions) Validate() error {
	if err := validate.Name("NAME", o.Name); err != nil {
		return err
	}
	if err := validate.Name("--namespace", o.Namespace); err != nil {
		return err
	}
	switch o.Output {
	case "", "wide", "json", "yaml", "name":
		return nil
	}
	return exit.UsageErrorf("--output must be wide, json, yaml or name, not %q", o.Output)
}

// Run reads the Service and its Revisions and prints them.
func (o *RevisionsOptions) Run(ctx context.Context) error {
	ref := serviceRef(o.Namespace, o.Name)
	svc, err := o.Kube.Get(ctx, ref)
	if err != nil {
		return notFound(err, ref)
	}
	revs, err := o.Kube.List(ctx, serve.RevisionGVK, kube.ListOptions{Namespace: o.Namespace, LabelSelector: serve.LabelKnativeService + "=" + o.Name})
	if err != nil {
		return err
	}
	switch o.Output {
	case "yaml", "name":
		objs := make([]*unstructured.Unstructured, len(revs))
		for i := range revs {
			objs[i] = &revs[i]
		}
		out := cmdutil.OutputFlags{Output: o.Output}
		return out.PrintObjects(o.Streams.Out, objs)
	}
	rows := serve.RevisionRows(svc, revs)
	if o.Output == "json" {
		b, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(o.Streams.Out, string(b))
		return err
	}
	headers := []string{"NAME", "VERSION", "TRAFFIC", "TAGS", "READY", "REASON", "PODS", "AGE"}
	if o.Output == "wide" {
		headers = append(headers, "GENERATION", "MESSAGE")
	}
	t := cmdutil.NewTable(o.Streams.Out, headers...)
	for _, r := range rows {
		name := r.Name
		if r.Latest {
			name += "*"
		}
		age := "-"
		if !r.Created.IsZero() {
			age = cmdutil.Age(metav1.NewTime(r.Created), o.Now())
		}
		row := []string{name, orDash(r.Version), fmt.Sprintf("%d%%", r.Percent), r.TagList(), orDash(r.Ready), orDash(r.Reason), orDash(r.Replicas), age}
		if o.Output == "wide" {
			gen := "-"
			if r.Generation > 0 {
				gen = fmt.Sprint(r.Generation)
			}
			row = append(row, gen, orDash(r.Message))
		}
		t.Row(row...)
	}
	return t.Flush()
}
