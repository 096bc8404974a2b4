package localcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// isolatedEnv carries, into the re-executed program, the directory that
// holds the real node's state.
const isolatedEnv = "PADDLEX_NODE_ROOT"

// nodeLink carries NodeIP inside the namespace: one end of a veth pair
// whose other end is there too and leads nowhere.
const nodeLink = "paddlex0"

// Isolated reports whether this program runs inside the namespaces that
// Isolate made, where the real node can start.
func Isolated() bool {
	return os.Getenv(isolatedEnv) != "" && os.Getpid() == 1
}

// Isolate runs this program again, with the same arguments, inside new
// network, mount and PID namespaces, and returns its exit code. The real
// node, its pod network, its registry, its mounts and every process it
// starts live there: pod, Service and node addresses exist only inside, the
// namespace has no route out, and when the program ends the kernel kills
// what is left and removes the namespaces. Isolate then removes the
// container cgroups runc made, and the state directory.
//
// The re-executed program must call Prepare before anything else (testenv
// and the demo do).
func Isolate() (int, error) {
	root, err := os.MkdirTemp("", "paddlex-node-")
	if err != nil {
		return 1, err
	}
	defer func() {
		removeCgroups(cgroupParent(root))
		_ = os.RemoveAll(root)
	}()
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Env = append(os.Environ(), isolatedEnv+"="+root)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		Pdeathsig:  syscall.SIGKILL,
	}
	// The program inside stops its node on an interrupt: hand it on rather
	// than die and leave the kernel to kill the node mid-way.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 1, fmt.Errorf("start %s in new namespaces: %w (the real node needs root)", os.Args[0], err)
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if exit.ExitCode() >= 0 {
			return exit.ExitCode(), nil
		}
		return 1, fmt.Errorf("%s in the node namespaces: %w", os.Args[0], err)
	}
	return 0, err
}

// Prepare sets up the namespaces Isolate made, inside the re-executed
// program: mounts stop propagating to the host; a fresh /proc; tmpfs over
// /run, /var/lib, /var/log and the node's state directory, where
// containerd, runc, CNI and the kubelet keep their fixed paths (network
// namespace mounts, the CNI cache, container log links); the loopback up;
// TMPDIR in the state directory; /etc/resolv.conf naming CoreDNS; and the node's address on a link that also
// carries the default route, so nothing addressed outside leaves the namespace.
func Prepare() error {
	if !Isolated() {
		return errors.New("localcluster.Prepare outside the namespaces of localcluster.Isolate")
	}
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	for _, dir := range []string{"/run", "/var/lib", "/var/log", os.Getenv(isolatedEnv)} {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755"); err != nil {
			return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
		}
	}
	// Temporary files (envtest's certificates and etcd data, test
	// directories) go there too, and vanish with the namespaces.
	tmp := filepath.Join(os.Getenv(isolatedEnv), "tmp")
	if err := os.Mkdir(tmp, 0o1777); err != nil {
		return err
	}
	if err := os.Setenv("TMPDIR", tmp); err != nil {
		return err
	}
	// The host's resolver is outside: programs in the namespaces ask
	// CoreDNS on the node instead.
	resolv := filepath.Join(os.Getenv(isolatedEnv), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver "+NodeIP+"\n"), 0o644); err != nil {
		return err
	}
	if err := syscall.Mount(resolv, "/etc/resolv.conf", "", syscall.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount %s on /etc/resolv.conf: %w", resolv, err)
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", nodeLink, "type", "veth", "peer", "name", nodeLink + "-end"},
		{"addr", "add", NodeIP + "/32", "dev", nodeLink},
		{"link", "set", nodeLink + "-end", "up"},
		{"link", "set", nodeLink, "up"},
		{"route", "add", "default", "dev", nodeLink},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// nodeRoot is the node's state directory, inside the namespaces.
func nodeRoot() string { return os.Getenv(isolatedEnv) }

// VolumeDir is the directory of BoundClaim's volume ns/name on the real
// node, which tests may read and seed directly.
func VolumeDir(ns, name string) string {
	return filepath.Join(nodeRoot(), "volumes", ns, name)
}

// cgroupParent is the cgroup under which runc puts the node's containers
// (the kubelet's cgroupRoot), one per node, so Isolate can remove them.
func cgroupParent(root string) string { return "/" + filepath.Base(root) }

// removeCgroups removes the cgroup parent and everything under it from
// every mounted hierarchy. The processes in them are gone with the PID
// namespace, so the directories are empty; removal is depth first.
func removeCgroups(parent string) {
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*")
	hierarchies = append(hierarchies, "/sys/fs/cgroup")
	for _, h := range hierarchies {
		dir := filepath.Join(h, parent)
		if _, err := os.Stat(dir); err != nil {
			continue
		}
		var dirs []string
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			_ = syscall.Rmdir(dirs[i])
		}
	}
}
