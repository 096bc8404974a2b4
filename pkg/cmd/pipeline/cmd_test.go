package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/paddleflow/paddlex/manifests"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

func testFactory() (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}})
	ns := "team"
	f.ConfigFlags.Namespace = &ns
	return f, &out, &errOut
}

func TestRunFlagsIntoOptions(t *testing.T) {
	f, _, _ := testFactory()
	var got *RunOptions
	cmd := NewCmdRun(f, func(o *RunOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--builtin", "ppocr-det", "--set", "train.worker_replicas=3", "--set", "params.version=v9",
		"--generate-name", "--watch", "--timeout", "2h", "--service-account", "argo", "-o", "json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	tr, _ := got.Pipeline.Step("train")
	sv, _ := got.Pipeline.Step("serve")
	if !got.GenerateName || !got.Watch || got.Apply.Timeout != 2*time.Hour || got.ServiceAccount != "argo" ||
		tr.Train.WorkerReplicas != 3 || sv.Serve.ModelVersion != "v9" || got.Pipeline.Namespace != "team" {
		t.Errorf("options = %+v, worker replicas %d, version %s, namespace %s", got, tr.Train.WorkerReplicas, sv.Serve.ModelVersion, got.Pipeline.Namespace)
	}
}

func TestRunReadsFileAndNamespaceFlagWins(t *testing.T) {
	f, _, _ := testFactory()
	file := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(file, []byte("apiVersion: paddlex.io/v1alpha1\nkind: Pipeline\nname: p\nnamespace: from-file\nsteps:\n- name: a\n  container: {image: 'busybox:1.37'}\n"), 0o644)
	var got *RunOptions
	cmd := NewCmdRun(f, func(o *RunOptions) error { got = o; return nil })
	cmd.Flags().StringVarP(f.ConfigFlags.Namespace, "namespace", "n", "", "")
	cmd.SetArgs([]string{"-f", file})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Pipeline.Namespace != "from-file" {
		t.Errorf("namespace = %s, want the file's", got.Pipeline.Namespace)
	}
	cmd = NewCmdRun(f, func(o *RunOptions) error { got = o; return nil })
	cmd.Flags().StringVarP(f.ConfigFlags.Namespace, "namespace", "n", "", "")
	cmd.SetArgs([]string{"-f", file, "-n", "flag-ns"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Pipeline.Namespace != "flag-ns" {
		t.Errorf("namespace = %s, want -n's", got.Pipeline.Namespace)
	}
}

func TestInitAndBuiltins(t *testing.T) {
	f, out, errOut := testFactory()
	bs, err := pipeline.Builtins(manifests.Pipelines, "pipelines")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Every built-in is written as an editable file that loads back as the
	// same pipeline.
	for _, b := range bs {
		file := filepath.Join(dir, b.Name+".yaml")
		cmd := NewCmdInit(f, nil)
		cmd.SetArgs([]string{"--builtin", b.Name, "-o", file})
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(file)
		p, err := pipeline.Load(data, file, nil)
		if err != nil || p.Name != b.Name || p.Suite() != b.Suite || !strings.HasPrefix(string(data), "# Written by `paddlex pipeline init --builtin "+b.Name+"`") {
			t.Fatalf("%s: %v %+v", b.Name, err, p)
		}
		if !strings.Contains(errOut.String(), "wrote "+file) {
			t.Errorf("stderr = %q", errOut)
		}
	}
	file := filepath.Join(dir, "ppocr-det.yaml")
	for _, args := range [][]string{
		{"--builtin", "ppocr-det", "-o", file},             // exists, no --force
		{"--builtin", "nope"},                              // no such built-in
		{"--suite", "paddleocr"},                           // several: choose one
		{"--suite", "paddlex"},                             // no such suite
		{"--builtin", "ppocr-det", "--suite", "paddleocr"}, // exclusive
		{},
	} {
		cmd := NewCmdInit(f, nil)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		cmd.SetArgs(args)
		if err := cmd.Execute(); exit.Code(err) != 2 {
			t.Errorf("init %q: %v, want exit 2", args, err)
		}
	}
	cmd := NewCmdInit(f, nil)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs([]string{"--suite", "paddleocr"})
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "ppocr-det, ppocr-layout-table, ppocr-rec") {
		t.Errorf("--suite with several built-ins: %v", err)
	}
	out.Reset()
	cmd = NewCmdBuiltins(f, nil)
	cmd.SetArgs([]string{"-o", "name"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := "paddleclas-cls\npaddleclas-shitu\npaddlenlp-dialogue\npaddlenlp-mrc\npaddlenlp-mt\npaddlenlp-senti\n" +
		"paddlerec-content\npaddlerec-match\npaddlerec-rank\npaddlerec-recall\nppocr-det\nppocr-layout-table\nppocr-rec\n"
	if out.String() != want {
		t.Errorf("builtins -o name = %q", out)
	}
}

// TestSetOnEveryBuiltin: --set changes a built-in without a file, and a key
// the step does not have is refused (exit 2) by name.
func TestSetOnEveryBuiltin(t *testing.T) {
	bs, err := pipeline.Builtins(manifests.Pipelines, "pipelines")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		p, err := readPipeline("", b.Name, []string{"params.version=v9", "volume.size=77Gi"}, nil)
		if err != nil {
			t.Fatalf("%s: %v", b.Name, err)
		}
		pushed := 0
		for _, s := range p.Steps {
			if s.ModelHub != nil {
				pushed++
				if s.ModelHub.ModelVersion != "v9" && s.ModelHub.ModelVersion != "latest" {
					t.Errorf("%s: step %s pushes %s", b.Name, s.Name, s.ModelHub.ModelVersion)
				}
			}
			if s.Serve != nil && s.Serve.ModelVersion != "v9" {
				t.Errorf("%s: step %s serves %s", b.Name, s.Name, s.Serve.ModelVersion)
			}
		}
		// Every workflow keeps what it trained beyond its run's volume.
		if pushed == 0 || p.Volume.Size != "77Gi" {
			t.Errorf("%s: %d modelhub steps, volume %s", b.Name, pushed, p.Volume.Size)
		}
		var train string
		for _, s := range p.Steps {
			if s.Train != nil {
				train = s.Name
				break
			}
		}
		_, err = readPipeline("", b.Name, []string{train + ".no_such_key=1"}, nil)
		if exit.Code(err) != 2 || !strings.Contains(err.Error(), "no_such_key") {
			t.Errorf("%s: unknown key: %v", b.Name, err)
		}
	}
}

func testWorkflow(t *testing.T) *wfv1.Workflow {
	t.Helper()
	p, err := readPipeline("", "ppocr-det", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Complete("kubeflow")
	c, err := pipeline.Compile(p, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	wf := c.Workflow
	wf.Name = "ppocr-det"
	return wf
}

func setNodes(wf *wfv1.Workflow, phase wfv1.WorkflowPhase, nodes map[string]wfv1.NodePhase, start time.Time) {
	wf.Status.Phase = phase
	wf.Status.StartedAt = metav1.NewTime(start)
	wf.Status.Nodes = wfv1.Nodes{}
	for n, ph := range nodes {
		st := wfv1.NodeStatus{ID: n, Name: wf.Name + "." + n, Phase: ph, StartedAt: metav1.NewTime(start)}
		if ph == wfv1.NodeFailed {
			st.Message = "boom"
		}
		wf.Status.Nodes[n] = st
	}
}

func TestLiveTreeRedrawsInPlace(t *testing.T) {
	wf := testWorkflow(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(90 * time.Second)
	var out bytes.Buffer
	v := newView(&out, true, false, func() time.Time { return now })
	setNodes(wf, "Running", map[string]wfv1.NodePhase{"dataset": "Running", "dataset.sampleset": "Running"}, start)
	v.update(wf)
	first := out.String()
	if strings.Contains(first, "\x1b[2J") || strings.Contains(first, "\x1b[H") {
		t.Error("the screen is cleared")
	}
	lines := strings.Count(first, "\n")
	if !strings.Contains(first, "● dataset") || !strings.Contains(first, "90s") {
		t.Errorf("frame:\n%s", first)
	}
	out.Reset()
	wf = wf.DeepCopy()
	setNodes(wf, "Running", map[string]wfv1.NodePhase{"dataset": "Running", "dataset.sampleset": "Succeeded"}, start)
	v.update(wf)
	v.close()
	second := out.String()
	// The next frame moves the cursor up over the last one and clears each line.
	if !strings.HasPrefix(second, "\x1b["+itoa(lines)+"A") || !strings.Contains(second, "\x1b[2K") || !strings.Contains(second, "✓ sampleset") {
		t.Errorf("redraw = %q", second)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestLinesAndOutcome(t *testing.T) {
	wf := testWorkflow(t)
	start := time.Now().Add(-time.Minute)
	var out, errOut bytes.Buffer
	v := newView(&out, false, false, time.Now)
	setNodes(wf, "Running", map[string]wfv1.NodePhase{"dataset": "Running"}, start)
	v.update(wf)
	v.update(wf) // no change, no line
	setNodes(wf, "Failed", map[string]wfv1.NodePhase{"dataset": "Succeeded", "train": "Failed", "train.paddlejob": "Failed"}, start)
	v.update(wf)
	want := []string{"dataset: Running", "workflow ppocr-det: Running", "dataset: Succeeded after", "train/paddlejob: Failed after", ": boom", "workflow ppocr-det: Failed"}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("lines lack %q:\n%s", w, out.String())
		}
	}
	if strings.Count(out.String(), "dataset: Running") != 1 {
		t.Errorf("repeated line:\n%s", out.String())
	}
	err := outcome(wf, &errOut)
	if exit.Code(err) != 1 || !strings.Contains(errOut.String(), "step train/paddlejob failed: boom") {
		t.Errorf("outcome = %v, stderr %q", err, errOut.String())
	}
	wf.Status.Phase = wfv1.WorkflowSucceeded
	if err := outcome(wf, &errOut); err != nil {
		t.Errorf("succeeded: %v", err)
	}
}
