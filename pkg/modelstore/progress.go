package modelstore

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// bar draws one progress line on a terminal, redrawn at most ten times a
// second. It counts bytes written to it (downloads) or read from it (the
// minio-go upload hook, which reads as many bytes as it sent). A nil bar
// draws nothing.
type bar struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	total int64
	done  int64
	start time.Time
	drawn time.Time
}

func newBar(w io.Writer, label string, total int64) *bar {
	if w == nil {
		return nil
	}
	return &bar{w: w, label: label, total: total, start: time.Now()}
}

func (b *bar) Write(p []byte) (int, error) {
	b.add(len(p))
	return len(p), nil
}

func (b *bar) Read(p []byte) (int, error) {
	b.add(len(p))
	return len(p), nil
}

func (b *bar) add(n int) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += int64(n)
	if time.Since(b.drawn) >= 100*time.Millisecond {
		b.draw()
	}
}

func (b *bar) draw() {
	b.drawn = time.Now()
	pct := 100.0
	if b.total > 0 {
		pct = 100 * float64(min(b.done, b.total)) / float64(b.total)
	}
	const width = 30
	filled := int(pct / 100 * width)
	line := make([]byte, width)
	for i := range line {
		line[i] = ' '
		if i < filled {
			line[i] = '='
		}
	}
	rate := ""
	if el := time.Since(b.start).Seconds(); el > 0.2 {
		rate = "  " + HumanBytes(int64(float64(b.done)/el)) + "/s"
	}
	fmt.Fprintf(b.w, "\r\033[K%s [%s] %3.0f%%  %s/%s%s", b.label, line, pct, HumanBytes(b.done), HumanBytes(b.total), rate)
}

// finish draws the final state and ends the line.
func (b *bar) finish(ok bool) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if ok {
		b.done = max(b.done, b.total)
	}
	b.draw()
	fmt.Fprintln(b.w)
}

// HumanBytes formats a size in binary units, e.g. 12.3MiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
