package localcluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// The real node's names and addresses. All of them exist only inside the
// namespaces of Isolate.
const (
	// RealNodeName is the node the kubelet registers.
	RealNodeName = "paddlex-node"
	// RegistryAddr is the OCI registry the node pulls every image from.
	RegistryAddr = "127.0.0.1:5000"
	// PodCIDR is the pod network of the CNI bridge.
	PodCIDR = "10.244.0.0/24"
	// ServiceCIDR is the API server's Service range.
	ServiceCIDR = "10.96.0.0/16"
	// ClusterDNS is the kube-dns Service address CoreDNS answers behind.
	ClusterDNS = "10.96.0.10"
	// PauseImage is the sandbox image containerd runs for each pod.
	PauseImage = "registry.k8s.io/pause:3.10"
)

// Debian's paths for the node's system parts (hack/node-packages.sh).
const (
	containerdBin = "/usr/bin/containerd"
	runcBin       = "/usr/sbin/runc"
	cniBinDir     = "/usr/lib/cni"
)

// startNode runs the real node: the registry, containerd, the kubelet,
// kube-proxy and CoreDNS, each a child process logging into Dir, with
// their state under the tmpfs Prepare mounted.
func startNode(e *Cluster, c *simCluster) error {
	root := nodeRoot()
	if !Isolated() || root == "" {
		return fmt.Errorf("the real node runs inside localcluster.Isolate's namespaces")
	}
	for _, p := range []string{containerdBin, runcBin, filepath.Join(cniBinDir, "bridge"), "/bin/busybox"} {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s is missing: run hack/node-packages.sh as root", p)
		}
	}
	for _, name := range []string{"kubelet", "kube-proxy", "coredns", "registry"} {
		if _, err := os.Stat(filepath.Join(e.Bin, name)); err != nil {
			return fmt.Errorf("%s is not in %s: run hack/testbin.sh node", name, e.Bin)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs, err := kubernetes.NewForConfig(e.Config)
	if err != nil {
		return err
	}
	if err := startRegistry(ctx, e, c, root); err != nil {
		return err
	}
	if err := pushPause(ctx, e); err != nil {
		return err
	}
	if err := startContainerd(ctx, e, c, root); err != nil {
		return err
	}
	if err := nodeRBAC(ctx, cs); err != nil {
		return err
	}
	if err := startKubelet(e, c, root); err != nil {
		return err
	}
	if err := startKubeProxy(e, c, root); err != nil {
		return err
	}
	if err := startCoreDNS(ctx, e, c, cs, root); err != nil {
		return err
	}
	return waitNodeReady(ctx, e, cs, RealNodeName, "kubelet")
}

func writeFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(content), 0o600)
}

// waitHTTP waits until url answers (any status).
func waitHTTP(ctx context.Context, e *Cluster, url, component string) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer on %s; log:\n%s", component, url, e.Log(component, 30))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func startRegistry(ctx context.Context, e *Cluster, c *simCluster, root string) error {
	cfg := filepath.Join(root, "registry.yaml")
	if err := writeFile(cfg, fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(root, "registry"), RegistryAddr)); err != nil {
		return err
	}
	// The registry exports traces by default; there is no collector.
	if err := c.startEnv(e, "registry", []string{"OTEL_TRACES_EXPORTER=none"}, "serve", cfg); err != nil {
		return err
	}
	return waitHTTP(ctx, e, "http://"+RegistryAddr+"/v2/", "registry")
}

// registryHosts points containerd at the local registry for one upstream
// registry host: the image keeps its upstream name, and containerd asks
// RegistryAddr for HOST/REPOSITORY. The server itself is the local registry
// so that containerd has nothing upstream to fall back to.
func registryHosts(root, host string) error {
	local := "http://" + RegistryAddr + "/v2/" + host
	return writeFile(filepath.Join(root, "certs.d", host, "hosts.toml"), fmt.Sprintf(`server = %q
override_path = true

[host.%q]
  capabilities = ["pull", "resolve"]
  override_path = true
`, local, local))
}

