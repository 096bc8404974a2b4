package localcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// FakeNodeName is the kwok-managed node the simulated cluster schedules on.
const FakeNodeName = "kwok-node-0"

// simCluster runs the controllers, the scheduler and kwok beside envtest's
// API server, as child processes logging into Dir.
type simCluster struct {
	procs []*exec.Cmd
}

// controllersAPIOnly are the controllers every environment runs, so deletes
// behave as on a cluster (foreground deletion needs the garbage collector),
// and the aggregated ClusterRoles (admin, edit, view) get their rules, as
// RoleBindings to them grant nothing without the aggregation controller.
const controllersAPIOnly = "garbagecollector,namespace,clusterrole-aggregation"

// controllersCluster are the controllers of the simulated cluster and of
// the real node: all of kube-controller-manager's default ones, with the
// token controller, which fills the service-account-token Secrets that
// Argo's executor reads its credentials from.
const controllersCluster = "*"

func (c *simCluster) start(e *Cluster, name string, args ...string) error {
	return c.startPath(e, name, filepath.Join(e.Bin, name), nil, args...)
}

// startEnv starts a binary of Bin with extra environment variables.
func (c *simCluster) startEnv(e *Cluster, name string, env []string, args ...string) error {
	return c.startPath(e, name, filepath.Join(e.Bin, name), env, args...)
}

// startPath starts the program at path as component name, logging into
// Dir/NAME.log.
func (c *simCluster) startPath(e *Cluster, name, path string, env []string, args ...string) error {
	cmd, _, err := startProcess(e, name, path, env, false, args...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, cmd)
	return nil
}

// startProcess starts the program at path as component name, with extra
// environment variables, its output written to Dir/NAME.log (appended to
// with appendLog, for a component started again), and killed if this
// process dies. The caller closes the log once the process has exited.
func startProcess(e *Cluster, name, path string, env []string, appendLog bool, args ...string) (*exec.Cmd, *os.File, error) {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendLog {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	logf, err := os.OpenFile(filepath.Join(e.Dir, name+".log"), flags, 0o644)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(path, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	return cmd, logf, nil
}

// startControllers runs kube-controller-manager with the given controllers.
func startControllers(e *Cluster, c *simCluster, controllers string) error {
	args := []string{"--kubeconfig=" + e.Kubeconfig, "--leader-elect=false", "--secure-port=0",
		"--controllers=" + controllers,
		"--use-service-account-credentials=false",
		"--concurrent-job-syncs=10", "--concurrent-deployment-syncs=10", "--concurrent-gc-syncs=20",
		"--node-monitor-grace-period=60s",
	}
	if controllers == controllersCluster {
		// The token controller signs with the key whose public half the
		// API server verifies service-account tokens with (envtest's).
		key := filepath.Join(e.env.ControlPlane.GetAPIServer().CertDir, "sa-signer.key")
		if _, err := os.Stat(key); err != nil {
			return fmt.Errorf("the API server's service-account signing key: %w", err)
		}
		args = append(args, "--service-account-private-key-file="+key)
	}
	if err := c.start(e, "kube-controller-manager", args...); err != nil {
		return err
	}
	return waitGarbageCollector(e)
}

// waitGarbageCollector returns once the garbage collector deletes in the
// foreground: it removes the finalizer only after its informers have
// synced, which on a loaded machine takes seconds after the controller
// manager starts. Until then a foreground delete, the engine's, waits.
func waitGarbageCollector(e *Cluster) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	cms := cs.CoreV1().ConfigMaps(metav1.NamespaceDefault)
	probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "paddlex-gc-probe"}}
	if _, err := cms.Create(ctx, probe, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("garbage collector probe: %w", err)
	}
	fg := metav1.DeletePropagationForeground
	if err := cms.Delete(ctx, probe.Name, metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("garbage collector probe: %w", err)
	}
	for {
		if _, err := cms.Get(ctx, probe.Name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the garbage collector did not delete a ConfigMap in the foreground within 2m; kube-controller-manager log:\n%s",
				e.Log("kube-controller-manager", 40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func startCluster(e *Cluster, stages []string, realNode bool) (*simCluster, error) {
	c := &simCluster{}
	kc := e.Kubeconfig
	if err := startControllers(e, c, controllersCluster); err != nil {
		return c, err
	}
	if err := c.start(e, "kube-scheduler", "--kubeconfig="+kc, "--leader-elect=false", "--secure-port=0"); err != nil {
		return c, err
	}
	if realNode {
		return c, startNode(e, c)
	}
	stageDir := filepath.Join(e.Bin, "kwok-stages")
	entries, err := os.ReadDir(stageDir)
	if err != nil {
		return c, fmt.Errorf("kwok stages: %w (run hack/testbin.sh cluster)", err)
	}
	kwokArgs := []string{"--kubeconfig=" + kc, "--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake", "--node-lease-duration-seconds=40",
		"--cidr=10.244.0.0/16", "--node-ip=10.0.0.10"}
	for _, en := range entries {
		kwokArgs = append(kwokArgs, "--config="+filepath.Join(stageDir, en.Name()))
	}
	for _, s := range stages {
		kwokArgs = append(kwokArgs, "--config="+s)
	}
	if err := c.start(e, "kwok", kwokArgs...); err != nil {
		return c, err
	}
	if err := createNode(e); err != nil {
		return c, err
	}
	return c, nil
}

// createNode registers the fake node kwok manages, with room for GPU pods.
func createNode(e *Cluster) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("512Gi"),
		corev1.ResourcePods:   resource.MustParse("500"),
		"nvidia.com/gpu":      resource.MustParse("8"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        FakeNodeName,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
			Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": FakeNodeName, "kubernetes.io/os": "linux"},
		},
		Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
	if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create fake node: %w", err)
	}
	// kwok and the node controllers write the new node's status too, so the
	// capacity is set on the latest version, again after a conflict.
	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		n, err := cs.CoreV1().Nodes().Get(ctx, FakeNodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		n.Status.Capacity, n.Status.Allocatable = capacity, capacity
		_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("fake node status: %w", err)
	}
	for {
		n, err := cs.CoreV1().Nodes().Get(ctx, FakeNodeName, metav1.GetOptions{})
		if err == nil {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			logs, _ := os.ReadFile(filepath.Join(e.Dir, "kwok.log"))
			return fmt.Errorf("fake node never became Ready; kwok log:\n%s", tail(string(logs), 40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *simCluster) stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		_ = p.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
	}
}

// Log returns the last lines of a simulated-cluster component's log
// ("kube-controller-manager", "kube-scheduler", "kwok"), for failure messages.
func (e *Cluster) Log(component string, lines int) string {
	b, _ := os.ReadFile(filepath.Join(e.Dir, component+".log"))
	return tail(string(b), lines)
}

func tail(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
