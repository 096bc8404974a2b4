// Package train implements `paddlex train`: distributed training with the
// Paddle suites on a PaddleJob, then export, serving conversion and VisualDL.
package train

import (
	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/paddle"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

// NewCmdTrain returns the train command group.
func NewCmdTrain(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "train",
		Aliases: []string{"training", "trainings"},
		Short:   "Train models with PaddleOCR, PaddleClas, PaddleNLP or PaddleRec",
		Long: `Train a model on the cluster with one of the Paddle suites.

A training is a PaddleJob (paddle-operator, or the Kubeflow training-operator
with --backend training-operator) with its workers and parameter servers, then
a Job exporting the trained model for inference, a Job converting it for Paddle
Serving into /mnt/task-center/NAME.tar.gz, and optionally a VisualDL board.`,
		Example: `  paddlex train create ppocr-det --project PaddleOCR --image registry.baidubce.com/paddleflow-public/paddleocr:2.1.3-gpu-cuda10.2-cudnn7 \
    --config-path configs/det/det_mv3_db.yml --dataset icdar2015 --pvc-name task-center --worker-replicas 2 --gpu-per-node 1
  paddlex train list
  paddlex train logs ppocr-det -f
  paddlex train top
  paddlex train wait ppocr-det --timeout 6h
  paddlex train visualdl ppocr-det
  paddlex train delete ppocr-det`,
	}
	for _, action := range []string{paddle.ActionCreate, paddle.ActionApply, paddle.ActionPatch} {
		cmd.AddCommand(NewCmdCreate(f, action, nil))
	}
	cmd.AddCommand(
		NewCmdDelete(f, nil),
		NewCmdGet(f, "get", nil),
		NewCmdGet(f, "list", nil),
		NewCmdDescribe(f, nil),
		NewCmdLogs(f, nil),
		NewCmdVisualDL(f, nil),
		NewCmdTop(f, nil),
		NewCmdWait(f, nil),
	)
	return cmd
}
