package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/client-go/kubernetes"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

func mark(phase string) string {
	switch wfv1.NodePhase(phase) {
	case wfv1.NodeSucceeded:
		return "✓"
	case wfv1.NodeFailed, wfv1.NodeError:
		return "✗"
	case wfv1.NodeRunning:
		return "●"
	case wfv1.NodeSkipped, wfv1.NodeOmitted:
		return "-"
	}
	return "○"
}

func human(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return duration.HumanDuration(d)
}

func workflowPhase(wf *wfv1.Workflow) string {
	if wf.Status.Phase == "" {
		return string(wfv1.WorkflowPending)
	}
	return string(wf.Status.Phase)
}

func workflowDuration(wf *wfv1.Workflow, now time.Time) time.Duration {
	n := pipeline.Node{StartedAt: wf.Status.StartedAt.Time, FinishedAt: wf.Status.FinishedAt.Time}
	return n.Duration(now)
}

// treeLines renders wf as a tree: a header, then one line per step and
// part with phase, duration and Argo's message.
func treeLines(wf *wfv1.Workflow, now time.Time) []string {
	tree := pipeline.Tree(wf)
	done, total := pipeline.Progress(tree)
	head := fmt.Sprintf("workflow %s  %s  %d/%d", wf.Name, pipeline.State(wf), done, total)
	if d := human(workflowDuration(wf, now)); d != "" {
		head += "  " + d
	}
	if wf.Status.Message != "" {
		head += "  " + wf.Status.Message
	}
	type row struct{ prefix, name, phase, dur, msg string }
	var rows []row
	width := 0
	for i, n := range tree {
		branch, stem := "├─ ", "│  "
		if i == len(tree)-1 {
			branch, stem = "└─ ", "   "
		}
		rows = append(rows, row{branch + mark(n.Phase) + " ", n.Name, n.Phase, human(n.Duration(now)), n.Message})
		for j, c := range n.Children {
			b := "├─ "
			if j == len(n.Children)-1 {
				b = "└─ "
			}
			rows = append(rows, row{stem + b + mark(c.Phase) + " ", c.Name, c.Phase, human(c.Duration(now)), c.Message})
		}
	}
	for _, r := range rows {
		if w := len([]rune(r.prefix)) + len(r.name); w > width {
			width = w
		}
	}
	lines := []string{head}
	for _, r := range rows {
		pad := width - len([]rune(r.prefix)) - len(r.name)
		line := fmt.Sprintf("%s%s%s  %-9s  %6s", r.prefix, r.name, strings.Repeat(" ", pad), r.phase, r.dur)
		if r.msg != "" {
			line += "  " + r.msg
		}
		lines = append(lines, strings.TrimRight(line, " "))
	}
	return lines
}

// view shows a watched Workflow: on a terminal a live tree redrawn in place
// (cursor up over the last frame, each line cleared; the screen is never
// cleared), otherwise one line per step change, or with JSON one object per
// change.
type view struct {
	out  io.Writer
	tty  bool
	json bool
	now  func() time.Time

	mu     sync.Mutex
	wf     *wfv1.Workflow
	drawn  int
	last   map[string]string
	phase  string
	ticker *time.Ticker
	stop   chan struct{}
}

func newView(out io.Writer, tty, jsonLines bool, now func() time.Time) *view {
	return &view{out: out, tty: tty && !jsonLines, json: jsonLines, now: now, last: map[string]string{}}
}

