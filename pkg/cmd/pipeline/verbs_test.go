package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddleflow/paddlex/manifests"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

// TestLintNeedsNoCluster: lint runs its phases with no kubeconfig at all,
// reports every file and exits 2 naming those with errors.
func TestLintNeedsNoCluster(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KUBECONFIG", filepath.Join(dir, "none"))
	det, err := manifests.Pipelines.ReadFile("pipelines/ppocr-det.yaml")
	if err != nil {
		t.Fatal(err)
	}
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, det, 0o644)
	os.WriteFile(bad, []byte(strings.Replace(string(det), "after: [dataset]", "after: [nosuch]", 1)), 0o644)

	f, out, _ := testFactory()
	cmd := NewCmdLint(f, nil)
	cmd.SetArgs([]string{good})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if out.String() != good+": pipeline ppocr-det is valid\n" {
		t.Errorf("good: %q", out)
	}

	f, out, _ = testFactory()
	cmd = NewCmdLint(f, nil)
	cmd.SetArgs([]string{good, bad, filepath.Join(dir, "missing.yaml"), "-o", "json"})
	err = cmd.Execute()
	if exit.Code(err) != exit.Usage || !strings.Contains(err.Error(), "2 of 3 pipeline files have errors: "+bad+", ") {
		t.Fatalf("lint of a bad file: %v", err)
	}
	var results []pipeline.LintResult
	if err := json.Unmarshal(out.Bytes(), &results); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if len(results) != 3 || !results[0].Valid || results[1].Valid || results[2].Valid ||
		!strings.Contains(results[1].Findings[0].Message, `no step named "nosuch"`) || results[1].Findings[0].Severity != "error" {
		t.Errorf("findings: %+v", results)
	}

	// FILE - reads stdin.
	f, out, _ = testFactory()
	f.Streams.In = strings.NewReader(string(det))
	cmd = NewCmdLint(f, nil)
	cmd.SetArgs([]string{"-"})
	if err := cmd.Execute(); err != nil || !strings.Contains(out.String(), "-: pipeline ppocr-det is valid") {
		t.Errorf("stdin: %v %s", err, out)
	}
}

func TestVerbFlagsIntoOptions(t *testing.T) {
	f, _, _ := testFactory()
	var w *WatchOptions
	cmd := NewCmdWatch(f, true, func(o *WatchOptions) error { w = o; return nil })
	cmd.SetArgs([]string{"ppocr-det", "--timeout", "90m", "-o", "json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !w.Quiet || w.Name != "ppocr-det" || w.Namespace != "team" || w.Timeout != 90*time.Minute || w.Output != "json" {
		t.Errorf("wait options %+v", w)
	}
	var c *ControlOptions
	cmd = NewCmdControl(f, pipeline.ActionStop, func(o *ControlOptions) error { c = o; return nil })
	cmd.SetArgs([]string{"a", "b", "--dry-run=server"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if c.Action != "stop" || len(c.Names) != 2 || c.DryRun != "server" {
		t.Errorf("stop options %+v", c)
	}
	for _, args := range [][]string{
		{"watch", "ppocr-det", "-o", "yaml"},
		{"wait", "ppocr-det", "-o", "wide"},
		{"wait", "ppocr-det", "--timeout", "-1s"},
		{"wait", "Bad_Name"},
		{"stop", "ppocr-det", "--dry-run=client"},
		{"resubmit", "ppocr-det", "--watch", "--dry-run=server"},
		{"resubmit", "ppocr-det", "-o", "wide"},
		{"lint", "a.yaml", "-o", "yaml"},
		{"lint", "-", "-"},
	} {
		f, _, _ := testFactory()
		root := NewCmdPipeline(f)
		root.SetArgs(args)
		root.SilenceErrors, root.SilenceUsage = true, true
		if err := root.Execute(); exit.Code(err) != exit.Usage {
			t.Errorf("%v: %v", args, err)
		}
	}
}
