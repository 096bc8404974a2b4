package install

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// Progress shows one line per component: on a terminal a live line with a
// spinner and the elapsed time, otherwise a plain line per change. It is
// also the engine's Reporter, so waits report into the component's line.
type Progress struct {
	w   io.Writer
	tty bool
	now func() time.Time

	mu      sync.Mutex
	lines   []*compLine
	byName  map[string]*compLine
	current string
	drawn   int
	ticker  *time.Ticker
	stop    chan struct{}
}

type compLine struct {
	name, msg  string
	start, end time.Time
	state      int // 0 running, 1 done, 2 failed
}

var spinFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// NewProgress writes progress to w (stderr); tty selects live lines.
func NewProgress(w io.Writer, tty bool) *Progress {
	return &Progress{w: w, tty: tty, now: time.Now, byName: map[string]*compLine{}}
}

// Start opens the line of a component.
func (p *Progress) Start(name, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := &compLine{name: name, msg: msg, start: p.now()}
	p.lines = append(p.lines, l)
	p.byName[name] = l
	p.current = name
	if p.tty {
		p.startTicker()
		p.redraw()
		return
	}
	fmt.Fprintf(p.w, "%s: %s\n", name, msg)
}

// Update changes the message of a running component.
func (p *Progress) Update(name, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.byName[name]
	if !ok || l.msg == msg || l.state != 0 {
		return
	}
	l.msg = msg
	if p.tty {
		p.redraw()
		return
	}
	fmt.Fprintf(p.w, "%s: %s\n", name, msg)
}

// Done closes the line of a component.
func (p *Progress) Done(name, msg string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.byName[name]
	if !ok {
		return
	}
	l.end, l.state, l.msg = p.now(), 1, msg
	if err != nil {
		l.state, l.msg = 2, err.Error()
	}
	if p.tty {
		p.redraw()
		return
	}
	mark := "done"
	if err != nil {
		mark = "failed"
	}
	fmt.Fprintf(p.w, "%s: %s: %s (%s)\n", name, mark, l.msg, l.end.Sub(l.start).Round(time.Second))
}

// Print writes a line above the live block.
func (p *Progress) Print(s string) {
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

// Close stops redrawing.
func (p *Progress) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ticker != nil {
		p.ticker.Stop()
		close(p.stop)
		p.ticker = nil
	}
	if p.tty && len(p.lines) > 0 {
		p.redraw()
	}
}

func (p *Progress) startTicker() {
	if p.ticker != nil {
		return
	}
	p.ticker = time.NewTicker(150 * time.Millisecond)
	p.stop = make(chan struct{})
	t, stop := p.ticker, p.stop
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

// redraw rewrites the live block; callers hold p.mu.
func (p *Progress) redraw() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	now := p.now()
	frame := spinFrames[(now.UnixMilli()/150)%int64(len(spinFrames))]
	for _, l := range p.lines {
		mark, end := frame, now
		switch l.state {
		case 1:
			mark, end = "✓", l.end
		case 2:
			mark, end = "✗", l.end
		}
		fmt.Fprintf(&b, "\x1b[2K%s %-16s %s  %s\n", mark, l.name, l.msg, end.Sub(l.start).Round(time.Second))
	}
	p.drawn = len(p.lines)
	io.WriteString(p.w, b.String())
}

// The engine's Reporter: object-level news goes into the current line.

// Applied implements kube.Reporter.
func (p *Progress) Applied(kube.ObjectRef, bool) {}

// Deleted implements kube.Reporter.
func (p *Progress) Deleted(kube.ObjectRef, bool) {}

// Status implements kube.Reporter.
func (p *Progress) Status(ref kube.ObjectRef, status string) {
	p.mu.Lock()
	name := p.current
	p.mu.Unlock()
	p.Update(name, fmt.Sprintf("waiting for %s: %s", strings.ToLower(ref.String()), status))
}

// Warning implements kube.Reporter.
func (p *Progress) Warning(ref kube.ObjectRef, reason, message string) {
	p.Print(fmt.Sprintf("warning: %s: %s: %s", strings.ToLower(ref.String()), reason, message))
}

// Done implements kube.Reporter (a wait ended).
func (p *Progress) waitDone(kube.ObjectRef, string, error) {}

var _ kube.Reporter = reporter{}

// reporter adapts Progress to kube.Reporter (whose Done differs from the
// component-level Done).
type reporter struct{ p *Progress }

// Reporter returns the engine Reporter feeding this Progress.
func (p *Progress) Reporter() kube.Reporter { return reporter{p} }

func (r reporter) Applied(ref kube.ObjectRef, d bool)           { r.p.Applied(ref, d) }
func (r reporter) Deleted(ref kube.ObjectRef, d bool)           { r.p.Deleted(ref, d) }
func (r reporter) Status(ref kube.ObjectRef, s string)          { r.p.Status(ref, s) }
func (r reporter) Warning(ref kube.ObjectRef, reason, m string) { r.p.Warning(ref, reason, m) }
func (r reporter) Done(ref kube.ObjectRef, s string, err error) { r.p.waitDone(ref, s, err) }
