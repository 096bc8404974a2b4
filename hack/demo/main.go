// Command demo runs paddlex's main job on an embedded local cluster.
//
// By default (root on Linux) the cluster has a real node: a kubelet with
// containerd, runc and a CNI bridge, kube-proxy and CoreDNS, inside a network
// namespace of its own, and the journey test (test/realnode TestJourney) runs
// on it, each paddlex command shown as typed with its output.
//
// With -simulated, kwok simulates one node and its pods instead: no
// container runs; objects, controllers and status transitions are real.
//
//	make demo              # the journey on a real node (root, Linux)
//	make demo SIM=1        # the simulated cluster, no root needed
//	make demo SIM=1 KEEP=1 # leave the simulated cluster up until Ctrl-C
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
)

func main() {
	bin := flag.String("testbin", os.Getenv("PADDLEX_TESTBIN"), "directory hack/testbin.sh prints")
	paddlex := flag.String("paddlex", "bin/paddlex", "the paddlex binary to run")
	keep := flag.Bool("keep", os.Getenv("KEEP") != "", "keep the simulated cluster running until interrupted")
	simulated := flag.Bool("simulated", os.Getenv("SIM") != "", "simulate the node and its pods with kwok instead of running them")
	flag.Parse()
	var err error
	if *simulated {
		err = run(*bin, *paddlex, *keep)
	} else {
		err = realNode(*bin, *keep)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// realNode runs the journey on a real node, through the test that checks
// it: what is shown is what is asserted.
func realNode(bin string, keep bool) error {
	if bin == "" {
		return fmt.Errorf("no binaries: run `make demo` (it builds them with hack/testbin.sh all node)")
	}
	if runtime.GOOS != "linux" || os.Geteuid() != 0 {
		return fmt.Errorf("the real node needs root on Linux (a kubelet, containerd and a network namespace): run `sudo make demo`, or `make demo SIM=1` for the simulated cluster")
	}
	if keep {
		return fmt.Errorf("KEEP=1 keeps the simulated cluster only: run `make demo SIM=1 KEEP=1`")
	}
	say(`A local cluster with a real node: kube-apiserver, etcd, kube-controller-manager and
kube-scheduler, a kubelet with containerd, runc and a CNI bridge, kube-proxy and CoreDNS, in a
network namespace of its own; images are built here and served by a local OCI registry.

Real, built from their releases' Go modules and running as pods: MinIO and mc, the Kubeflow
training-operator, Knative Serving (controller, webhook, activator, autoscaler, queue-proxy) and
Argo Workflows (workflow controller, argoexec). Every container paddlex renders runs.

Stand-ins, for what cannot be installed or built here:
  - the Paddle suites (no Python package index): the suite image is Debian's python3 with small
    entry points (tools/train.py, export_model.py, paddle_serving_client.convert, the Paddle
    Serving model server, visualdl) that parse arguments and write files as the real tools do;
  - Knative's networking layer (Kourier is Envoy): a gateway in this process routes by Host;
  - paddle-operator (not on the Go module proxy): a controller in this process plays its
    SampleSet, SampleJob and PaddleJob with real pods.

The journey: install-standalone and status, train create (training-operator) with its export
and conversion Jobs, modelhub push and pull, serve create, predict and logs, train logs and
visualdl, then pipeline run --builtin ppocr-det from the data set to a served model.
The first run builds the components and images; later runs take a few minutes.`)
	cmd := exec.Command("go", "test", "-count=1", "-timeout", "40m", "-run", "^TestJourney$")
	cmd.Dir = filepath.Join("test", "realnode")
	// Local directory mode (no package argument): the output streams.
	cmd.Env = append(os.Environ(), "PADDLEX_TESTBIN="+bin, "PADDLEX_REALNODE=1",
		"PADDLEX_REQUIRE_INTEGRATION=1", testenv.DemoEnv+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("the journey failed after %s: %w", time.Since(start).Round(time.Second), err)
	}
	say("Done in %s: every step above ran in real pods on the node and was checked.\n"+
		"On a real cluster: paddlex install-standalone, then the same commands.", time.Since(start).Round(time.Second))
	return nil
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
