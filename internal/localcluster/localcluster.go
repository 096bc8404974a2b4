// Package localcluster starts a local control plane from the binaries
// hack/testbin.sh builds: a real kube-apiserver and etcd (through
// controller-runtime's envtest) and, for a simulated cluster, the real
// kube-controller-manager and kube-scheduler with kwok simulating nodes and
// pods. Deployments become Available and Jobs Complete through the real
// controllers; no container runs. The tests and `make demo` share it.
package localcluster

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

//go:embed crds
var fixtureCRDs embed.FS

//go:embed stages
var stageFiles embed.FS

// writeStages writes the PaddleJob pod Stages into dir for kwok.
func writeStages(dir string) ([]string, error) {
	entries, err := fs.ReadDir(stageFiles, "stages")
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, en := range entries {
		b, err := stageFiles.ReadFile("stages/" + en.Name())
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, en.Name())
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// CRD sets Options.CRDs names.
const (
	// CRDsPaddle are paddle-operator's PaddleJob, SampleSet and SampleJob:
	// the upstream CRD file from Options.UpstreamDir, or, without it, the
	// fixtures in crds/paddle.
	CRDsPaddle = "paddle"
	// CRDsTrainingOperator are the training-operator's own CRDs, from its module.
	CRDsTrainingOperator = "training-operator"
	// CRDsTrainingOperatorUpstream is CRDsTrainingOperator, by its older name.
	CRDsTrainingOperatorUpstream = CRDsTrainingOperator
	// CRDsArgo are Argo's full CRDs, from its module.
	CRDsArgo = "argo"
	// CRDsKnative are Knative Serving's CRDs, from its module.
	CRDsKnative = "knative"
)

// Options choose what Start runs.
type Options struct {
	// Bin is the directory hack/testbin.sh prints.
	Bin string
	// CRDs names the CRD sets to install.
	CRDs []string
	// Cluster starts the simulated cluster: controllers, scheduler, kwok and
	// one fake node. Without it only the garbage collector and namespace
	// controllers run beside the API server, so deletes behave as on a cluster.
	Cluster bool
	// Stages are extra kwok Stage files.
	Stages []string
	// UpstreamDir holds other projects' files verbatim (UpstreamDirEnv
	// names it; see ../shared/reference/upstream/README.md): CRDsPaddle is
	// read from its paddle-operator/v1_crd.yaml. Empty falls back to the
	// fixtures, and says so once.
	UpstreamDir string
	// TrainingOperator runs the Kubeflow training-operator (PaddleJob
	// controller only) on the simulated cluster, with its CRDs and kwok
	// Stages that complete PaddleJob pods, or fail those labelled
	// paddlex.test/outcome=fail. It implies Cluster.
	TrainingOperator bool
	// RealNode runs a real node instead of kwok's simulated one: the
	// kubelet with containerd, runc and a CNI bridge, kube-proxy, CoreDNS
	// and an OCI registry the node pulls from (see PushImage), all inside
	// the namespaces of Isolate, which the program must run in. It implies
	// Cluster.
	RealNode bool
}

// Cluster is a running local control plane.
type Cluster struct {
	// Config is an admin client configuration.
	Config *rest.Config
	// Kubeconfig is the path of an admin kubeconfig.
	Kubeconfig string
	// Bin is the directory of the binaries; Dir a temporary directory with
	// the kubeconfig and the components' logs, removed by Stop.
	Bin, Dir string
	// UpstreamCRDs says that paddle-operator's CRDs are the upstream ones
	// (from Options.UpstreamDir), not the fixtures.
	UpstreamCRDs bool

	env   *envtest.Environment
	procs *simCluster
	op    *operator
}

// Start starts a control plane. On error, what did start is stopped.
func Start(o Options) (c *Cluster, err error) {
	dir, err := os.MkdirTemp("", "paddlex-cluster-")
	if err != nil {
		return nil, err
	}
	// envtest logs through controller-runtime, which complains loudly when
	// no logger is set; its messages are not for paddlex's users.
	ctrllog.SetLogger(logr.Discard())
	c = &Cluster{Bin: o.Bin, Dir: dir, procs: &simCluster{}}
	defer func() {
		if err != nil {
			c.Stop()
			c = nil
		}
	}()
	if o.TrainingOperator {
		o.Cluster = true
		o.CRDs = append(o.CRDs, CRDsTrainingOperator)
		stages, err := writeStages(dir)
		if err != nil {
			return c, err
		}
		o.Stages = append(o.Stages, stages...)
	}
	var paths []string
	seen := map[string]bool{}
	for _, set := range o.CRDs {
		if seen[set] {
			continue
		}
		seen[set] = true
		p, err := c.crdPath(o, filepath.Join(dir, "crds"), set)
		if err != nil {
			return c, err
		}
		paths = append(paths, p)
	}
	c.env = &envtest.Environment{BinaryAssetsDirectory: o.Bin, CRDDirectoryPaths: paths, ErrorIfCRDPathMissing: true,
		// Argo's full CRDs are megabytes of schema: on a busy machine they
		// take longer than envtest's default 10s to be served.
		CRDInstallOptions: envtest.CRDInstallOptions{MaxTime: 2 * time.Minute}}
	c.env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/16")
	if o.RealNode {
		o.Cluster = true
		// Its log, for a failure message: a node's start is slow to debug.
		logf, err := os.Create(filepath.Join(dir, "kube-apiserver.log"))
		if err != nil {
			return c, err
		}
		api := c.env.ControlPlane.GetAPIServer()
		api.Out, api.Err = logf, logf
		// On a loaded two-core machine the API server takes longer than
		// envtest's default 20s to become ready.
		c.env.ControlPlaneStartTimeout = 2 * time.Minute
		etcdLog, err := os.Create(filepath.Join(dir, "etcd.log"))
		if err != nil {
			return c, err
		}
		c.env.ControlPlane.Etcd = &envtest.Etcd{Out: etcdLog, Err: etcdLog}
		// The kubernetes Service's endpoint: an address of the node, not
		// loopback, which in a pod is the pod's own. The API server listens
		// there (the port is free: the network namespace is new), with a
		// certificate for the names pods reach it by.
		api.Configure().Set("advertise-address", NodeIP)
		api.CertDir = filepath.Join(dir, "apiserver")
		if api.SecureServing.CA, err = writeAPIServerCerts(api.CertDir, NodeIP); err != nil {
			return c, err
		}
		api.SecureServing.Address, api.SecureServing.Port = NodeIP, "6443"
		// Pods get their service account's token, as on a cluster (envtest
		// turns the admission plugin off, having no controllers).
		api.Configure().Disable("disable-admission-plugins")
		// Reach the kubelet (logs, exec, port-forward) at its address, not
		// by its name, which no resolver knows.
		api.Configure().Set("kubelet-preferred-address-types", "InternalIP")
	}
	if _, err := c.env.Start(); err != nil {
		if o.RealNode {
			err = fmt.Errorf("%w; kube-apiserver log:\n%s\netcd log:\n%s", err, c.Log("kube-apiserver", 5), c.Log("etcd", 30))
		}
		return c, fmt.Errorf("start kube-apiserver and etcd: %w (binaries from %s)", err, o.Bin)
	}
	kc, cfg, err := c.AddUser("paddlex-admin", []string{"system:masters"})
	if err != nil {
		return c, err
	}
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(c.Kubeconfig, kc, 0o600); err != nil {
		return c, err
	}
	c.Config = cfg
	if o.Cluster {
		procs, err := startCluster(c, o.Stages, o.RealNode)
		c.procs = procs
		if err != nil {
			return c, err
		}
		if o.TrainingOperator {
			return c, c.startTrainingOperator()
		}
		return c, nil
	}
	return c, startControllers(c, c.procs, controllersAPIOnly)
}

// AddUser returns a kubeconfig and client configuration for a user in groups
// (none: a user with no permissions but what RBAC grants it).
func (c *Cluster) AddUser(name string, groups []string) ([]byte, *rest.Config, error) {
	user, err := c.env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("add user %s: %w", name, err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return nil, nil, err
	}
	cfg := user.Config()
	cfg.QPS, cfg.Burst = 500, 1000
	return kc, cfg, nil
}

// Stop stops every component and removes Dir.
func (c *Cluster) Stop() {
	c.op.stop()
	if c.op != nil {
		// The operator's certificate directory is fixed outside Dir.
		_ = os.RemoveAll(filepath.Dir(certDir))
	}
	if c.procs != nil {
		c.procs.stop()
	}
	if c.env != nil {
		_ = c.env.Stop()
	}
	_ = os.RemoveAll(c.Dir)
}

// UpstreamDirEnv names the environment variable that points at the upstream
// files; the Makefile sets it when ../shared/reference/upstream exists.
const UpstreamDirEnv = "PADDLEX_UPSTREAM_DIR"

// upstreamPaddleCRDs is paddle-operator's CRD file (commit 667185d) under
// the upstream directory: PaddleJob, SampleSet and SampleJob.
const upstreamPaddleCRDs = "paddle-operator/v1_crd.yaml"

var fallbackOnce sync.Once

// crdPath lays out one CRD set in a directory envtest reads.
func (c *Cluster) crdPath(o Options, dir, set string) (string, error) {
	switch set {
	case CRDsPaddle:
		out := filepath.Join(dir, set)
		if err := os.MkdirAll(out, 0o755); err != nil {
			return "", err
		}
		if o.UpstreamDir == "" {
			fallbackOnce.Do(func() {
				fmt.Fprintf(os.Stderr, "localcluster: %s is not set: paddle-operator's CRDs are the fixtures in internal/localcluster/crds/paddle, "+
					"which keep unknown fields in pod templates; point it at ../shared/reference/upstream for the upstream schemas (make does)\n", UpstreamDirEnv)
			})
			return out, copyFixtures(out, set)
		}
		src := filepath.Join(o.UpstreamDir, upstreamPaddleCRDs)
		b, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("paddle-operator CRDs: %w (%s=%s should hold %s; unset it to use the fixtures)", err, UpstreamDirEnv, o.UpstreamDir, upstreamPaddleCRDs)
		}
		if err := os.WriteFile(filepath.Join(out, "crd.yaml"), b, 0o644); err != nil {
			return "", err
		}
		c.UpstreamCRDs = true
		return out, nil
	case CRDsArgo, CRDsKnative, CRDsTrainingOperator:
		out := filepath.Join(o.Bin, "crds", set)
		if _, err := os.Stat(out); err != nil {
			return "", fmt.Errorf("%s CRDs: %w (run hack/testbin.sh, which copies them from the module cache)", set, err)
		}
		return out, nil
	}
	return "", fmt.Errorf("unknown CRD set %q", set)
}

// copyFixtures writes the embedded fixtures of set into out.
func copyFixtures(out, set string) error {
	entries, err := fs.ReadDir(fixtureCRDs, "crds/"+set)
	if err != nil {
		return err
	}
	for _, en := range entries {
		b, err := fixtureCRDs.ReadFile("crds/" + set + "/" + en.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, en.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
