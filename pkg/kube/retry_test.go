package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// noWait is a stand-in for the backoff timer: it records each delay and
// returns at once, so tests count backoffs without waiting them out.
func noWait(delays *[]time.Duration) func(context.Context, time.Duration) error {
	return func(ctx context.Context, d time.Duration) error {
		*delays = append(*delays, d)
		return ctx.Err()
	}
}

func TestRetryRetriesWhatClientGoDoesNot(t *testing.T) {
	var delays []time.Duration
	c := &Client{sleep: noWait(&delays)}
	transient := []error{
		apierrors.NewInternalError(errors.New("etcd leader changed")),
		apierrors.NewServiceUnavailable("restarting"),
		syscall.ECONNREFUSED,
		syscall.ECONNRESET,
	}
	calls := 0
	err := c.retry(context.Background(), writing, func() error {
		calls++
		if calls <= len(transient) {
			return transient[calls-1]
		}
		return nil
	})
	if err != nil || calls != len(transient)+1 {
		t.Fatalf("err=%v after %d calls, want success after %d", err, calls, len(transient)+1)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}
	if len(delays) != len(want) {
		t.Fatalf("backoffs %v, want %v", delays, want)
	}
	for i := range want {
		if delays[i] != want[i] {
			t.Errorf("backoff %d = %s, want %s", i, delays[i], want[i])
		}
	}

	gr := schema.GroupResource{Resource: "paddlejobs"}
	throttled := apierrors.NewTooManyRequests("slow down", 1)
	delayed := apierrors.NewServiceUnavailable("restarting")
	delayed.ErrStatus.Details = &metav1.StatusDetails{RetryAfterSeconds: 2}
	for _, tc := range []struct {
		name string
		req  request
		err  error
	}{
		{"a not-found error", writing, apierrors.NewNotFound(gr, "x")},
		{"a throttled request (client-go retries it)", writing, throttled},
		{"a server error with Retry-After (client-go retries it)", writing, delayed},
		{"a reset read (client-go retries it)", reading, syscall.ECONNRESET},
		{"a create the server may have seen", creating, apierrors.NewInternalError(errors.New("x"))},
	} {
		calls = 0
		if err := c.retry(context.Background(), tc.req, func() error { calls++; return tc.err }); err != tc.err || calls != 1 {
			t.Errorf("%s was sent %d times (err %v), want once", tc.name, calls, err)
		}
	}
	calls = 0
	if err := c.retry(context.Background(), creating, func() error {
		calls++
		if calls == 1 {
			return syscall.ECONNREFUSED
		}
		return nil
	}); err != nil || calls != 2 {
		t.Errorf("a refused create: %d calls, err %v; want it sent again", calls, err)
	}
}

func TestRetryGivesUpAfterMaxAttempts(t *testing.T) {
	var delays []time.Duration
	c := &Client{sleep: noWait(&delays)}
	calls := 0
	err := c.retry(context.Background(), reading, func() error { calls++; return apierrors.NewServiceUnavailable("down") })
	if !apierrors.IsServiceUnavailable(err) || calls != maxAttempts {
		t.Errorf("err=%v after %d calls, want the last error after %d", err, calls, maxAttempts)
	}
	if last := delays[len(delays)-1]; last != 5*time.Second {
		t.Errorf("last backoff %s, want the 5s cap", last)
	}
}

func TestRetryStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{sleep: func(ctx context.Context, _ time.Duration) error { cancel(); return ctx.Err() }}
	calls := 0
	err := c.retry(ctx, reading, func() error { calls++; return apierrors.NewServiceUnavailable("down") })
	if !apierrors.IsServiceUnavailable(err) || calls != 1 {
		t.Errorf("err=%v after %d calls, want the last error after the context ended", err, calls)
	}
}

// clientGoRetries is client-go's REST client's default retry count for
// answers with a Retry-After header (rest.Request.maxRetries).
const clientGoRetries = 10

