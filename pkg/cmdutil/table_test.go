package cmdutil

import (
	"bytes"
	"strings"
	"testing"
)

func TestTableAlignsColumns(t *testing.T) {
	var out bytes.Buffer
	tb := NewTable(&out, "NAME", "PHASE", "AGE")
	tb.Row("ppocr-det", "Running", "5m")
	tb.Row("x", "<none>", "3d")
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "NAME        PHASE     AGE\n" +
		"ppocr-det   Running   5m\n" +
		"x           <none>    3d\n"
	if out.String() != want {
		t.Errorf("table:\n%q\nwant\n%q", out.String(), want)
	}
}

func TestTableEscapesServerText(t *testing.T) {
	var out bytes.Buffer
	tb := NewTable(&out, "NAME", "MESSAGE")
	// A name or message set by whoever can write the object must not drive
	// the terminal: the escape prints visibly, a line break cuts the cell.
	tb.Row("evil\x1b[31mred", "first line\nsecond line")
	if err := tb.Flush(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.Contains(got, "\x1b") {
		t.Errorf("table kept a raw escape: %q", got)
	}
	if !strings.Contains(got, "evil^[[31mred") {
		t.Errorf("table did not print the escape as ^[: %q", got)
	}
	if strings.Contains(got, "second line") || !strings.Contains(got, "first line...") {
		t.Errorf("table did not cut the cell at the line break: %q", got)
	}
}

func TestTableWithoutRowsPrintsNothing(t *testing.T) {
	var out bytes.Buffer
	if err := NewTable(&out, "NAME").Flush(); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("empty table printed %q", out.String())
	}
}
