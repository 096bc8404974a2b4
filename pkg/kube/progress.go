package kube

import (
	"fmt"
	"io"
	"strings"

	"github.com/paddleflow/paddlex/pkg/termui"
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
// one live line per awaited object, redrawn in place; otherwise it writes one
// line per change, which suits logs and CI.
func NewReporter(w io.Writer, terminal bool) *ProgressReporter {
	return &ProgressReporter{block: termui.New(w, terminal)}
}

// ProgressReporter is the Reporter commands use.
type ProgressReporter struct {
	block *termui.Block
}

// Applied implements Reporter. Commands print what they applied on stdout,
// as data; progress is about waits.
func (p *ProgressReporter) Applied(ObjectRef, bool) {}

// Deleted implements Reporter, silently for the same reason.
func (p *ProgressReporter) Deleted(ObjectRef, bool) {}

// Status implements Reporter.
func (p *ProgressReporter) Status(ref ObjectRef, status string) {
	label := label(ref)
	if p.block.Set(ref.String(), label, status) && !p.block.Live() {
		p.block.Print(label + ": " + status)
	}
}

// Warning implements Reporter.
func (p *ProgressReporter) Warning(ref ObjectRef, reason, message string) {
	p.block.Print(fmt.Sprintf("warning: %s: %s: %s", label(ref), reason, message))
}

// Done implements Reporter. Plain output already has the last status as its
// own line; a failure is reported once, by the command's error.
func (p *ProgressReporter) Done(ref ObjectRef, status string, err error) {
	if err != nil {
		status = err.Error()
	}
	p.block.Finish(ref.String(), status, err != nil)
}

// Print writes a line of its own, above the live lines on a terminal, so
// messages from elsewhere (the API server's warnings) do not tear the display.
func (p *ProgressReporter) Print(line string) { p.block.Print(line) }

// Close stops redrawing and leaves the last frame on screen.
func (p *ProgressReporter) Close() { p.block.Close() }

// label names ref in progress lines: "paddlejob kubeflow/ppocr-det".
func label(ref ObjectRef) string {
	name := ref.Name
	if ref.Namespace != "" {
		name = ref.Namespace + "/" + ref.Name
	}
	return strings.ToLower(ref.GVK.Kind) + " " + name
}
