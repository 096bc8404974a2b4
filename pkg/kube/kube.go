// Package kube is paddlex's engine: it applies rendered objects with
// server-side apply in dependency order, waits on them by watching, reads
// them back and deletes them. Commands reach a cluster only through
// Interface, so tests substitute the fakes in this package.
package kube

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/pkg/exit"
)

// FieldManager is the default server-side apply field manager.
const FieldManager = "paddlex"

// Common labels every paddlex-rendered object carries.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelComponent = "app.kubernetes.io/component"
	LabelName      = "app.kubernetes.io/name"
	ManagedByValue = "paddlex"
)

// ObjectRef names one object of a kind.
type ObjectRef struct {
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
}

// RefOf returns the reference to obj.
func RefOf(obj *unstructured.Unstructured) ObjectRef {
	return ObjectRef{GVK: obj.GroupVersionKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// String renders the reference as "Kind namespace/name" (or "Kind name"),
// the form every paddlex message uses.
func (r ObjectRef) String() string {
	if r.Name == "" {
		if r.Namespace == "" {
			return r.GVK.Kind + "s"
		}
		return fmt.Sprintf("%ss in namespace %s", r.GVK.Kind, r.Namespace)
	}
	if r.Namespace == "" {
		return fmt.Sprintf("%s %s", r.GVK.Kind, r.Name)
	}
	return fmt.Sprintf("%s %s/%s", r.GVK.Kind, r.Namespace, r.Name)
}

// DryRun selects whether the API server persists a request.
type DryRun int

// Dry-run modes. Client-side dry-run never reaches the engine: commands print
// the rendered objects instead of applying them.
const (
	DryRunNone DryRun = iota
	DryRunServer
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// FieldManager defaults to FieldManager.
	FieldManager string
	// Force takes ownership of fields another manager owns.
	Force  bool
	DryRun DryRun
}

// DeleteOptions tune Delete.
type DeleteOptions struct {
	DryRun DryRun
	// Wait blocks until every object is gone.
	Wait bool
	// IgnoreNotFound treats an already-absent object as deleted.
	IgnoreNotFound bool
}

// CreateOptions tune Create.
type CreateOptions struct {
	// FieldManager defaults to FieldManager.
	FieldManager string
	DryRun       DryRun
}

// ListOptions select objects of one kind.
type ListOptions struct {
	Namespace     string
	LabelSelector string
}

// Interface is the engine every command uses.
type Interface interface {
	// Apply server-side applies objs in dependency order (CRDs, waited
	// until Established; Namespaces; other cluster-scoped objects; namespaced
	// objects), each wave concurrently, and returns the objects as the
	// server answered, in the input order.
	Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) ([]*unstructured.Unstructured, error)
	// Create creates obj, which may have a generateName instead of a name
	// (server-side apply cannot generate names), and returns it as the
	// server answered, named.
	Create(ctx context.Context, obj *unstructured.Unstructured, opts CreateOptions) (*unstructured.Unstructured, error)
	// Get reads one object.
	Get(ctx context.Context, ref ObjectRef) (*unstructured.Unstructured, error)
	// List reads the objects of a kind.
	List(ctx context.Context, gvk schema.GroupVersionKind, opts ListOptions) ([]unstructured.Unstructured, error)
	// Delete removes objects with foreground propagation, in reverse
	// dependency order.
	Delete(ctx context.Context, refs []ObjectRef, opts DeleteOptions) error
	// Wait watches ref until cond is met, fails, or ctx ends, checking
	// cond on the object as it is now and on every change, so a condition
	// may also follow the object (pipeline --watch draws its tree from
	// it). An error cond returns ends the wait as it is. Wait reports
	// progress and the object's Warning events to the engine's Reporter.
	Wait(ctx context.Context, ref ObjectRef, cond Condition) (*unstructured.Unstructured, error)
	// Events lists the events that involve ref, oldest first.
	Events(ctx context.Context, ref ObjectRef) ([]corev1.Event, error)
	// WithReporter returns the engine reporting its progress to r instead.
	WithReporter(r Reporter) Interface
}

// Condition decides, from an observed object, whether a wait is over.
type Condition interface {
	// Check returns done when the object reached the wanted state, an error
	// (a *FailedError) when it reached a terminal failure, and a short
	// human status either way. obj is nil when the object does not exist.
	Check(obj *unstructured.Unstructured) (done bool, status string, err error)
	// String describes what is awaited, e.g. "phase in (Completed,Succeed)".
	String() string
}

// FailedError reports that a waited-on object reached a failure state.
type FailedError struct {
	Ref     ObjectRef
	Reason  string
	Message string
}

func (e *FailedError) Error() string {
	msg := fmt.Sprintf("%s failed: %s", e.Ref, e.Reason)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// TimeoutError reports that ctx ended before a wait was over.
type TimeoutError struct {
	Ref         ObjectRef
	Waiting     string
	LastStatus  string
	LastWarning string
	After       time.Duration
}

// ExitCode makes a TimeoutError exit 3.
func (e *TimeoutError) ExitCode() int { return exit.Timeout }

func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("timed out after %s waiting for %s (%s)", e.After.Round(time.Second), e.Ref, e.Waiting)
	if e.LastStatus != "" {
		msg += "; last status: " + e.LastStatus
	}
	if e.LastWarning != "" {
		msg += "; last warning: " + e.LastWarning
	}
	return msg
}