// TestThrottledRequestIsNotRetriedTwice sends a Get and an Apply through the
// real client-go REST client to an httptest server that stands in for a
// throttling API server: it answers every request 429 with Retry-After. The
// request is sent once plus client-go's retries, not that many times the
// engine's attempts.
func TestThrottledRequestIsNotRetriedTwice(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		status := apierrors.NewTooManyRequests("too many requests, please try again later", 0).Status()
		status.Kind, status.APIVersion = "Status", "v1"
		w.Header().Set("Content-Type", "application/json")
		// Retry-After: 0 makes client-go retry at once, so the test does
		// not sleep; the API server itself sends 1 or more.
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		_ = json.NewEncoder(w).Encode(status)
	}))
	defer srv.Close()

	gvk := schema.GroupVersionKind{Group: "batch.paddlepaddle.org", Version: "v1", Kind: "PaddleJob"}
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(gvk, meta.RESTScopeNamespace)
	dyn, err := dynamic.NewForConfig(&rest.Config{Host: srv.URL, QPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	var delays []time.Duration
	c := &Client{Dynamic: dyn, Mapper: mapper, sleep: noWait(&delays)}
	ref := ObjectRef{GVK: gvk, Namespace: "kubeflow", Name: "ppocr-det"}

	_, err = c.Get(context.Background(), ref)
	if !apierrors.IsTooManyRequests(err) || !strings.Contains(err.Error(), "get PaddleJob kubeflow/ppocr-det") {
		t.Errorf("get: %v, want the 429 naming the object", err)
	}
	if n := requests.Load(); n != 1+clientGoRetries {
		t.Errorf("a throttled get was sent %d times, want %d (once, then client-go's retries)", n, 1+clientGoRetries)
	}

	requests.Store(0)
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	obj.SetNamespace(ref.Namespace)
	obj.SetName(ref.Name)
	if _, err := c.Apply(context.Background(), []*unstructured.Unstructured{obj}, ApplyOptions{}); !apierrors.IsTooManyRequests(err) {
		t.Errorf("apply: %v, want the 429", err)
	}
	if n := requests.Load(); n != 1+clientGoRetries {
		t.Errorf("a throttled apply was sent %d times, want %d", n, 1+clientGoRetries)
	}
	if len(delays) != 0 {
		t.Errorf("the engine backed off %v on top of client-go", delays)
	}
}

func TestClassify(t *testing.T) {
	ref := ObjectRef{GVK: schema.GroupVersionKind{Group: "batch.paddlepaddle.org", Version: "v1", Kind: "PaddleJob"}, Namespace: "kubeflow", Name: "j"}
	// As the API server's authorizer words it.
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "batch.paddlepaddle.org", Resource: "paddlejobs"}, "j",
		errors.New(`User "alice@example.com" cannot patch resource "paddlejobs" in API group "batch.paddlepaddle.org" in the namespace "kubeflow"`))
	err := classify(forbidden, "apply", ref, "paddlejobs.batch.paddlepaddle.org")
	var pe *PreconditionError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "RBAC forbids apply on paddlejobs.batch.paddlepaddle.org in namespace kubeflow") {
		t.Errorf("forbidden: %v", err)
	}
	if !IsForbidden(fmt.Errorf("wrapped: %w", err)) || IsNoKind(err) {
		t.Errorf("forbidden: IsForbidden %v, IsNoKind %v", IsForbidden(err), IsNoKind(err))
	}
	// Admission refuses with 403 too: not a permission to ask for.
	pods := schema.GroupResource{Resource: "pods"}
	quota := classify(apierrors.NewForbidden(pods, "w", errors.New("exceeded quota: tenant-quota, requested: requests.cpu=4, used: requests.cpu=14, limited: requests.cpu=16")), "apply", ref, "pods")
	if IsForbidden(quota) || !errors.As(quota, &pe) || !strings.Contains(quota.Error(), "ResourceQuota has no room") || strings.Contains(quota.Error(), "RBAC") {
		t.Errorf("quota exceeded: %v", quota)
	}
	pss := classify(apierrors.NewForbidden(pods, "w", errors.New(`violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`)), "apply", ref, "pods")
	if IsForbidden(pss) || errors.As(pss, &pe) || !strings.Contains(pss.Error(), "admission refuses it") || !strings.Contains(pss.Error(), "violates PodSecurity") {
		t.Errorf("Pod Security: %v", pss)
	}
	if err := classify(syscall.ECONNREFUSED, "get", ref, ""); !errors.As(err, &pe) || pe.Reason != ReasonUnreachable {
		t.Errorf("refused connection: %v, want a PreconditionError for an unreachable cluster", err)
	}
	noKind := classify(&meta.NoKindMatchError{GroupKind: ref.GVK.GroupKind()}, "get", ref, "")
	if !IsNoKind(noKind) || IsForbidden(noKind) {
		t.Errorf("no kind: %v: IsNoKind %v, IsForbidden %v", noKind, IsNoKind(noKind), IsForbidden(noKind))
	}
	if IsNoKind(errors.New("the cluster has no kind PaddleJob")) {
		t.Error("IsNoKind matched an error by its text")
	}
}
