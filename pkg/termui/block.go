// Package termui draws progress on stderr: on a terminal, a block of live
// lines (spinner, message, elapsed time) redrawn in place without clearing
// the screen; elsewhere nothing is drawn and callers print plain lines.
package termui

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Block is a set of live lines, one per key, in the order they first appear.
// It is safe for concurrent use.
type Block struct {
	w   io.Writer
	tty bool
	now func() time.Time

	mu     sync.Mutex
	lines  []*line
	byKey  map[string]*line
	drawn  int
	ticker *time.Ticker
	stop   chan struct{}
}

type line struct {
	label, msg string
	start, end time.Time
	state      int // 0 running, 1 done, 2 failed
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// New returns a Block writing to w; terminal selects live drawing.
func New(w io.Writer, terminal bool) *Block {
	return &Block{w: w, tty: terminal, now: time.Now, byKey: map[string]*line{}}
}

// Live reports whether the block draws live lines.
func (b *Block) Live() bool { return b.tty }

// Set shows msg on the line of key (labelled label), starting the line and
// its clock when key is new or finished. It reports whether the message
// changed, so plain-mode callers print one line per change.
func (b *Block) Set(key, label, msg string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.byKey[key]
	switch {
	case !ok:
		l = &line{label: label, start: b.now()}
		b.byKey[key] = l
		b.lines = append(b.lines, l)
	case l.state != 0:
		l.start, l.end, l.state = b.now(), time.Time{}, 0
	case l.msg == msg:
		return false
	}
	l.msg = msg
	if b.tty {
		b.startTicker()
		b.redraw()
	}
	return true
}

// Finish ends the line of key with msg, marked failed or done, and returns
// how long it ran.
func (b *Block) Finish(key, msg string, failed bool) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.byKey[key]
	if !ok {
		return 0
	}
	l.end, l.msg, l.state = b.now(), msg, 1
	if failed {
		l.state = 2
	}
	if b.tty {
		b.redraw()
	}
	return l.end.Sub(l.start)
}

// Print writes a line: above the live block on a terminal, as is elsewhere.
func (b *Block) Print(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.tty && b.drawn > 0 {
		fmt.Fprintf(b.w, "\x1b[%dA\x1b[J%s\n", b.drawn, s)
		b.drawn = 0
		b.redraw()
		return
	}
	fmt.Fprintln(b.w, s)
}

// Close stops redrawing and leaves the last frame on screen.
func (b *Block) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ticker != nil {
		b.ticker.Stop()
		close(b.stop)
		b.ticker = nil
	}
	if b.tty && len(b.lines) > 0 {
		b.redraw()
	}
}

// startTicker keeps spinners and clocks moving between changes. Callers hold b.mu.
func (b *Block) startTicker() {
	if b.ticker != nil {
		return
	}
	b.ticker = time.NewTicker(150 * time.Millisecond)
	b.stop = make(chan struct{})
	t, stop := b.ticker, b.stop
	go func() {
		for {
			select {
			case <-t.C:
				b.mu.Lock()
				b.redraw()
				b.mu.Unlock()
			case <-stop:
				return
			}
		}
	}()
}

// redraw rewrites the block in place: cursor up over the last frame, then
// one cleared line per key. Callers hold b.mu.
func (b *Block) redraw() {
	var sb strings.Builder
	if b.drawn > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", b.drawn)
	}
	now := b.now()
	frame := spinner[(now.UnixMilli()/150)%int64(len(spinner))]
	width := 0
	for _, l := range b.lines {
		width = max(width, len(l.label))
	}
	for _, l := range b.lines {
		mark, end := frame, now
		switch l.state {
		case 1:
			mark, end = "✓", l.end
		case 2:
			mark, end = "✗", l.end
		}
		fmt.Fprintf(&sb, "\x1b[2K%s %-*s  %s  %s\n", mark, width, l.label, l.msg, end.Sub(l.start).Round(time.Second))
	}
	b.drawn = len(b.lines)
	_, _ = io.WriteString(b.w, sb.String())
}
