package localcluster

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

type member struct {
	name, body, link string
	typ              byte
	mode             int64
}

func tarOf(t *testing.T, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Typeflag: m.typ, Mode: m.mode, Linkname: m.link, Size: int64(len(m.body))}
		if m.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if m.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(m.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// debOf writes an ar archive as dpkg-deb does; control's odd size checks
// the padding between members.
func debOf(t *testing.T, dataName string, data []byte) string {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		body []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", []byte("odd")}, {dataName, data}} {
		fmt.Fprintf(&buf, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, 0, 0, 0, "100644", len(m.body))
		buf.Write(m.body)
		if len(m.body)%2 == 1 {
			buf.WriteByte('\n')
		}
	}
	p := filepath.Join(t.TempDir(), dataName+".deb")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDebLayerUnpacksDataTar(t *testing.T) {
	first := tarOf(t, []member{
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "./usr/", typ: tar.TypeDir, mode: 0o755},
		{name: "./usr/bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "./usr/bin/tool3.11", typ: tar.TypeReg, mode: 0o755, body: "#!tool\n"},
		{name: "./usr/bin/tool", typ: tar.TypeSymlink, link: "tool3.11"},
		{name: "./usr/bin/tool-again", typ: tar.TypeLink, link: "./usr/bin/tool3.11"},
		{name: "./usr/share/doc/tool/copyright", typ: tar.TypeReg, mode: 0o644, body: "license"},
	})
	var xzBuf bytes.Buffer
	xw, err := xz.NewWriter(&xzBuf)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = xw.Write(first)
	if err := xw.Close(); err != nil {
		t.Fatal(err)
	}
	second := tarOf(t, []member{
		{name: "./usr/", typ: tar.TypeDir, mode: 0o700},
		{name: "./usr/lib/", typ: tar.TypeDir, mode: 0o755},
		{name: "./usr/lib/libtool.so.1", typ: tar.TypeReg, mode: 0o644, body: "ELF"},
	})
	var zBuf bytes.Buffer
	zw, _ := zstd.NewWriter(&zBuf)
	_, _ = zw.Write(second)
	_ = zw.Close()
	var gzBuf bytes.Buffer
	gw := gzip.NewWriter(&gzBuf)
	_, _ = gw.Write(tarOf(t, []member{{name: "./etc/tool.conf", typ: tar.TypeReg, mode: 0o644, body: "x=1"}}))
	_ = gw.Close()

	layer, err := DebLayer([]string{debOf(t, "data.tar.xz", xzBuf.Bytes()), debOf(t, "data.tar.zst", zBuf.Bytes()), debOf(t, "data.tar.gz", gzBuf.Bytes())})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got = append(got, fmt.Sprintf("%c %s %o %s%s", h.Typeflag, h.Name, h.Mode, h.Linkname, b))
	}
	want := []string{
		"5 usr/ 755 ", "5 usr/bin/ 755 ", "0 usr/bin/tool3.11 755 #!tool\n", "2 usr/bin/tool 0 tool3.11",
		"1 usr/bin/tool-again 0 usr/bin/tool3.11", "5 usr/lib/ 755 ", "0 usr/lib/libtool.so.1 644 ELF", "0 etc/tool.conf 644 x=1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("layer:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDebLayerRefusesWhatIsNotAPackage(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.deb")
	_ = os.WriteFile(p, []byte("<html>"), 0o644)
	if _, err := DebLayer([]string{p}); err == nil || !strings.Contains(err.Error(), "x.deb: not a Debian package") {
		t.Fatalf("got %v", err)
	}
	fifo := tarOf(t, []member{{name: "./dev/fifo", typ: tar.TypeFifo, mode: 0o644}})
	var gzBuf bytes.Buffer
	gw := gzip.NewWriter(&gzBuf)
	_, _ = gw.Write(fifo)
	_ = gw.Close()
	if _, err := DebLayer([]string{debOf(t, "data.tar.gz", gzBuf.Bytes())}); err == nil || !strings.Contains(err.Error(), "is not a file, folder or link") {
		t.Fatalf("got %v", err)
	}
}
