package dataset

import (
	"context"
	"fmt"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/dataset"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// DescribeOptions are the options of `dataset describe`.
type DescribeOptions struct {
	Name      string
	Namespace string

	Streams cmdutil.IOStreams
	Kube    kube.Interface
	Now     func() time.Time
}

// NewCmdDescribe returns `dataset describe`.
func NewCmdDescribe(f *cmdutil.Factory, runF func(*DescribeOptions) error) *cobra.Command {
	o := &DescribeOptions{Streams: f.Streams, Now: time.Now}
	return &cobra.Command{
		Use:               "describe SAMPLESET",
		Short:             "Show a SampleSet cache: spec, status, its SampleJobs and recent events",
		Long:              "Show a SampleSet cache in detail: its spec, cache and runtime status, the SampleJobs working on it, and its recent events (a missing Secret shows here).",
		Example:           "  paddlex dataset describe data-center",
		ValidArgsFunction: cmdutil.CompleteNames(f, paddle.SampleSetGVK, ""),
		Args:              cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name, o.Namespace = args[0], f.Namespace()
			if err := validate.Name("SAMPLESET", o.Name); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			var err error
			if o.Kube, err = f.Kube(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
}

// Run prints the description.
func (o *DescribeOptions) Run(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ref := kube.ObjectRef{GVK: paddle.SampleSetGVK, Namespace: o.Namespace, Name: o.Name}
	s, err := o.Kube.Get(ctx, ref)
	if apierrors.IsNotFound(err) {
		return exit.FailedErrorf("%s not found", ref)
	}
	if err != nil {
		return err
	}
	w := o.Streams.Out
	str := func(path ...string) string {
		v, found, _ := unstructured.NestedFieldNoCopy(s.Object, path...)
		if !found || v == nil {
			return "-"
		}
		return fmt.Sprint(v)
	}
	fmt.Fprintf(w, "Name:        %s\nNamespace:   %s\nPhase:       %s\nAge:         %s\n", s.GetName(), s.GetNamespace(),
		cmdutil.OrNone(kube.Phase(s)), cmdutil.Age(s.GetCreationTimestamp(), o.Now()))
	fmt.Fprintf(w, "Spec:\n  Partitions:  %s\n  No sync:     %s\n  Secret:      %s\n", str("spec", "partitions"), str("spec", "noSync"), str("spec", "secretRef", "name"))
	fmt.Fprintf(w, "Cache:\n  Total:       %s (%s files)\n  Cached:      %s", str("status", "cacheStatus", "totalSize"),
		str("status", "cacheStatus", "totalFiles"), str("status", "cacheStatus", "cachedSize"))
	if p := dataset.CachedPercent(s); p != "" {
		fmt.Fprintf(w, " (%s)", p)
	}
	fmt.Fprintf(w, "\n  Disk:        %s used of %s (%s)\n", str("status", "cacheStatus", "diskUsed"), str("status", "cacheStatus", "diskSize"), str("status", "cacheStatus", "diskUsageRate"))
	if msg := str("status", "cacheStatus", "errorMassage"); msg != "-" {
		fmt.Fprintf(w, "  Error:       %s\n", msg)
	}
	fmt.Fprintf(w, "Runtime:     %s ready\n", str("status", "runtimeStatus", "runtimeReady"))

	jobs, err := o.Kube.List(ctx, paddle.SampleJobGVK, kube.ListOptions{Namespace: o.Namespace})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "SampleJobs:")
	n := 0
	for i := range jobs {
		j := &jobs[i]
		if name, _, _ := unstructured.NestedString(j.Object, "spec", "sampleSetRef", "name"); name != o.Name {
			continue
		}
		typ, _, _ := unstructured.NestedString(j.Object, "spec", "type")
		fmt.Fprintf(w, "  %-30s %-8s %s\n", j.GetName(), typ, cmdutil.OrNone(kube.Phase(j)))
		n++
	}
	if n == 0 {
		fmt.Fprintln(w, "  <none>")
	}
	return cmdutil.PrintEvents(ctx, w, o.Kube, ref, o.Now())
}
