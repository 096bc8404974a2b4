package kube

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestRetryRetriesThrottlingAndServerErrors(t *testing.T) {
	gr := schema.GroupResource{Resource: "paddlejobs"}
	transient := []error{
		apierrors.NewTooManyRequests("slow down", 0),
		apierrors.NewInternalError(errors.New("etcd leader changed")),
		apierrors.NewServiceUnavailable("restarting"),
		syscall.ECONNREFUSED,
	}
	calls := 0
	err := retry(context.Background(), func() error {
		calls++
		if calls <= len(transient) {
			return transient[calls-1]
		}
		return nil
	})
	if err != nil || calls != len(transient)+1 {
		t.Fatalf("err=%v after %d calls, want success after %d", err, calls, len(transient)+1)
	}

	calls = 0
	notFound := apierrors.NewNotFound(gr, "x")
	if err := retry(context.Background(), func() error { calls++; return notFound }); err != notFound || calls != 1 {
		t.Errorf("a not-found error was retried (%d calls)", calls)
	}
}

func TestRetryStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := retry(ctx, func() error { return apierrors.NewServiceUnavailable("down") })
	if !apierrors.IsServiceUnavailable(err) {
		t.Errorf("err = %v, want the last error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("retry ran %s past a 250ms deadline", d)
	}
}

func TestClassify(t *testing.T) {
	ref := ObjectRef{GVK: schema.GroupVersionKind{Group: "batch.paddlepaddle.org", Version: "v1", Kind: "PaddleJob"}, Namespace: "kubeflow", Name: "j"}
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "batch.paddlepaddle.org", Resource: "paddlejobs"}, "j", errors.New("no"))
	err := classify(forbidden, "apply", ref, "paddlejobs.batch.paddlepaddle.org")
	var pe *PreconditionError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "RBAC forbids apply on paddlejobs.batch.paddlepaddle.org in namespace kubeflow") {
		t.Errorf("forbidden: %v", err)
	}
	if err := classify(syscall.ECONNREFUSED, "get", ref, ""); !errors.As(err, &pe) {
		t.Errorf("refused connection: %v, want a PreconditionError", err)
	}
}
