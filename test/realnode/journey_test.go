//go:build linux

package realnode

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

// TestJourney is a model developer's first day, on the real node, in order:
//
//  1. `paddlex install-standalone` installs the platform's components that
//     run here (the namespace and MinIO, from the real MinIO module), and
//     `paddlex status` reports them healthy from the real pods' readiness.
//     The Kubeflow training-operator is deployed from its own manifests, as
//     its users deploy it.
//  2. `paddlex train create --backend training-operator` trains PP-OCR
//     detection: the operator's real pods run the rendered launcher command
//     on the task volume in the stand-in suite image (Debian's python3, the
//     suite's entry points played by test/standin/paddle), then the export
//     and conversion Jobs leave the serving archive.
//  3. `paddlex modelhub push` uploads it with the real mc Job to the real
//     MinIO; `paddlex modelhub pull` downloads it through a port-forward to
//     the MinIO Service and checks its sha256.
//     `paddlex serve create` serves that version with the real Knative
//     Serving (installed with `paddlex install-standalone --components
//     knative-serving`, its networking layer the Kourier stand-in): the
//     revision's pod fetches the archive from MinIO and verifies its
//     sha256, which `paddlex serve logs` shows, and `paddlex serve predict`
//     gets the stand-in server's answer through the route.
//  4. `paddlex train logs` streams the trainer's real container log, and
//     `paddlex train visualdl` forwards a local port to the training's
//     board (the VisualDL Deployment paddlex renders, running the stand-in
//     `visualdl` on the logs the trainer wrote).
//  5. `paddlex pipeline run --builtin ppocr-det --watch` runs the built-in
//     pipeline from the data set to a served model (builtinPipeline): the
//     real Argo Workflows runs the DAG, the paddle-operator stand-in acts
//     on the SampleSet, SampleJobs and PaddleJob its steps create.
func TestJourney(t *testing.T) {
	e := testenv.Get(t)

	access, secret := platform(t, e)
	st := e.Run(t, append([]string{"status", "--component"}, strings.Join(platformComponents, ","))...)
	if st.Code != 0 {
		t.Fatalf("status after install: %s", st)
	}
	for _, c := range platformComponents {
		if !regexp.MustCompile(`(?m)^` + c + `\s.*\strue\s.*\sready\s*$`).MatchString(st.Stdout) {
			t.Errorf("status does not report %s ready:\n%s", c, st.Stdout)
		}
	}
	t.Logf("paddlex status:\n%s", st.Stdout)
	trainingOperator(t, e)

	ns := namespace(t, e)
	claim(t, e, ns, "task-center")
	modelCenterKeys(t, e, ns, access, secret)
	suiteImage(t, e, ocrImage)
	r := e.Run(t, "train", "create", "ppocr-det", "-n", ns, "--project", "PaddleOCR", "--backend", "training-operator",
		"--image", ocrImage, "--config-path", "configs/det/det_mv3_db.yml", "--pvc-name", "task-center",
		"--worker-replicas", "1", "--config-change", "Global.epoch_num=2", "--use-visualdl", "--wait", "--timeout", "10m")
	if r.Code != 0 || !strings.Contains(r.Stdout, "training ppocr-det succeeded: serving model /mnt/task-center/ppocr-det.tar.gz") {
		t.Fatalf("train create: %s\ntraining-operator log:\n%s", r, operatorLog(t, e))
	}
	archive := readFile(t, filepath.Join(localcluster.VolumeDir(ns, "task-center"), "ppocr-det.tar.gz"))

	// The platform's MinIO is shared by the package's tests, and versions
	// are immutable: the journey pushes a version no other test pushes.
	r = e.Run(t, "modelhub", "push", "ppocr-det-journey", "-n", ns, "--model-name", "ppocr-det", "--model-version", "journey",
		"--pvc-name", "task-center", "--framework", "PaddleOCR", "--timeout", "5m")
	if r.Code != 0 {
		t.Fatalf("modelhub push: %s\nminio log:\n%s", r, podLog(t, e, "kubeflow", "app=minio"))
	}
	out := t.TempDir()
	r = e.Run(t, "modelhub", "pull", "ppocr-det:journey", "-n", ns, "-o", out)
	if r.Code != 0 {
		t.Fatalf("modelhub pull: %s", r)
	}
	if got := readFile(t, filepath.Join(out, "ppocr-det.tar.gz")); sha256.Sum256(got) != sha256.Sum256(archive) {
		t.Fatalf("pulled %d bytes, pushed %d: they differ", len(got), len(archive))
	}

	// Serving: the real Knative Serving serves the version just pushed;
	// its pod fetches the archive from MinIO and verifies its sha256, and
	// the model answers through the route (the Kourier stand-in).
	knativeServing(t, e)
	serveCreate(t, e, ns, "journey")
	predictThroughGateway(t, e, ns)
	verifiedInLogs(t, e, ns, "journey", archive)

	r = e.Run(t, "train", "logs", "ppocr-det", "-n", ns)
	if r.Code != 0 || !strings.Contains(r.Stdout, "[worker-0] ") || !strings.Contains(r.Stdout, "epoch: [2/2]") {
		t.Fatalf("train logs: %s", r)
	}

	// The board: the training's VisualDL Deployment runs `visualdl` on the
	// task volume's logs; `train visualdl` forwards a local port to it
	// through the API server and the kubelet, and the page lists the run
	// the trainer logged.
	waitDeployment(t, e, ns, "ppocr-det-visualdl")
	url, stop := forward(t, e, "train", "visualdl", "ppocr-det", "-n", ns)
	code, page := get(t, url)
	if r := stop(); r.Code != 0 || !strings.Contains(r.Stderr, "ppocr-det-visualdl") {
		t.Errorf("train visualdl: %s", r)
	}
	if code != http.StatusOK || !strings.Contains(page, "<title>VisualDL</title>") || !strings.Contains(page, "<li>.</li>") {
		t.Errorf("GET %s: %d\n%s", url, code, page)
	}

	builtinPipeline(t, e)
}

// waitDeployment waits until Deployment ns/name has an available replica.
func waitDeployment(t *testing.T, e *testenv.Env, ns, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for {
		d, err := e.Clientset.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && d.Status.AvailableReplicas > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("deployment %s/%s never became available (%v)\npods:\n%s", ns, name, err, podsIn(e, ns))
		case <-time.After(time.Second):
		}
	}
}

// forward runs a paddlex command that forwards a local port (train
// visualdl, open, ...) until stop is called, and returns the URL it printed.
func forward(t *testing.T, e *testenv.Env, args ...string) (url string, stop func() testenv.Result) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	out := testenv.NewOutput()
	var r testenv.Result
	run := testenv.Background(t, func(bg *testenv.T) {
		r = e.RunWith(ctx, bg, func(f *cmdutil.Factory) { f.Streams.Out = io.MultiWriter(f.Streams.Out, out) }, args...)
	})
	stop = func() testenv.Result {
		cancel()
		run.Wait()
		return r
	}
	if !out.Await(ctx, run.Done(), "\n") {
		t.Fatalf("paddlex %s printed no URL: %s", strings.Join(args, " "), stop())
	}
	for _, f := range strings.Fields(out.String()) {
		if strings.HasPrefix(f, "http://") {
			return f, stop
		}
	}
	t.Fatalf("paddlex %s printed no URL: %q", strings.Join(args, " "), out.String())
	return "", stop
}

// get GETs url and returns the status and the body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: time.Minute}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
