package kube

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Reporter receives the engine's progress. Implementations must be safe for
// concurrent use: waves apply objects concurrently.
type Reporter interface {
	Applied(ref ObjectRef, dryRun bool)
	Deleted(ref ObjectRef, dryRun bool)
	// Status reports a changed status while waiting on ref.
	Status(ref ObjectRef, status string)
	// Warning reports a Warning event of ref.
	Warning(ref ObjectRef, reason, message string)
	// Done ends a wait on ref; err is nil on success.
	Done(ref ObjectRef, status string, err error)
}

// NopReporter discards progress.
type NopReporter struct{}

func (NopReporter) Applied(ObjectRef, bool)           {}
func (NopReporter) Deleted(ObjectRef, bool)           {}
func (NopReporter) Status(ObjectRef, string)          {}
func (NopReporter) Warning(ObjectRef, string, string) {}
func (NopReporter) Done(ObjectRef, string, error)     {}

// NewReporter returns a Reporter writing to w (stderr). On a terminal it keeps
// one live line per object, redrawn in place; otherwise it writes one line
// per change, which suits logs and CI.
func NewReporter(w io.Writer, terminal bool) *ProgressReporter {
	return &ProgressReporter{w: w, tty: terminal, now: time.Now}
}

// ProgressReporter is the Reporter commands use.
type ProgressReporter struct {
	w   io.Writer
	tty bool
	now func() time.Time

	mu      sync.Mutex
	lines   []*line
	byRef   map[ObjectRef]*line
	drawn   int
	ticker  *time.Ticker
	stopped chan struct{}
}

type line struct {
	ref    ObjectRef
	status string
	start  time.Time
	end    time.Time
	state  int // 0 running, 1 done, 2 failed
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (p *ProgressReporter) lineFor(ref ObjectRef) *line {
	if p.byRef == nil {
		p.byRef = map[ObjectRef]*line{}
	}
	l, ok := p.byRef[ref]
	if !ok {
		l = &line{ref: ref, start: p.now()}
		p.byRef[ref] = l
		p.lines = append(p.lines, l)
	}
	return l
}

// Applied implements Reporter. Commands print what they applied on stdout,
// as data; progress is about waits.
func (p *ProgressReporter) Applied(ObjectRef, bool) {}

// Deleted implements Reporter, silently for the same reason.
func (p *ProgressReporter) Deleted(ObjectRef, bool) {}

// Status implements Reporter.
func (p *ProgressReporter) Status(ref ObjectRef, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lineFor(ref)
	l.status, l.state, l.end = status, 0, time.Time{}
	if p.tty {
		p.startTicker()
		p.redraw()
		return
	}
	fmt.Fprintf(p.w, "%s %s: %s\n", strings.ToLower(ref.GVK.Kind), nameOf(ref), status)
}

// Warning implements Reporter.
func (p *ProgressReporter) Warning(ref ObjectRef, reason, message string) {
	p.print(fmt.Sprintf("warning: %s %s: %s: %s", strings.ToLower(ref.GVK.Kind), nameOf(ref), reason, message))
}

// Done implements Reporter.
func (p *ProgressReporter) Done(ref ObjectRef, status string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lineFor(ref)
	l.end = p.now()
	l.state = 1
	if err != nil {
		l.state = 2
		status = err.Error()
	}
	l.status = status
	if p.tty {
		p.redraw()
	}
	// Plain output already has the last status as its own line; a failure
	// is reported once, by the command's error.
}

// Close stops redrawing and leaves the last frame on screen.
func (p *ProgressReporter) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ticker != nil {
		p.ticker.Stop()
		close(p.stopped)
		p.ticker = nil
	}
	if p.tty {
		p.redraw()
	}
}

// print writes a line above the live block.
func (p *ProgressReporter) print(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.drawn)
		p.drawn = 0
		fmt.Fprintln(p.w, s)
		p.redraw()
		return
	}
	fmt.Fprintln(p.w, s)
}

func (p *ProgressReporter) startTicker() {
	if p.ticker != nil {
		return
	}
	p.ticker = time.NewTicker(150 * time.Millisecond)
	p.stopped = make(chan struct{})
	t, stop := p.ticker, p.stopped
	go func() {
		for {
			select {
			case <-t.C:
				p.mu.Lock()
				p.redraw()
				p.mu.Unlock()
			case <-stop:
				return
			}
		}
	}()
}

// redraw rewrites the live block in place: cursor up over the last frame,
// then one cleared line per object. Callers hold p.mu.
func (p *ProgressReporter) redraw() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	now := p.now()
	frame := spinner[(now.UnixMilli()/150)%int64(len(spinner))]
	for _, l := range p.lines {
		mark, end := frame, now
		switch l.state {
		case 1:
			mark, end = "✓", l.end
		case 2:
			mark, end = "✗", l.end
		}
		fmt.Fprintf(&b, "\x1b[2K%s %s %s: %s  %s\n", mark, strings.ToLower(l.ref.GVK.Kind), nameOf(l.ref), l.status,
			end.Sub(l.start).Round(time.Second))
	}
	p.drawn = len(p.lines)
	io.WriteString(p.w, b.String())
}

func nameOf(ref ObjectRef) string {
	if ref.Namespace == "" {
		return ref.Name
	}
	return ref.Namespace + "/" + ref.Name
}
