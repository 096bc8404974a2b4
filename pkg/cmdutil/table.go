package cmdutil

import (
	"context"
	"fmt"
	"io"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// Table collects rows into a metav1.Table and prints it through
// cli-runtime's table printer, as kubectl get does: upper-case headers,
// aligned columns, and server-supplied text escaped for the terminal (an
// ANSI escape prints as "^[", a cell is cut at its first line break).
type Table struct {
	w     io.Writer
	table metav1.Table
}

// NewTable starts a table with headers.
func NewTable(w io.Writer, headers ...string) *Table {
	t := &Table{w: w}
	for _, h := range headers {
		t.table.ColumnDefinitions = append(t.table.ColumnDefinitions, metav1.TableColumnDefinition{Name: h, Type: "string"})
	}
	return t
}

// Row adds a row.
func (t *Table) Row(cells ...string) {
	row := metav1.TableRow{Cells: make([]any, len(cells))}
	for i, c := range cells {
		row.Cells[i] = c
	}
	t.table.Rows = append(t.table.Rows, row)
}

// Flush prints the table; a table without rows prints nothing.
func (t *Table) Flush() error {
	tw := printers.GetNewTabWriter(t.w)
	if err := printers.NewTablePrinter(printers.PrintOptions{}).PrintObj(&t.table, tw); err != nil {
		return err
	}
	return tw.Flush()
}

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
