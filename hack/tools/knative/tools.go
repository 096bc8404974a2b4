//go:build tools

// Package tools pins Knative Serving's components: the controller, the
// admission webhook, the activator, the autoscaler and the queue-proxy
// every revision's pod runs. knative.dev/serving v0.42.2 is release
// knative-v1.15.2 (docs/install.md maps module versions to releases).
package tools

import (
	_ "knative.dev/serving/cmd/activator"
	_ "knative.dev/serving/cmd/autoscaler"
	_ "knative.dev/serving/cmd/controller"
	_ "knative.dev/serving/cmd/queue"
	_ "knative.dev/serving/cmd/webhook"
)
