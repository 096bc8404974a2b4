// Package dataset implements `paddlex dataset`: sample data sets cached in
// the cluster with paddle-operator's SampleSet and SampleJobs.
package dataset

import (
	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/paddle"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

// NewCmdDataset returns the dataset command group.
func NewCmdDataset(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "dataset",
		Aliases: []string{"datasets", "ds"},
		Short:   "Cache sample data sets in the cluster",
		Long: `Cache a sample data set in the cluster so training reads it at local speed.

A data set is synced from its storage (bos://, s3://, ...) into a SampleSet
cache (data-center unless --sampleset says otherwise), then warmed up on the
cache nodes. Training pods find it under /mnt/data-center/NAME/.`,
		Example: `  paddlex dataset create icdar2015 --source-uri bos://paddleflow-public.hkg.bcebos.com/icdar2015/ --source-secret icdar2015
  paddlex dataset list
  paddlex dataset describe data-center
  paddlex dataset delete icdar2015`,
	}
	for _, action := range []string{paddle.ActionCreate, paddle.ActionApply, paddle.ActionPatch} {
		cmd.AddCommand(NewCmdCreate(f, action, nil))
	}
	cmd.AddCommand(NewCmdDelete(f, nil), NewCmdGet(f, "get", nil), NewCmdGet(f, "list", nil), NewCmdDescribe(f, nil))
	return cmd
}
