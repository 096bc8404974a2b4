package train

import (
	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// completeTrainings completes the names of the trainings in the namespace:
// the paddlex.io/train label of the PaddleJobs of either backend.
func completeTrainings(f *cmdutil.Factory) cobra.CompletionFunc {
	return cmdutil.CompleteLabelValues(f, paddle.LabelTrain, paddle.PaddleJobGVK, paddle.TrainingOperatorJobGVK)
}
