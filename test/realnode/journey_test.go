//go:build linux

package realnode

import (
	"crypto/sha256"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
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
//  4. `paddlex train logs` streams the trainer's real container log.
//
// Serving (Knative) and pipelines (Argo) join the journey as their
// controllers come up on the node.
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
		"--worker-replicas", "1", "--config-change", "Global.epoch_num=2", "--wait", "--timeout", "10m")
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

	r = e.Run(t, "train", "logs", "ppocr-det", "-n", ns)
	if r.Code != 0 || !strings.Contains(r.Stdout, "[worker-0] ") || !strings.Contains(r.Stdout, "epoch: [2/2]") {
		t.Fatalf("train logs: %s", r)
	}
}
