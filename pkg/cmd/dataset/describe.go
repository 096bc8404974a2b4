package dataset

import (
	"context"
	"fmt"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/dataset"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// DescribeOptions are the options of `dataset describe`.
type DescribeOptions struct {
	Name      string
	Namespace string
	cmdutil.Engine

	Streams cmdutil.IOStreams
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
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
}

// Complete takes SAMPLESET and the namespace.
func (o *DescribeOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	return nil
}

// Validate checks the names.
func (o *DescribeOptions) Validate() error {
	if err := validate.Name("SAMPLESET", o.Name); err != nil {
		return err
	}
	return validate.Name("--namespace", o.Namespace)
}

// Run prints the description.
func (o *DescribeOptions) Run(ctx context.Context) error {
	ref := kube.ObjectRef{GVK: paddle.SampleSetGVK, Namespace: o.Namespace, Name: o.Name}
	s, err := o.Kube.Get(ctx, ref)
	if apierrors.IsNotFound(err) {
		return exit.FailedErrorf("%s not found", ref)
	}
	if err != nil {
		return err
	}
	w := o.Streams.Out
	set := dataset.Read(s)
	cs := set.Status.CacheStatus
	secret := ""
	if set.Spec.SecretRef != nil {
		secret = set.Spec.SecretRef.Name
	}
	fmt.Fprintf(w, "Name:        %s\nNamespace:   %s\nPhase:       %s\nAge:         %s\n", s.GetName(), s.GetNamespace(),
		cmdutil.OrNone(set.Status.Phase), cmdutil.Age(s.GetCreationTimestamp(), o.Now()))
	fmt.Fprintf(w, "Spec:\n  Partitions:  %d\n  No sync:     %t\n  Secret:      %s\n", set.Spec.Partitions, set.Spec.NoSync, orDash(secret))
	fmt.Fprintf(w, "Cache:\n  Total:       %s (%s files)\n  Cached:      %s", orDash(cs.TotalSize), orDash(cs.TotalFiles), orDash(cs.CachedSize))
	if p := dataset.CachedPercent(cs); p != "" {
		fmt.Fprintf(w, " (%s)", p)
	}
	fmt.Fprintf(w, "\n  Disk:        %s used of %s (%s)\n", orDash(cs.DiskUsed), orDash(cs.DiskSize), orDash(cs.DiskUsageRate))
	if cs.ErrorMessage != "" {
		fmt.Fprintf(w, "  Error:       %s\n", cs.ErrorMessage)
	}
	fmt.Fprintf(w, "Runtime:     %s ready\n", orDash(set.Status.RuntimeStatus.RuntimeReady))

	jobs, err := o.Kube.List(ctx, paddle.SampleJobGVK, kube.ListOptions{Namespace: o.Namespace})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "SampleJobs:")
	n := 0
	for i := range jobs {
		j := &jobs[i]
		sj, err := dataset.SampleJobOf(j)
		if err != nil || sj.Spec.SampleSetRef == nil || sj.Spec.SampleSetRef.Name != o.Name {
			continue
		}
		fmt.Fprintf(w, "  %-30s %-8s %s\n", j.GetName(), sj.Spec.Type, cmdutil.OrNone(sj.Status.Phase))
		n++
	}
	if n == 0 {
		fmt.Fprintln(w, "  <none>")
	}
	return cmdutil.PrintEvents(ctx, w, o.Kube, ref, o.Now())
}
