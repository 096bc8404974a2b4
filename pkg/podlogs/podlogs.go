// Package podlogs streams the logs of a set of pods at once, each line
// prefixed with the pod's role (e.g. "[worker-0] "), and finds the first
// pod that failed and why. Training and pipeline commands share it.
package podlogs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Options choose what Stream reads.
type Options struct {
	// Container names the container; empty means the pod's first.
	Container string
	// Follow keeps streaming until the containers stop or ctx ends; pods
	// whose container has not started yet are waited for.
	Follow bool
	// Since limits the logs to the last duration (0: all).
	Since time.Duration
	// Tail limits the logs to the last lines of each pod (negative: all).
	Tail int64
	// Prefix labels a pod's lines; nil uses "[POD] ".
	Prefix func(*corev1.Pod) string
	// RetryInterval is how often a followed pod that has not started is
	// retried (default 1s).
	RetryInterval time.Duration
}

// Opener opens one container's log stream.
type Opener func(ctx context.Context, pod *corev1.Pod, opts *corev1.PodLogOptions) (io.ReadCloser, error)

// ClientOpener reads logs through the API server.
func ClientOpener(cs kubernetes.Interface) Opener {
	return func(ctx context.Context, pod *corev1.Pod, opts *corev1.PodLogOptions) (io.ReadCloser, error) {
		return cs.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, opts).Stream(ctx)
	}
}

// DefaultPrefix labels lines with the pod name.
func DefaultPrefix(p *corev1.Pod) string { return "[" + p.Name + "] " }

// lockedWriter writes whole lines from concurrent streams without mixing them.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) line(prefix string, b []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	buf := make([]byte, 0, len(prefix)+len(b)+1)
	buf = append(append(buf, prefix...), b...)
	if len(b) == 0 || b[len(b)-1] != '\n' {
		buf = append(buf, '\n')
	}
	_, err := l.w.Write(buf)
	return err
}

// Stream writes the logs of every pod to out concurrently, line by line,
// each line prefixed. It returns when every stream has ended (with Follow,
// when the containers stop) or ctx ends, joining the errors of the pods
// whose logs could not be read.
func Stream(ctx context.Context, open Opener, pods []corev1.Pod, out io.Writer, opts Options) error {
	prefix := opts.Prefix
	if prefix == nil {
		prefix = DefaultPrefix
	}
	w := &lockedWriter{w: out}
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i := range pods {
		p := &pods[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := streamOne(ctx, open, p, prefix(p), w, opts); err != nil {
				errs[i] = fmt.Errorf("logs of pod %s/%s: %w", p.Namespace, p.Name, err)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return errors.Join(errs...)
}

func logOptions(p *corev1.Pod, opts Options) *corev1.PodLogOptions {
	lo := &corev1.PodLogOptions{Container: opts.Container, Follow: opts.Follow}
	if lo.Container == "" && len(p.Spec.Containers) > 0 {
		lo.Container = p.Spec.Containers[0].Name
	}
	if opts.Since > 0 {
		secs := int64(opts.Since.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		lo.SinceSeconds = &secs
	}
	if opts.Tail >= 0 {
		tail := opts.Tail
		lo.TailLines = &tail
	}
	return lo
}

func streamOne(ctx context.Context, open Opener, p *corev1.Pod, prefix string, w *lockedWriter, opts Options) error {
	retry := opts.RetryInterval
	if retry <= 0 {
		retry = time.Second
	}
	var rc io.ReadCloser
	for {
		var err error
		rc, err = open(ctx, p, logOptions(p, opts))
		if err == nil {
			break
		}
		if !opts.Follow || ctx.Err() != nil {
			return err
		}
		// A container that has not started has no logs yet: wait for it.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retry):
		}
	}
	defer rc.Close()
	r := bufio.NewReader(rc)
	for {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 {
			if werr := w.line(prefix, b); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// Failure says why a pod failed.
type Failure struct {
	Pod       *corev1.Pod
	Container string
	ExitCode  int32
	Reason    string
	Message   string
}

// String says how the pod ended, on one line: with the container's
// message when it is one line (Output shows a longer one).
func (f Failure) String() string {
	s := fmt.Sprintf("exited with code %d", f.ExitCode)
	if f.Container == "" {
		s = "failed"
	}
	if f.Reason != "" {
		s += " (" + f.Reason + ")"
	}
	if m := strings.TrimSpace(f.Message); m != "" && !strings.Contains(m, "\n") {
		s += ": " + m
	}
	return s
}

// Output returns the last n lines of a container's message that spans
// several lines, each prefixed with indent, or "" for a message of one
// line or none. With terminationMessagePolicy FallbackToLogsOnError the
// message of a failed container is the end of its log: the tool's own
// error, as a traceback's last lines.
func (f Failure) Output(indent string, n int) string {
	m := strings.Trim(f.Message, "\n")
	if !strings.Contains(m, "\n") {
		return ""
	}
	lines := strings.Split(m, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(indent + strings.TrimRight(l, " \r\t") + "\n")
	}
	return b.String()
}

// FirstFailure returns the first pod, in the order given, whose phase is
// Failed or one of whose containers (init containers first) terminated with
// a non-zero exit code, and why.
func FirstFailure(pods []corev1.Pod) (Failure, bool) {
	for i := range pods {
		p := &pods[i]
		// Init containers run first: one that failed explains the rest.
		statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
		for _, cs := range statuses {
			for _, st := range []corev1.ContainerState{cs.State, cs.LastTerminationState} {
				if t := st.Terminated; t != nil && t.ExitCode != 0 {
					return Failure{Pod: p, Container: cs.Name, ExitCode: t.ExitCode, Reason: t.Reason, Message: t.Message}, true
				}
			}
		}
		if p.Status.Phase == corev1.PodFailed {
			return Failure{Pod: p, Reason: p.Status.Reason, Message: p.Status.Message}, true
		}
	}
	return Failure{}, false
}

// List returns the pods matching selector in namespace.
func List(ctx context.Context, cs kubernetes.Interface, namespace, selector string) ([]corev1.Pod, error) {
	l, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list pods %s in namespace %s: %w", selector, namespace, err)
	}
	return l.Items, nil
}
