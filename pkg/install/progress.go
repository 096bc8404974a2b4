package install

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/termui"
)

// Progress shows one line per component: on a terminal a live line with a
// spinner and the elapsed time, otherwise a plain line per change. It is
// also the engine's Reporter, so waits report into the component's line.
type Progress struct {
	block *termui.Block

	mu      sync.Mutex
	current string
}

// NewProgress writes progress to w (stderr); tty selects live lines.
func NewProgress(w io.Writer, tty bool) *Progress {
	return &Progress{block: termui.New(w, tty)}
}

// Start opens the line of a component.
func (p *Progress) Start(name, msg string) {
	p.mu.Lock()
	p.current = name
	p.mu.Unlock()
	p.Update(name, msg)
}

// Update changes the message of a running component.
func (p *Progress) Update(name, msg string) {
	if p.block.Set(name, name, msg) && !p.block.Live() {
		p.block.Print(fmt.Sprintf("%s: %s", name, msg))
	}
}

// Done closes the line of a component.
func (p *Progress) Done(name, msg string, err error) {
	mark := "done"
	if err != nil {
		mark, msg = "failed", err.Error()
	}
	took := p.block.Finish(name, msg, err != nil)
	if !p.block.Live() {
		p.block.Print(fmt.Sprintf("%s: %s: %s (%s)", name, mark, msg, took.Round(time.Second)))
	}
}

// Print writes a line above the live block.
func (p *Progress) Print(s string) { p.block.Print(s) }

// Close stops redrawing.
func (p *Progress) Close() { p.block.Close() }

var _ kube.Reporter = reporter{}

// reporter adapts Progress to kube.Reporter: waits report into the line of
// the component being installed.
type reporter struct{ p *Progress }

// Reporter returns the engine Reporter feeding this Progress.
func (p *Progress) Reporter() kube.Reporter { return reporter{p} }

func (r reporter) Applied(kube.ObjectRef, bool) {}
func (r reporter) Deleted(kube.ObjectRef, bool) {}
func (r reporter) Status(ref kube.ObjectRef, status string) {
	r.p.mu.Lock()
	name := r.p.current
	r.p.mu.Unlock()
	r.p.Update(name, fmt.Sprintf("waiting for %s: %s", strings.ToLower(ref.String()), status))
}
func (r reporter) Warning(ref kube.ObjectRef, reason, message string) {
	r.p.Print(fmt.Sprintf("warning: %s: %s: %s", strings.ToLower(ref.String()), reason, message))
}
func (r reporter) Done(kube.ObjectRef, string, error) {}
