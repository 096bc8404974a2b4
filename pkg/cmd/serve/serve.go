// Package serve implements `paddlex serve`: models from the model center
// served on Knative Serving, autoscaled and scaled to zero, with canary and
// blue-green rollouts between named revisions.
package serve

import (
	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/paddle"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

// NewCmdServe returns the serve command group.
func NewCmdServe(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "serve",
		Aliases: []string{"serving"},
		Short:   "Serve models from the model center on Knative, with autoscaling and canary rollouts",
		Long: `Serve a model version from the model center with Paddle Serving on Knative.

Each model version runs as its own Knative revision, named NAME-VERSION (an
update of its settings makes NAME-VERSION-2, -3 and so on). In
each pod, an init container downloads
<endpoint>/model-center/MODEL/VERSION/MODEL.tar.gz and the model.json beside
it with the keys of the --secret Secret (data-center), a second one checks
the archive against the sha256 model.json records and unpacks it, and the
server then runs paddle_serving_server.serve on --port. Pods scale with load
and, with --min-scale 0 (the default), down to zero when idle.

Traffic is explicit: the revision tagged "current" serves the model; a
rollout adds a "candidate" with a share of the traffic; promote gives it all
the traffic and keeps the old one as "previous"; rollback returns to it.
Every tag also has its own URL.

Knative must allow init containers: set kubernetes.podspec-init-containers
to "enabled" in the config-features ConfigMap of knative-serving
(paddlex install-standalone does).`,
		Example: `  paddlex serve create ppocr-det --model-version v1
  paddlex serve rollout ppocr-det --model-version v2 --traffic 10
  paddlex serve get ppocr-det
  paddlex serve predict ppocr-det --data '{"x": [1, 2, 3]}'
  paddlex serve logs ppocr-det -f
  paddlex serve promote ppocr-det
  paddlex serve rollback ppocr-det
  paddlex serve update ppocr-det --min-scale 1 --max-scale 5
  paddlex serve revisions ppocr-det
  paddlex serve delete ppocr-det`,
	}
	for _, action := range []string{paddle.ActionCreate, paddle.ActionApply, paddle.ActionPatch} {
		cmd.AddCommand(NewCmdCreate(f, action, nil))
	}
	cmd.AddCommand(
		NewCmdDelete(f, nil),
		NewCmdGet(f, "get", nil), NewCmdGet(f, "list", nil),
		NewCmdDescribe(f, nil),
		NewCmdLogs(f, nil),
		NewCmdPredict(f, nil),
		NewCmdTraffic(f, ModeRollout, nil), NewCmdTraffic(f, ModePromote, nil), NewCmdTraffic(f, ModeRollback, nil),
		NewCmdUpdate(f, nil),
		NewCmdRevisions(f, nil),
	)
	return cmd
}
