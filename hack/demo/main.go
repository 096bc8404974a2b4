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
	say("Starting a local cluster: real kube-apiserver, etcd, kube-controller-manager and kube-scheduler;")
	say("kwok simulates one node and its pods, so no container runs. CRDs: paddle-operator, Argo, Knative.")
	start := time.Now()
	c, err := localcluster.Start(localcluster.Options{
		Bin:     bin,
		CRDs:    []string{localcluster.CRDsPaddle, localcluster.CRDsArgo, localcluster.CRDsKnative},
		Cluster: true,
	})
	if err != nil {
		return err
	}
	defer c.Stop()
	say("Cluster up in %s. To use it from another shell while it runs:\n  export KUBECONFIG=%s", time.Since(start).Round(100*time.Millisecond), c.Kubeconfig)

	env := append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "PADDLEX_NAMESPACE=kubeflow")
	steps := [][]string{
		// The platform's namespace and prerequisites, as `paddlex install` would leave them.
		{"kubectl-free", "namespace"},
		{"dataset", "apply", "icdar2015", "--source-uri", "bos://paddleflow-public.hkg.bcebos.com/icdar2015/",
			"--source-secret", "icdar2015", "--wait=false"},
		{"dataset", "list"},
	}
	for _, s := range steps {
		if s[0] == "kubectl-free" {
			if err := prerequisites(paddlex, env); err != nil {
				return err
			}
			continue
		}
		if err := paddlexRun(paddlex, env, s...); err != nil {
			return err
		}
	}
	say("Done. With --wait=false the data set's objects are applied and listed; no paddle-operator")
	say("runs on the local cluster, so the SampleSet stays without a phase.")
	if keep {
		say("The cluster keeps running (KUBECONFIG=%s). Ctrl-C stops it.", c.Kubeconfig)
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		<-ctx.Done()
	}
	return nil
}

// prerequisites creates the namespace and the Secrets the data set needs.
func prerequisites(paddlex string, env []string) error {
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
