package dataset

import (
	"context"
	"fmt"
	"time"

	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/dataset"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// DeleteOptions are the options of `dataset delete`.
type DeleteOptions struct {
	Name      string
	Namespace string
	SampleSet string
	// KeepData leaves the files in the cache and removes only the SampleJobs.
	KeepData bool
	Delete   cmdutil.DeleteFlags
	cmdutil.Engine

	Streams cmdutil.IOStreams
}

// NewCmdDelete returns `dataset delete`.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	o := &DeleteOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Remove a data set from the cluster's cache",
		Long: `Remove a data set: its SampleJobs, and its files in the SampleSet cache
(through an "rmr" SampleJob, waited on and then removed). The SampleSet itself
stays: other data sets share it. --keep-data removes only the SampleJobs.`,
		Example: `  paddlex dataset delete icdar2015
  paddlex dataset delete icdar2015 --keep-data`,
		ValidArgsFunction: cmdutil.CompleteLabelValues(f, paddle.LabelDataset, paddle.SampleJobGVK),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	cmd.Flags().StringVar(&o.SampleSet, "sampleset", paddle.DefaultSampleSet, "SampleSet cache that holds the data set")
	cmd.Flags().BoolVar(&o.KeepData, "keep-data", false, "keep the data set's files in the cache; remove only its SampleJobs")
	o.Delete.AddFlags(cmd.Flags(), true, 10*time.Minute)
	return cmd
}

// Complete takes NAME and the namespace.
func (o *DeleteOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	return nil
}

// RunTimeout is --timeout.
func (o *DeleteOptions) RunTimeout() time.Duration { return o.Delete.Timeout }

// Validate checks the arguments.
func (o *DeleteOptions) Validate() error {
	if err := validate.Name("NAME", o.Name); err != nil {
		return err
	}
	if err := validate.Name("--sampleset", o.SampleSet); err != nil {
		return err
	}
	if err := validate.Name("--namespace", o.Namespace); err != nil {
		return err
	}
	return o.Delete.Validate()
}

// Run deletes the data set's SampleJobs and, unless KeepData, its files.
func (o *DeleteOptions) Run(ctx context.Context) error {
	spec := dataset.Spec{Name: o.Name, Namespace: o.Namespace, SampleSet: o.SampleSet}
	dry := o.Delete.EngineDryRun()
	jobs, err := o.Kube.List(ctx, paddle.SampleJobGVK, kube.ListOptions{Namespace: o.Namespace, LabelSelector: paddle.LabelDataset + "=" + o.Name})
	if err != nil {
		return err
	}
	refs := make([]kube.ObjectRef, len(jobs))
	for i := range jobs {
		refs[i] = kube.RefOf(&jobs[i])
	}
	if err := o.Kube.Delete(ctx, refs, o.Delete.Options(true)); err != nil {
		return err
	}
	for _, r := range refs {
		fmt.Fprintf(o.Streams.Out, "samplejob/%s deleted%s\n", r.Name, o.Delete.Note())
	}
	if o.KeepData {
		return nil
	}
	ssRef := kube.RefOf(dataset.RenderSampleSet(spec))
	if _, err := o.Kube.Get(ctx, ssRef); apierrors.IsNotFound(err) {
		fmt.Fprintf(o.Streams.ErrOut, "%s does not exist: no cached files to remove\n", ssRef)
		return nil
	} else if err != nil {
		return err
	}
	rmr := dataset.RenderRmrJob(spec)
	if _, err := o.Kube.Apply(ctx, []*unstructured.Unstructured{rmr}, kube.ApplyOptions{FieldManager: kube.FieldManager, DryRun: dry}); err != nil {
		return err
	}
	if dry == kube.DryRunServer || !o.Delete.Wait {
		fmt.Fprintf(o.Streams.Out, "samplejob/%s created%s: it removes %s from SampleSet %s\n", rmr.GetName(), o.Delete.Note(), o.Name, o.SampleSet)
		return nil
	}
	if _, err := o.Kube.Wait(ctx, kube.RefOf(rmr), dataset.SampleJobCondition()); err != nil {
		fmt.Fprintf(o.Streams.ErrOut, "left in the cluster: %s; inspect it with `kubectl describe samplejob %s -n %s`\n", kube.RefOf(rmr), rmr.GetName(), o.Namespace)
		return err
	}
	if err := o.Kube.Delete(ctx, []kube.ObjectRef{kube.RefOf(rmr)}, kube.DeleteOptions{IgnoreNotFound: true, Wait: true}); err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.Streams.Out, "dataset %s removed from SampleSet %s/%s\n", o.Name, o.Namespace, o.SampleSet)
	return err
}
