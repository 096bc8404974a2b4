// Package modelhub implements `paddlex modelhub`: models stored and versioned
// in the model center, a MinIO (or any S3) bucket named model-center.
package modelhub

import (
	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

// NewCmdModelhub returns the modelhub command group.
func NewCmdModelhub(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "modelhub",
		Aliases: []string{"model", "models", "mh"},
		Short:   "Store and version models in the model center",
		Long: `Store and version trained models in the model center: the bucket
model-center on the platform's MinIO (or any S3), where version V of model M
is M/V/M.tar.gz beside a model.json record (sha256, size, created, source,
framework, labels).

A version is immutable: pushing it again fails unless --force. A tag such as
latest is a movable alias of a version, as container tags are; serving a
model without a version serves latest.

The keys come from --s3-access-key/--s3-secret-key, PADDLEX_S3_ACCESS_KEY/
PADDLEX_S3_SECRET_KEY, the config file, or the cluster Secret data-center. When
--endpoint is a cluster Service this machine cannot reach, paddlex
port-forwards to its pod through the API server.`,
		Example: `  # upload a trained model from its task PVC, in the cluster
  paddlex modelhub push ppocr-det --model-name ppocr-det --model-version v1 --pvc-name ppocr-det
  # upload an archive from this machine
  paddlex modelhub push ppocr-det:v2 --from-file ./ppocr-det.tar.gz
  paddlex modelhub list
  paddlex modelhub versions ppocr-det
  paddlex modelhub tag ppocr-det:v2 latest
  paddlex modelhub pull ppocr-det:v2 -o ./models
  paddlex modelhub delete ppocr-det:v1`,
	}
	cmd.AddCommand(
		NewCmdPush(f, nil),
		NewCmdList(f, "list", nil),
		NewCmdList(f, "versions", nil),
		NewCmdPull(f, nil),
		NewCmdDelete(f, nil),
		NewCmdTag(f, nil),
	)
	return cmd
}