// stepEvent is one line of `--watch -o json`.
type stepEvent struct {
	Workflow   string     `json:"workflow"`
	Step       string     `json:"step,omitempty"`
	Phase      string     `json:"phase"`
	Message    string     `json:"message,omitempty"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// update shows a new state of the Workflow.
func (v *view) update(wf *wfv1.Workflow) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.wf = wf
	if v.tty {
		if v.ticker == nil {
			// Redraw every second so running durations advance; the
			// state itself only changes on watch events.
			v.ticker = time.NewTicker(time.Second)
			v.stop = make(chan struct{})
			go func(t *time.Ticker, stop chan struct{}) {
				for {
					select {
					case <-t.C:
						v.mu.Lock()
						v.redraw()
						v.mu.Unlock()
					case <-stop:
						return
					}
				}
			}(v.ticker, v.stop)
		}
		v.redraw()
		return
	}
	for _, n := range pipeline.Tree(wf) {
		v.changed(wf, n.Name, n)
		for _, c := range n.Children {
			v.changed(wf, n.Name+"/"+c.Name, c)
		}
	}
	if p := workflowPhase(wf); p != v.phase {
		v.phase = p
		if v.json {
			v.emit(stepEvent{Workflow: wf.Name, Phase: p, Message: wf.Status.Message,
				StartedAt: timePtr(wf.Status.StartedAt.Time), FinishedAt: timePtr(wf.Status.FinishedAt.Time)})
		} else {
			line := fmt.Sprintf("workflow %s: %s", wf.Name, p)
			if wf.Status.Message != "" {
				line += ": " + wf.Status.Message
			}
			fmt.Fprintln(v.out, line)
		}
	}
}

func (v *view) changed(wf *wfv1.Workflow, path string, n pipeline.Node) {
	key := n.Phase + "\x00" + n.Message
	if v.last[path] == key {
		return
	}
	first := v.last[path] == ""
	v.last[path] = key
	if first && n.Phase == pipeline.PhaseWaiting {
		return
	}
	if v.json {
		v.emit(stepEvent{Workflow: wf.Name, Step: path, Phase: n.Phase, Message: n.Message,
			StartedAt: timePtr(n.StartedAt), FinishedAt: timePtr(n.FinishedAt)})
		return
	}
	line := fmt.Sprintf("%s: %s", path, n.Phase)
	if d := human(n.Duration(v.now())); d != "" && pipeline.Done(n.Phase) {
		line += " after " + d
	}
	if n.Message != "" {
		line += ": " + n.Message
	}
	fmt.Fprintln(v.out, line)
}

func (v *view) emit(e stepEvent) {
	b, _ := json.Marshal(e)
	fmt.Fprintln(v.out, string(b))
}

// redraw rewrites the live tree in place. Callers hold v.mu.
func (v *view) redraw() {
	if v.wf == nil {
		return
	}
	lines := treeLines(v.wf, v.now())
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", v.drawn)
	}
	for _, l := range lines {
		b.WriteString("\x1b[2K" + l + "\n")
	}
	if len(lines) < v.drawn {
		// The frame shrank: clear what is left of the old one below.
		b.WriteString("\x1b[J")
	}
	v.drawn = len(lines)
	io.WriteString(v.out, b.String())
}

// aside prints line on w. On a terminal the live tree is taken off the
// screen first and drawn again below the line, so the two do not tear.
func (v *view) aside(w io.Writer, line string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.tty && v.drawn > 0 {
		fmt.Fprintf(v.out, "\x1b[%dA\x1b[J", v.drawn)
		v.drawn = 0
	}
	fmt.Fprintln(w, line)
	if v.tty {
		v.redraw()
	}
}

// final returns the last state of the Workflow the view was shown.
func (v *view) final() *wfv1.Workflow {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.wf
}

// close stops redrawing, leaving the last frame on screen.
func (v *view) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.ticker != nil {
		v.ticker.Stop()
		close(v.stop)
		v.ticker = nil
	}
	if v.tty {
		v.redraw()
	}
}

// follow watches the Workflow until it finishes and returns its outcome:
// nil when it succeeded, exit 1 with the failing step and its message when
// it failed, exit 3 when ctx's deadline (--timeout) passed first. The
// engine's wait drives it: the view draws each state the watch delivers,
// and the run's Warning events are printed on errOut.
//
// timeout is the --timeout that bounds ctx from the start of the command's
// Run: a wait that ran out reports it, the time the command waited in all,
// rather than the part of it spent watching.
//
// A failed run also shows the end of the failed container's log, read
// through cs (nil: not shown).
func follow(ctx context.Context, k kube.Interface, cs kubernetes.Interface, ref kube.ObjectRef, v *view, errOut io.Writer, timeout time.Duration) error {
	obj, err := k.WithReporter(&followReporter{v: v, errOut: errOut}).Wait(ctx, ref, &finished{ref: ref, v: v})
	v.close()
	var te *kube.TimeoutError
	if errors.As(err, &te) {
		if timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			te.After = timeout
		}
		return fmt.Errorf("%w; it keeps running: follow it with `paddlex pipeline get %s -n %s`", te, ref.Name, ref.Namespace)
	}
	if err != nil {
		return err
	}
	wf, err := pipeline.FromObject(obj)
	if err != nil {
		return err
	}
	err = outcome(wf, errOut)
	if err != nil {
		printFailedStepLog(ctx, cs, wf, errOut)
	}
	return err
}

// finished is the condition of follow: the Workflow reached a final phase.
// It shows every state it is checked on.
type finished struct {
	ref kube.ObjectRef
	v   *view
}

func (c *finished) String() string { return "phase Succeeded, Failed or Error" }

// Check implements kube.Condition. A failed run ends the wait without an
// error: outcome explains it, naming the failing step.
func (c *finished) Check(obj *unstructured.Unstructured) (bool, string, error) {
	if obj == nil {
		return false, "", exit.FailedErrorf("%s was deleted while being watched", c.ref)
	}
	wf, err := pipeline.FromObject(obj)
	if err != nil {
		return false, "", err
	}
	c.v.update(wf)
	done, total := pipeline.Progress(pipeline.Tree(wf))
	status := fmt.Sprintf("%s, %d/%d steps done", workflowPhase(wf), done, total)
	switch wf.Status.Phase {
	case wfv1.WorkflowSucceeded, wfv1.WorkflowFailed, wfv1.WorkflowError:
		return true, status, nil
	}
	return false, status, nil
}

// followReporter takes the engine's progress during follow: the view shows
// the statuses, so only the run's Warning events are printed.
type followReporter struct {
	kube.NopReporter
	v      *view
	errOut io.Writer
}

// Warning implements kube.Reporter.
func (r *followReporter) Warning(ref kube.ObjectRef, reason, message string) {
	r.v.aside(r.errOut, fmt.Sprintf("warning: %s %s: %s: %s", strings.ToLower(ref.GVK.Kind), ref.Name, reason, message))
}

// outcome maps a finished Workflow to the command's result.
func outcome(wf *wfv1.Workflow, errOut io.Writer) error {
	switch wf.Status.Phase {
	case wfv1.WorkflowSucceeded:
		return nil
	case wfv1.WorkflowFailed, wfv1.WorkflowError:
		path, n, ok := pipeline.Failure(pipeline.Tree(wf))
		msg := wf.Status.Message
		if ok {
			fmt.Fprintf(errOut, "step %s %s: %s\n", path, strings.ToLower(n.Phase), cmdutil.OrNone(n.Message))
			if n.Message != "" {
				msg = n.Message
			}
			return exit.FailedErrorf("workflow %s/%s %s at step %s: %s (logs: paddlex pipeline logs %s %s -n %s; resume: paddlex pipeline retry %s -n %s)",
				wf.Namespace, wf.Name, strings.ToLower(string(wf.Status.Phase)), path, cmdutil.OrNone(msg),
				wf.Name, strings.SplitN(path, "/", 2)[0], wf.Namespace, wf.Name, wf.Namespace)
		}
		return exit.FailedErrorf("workflow %s/%s %s: %s", wf.Namespace, wf.Name, strings.ToLower(string(wf.Status.Phase)), cmdutil.OrNone(msg))
	}
	return nil
}
