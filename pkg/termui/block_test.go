package termui

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestPlainBlockDrawsNothingAndReportsChanges(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, false)
	if !b.Set("a", "job a", "running") || b.Set("a", "job a", "running") || !b.Set("a", "job a", "done") {
		t.Error("Set does not report changes exactly")
	}
	b.Print("warning: x")
	b.Finish("a", "done", false)
	b.Close()
	if buf.String() != "warning: x\n" {
		t.Errorf("plain output %q, want only the printed line", buf.String())
	}
}

func TestLiveBlockRedrawsInPlace(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, true)
	clock := time.Unix(0, 0)
	b.now = func() time.Time { return clock }
	b.Set("a", "job a", "running")
	b.Set("b", "job bb", "pending")
	clock = clock.Add(3 * time.Second)
	b.Finish("a", "complete", false)
	b.Print("warning: slow")
	b.Close()
	out := buf.String()
	// Each redraw after the first moves the cursor up over the last frame
	// and clears each line, never the screen.
	if strings.Contains(out, "\x1b[2J") {
		t.Error("the block clears the screen")
	}
	if !strings.Contains(out, "\x1b[2A") || !strings.Contains(out, "✓ job a   complete  3s") {
		t.Errorf("frames: %q", out)
	}
	if !strings.Contains(out, "\x1b[J"+"warning: slow\n") {
		t.Errorf("printed line not above the block: %q", out)
	}
}