func startContainerd(ctx context.Context, e *Cluster, c *simCluster, root string) error {
	cni := fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "paddlex",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, filepath.Join(root, "cni-ipam"), PodCIDR)
	if err := writeFile(filepath.Join(root, "cni", "10-paddlex.conflist"), cni); err != nil {
		return err
	}
	// restrict_oom_score_adj: without CAP_SYS_RESOURCE (as in many CI
	// containers) runc cannot lower a score and every pod fails with
	// "can't get final child's PID from pipe: EOF".
	cfg := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = %[3]q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[4]q
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %[5]q
    conf_dir = %[6]q
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %[7]q
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = %[8]q
`, filepath.Join(root, "containerd", "root"), filepath.Join(root, "containerd", "state"), containerdSocket(root),
		PauseImage, cniBinDir, filepath.Join(root, "cni"), filepath.Join(root, "certs.d"), runcBin)
	if err := writeFile(filepath.Join(root, "containerd.toml"), cfg); err != nil {
		return err
	}
	if err := c.startPath(e, "containerd", containerdBin, nil, "--config", filepath.Join(root, "containerd.toml")); err != nil {
		return err
	}
	for {
		if conn, err := net.Dial("unix", containerdSocket(root)); err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("containerd did not start; log:\n%s", e.Log("containerd", 30))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func containerdSocket(root string) string { return filepath.Join(root, "containerd.sock") }

// userKubeconfig writes a kubeconfig for a component's user.
func userKubeconfig(e *Cluster, root, user string, groups []string) (string, error) {
	kc, _, err := e.AddUser(user, groups)
	if err != nil {
		return "", err
	}
	path := filepath.Join(root, strings.NewReplacer(":", "-").Replace(user)+".kubeconfig")
	return path, os.WriteFile(path, kc, 0o600)
}

// nodeRBAC grants the node's components what a cluster's bootstrap gives
// them: the kubelet the system:node role (the local API server runs RBAC
// alone, without the Node authorizer), CoreDNS read access to Services
// and their endpoints. kube-proxy's user is bound by the API server's
// bootstrap policy already.
func nodeRBAC(ctx context.Context, cs kubernetes.Interface) error {
	if err := ignoreExists(cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "paddlex:node"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:node"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:nodes"}},
	}, metav1.CreateOptions{})); err != nil {
		return fmt.Errorf("bind ClusterRole system:node: %w", err)
	}
	if err := ignoreExists(cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "system:coredns"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		},
	}, metav1.CreateOptions{})); err != nil {
		return fmt.Errorf("create ClusterRole system:coredns: %w", err)
	}
	if err := ignoreExists(cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "system:coredns"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:coredns"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "system:coredns"}},
	}, metav1.CreateOptions{})); err != nil {
		return fmt.Errorf("bind ClusterRole system:coredns: %w", err)
	}
	return nil
}

// ignoreExists returns a create call's error unless the object existed.
func ignoreExists[T any](_ T, err error) error {
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

func startKubelet(e *Cluster, c *simCluster, root string) error {
	kc, err := userKubeconfig(e, root, "system:node:"+RealNodeName, []string{"system:nodes"})
	if err != nil {
		return err
	}
	// The settings a node inside a container needs: cgroup v1 hosts are
	// allowed, no QoS cgroup tree and no allocatable enforcement (the
	// container cannot manage its parent's cgroups), and every pod's
	// cgroup under one parent that Isolate removes. Eviction and image
	// garbage collection stay out of the way of a short-lived node. Pods
	// sync every 10s rather than every minute, so a Secret a controller
	// fills after its pod started (a webhook's certificate) reaches the
	// pod's volume while the test waits.
	cfg := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://%s
cgroupDriver: cgroupfs
cgroupRoot: %s
cgroupsPerQOS: false
enforceNodeAllocatable: []
failCgroupV1: false
failSwapOn: false
localStorageCapacityIsolation: false
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
clusterDNS: [%s]
clusterDomain: cluster.local
resolvConf: ""
readOnlyPort: 0
serializeImagePulls: false
evictionHard: {memory.available: "1Mi", nodefs.available: "1Mi", nodefs.inodesFree: "1", imagefs.available: "1Mi"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
podLogsDir: %s
syncFrequency: 10s
`, containerdSocket(root), cgroupParent(root), ClusterDNS, filepath.Join(root, "pod-logs"))
	if err := writeFile(filepath.Join(root, "kubelet.yaml"), cfg); err != nil {
		return err
	}
	return c.start(e, "kubelet", "--config="+filepath.Join(root, "kubelet.yaml"), "--kubeconfig="+kc,
		"--root-dir="+filepath.Join(root, "kubelet"), "--hostname-override="+RealNodeName, "--node-ip="+NodeIP)
}

