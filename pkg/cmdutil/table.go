package cmdutil

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// Table writes aligned columns the way kubectl get does: upper-case headers,
// three spaces between columns.
type Table struct {
	tw *tabwriter.Writer
}

// NewTable starts a table with headers.
func NewTable(w io.Writer, headers ...string) *Table {
	t := &Table{tw: tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)}
	fmt.Fprintln(t.tw, strings.Join(headers, "\t"))
	return t
}

// Row adds a row.
func (t *Table) Row(cells ...string) {
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

// Flush writes the table.
func (t *Table) Flush() error { return t.tw.Flush() }

// Age renders the time since ts as kubectl does ("5m", "3d"), or "<unknown>".
func Age(ts metav1.Time, now time.Time) string {
	if ts.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(ts.Time))
}

// OrNone returns s, or "<none>" when it is empty.
func OrNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// PrintEvents writes the events of ref as describe commands show them.
func PrintEvents(ctx context.Context, w io.Writer, k kube.Interface, ref kube.ObjectRef, now time.Time) error {
	events, err := k.Events(ctx, ref)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "Events:")
	if len(events) == 0 {
		fmt.Fprintln(w, "  <none>")
		return nil
	}
	t := NewTable(w, "  TYPE", "REASON", "AGE", "MESSAGE")
	for _, e := range events {
		ts := e.LastTimestamp
		if ts.IsZero() {
			ts = e.CreationTimestamp
		}
		t.Row("  "+e.Type, e.Reason, Age(ts, now), e.Message)
	}
	return t.Flush()
}
