package kube

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// TestWarningWatchRestartsAfterGone drives the Warning-event watch through a
// real clientset against an httptest server that stands in for an API server
// whose resourceVersion was compacted away: it answers a resumed watch with
// 410 Gone. The watch starts over without a resourceVersion after a backoff
// that grows while watches keep failing, and a relisted event is not
// reported twice.
func TestWarningWatchRestartsAfterGone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	warning := func(name, rv, reason string) watch.Event {
		return watch.Event{Type: watch.Added, Object: &corev1.Event{
			TypeMeta:       metav1.TypeMeta{Kind: "Event", APIVersion: "v1"},
			ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: "kubeflow", ResourceVersion: rv},
			InvolvedObject: corev1.ObjectReference{Kind: "PaddleJob", Name: "ppocr-det", Namespace: "kubeflow"},
			Type:           corev1.EventTypeWarning, Reason: reason, Message: reason + " happened", Count: 1,
		}}
	}
	gone := apierrors.NewResourceExpired("too old resource version: 5 (90)").Status()
	gone.Kind, gone.APIVersion = "Status", "v1"
	goneEvent := watch.Event{Type: watch.Error, Object: &gone}
	// Each watch request gets the next script; the last cancels the wait.
	scripts := [][]watch.Event{
		{warning("a", "5", "FailedScheduling")},
		{goneEvent},
		{goneEvent},
		{warning("a", "5", "FailedScheduling"), warning("b", "7", "BackOff")},
		nil,
	}
	var (
		mu  sync.Mutex
		rvs []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/namespaces/kubeflow/events" || r.URL.Query().Get("watch") != "true" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		n := len(rvs)
		rvs = append(rvs, r.URL.Query().Get("resourceVersion"))
		mu.Unlock()
		if n >= len(scripts)-1 {
			cancel()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		enc := json.NewEncoder(w)
		for _, ev := range scripts[n] {
			raw, err := json.Marshal(ev.Object)
			if err != nil {
				panic(err) // the handler's own fixtures: cannot fail
			}
			_ = enc.Encode(metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Raw: raw}})
		}
	}))
	defer srv.Close()

	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL, QPS: -1})
	if err != nil {
		t.Fatal(err)
	}
	var delays []time.Duration
	c := &Client{Clientset: cs, sleep: noWait(&delays)}
	ref := ObjectRef{GVK: schema.GroupVersionKind{Group: "batch.paddlepaddle.org", Version: "v1", Kind: "PaddleJob"}, Namespace: "kubeflow", Name: "ppocr-det"}
	var reported []string
	c.watchWarnings(ctx, ref, func(reason, msg string) { reported = append(reported, reason+": "+msg) })

	if want := []string{"", "5", "", "", "7"}; !reflect.DeepEqual(rvs, want) {
		t.Errorf("watches asked for resourceVersions %q, want %q (cleared after 410 Gone)", rvs, want)
	}
	if want := []string{"FailedScheduling: FailedScheduling happened", "BackOff: BackOff happened"}; !reflect.DeepEqual(reported, want) {
		t.Errorf("reported %q, want %q", reported, want)
	}
	if want := []time.Duration{warningsBackoffMin, 2 * warningsBackoffMin}; !reflect.DeepEqual(delays, want) {
		t.Errorf("backoffs %v, want %v: none after a watch that delivered events, growing while watches fail", delays, want)
	}
}
