package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// recordPrefix names the files VisualDL's LogWriter writes
// (vdlrecords.TIMESTAMP.log); the board lists the directories holding them
// as runs.
const recordPrefix = "vdlrecords."

// writeRecords is what a suite's LogWriter leaves when VisualDL is on: one
// record file in dir with the loss of each epoch. The real file is
// VisualDL's protobuf records; this stand-in writes text lines.
func writeRecords(dir string, losses []float64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	for i, l := range losses {
		fmt.Fprintf(&b, "train/loss step %d value %.6f\n", (i+1)*10, l)
	}
	name := filepath.Join(dir, fmt.Sprintf("%s%d.log", recordPrefix, time.Now().Unix()))
	return os.WriteFile(name, []byte(b.String()), 0o644)
}

// visualdl is the `visualdl` command (python -m visualdl): the board for
// --logdir on --host:--port. The stand-in serves a page naming the runs
// (the directories under --logdir holding record files) and the runs as
// JSON at /app/api/runs, in VisualDL's response envelope.
func visualdl(args []string) error {
	fl := flag.NewFlagSet("visualdl", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	logdir := fl.String("logdir", "", "")
	host := fl.String("host", "127.0.0.1", "")
	port := fl.Int("port", 8040, "")
	if err := fl.Parse(args); err != nil {
		return fmt.Errorf("usage: visualdl [-h] [--logdir LOGDIR [LOGDIR ...]] [--host HOST] [--port PORT]\nvisualdl: error: %v", err)
	}
	if *logdir == "" {
		return fmt.Errorf("usage: visualdl [-h] [--logdir LOGDIR [LOGDIR ...]] [--host HOST] [--port PORT]\nvisualdl: error: the following arguments are required: --logdir")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return fmt.Errorf("OSError: [Errno 98] Address already in use: %v", err)
	}
	fmt.Printf("VisualDL (stand-in) at http://%s:%d/ for %s\n", *host, *port, *logdir)
	return http.Serve(ln, board(*logdir))
}

// board serves the runs of logdir.
func board(logdir string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/app/api/runs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"status": 0, "msg": "", "data": runs(logdir)})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/app" && r.URL.Path != "/app/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>VisualDL</title></head><body>\n<h1>VisualDL</h1>\n<ul>\n")
		for _, run := range runs(logdir) {
			fmt.Fprintf(w, "<li>%s</li>\n", html.EscapeString(run))
		}
		fmt.Fprintf(w, "</ul>\n</body></html>\n")
	})
	return mux
}

// runs lists the directories under logdir (relative, "." for logdir
// itself) that hold record files, sorted.
func runs(logdir string) []string {
	seen := map[string]bool{}
	_ = filepath.WalkDir(logdir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), recordPrefix) {
			return nil
		}
		rel, err := filepath.Rel(logdir, filepath.Dir(p))
		if err == nil {
			seen[rel] = true
		}
		return nil
	})
	out := []string{}
	for r := range seen {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}
