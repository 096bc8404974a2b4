// Package validate checks user input (names, actions) and reports bad input
// as exit-2 errors that name the flag or field. It is a leaf package shared by
// the domain packages and the command layer.
package validate

import (
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

// Action checks an action named by --action or a spec file's action key.
func Action(field, action string) error {
	switch action {
	case paddle.ActionCreate, paddle.ActionApply, paddle.ActionPatch, paddle.ActionDelete:
		return nil
	}
	return exit.UsageErrorf("%s: unknown action %q: use create, apply, patch or delete", field, action)
}

// Name checks a DNS-1123 label, for names that become part of other names.
func Name(field, name string) error {
	if name == "" {
		return exit.UsageErrorf("%s is required", field)
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return exit.UsageErrorf("%s %q is not a valid name: %s", field, name, strings.Join(errs, "; "))
	}
	return nil
}

// Subdomain checks a DNS-1123 subdomain, as object names allow.
func Subdomain(field, name string) error {
	if name == "" {
		return exit.UsageErrorf("%s is required", field)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return exit.UsageErrorf("%s %q is not a valid name: %s", field, name, strings.Join(errs, "; "))
	}
	return nil
}

// Upper bounds on the numbers users give. Past them a value is a slip of the
// keyboard rather than a plan: the cluster would refuse it late, or try.
const (
	// MaxReplicas bounds training workers and parameter servers, cache
	// partitions and serving pods.
	MaxReplicas = 1000
	// MaxGPUs bounds the GPUs of one pod: no node holds more.
	MaxGPUs = 16
	// MaxTarget bounds the autoscaler's per-pod target (in-flight requests
	// or requests per second).
	MaxTarget = 10000
	// MaxTimeout bounds --timeout; 0 waits without a limit.
	MaxTimeout = 30 * 24 * time.Hour
)

// AtMost checks that the value of field is not above max.
func AtMost[N int | int32 | int64](field string, v, max N) error {
	if v > max {
		return exit.UsageErrorf("%s must be at most %d, not %d", field, max, v)
	}
	return nil
}

// EnvVarName checks an environment variable name as the API server does for
// a container's env.
func EnvVarName(field, name string) error {
	if errs := validation.IsEnvVarName(name); len(errs) > 0 {
		return exit.UsageErrorf("%s %q is not a valid environment variable name: %s", field, name, strings.Join(errs, "; "))
	}
	return nil
}
