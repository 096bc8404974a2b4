package podlogs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func mkPod(name, role string) corev1.Pod {
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"job": "j", "role": role}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "paddle"}, {Name: "sidecar"}}},
	}
}

func rolePrefix(p *corev1.Pod) string {
	return "[" + strings.TrimPrefix(p.Name, "j-") + "] "
}

func TestStreamWithTheClientset(t *testing.T) {
	a, b := mkPod("j-worker-0", "worker"), mkPod("j-worker-1", "worker")
	cs := fake.NewClientset(&a, &b)
	pods, err := List(context.Background(), cs, "ns", "job=j")
	if err != nil || len(pods) != 2 {
		t.Fatalf("List = %d pods, %v", len(pods), err)
	}
	var out bytes.Buffer
	if err := Stream(context.Background(), ClientOpener(cs), pods, &out, Options{Prefix: rolePrefix, Tail: -1}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	sort.Strings(lines)
	if got := strings.Join(lines, "|"); got != "[worker-0] fake logs|[worker-1] fake logs" {
		t.Errorf("output = %q", got)
	}
}

// pipes gives each pod a pipe the test writes to, and records the options.
type pipes struct {
	mu    sync.Mutex
	w     map[string]*io.PipeWriter
	opts  map[string]*corev1.PodLogOptions
	fails map[string]int
	ready chan string
}

func newPipes() *pipes {
	return &pipes{w: map[string]*io.PipeWriter{}, opts: map[string]*corev1.PodLogOptions{}, fails: map[string]int{}, ready: make(chan string, 10)}
}

func (p *pipes) open(_ context.Context, pod *corev1.Pod, o *corev1.PodLogOptions) (io.ReadCloser, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fails[pod.Name] > 0 {
		p.fails[pod.Name]--
		return nil, errors.New(`container "paddle" in pod is waiting to start: ContainerCreating`)
	}
	r, w := io.Pipe()
	p.w[pod.Name], p.opts[pod.Name] = w, o
	p.ready <- pod.Name
	return r, nil
}

func (p *pipes) writer(name string) *io.PipeWriter {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.w[name]
}

func TestStreamMultiplexesWholeLines(t *testing.T) {
	pods := []corev1.Pod{mkPod("j-worker-0", "worker"), mkPod("j-worker-1", "worker"), mkPod("j-ps-0", "ps")}
	src := newPipes()
	src.fails["j-ps-0"] = 2 // not started yet: followed until it is
	var out safeBuffer
	done := make(chan error)
	go func() {
		done <- Stream(context.Background(), src.open, pods, &out, Options{Prefix: rolePrefix, Follow: true, Since: 90 * time.Second, Tail: 5, RetryInterval: time.Millisecond})
	}()
	for i := 0; i < 3; i++ {
		<-src.ready
	}
	w0, w1, ps := src.writer("j-worker-0"), src.writer("j-worker-1"), src.writer("j-ps-0")
	// Interleave partial writes: lines must come out whole.
	io.WriteString(w0, "epoch 1 ")
	io.WriteString(w1, "epoch 1 loss 0.9\n")
	io.WriteString(w0, "loss 0.8\nepoch 2")
	io.WriteString(ps, "server up\n")
	w1.Close()
	io.WriteString(w0, " loss 0.5\n")
	io.WriteString(w0, "no newline at the end")
	w0.Close()
	ps.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		got = append(got, l)
	}
	sort.Strings(got)
	want := []string{"[ps-0] server up", "[worker-0] epoch 1 loss 0.8", "[worker-0] epoch 2 loss 0.5", "[worker-0] no newline at the end", "[worker-1] epoch 1 loss 0.9"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	o := src.opts["j-worker-0"]
	if o.Container != "paddle" || !o.Follow || o.SinceSeconds == nil || *o.SinceSeconds != 90 || o.TailLines == nil || *o.TailLines != 5 {
		t.Errorf("log options = %+v", o)
	}
}

func TestStreamReportsUnreadablePods(t *testing.T) {
	pods := []corev1.Pod{mkPod("j-worker-0", "worker")}
	open := func(context.Context, *corev1.Pod, *corev1.PodLogOptions) (io.ReadCloser, error) {
		return nil, fmt.Errorf("container is waiting to start")
	}
	err := Stream(context.Background(), open, pods, io.Discard, Options{Tail: -1})
	if err == nil || !strings.Contains(err.Error(), "logs of pod ns/j-worker-0: container is waiting to start") {
		t.Fatalf("err = %v", err)
	}
}

func TestStreamStopsWithTheContext(t *testing.T) {
	src := newPipes()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Stream(ctx, src.open, []corev1.Pod{mkPod("j-worker-0", "worker")}, io.Discard, Options{Follow: true, Tail: -1})
	}()
	<-src.ready
	cancel()
	src.writer("j-worker-0").CloseWithError(context.Canceled)
	// Stream returns once ctx ends (were it not to, go test's -timeout
	// would name this test).
	if err := <-done; err != nil {
		t.Errorf("err = %v, want nil after ctx ends", err)
	}
}

