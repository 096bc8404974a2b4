//go:build linux

package realnode

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/kube"
)

var operatorOnce sync.Once

// trainingOperator deploys the Kubeflow training-operator from its own
// standalone manifests, as a pod on the node, once per run, and waits for
// its Deployment to become Available: its webhook serves and its
// controllers run.
func trainingOperator(t *testing.T, e *testenv.Env) {
	t.Helper()
	var failed string
	operatorOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		manifests, err := e.Cluster.TrainingOperatorManifests(ctx)
		if err != nil {
			failed = err.Error()
			return
		}
		e.Apply(t, "", manifests)
		ref := kube.ObjectRef{GVK: schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, Namespace: "kubeflow", Name: "training-operator"}
		if _, err := e.Kube().Wait(ctx, ref, kube.DeploymentAvailable()); err != nil {
			pods, _ := e.Clientset.CoreV1().Pods("kubeflow").List(ctx, metav1.ListOptions{})
			failed = err.Error() + "\nkubelet log:\n" + e.Log("kubelet", 30)
			for _, p := range pods.Items {
				failed += "\npod " + p.Name + ": " + string(p.Status.Phase)
			}
		}
	})
	if failed != "" {
		t.Fatalf("deploy the training-operator: %s", failed)
	}
}

// TestTrainingOperatorRunsPaddleJob trains the PP-OCR example on two
// workers with the real training-operator: its pods run the rendered
// paddle.distributed.launch command with the stand-in suite, the workers
// find each other through the operator's Services, rank 0 saves the
// checkpoints on the task volume, and the export and conversion Jobs leave
// the serving archive. A misspelt config key then fails the real pods:
// paddlex exits 1 naming the failed rank and pod, with the tool's own
// message, and `train logs` shows it too.
func TestTrainingOperatorRunsPaddleJob(t *testing.T) {
	e := testenv.Get(t)
	trainingOperator(t, e)
	ns := namespace(t, e)
	claim(t, e, ns, "task-center")
	suiteImage(t, e, ocrImage)
	args := []string{"train", "create", "-n", ns, "--project", "PaddleOCR", "--backend", "training-operator",
		"--image", ocrImage, "--config-path", "configs/det/det_mv3_db.yml", "--pvc-name", "task-center",
		"--worker-replicas", "2", "--wait", "--timeout", "10m"}

	r := e.Run(t, append(append([]string{"train", "create", "ppocr-det"}, args[2:]...), "--config-change", "Global.epoch_num=3")...)
	if r.Code != 0 {
		t.Fatalf("train create: %s\ntraining-operator pods:\n%s", r, operatorLog(t, e))
	}
	vol := localcluster.VolumeDir(ns, "task-center")
	for _, f := range []string{"models/best_accuracy.pdparams", "models/latest.pdparams", "log/workerlog.0",
		"inference/inference.pdmodel", "ppocr-det.tar.gz"} {
		if _, err := os.Stat(filepath.Join(vol, f)); err != nil {
			t.Errorf("after training: %v", err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(vol, "log", "workerlog.0")); !strings.Contains(string(b), "epoch: [3/3]") {
		t.Errorf("workerlog.0:\n%s", b)
	}

	// The tool's own message reaches the user from the failed pod's
	// termination message (the end of its log), under the rank and the
	// pod that failed; `train logs` shows the whole log.
	r = e.Run(t, append(append([]string{"train", "create", "ppocr-typo"}, args[2:]...), "--config-change", "Globl.epoch_num=3")...)
	want := "AssertionError: the sub_keys can only be one of global_config: dict_keys(['Eval', 'Global', 'Train']), but get: Globl, please check your running command"
	if r.Code != 1 || !strings.Contains(r.Stderr, "training ppocr-typo failed: worker-0 exited with code 1") ||
		!strings.Contains(r.Stderr, "pod ppocr-typo-worker-0 ended with:") || !strings.Contains(r.Stderr, "    "+want) {
		t.Fatalf("a misspelt config key: %s", r)
	}
	logs := e.Run(t, "train", "logs", "ppocr-typo", "-n", ns)
	if !strings.Contains(logs.Stdout+logs.Stderr, want) {
		t.Fatalf("train logs of the failed training: %s", logs)
	}
}

func operatorLog(t *testing.T, e *testenv.Env) string {
	t.Helper()
	ctx := context.Background()
	pods, err := e.Clientset.CoreV1().Pods("kubeflow").List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) == 0 {
		return "none"
	}
	b, _ := e.Clientset.CoreV1().Pods("kubeflow").GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	return tail(string(b), 30)
}

func tail(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
