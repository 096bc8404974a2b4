package dataset

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/dataset"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// GetOptions are the options of `dataset get` and `dataset list`.
type GetOptions struct {
	cmdutil.ListFlags
	cmdutil.Engine

	Streams cmdutil.IOStreams
	Now     func() time.Time
}

// NewCmdGet returns `dataset get` (or its alias-like twin `list`).
func NewCmdGet(f *cmdutil.Factory, use string, runF func(*GetOptions) error) *cobra.Command {
	o := &GetOptions{Streams: f.Streams, Now: time.Now}
	cmd := &cobra.Command{
		Use:   use + " [SAMPLESET...]",
		Short: "List the SampleSet caches and how much of their data is cached",
		Long: `List SampleSet caches with their phase, partitions, total and cached size, and
cache progress, plus the data sets being synced or warmed up into them.`,
		Example: fmt.Sprintf(`  paddlex dataset %[1]s
  paddlex dataset %[1]s data-center -o yaml
  paddlex dataset %[1]s -A`, use),
		ValidArgsFunction: cmdutil.CompleteNames(f, paddle.SampleSetGVK, ""),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	o.ListFlags.AddFlags(cmd.Flags())
	return cmd
}

// Complete takes the SAMPLESET arguments and the namespace.
func (o *GetOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.ListFlags.Complete(f, args)
	return nil
}

// Validate checks the arguments and -o.
func (o *GetOptions) Validate() error { return o.ListFlags.Validate("SAMPLESET") }

// Run lists and prints.
func (o *GetOptions) Run(ctx context.Context) error {
	ns := o.ListNamespace()
	sets, err := o.Kube.List(ctx, paddle.SampleSetGVK, kube.ListOptions{Namespace: ns})
	if err != nil {
		return err
	}
	jobs, err := o.Kube.List(ctx, paddle.SampleJobGVK, kube.ListOptions{Namespace: ns, LabelSelector: paddle.LabelDataset})
	if err != nil {
		return err
	}
	var selected []*unstructured.Unstructured
	for i := range sets {
		if len(o.Names) == 0 || contains(o.Names, sets[i].GetName()) {
			selected = append(selected, &sets[i])
		}
	}
	for _, n := range o.Names {
		found := false
		for _, s := range selected {
			found = found || s.GetName() == n
		}
		if !found {
			return exit.FailedErrorf("SampleSet %s/%s not found", o.Namespace, n)
		}
	}
	if !o.Output.Table() {
		return o.Output.PrintObjects(o.Streams.Out, selected)
	}
	if len(selected) == 0 {
		fmt.Fprintf(o.Streams.ErrOut, "No SampleSets found in %s.\n", nsText(ns))
		return nil
	}
	headers := []string{"NAME", "PHASE", "PARTITIONS", "TOTAL", "CACHED", "PROGRESS", "SYNCING", "AGE"}
	if o.AllNamespaces {
		headers = append([]string{"NAMESPACE"}, headers...)
	}
	if o.Output.Wide() {
		headers = append(headers, "RUNTIME", "SECRET")
	}
	t := cmdutil.NewTable(o.Streams.Out, headers...)
	for _, s := range selected {
		set := dataset.Read(s)
		cs := set.Status.CacheStatus
		row := []string{s.GetName(), cmdutil.OrNone(set.Status.Phase), fmt.Sprint(set.Spec.Partitions),
			orDash(cs.TotalSize), orDash(cs.CachedSize),
			orDash(dataset.CachedPercent(cs)), syncing(jobs, s), cmdutil.Age(s.GetCreationTimestamp(), o.Now())}
		if o.AllNamespaces {
			row = append([]string{s.GetNamespace()}, row...)
		}
		if o.Output.Wide() {
			secret := ""
			if set.Spec.SecretRef != nil {
				secret = set.Spec.SecretRef.Name
			}
			row = append(row, orDash(set.Status.RuntimeStatus.RuntimeReady), orDash(secret))
		}
		t.Row(row...)
	}
	return t.Flush()
}

// syncing lists the data sets with SampleJobs on the SampleSet, e.g. "icdar2015(sync:Running)".
func syncing(jobs []unstructured.Unstructured, set *unstructured.Unstructured) string {
	var out []string
	for i := range jobs {
		j := &jobs[i]
		sj, err := dataset.SampleJobOf(j)
		if err != nil || sj.Spec.SampleSetRef == nil || sj.Spec.SampleSetRef.Name != set.GetName() || j.GetNamespace() != set.GetNamespace() {
			continue
		}
		out = append(out, fmt.Sprintf("%s(%s:%s)", j.GetLabels()[paddle.LabelDataset], sj.Spec.Type, cmdutil.OrNone(sj.Status.Phase)))
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}

func nsText(ns string) string {
	if ns == "" {
		return "any namespace"
	}
	return "namespace " + ns
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