func startKubeProxy(e *Cluster, c *simCluster, root string) error {
	kc, err := userKubeconfig(e, root, "system:kube-proxy", nil)
	if err != nil {
		return err
	}
	// masqueradeAll: the pods share one bridge without br_netfilter, so a
	// reply from a Service's pod to a pod would skip the reverse NAT;
	// masquerading sends it back through the node. Zero conntrack values
	// leave the host's sysctls alone.
	cfg := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: %s}
mode: iptables
clusterCIDR: %s
hostnameOverride: %s
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
iptables: {masqueradeAll: true}
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`, kc, PodCIDR, RealNodeName)
	if err := writeFile(filepath.Join(root, "kube-proxy.yaml"), cfg); err != nil {
		return err
	}
	return c.start(e, "kube-proxy", "--config="+filepath.Join(root, "kube-proxy.yaml"))
}

// startCoreDNS runs CoreDNS on the node's address and puts it behind the
// kube-dns Service, as a cluster's DNS add-on is. It answers for
// cluster.local only: there is no upstream to forward other names to.
func startCoreDNS(ctx context.Context, e *Cluster, c *simCluster, cs kubernetes.Interface, root string) error {
	kc, err := userKubeconfig(e, root, "system:coredns", nil)
	if err != nil {
		return err
	}
	// Names outside the cluster have nowhere to go: they are answered
	// NXDOMAIN, as a name that does not exist, rather than SERVFAIL, so
	// resolvers move on through their search lists without retrying.
	corefile := fmt.Sprintf(`cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind %[1]s
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig %[2]s
        pods insecure
    }
    cache 5
}
.:53 {
    bind %[1]s
    template ANY ANY {
        rcode NXDOMAIN
    }
}
`, NodeIP, kc)
	if err := writeFile(filepath.Join(root, "Corefile"), corefile); err != nil {
		return err
	}
	if err := c.start(e, "coredns", "-conf", filepath.Join(root, "Corefile")); err != nil {
		return err
	}
	ports := []corev1.ServicePort{
		{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
		{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: metav1.NamespaceSystem,
			Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: corev1.ServiceSpec{ClusterIP: ClusterDNS, Ports: ports},
	}
	if err := ignoreExists(cs.CoreV1().Services(metav1.NamespaceSystem).Create(ctx, svc, metav1.CreateOptions{})); err != nil {
		return fmt.Errorf("create Service kube-system/kube-dns: %w", err)
	}
	// No selector: the endpoint is the node's address, where CoreDNS runs
	// beside the kubelet, so the slice is written here.
	name := func(s string) *string { return &s }
	proto := func(p corev1.Protocol) *corev1.Protocol { return &p }
	port := int32(53)
	ready := true
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns-node", Namespace: metav1.NamespaceSystem,
			Labels: map[string]string{discoveryv1.LabelServiceName: "kube-dns", discoveryv1.LabelManagedBy: "paddlex-localcluster"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{NodeIP}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
		Ports: []discoveryv1.EndpointPort{
			{Name: name("dns"), Protocol: proto(corev1.ProtocolUDP), Port: &port},
			{Name: name("dns-tcp"), Protocol: proto(corev1.ProtocolTCP), Port: &port},
		},
	}
	if err := ignoreExists(cs.DiscoveryV1().EndpointSlices(metav1.NamespaceSystem).Create(ctx, slice, metav1.CreateOptions{})); err != nil {
		return fmt.Errorf("create EndpointSlice kube-system/kube-dns-node: %w", err)
	}
	return nil
}

// waitNodeReady waits for a node's Ready condition.
func waitNodeReady(ctx context.Context, e *Cluster, cs kubernetes.Interface, node, component string) error {
	for {
		n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err == nil {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s never became Ready; %s log:\n%s", node, component, e.Log(component, 40))
		case <-time.After(200 * time.Millisecond):
		}
	}
}
