package kube

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
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
	"cert-manager.io":                 "install cert-manager (https://cert-manager.io): no paddlex component needs it, so paddlex does not install it",
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
	return classifyObject(err, verb, ref, resource, nil)
}

// classifyObject is classify for a request that sent obj: field validation
// errors name the fields as obj spells them.
func classifyObject(err error, verb string, ref ObjectRef, resource string, obj map[string]any) error {
	if err == nil {
		return nil
	}
	if problems := fieldProblems(err, obj); problems != nil {
		return &FieldError{Verb: verb, Ref: ref, Problems: problems, Err: err}
	}
	var pe *PreconditionError
	if errors.As(err, &pe) {
		return err
	}
	if meta.IsNoMatchError(err) {
		return NoKindError(ref.GVK)
	}
	if apierrors.IsForbidden(err) {
		return classifyForbidden(err, verb, ref, resource)
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

// rbacDenial is how the API server's authorizer words a refusal. Admission
// refuses with 403 too (Pod Security, a ResourceQuota, a namespace being
// deleted), and those are not a permission to ask an admin for.
var rbacDenial = regexp.MustCompile(`\bUser "[^"]*" cannot `)

// classifyForbidden tells an RBAC refusal from admission's.
func classifyForbidden(err error, verb string, ref ObjectRef, resource string) error {
	msg := err.Error()
	switch {
	case rbacDenial.MatchString(msg):
		where := "cluster-wide"
		if ref.Namespace != "" {
			where = "in namespace " + ref.Namespace
		}
		return &PreconditionError{Reason: ReasonForbidden, Err: fmt.Errorf("%s %s: RBAC forbids %s on %s %s: ask a cluster admin for that permission: %w",
			verb, ref, verb, resource, where, err)}
	case strings.Contains(msg, "exceeded quota"):
		return &PreconditionError{Reason: ReasonOther, Err: fmt.Errorf("%s %s: the namespace's ResourceQuota has no room for it: %w: wait for what runs there to finish, delete what is done (trainings, services), or ask a cluster admin for a larger quota",
			verb, ref, err)}
	default:
		return fmt.Errorf("%s %s: the API server's admission refuses it: %w", verb, ref, err)
	}
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

// FieldError reports an object the API server's field validation rejected:
// a field its schema does not declare (misspelled, or one a CRD would
// prune), a field given twice, or a value of the wrong type. The object is
// bad input, so it exits 2.
type FieldError struct {
	Verb string
	Ref  ObjectRef
	// Problems name the fields, e.g. `unknown field "spec.worker.replicass"`.
	Problems []string
	Err      error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s %s: %s (rejected by the cluster's schema for %s %s; kubectl explain lists its fields)",
		e.Verb, e.Ref, strings.Join(e.Problems, "; "), e.Ref.GVK.GroupVersion(), e.Ref.GVK.Kind)
}

// Unwrap returns the API server's error.
func (e *FieldError) Unwrap() error { return e.Err }

// ExitCode makes a FieldError exit 2.
func (e *FieldError) ExitCode() int { return exit.Usage }

// The API server reports field validation only in text: server-side apply
// converts the patch to its schema's typed form and fails with the
// structured-merge-diff paths of the offending fields (as an untyped 500),
// and the strict decoders name duplicate or unknown fields. These prefixes
// are the ones k8s.io/apimachinery and k8s.io/apiserver write.
const (
	typedPatchPrefix  = "failed to create typed patch object"
	strictPatchPrefix = "error strict decoding patch:"
	strictDecodeText  = "strict decoding error:"
	undeclaredField   = ": field not declared in schema"
)

// fieldProblems returns the field problems err reports, or nil when err is
// not a field validation error. obj, the object sent, turns list keys in
// paths (containers[name="paddle"]) into indexes (containers[0]).
func fieldProblems(err error, obj map[string]any) []string {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return nil
	}
	msg := status.Status().Message
	switch {
	case strings.Contains(msg, typedPatchPrefix):
		// "failed to create typed patch object (ns/name; gvk): .spec.x: field not declared in schema"
		// or "...: errors:\n  .spec.x: ...\n  .spec.y: ..."
		rest := msg[strings.Index(msg, typedPatchPrefix):]
		if i := strings.Index(rest, "): "); i >= 0 {
			rest = rest[i+3:]
		}
		var problems []string
		for _, line := range strings.Split(strings.TrimPrefix(rest, "errors:"), "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			if p, ok := strings.CutSuffix(line, undeclaredField); ok && strings.HasPrefix(p, ".") {
				problems = append(problems, fmt.Sprintf("unknown field %q", fieldPath(p, obj)))
				continue
			}
			if i := strings.Index(line, ": "); i > 0 && strings.HasPrefix(line, ".") {
				line = fmt.Sprintf("field %q: %s", fieldPath(line[:i], obj), line[i+2:])
			}
			problems = append(problems, line)
		}
		return problems
	case strings.Contains(msg, strictPatchPrefix):
		rest := strings.TrimSpace(msg[strings.Index(msg, strictPatchPrefix)+len(strictPatchPrefix):])
		var problems []string
		for _, line := range strings.Split(rest, "\n") {
			// "line 1: key "key" already set in map": a duplicate field.
			if line = strings.TrimSpace(line); strings.Contains(line, "already set in map") {
				problems = append(problems, "duplicate field: "+line)
			}
		}
		if len(problems) == 0 {
			problems = append(problems, rest)
		}
		return problems
	case strings.Contains(msg, strictDecodeText):
		// "strict decoding error: unknown field "spec.x", duplicate field "spec.y""
		rest := strings.TrimSpace(msg[strings.Index(msg, strictDecodeText)+len(strictDecodeText):])
		return strings.Split(rest, ", ")
	}
	return nil
}

// fieldPath turns a structured-merge-diff path (.spec.containers[name="c"].image)
// into the form kubectl explain and error messages use
// (spec.containers[0].image), resolving list keys against obj. Elements it
// cannot resolve are kept as the server wrote them.
func fieldPath(smd string, obj map[string]any) string {
	var b strings.Builder
	var cur any = obj
	for s := smd; s != ""; {
		switch s[0] {
		case '.':
			end := strings.IndexAny(s[1:], ".[")
			if end < 0 {
				end = len(s) - 1
			}
			name := s[1 : end+1]
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(name)
			m, _ := cur.(map[string]any)
			cur = m[name]
			s = s[end+1:]
		case '[':
			end := closingBracket(s)
			elem := s[:end+1]
			s = s[end+1:]
			if i, ok := keyIndex(elem[1:len(elem)-1], cur); ok {
				fmt.Fprintf(&b, "[%d]", i)
				cur = cur.([]any)[i]
				continue
			}
			b.WriteString(elem)
			cur = nil
		default:
			b.WriteString(s)
			s = ""
		}
	}
	return b.String()
}

// closingBracket returns the index of the ']' that closes s[0], skipping
// quoted strings.
func closingBracket(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++
		case s[i] == '"':
			quoted = !quoted
		case !quoted && s[i] == ']':
			return i
		}
	}
	return len(s) - 1
}

// keyIndex finds the element of list that sel selects: an index ("0") or
// associative keys (`name="c"` or `containerPort=80,protocol="TCP"`).
func keyIndex(sel string, list any) (int, bool) {
	items, ok := list.([]any)
	if !ok {
		return 0, false
	}
	if i, err := strconv.Atoi(sel); err == nil {
		return i, i >= 0 && i < len(items)
	}
	want := map[string]string{}
	for _, kv := range splitKeys(sel) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return 0, false
		}
		want[k] = v
	}
	for i, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			continue
		}
		match := true
		for k, v := range want {
			got, err := json.Marshal(m[k])
			if err != nil || string(got) != v {
				match = false
				break
			}
		}
		if match {
			return i, true
		}
	}
	return 0, false
}

// splitKeys splits `a="x,y",b=1` on the commas outside quotes.
func splitKeys(s string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++
		case s[i] == '"':
			quoted = !quoted
		case !quoted && s[i] == ',':
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
