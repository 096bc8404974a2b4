package kube

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
	"syscall"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/pkg/exit"
)

// PreconditionError reports that the cluster lacks something the request
// needs: a kind, a permission, or the cluster itself.
type PreconditionError struct {
	// Reason says which; callers match on it, never on the message.
	Reason Reason
	Err    error
}

// Reason is what a PreconditionError says is missing.
type Reason int

const (
	// ReasonOther is any other missing precondition.
	ReasonOther Reason = iota
	// ReasonNoKind means the cluster does not serve the kind (its CRD is
	// not installed).
	ReasonNoKind
	// ReasonForbidden means RBAC forbids the request.
	ReasonForbidden
	// ReasonUnreachable means the cluster did not answer.
	ReasonUnreachable
)

// IsNoKind reports whether err says the cluster does not serve a kind.
func IsNoKind(err error) bool { return hasReason(err, ReasonNoKind) }

// IsForbidden reports whether err says RBAC forbids the request.
func IsForbidden(err error) bool { return hasReason(err, ReasonForbidden) }

func hasReason(err error, r Reason) bool {
	var pe *PreconditionError
	return errors.As(err, &pe) && pe.Reason == r
}

func (e *PreconditionError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *PreconditionError) Unwrap() error { return e.Err }

// ExitCode makes a PreconditionError exit 4.
func (e *PreconditionError) ExitCode() int { return exit.Precondition }

// installHints says which paddlex command installs the CRDs of an API group.
var installHints = map[string]string{
	"batch.paddlepaddle.org":          "run `paddlex install-standalone` (it installs paddle-operator)",
	"elasticserving.paddlepaddle.org": "run `paddlex install-standalone`",
	"serving.knative.dev":             "run `paddlex install-standalone` (it installs Knative Serving)",
	"argoproj.io":                     "run `paddlex install-standalone` (it installs Argo Workflows)",
	"kubeflow.org":                    "install the Kubeflow training-operator, or use --backend paddle-operator",
	"cert-manager.io":                 "run `paddlex install` (it installs cert-manager)",
}

// NoKindError reports a kind the cluster does not serve.
func NoKindError(gvk schema.GroupVersionKind) error {
	hint, ok := installHints[gvk.Group]
	if !ok {
		hint = "install the CustomResourceDefinition that provides it"
	}
	return &PreconditionError{Reason: ReasonNoKind, Err: fmt.Errorf("the cluster has no kind %s (%s): %s", gvk.Kind, gvk.GroupVersion(), hint)}
}

// classify turns an API error for verb on ref into the error paddlex reports:
// missing kinds, RBAC refusals and unreachable clusters become
// PreconditionErrors; apply conflicts name the fields and the way out.
func classify(err error, verb string, ref ObjectRef, resource string) error {
	if err == nil {
		return nil
	}
	var pe *PreconditionError
	if errors.As(err, &pe) {
		return err
	}
	if meta.IsNoMatchError(err) {
		return NoKindError(ref.GVK)
	}
	if apierrors.IsForbidden(err) {
		where := "cluster-wide"
		if ref.Namespace != "" {
			where = "in namespace " + ref.Namespace
		}
		return &PreconditionError{Reason: ReasonForbidden, Err: fmt.Errorf("%s %s: RBAC forbids %s on %s %s: ask a cluster admin for that permission: %w",
			verb, ref, verb, resource, where, err)}
	}
	if apierrors.IsConflict(err) && verb == "apply" {
		return fmt.Errorf("apply %s: conflict: %s; rerun with --force-conflicts to take ownership of them: %w",
			ref, conflictFields(err), err)
	}
	if isUnreachable(err) {
		return &PreconditionError{Reason: ReasonUnreachable, Err: fmt.Errorf("%s %s: cannot reach the cluster: %w (check --kubeconfig and --context)", verb, ref, err)}
	}
	return fmt.Errorf("%s %s: %w", verb, ref, err)
}

// conflictFields lists the fields and managers of a server-side apply conflict.
func conflictFields(err error) string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return "fields owned by another manager"
	}
	var fields []string
	for _, c := range status.Status().Details.Causes {
		if c.Type == metav1.CauseTypeFieldManagerConflict {
			fields = append(fields, fmt.Sprintf("%s (%s)", c.Field, strings.TrimSpace(c.Message)))
		}
	}
	if len(fields) == 0 {
		return "fields owned by another manager"
	}
	sort.Strings(fields)
	return strings.Join(fields, ", ")
}

// isUnreachable reports a connection-level failure.
func isUnreachable(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		var opErr *net.OpError
		return errors.As(urlErr.Err, &opErr)
	}
	return false
}