func TestFirstFailure(t *testing.T) {
	ok := mkPod("j-worker-0", "worker")
	ok.Status = corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{Name: "paddle",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}}}
	oom := mkPod("j-worker-1", "worker")
	oom.Status = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "paddle",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}}}}
	evicted := mkPod("j-worker-2", "worker")
	evicted.Status = corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted", Message: "the node was low on memory"}
	running := mkPod("j-ps-0", "ps")
	running.Status.Phase = corev1.PodRunning

	if _, ok := FirstFailure([]corev1.Pod{ok, running}); ok {
		t.Error("no pod failed, yet a failure was found")
	}
	f, found := FirstFailure([]corev1.Pod{ok, running, oom, evicted})
	if !found || f.Pod.Name != "j-worker-1" || f.ExitCode != 137 || f.String() != "exited with code 137 (OOMKilled)" {
		t.Errorf("failure = %+v %s", f, f)
	}
	f, _ = FirstFailure([]corev1.Pod{evicted, oom})
	if f.Pod.Name != "j-worker-2" || f.String() != "failed (Evicted): the node was low on memory" {
		t.Errorf("failure = %s", f)
	}
	// A failed init container is the reason, ahead of the container that
	// never started.
	initFailed := mkPod("svc-v1-deployment-0", "server")
	initFailed.Status = corev1.PodStatus{Phase: corev1.PodPending,
		InitContainerStatuses: []corev1.ContainerStatus{{Name: "fetch-model", LastTerminationState: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: "cannot download"}}}},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "server", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}}}}}
	f, found = FirstFailure([]corev1.Pod{running, initFailed})
	if !found || f.Container != "fetch-model" || f.String() != "exited with code 1 (Error): cannot download" {
		t.Errorf("init failure = %+v %s", f, f)
	}
}

// TestFailureOutput: a message of several lines (with
// FallbackToLogsOnError, the end of the log) is shown as its last lines,
// not folded into the one-line summary.
func TestFailureOutput(t *testing.T) {
	p := mkPod("j-worker-0", "worker")
	p.Status = corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{Name: "paddle",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error",
			Message: "LAUNCH INFO start\nTraceback (most recent call last):\n  File \"tools/train.py\", line 9\nAssertionError: bad key  \n"}}}}}
	f, _ := FirstFailure([]corev1.Pod{p})
	if f.String() != "exited with code 1 (Error)" {
		t.Errorf("String() = %q", f)
	}
	if got, want := f.Output("  ", 2), "    File \"tools/train.py\", line 9\n  AssertionError: bad key\n"; got != want {
		t.Errorf("Output = %q, want %q", got, want)
	}
	if got := f.Output("  ", 10); !strings.HasPrefix(got, "  LAUNCH INFO start\n") {
		t.Errorf("Output(10) = %q", got)
	}
	p.Status.ContainerStatuses[0].State.Terminated.Message = "CUDA out of memory\n"
	f, _ = FirstFailure([]corev1.Pod{p})
	if f.String() != "exited with code 1 (Error): CUDA out of memory" || f.Output("  ", 5) != "" {
		t.Errorf("one line: %q, output %q", f, f.Output("  ", 5))
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
