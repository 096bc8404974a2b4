// Command demo runs paddlex's main job on an embedded local cluster: a real
// kube-apiserver, etcd, kube-controller-manager and kube-scheduler, with kwok
// simulating one node and its pods. No container runs: objects, controllers
// and status transitions are real; the training containers are not.
//
//	make demo            # build paddlex, start the cluster, run the job, stop
//	make demo KEEP=1     # leave the cluster up until Ctrl-C, to try commands
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/paddleflow/paddlex/internal/localcluster"
)

func main() {
	bin := flag.String("testbin", os.Getenv("PADDLEX_TESTBIN"), "directory hack/testbin.sh prints")
	paddlex := flag.String("paddlex", "bin/paddlex", "the paddlex binary to run")
	keep := flag.Bool("keep", os.Getenv("KEEP") != "", "keep the cluster running until interrupted")
	flag.Parse()
	if err := run(*bin, *paddlex, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(bin, paddlex string, keep bool) error {
	if bin == "" {
		return fmt.Errorf("no binaries: run `make demo` (it builds them with hack/testbin.sh)")
	}
	paddlex, err := filepath.Abs(paddlex)
	if err != nil {
		return err
	}
	say("Starting a local cluster: real kube-apiserver, etcd, kube-controller-manager and kube-scheduler,\n" +
		"and the real Kubeflow training-operator; kwok simulates one node and its pods, so no container\n" +
		"runs: a training pod \"succeeds\" after a moment. CRDs: paddle-operator, training-operator, Argo, Knative.")
	start := time.Now()
	c, err := localcluster.Start(localcluster.Options{
		Bin:              bin,
		CRDs:             []string{localcluster.CRDsPaddle, localcluster.CRDsArgo, localcluster.CRDsKnative},
		TrainingOperator: true,
		UpstreamDir:      os.Getenv(localcluster.UpstreamDirEnv),
	})
	if err != nil {
		return err
	}
	defer c.Stop()
	say("Cluster up in %s. To use it from another shell while it runs:\n  export KUBECONFIG=%s", time.Since(start).Round(100*time.Millisecond), c.Kubeconfig)

	env := append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "PADDLEX_NAMESPACE=kubeflow")
	// The platform's namespace and prerequisites, as `paddlex install` would leave them.
	if err := prerequisites(c, env); err != nil {
		return err
	}
	steps := [][]string{
		// No paddle-operator runs here, so the data set is applied without waiting.
		{"dataset", "apply", "icdar2015", "--source-uri", "bos://paddleflow-public.hkg.bcebos.com/icdar2015/",
			"--source-secret", "icdar2015", "--wait=false"},
		{"dataset", "list"},
		// The original's PP-OCR detection example, through the real training-operator; the export
		// and serving-conversion Jobs then run through the real Job controller.
		{"train", "create", "ppocr-det", "--project", "PaddleOCR", "--backend", "training-operator",
			"--image", "registry.baidubce.com/paddleflow-public/paddleocr:2.1.3-gpu-cuda10.2-cudnn7",
			"--config-path", "configs/det/det_mv3_db.yml", "--pvc-name", "task-center",
			"--worker-replicas", "2", "--gpu-per-node", "1", "--config-change", "Global.epoch_num=10",
			"--pretrain-model", "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/MobileNetV3_large_x0_5_pretrained.pdparams",
			"--timeout", "5m"},
		{"train", "list"},
		// The whole built-in pipeline: the API server checks the Workflow and every object its
		// steps will create, then it is submitted. No Argo controller runs here: it stays Pending.
		{"pipeline", "run", "--builtin", "ppocr-det", "--dry-run=server", "-o", "name"},
		{"pipeline", "run", "--builtin", "ppocr-det"},
		{"pipeline", "get", "ppocr-det"},
	}
	for _, s := range steps {
		if err := paddlexRun(paddlex, env, s...); err != nil {
			return err
		}
	}
	say("Done: the data set's objects applied, a PP-OCR training run Succeeded through the real\n" +
		"training-operator and Job controller (simulated pods), and the ppocr-det pipeline accepted\n" +
		"by the API server. On a real cluster: paddlex install-standalone, then the same commands.")
	if keep {
		say("The cluster keeps running (KUBECONFIG=%s). Ctrl-C stops it.", c.Kubeconfig)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		<-ctx.Done()
	}
	return nil
}

// prerequisites creates the namespace, the Secrets the data set needs and
// the task volume training writes to.
func prerequisites(c *localcluster.Cluster, env []string) error {
	manifest := `apiVersion: v1
kind: Namespace
metadata: {name: kubeflow}
---
apiVersion: v1
kind: Secret
metadata: {name: data-center, namespace: kubeflow}
stringData: {name: data-center, storage: minio}
---
apiVersion: v1
kind: Secret
metadata: {name: icdar2015, namespace: kubeflow}
stringData: {name: icdar2015}
`
	say("$ kubectl apply -f -   # namespace kubeflow, Secrets data-center and icdar2015")
	cmd := exec.Command("kubectl", "apply", "--server-side", "-f", "-")
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, strings.NewReader(manifest), os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("prerequisites: %w", err)
	}
	cs, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	say("# PersistentVolumeClaim kubeflow/task-center, bound to a local volume")
	if _, err := localcluster.BoundClaim(context.Background(), cs, "kubeflow", "task-center"); err != nil {
		return fmt.Errorf("prerequisites: %w", err)
	}
	return nil
}

func paddlexRun(paddlex string, env []string, args ...string) error {
	say("$ paddlex %s", strings.Join(args, " "))
	cmd := exec.Command(paddlex, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("paddlex %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func say(format string, a ...any) {
	fmt.Printf("\n"+format+"\n", a...)
}
