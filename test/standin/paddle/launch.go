package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// launchFlags are paddle.distributed.launch's options that take a value
// (python/paddle/distributed/launch/context/args_envs.py); --gpus, --npus
// and --xpus are --devices.
var launchFlags = map[string]string{
	"--master": "master", "--legacy": "legacy", "--rank": "rank", "--log_level": "log_level",
	"--log_overwrite": "log_overwrite", "--sort_ip": "sort_ip", "--enable_gpu_log": "enable_gpu_log",
	"--nnodes": "nnodes", "--nproc_per_node": "nproc_per_node", "--log_dir": "log_dir", "--run_mode": "run_mode",
	"--job_id": "job_id", "--devices": "devices", "--gpus": "devices", "--npus": "devices", "--xpus": "devices",
	"--host": "host", "--ips": "ips", "--start_port": "start_port", "--auto_parallel_config": "auto_parallel_config",
	"--auto_cluster_config": "auto_cluster_config", "--auto_tuner_json": "auto_tuner_json", "--servers": "servers",
	"--trainers": "trainers", "--trainer_num": "trainer_num", "--server_num": "server_num", "--gloo_port": "gloo_port",
	"--with_gloo": "with_gloo", "--max_restart": "max_restart", "--elastic_level": "elastic_level",
	"--elastic_timeout": "elastic_timeout",
}

// launchEnv are the variables the launcher reads its options from when the
// command line leaves them out; the training-operator sets PADDLE_MASTER,
// PADDLE_NNODES and PADDLE_JOB_ID.
var launchEnv = map[string]string{
	"POD_IP": "host", "PADDLE_MASTER": "master", "PADDLE_DEVICES": "devices", "PADDLE_NNODES": "nnodes",
	"PADDLE_NPROC_PER_NODE": "nproc_per_node", "PADDLE_JOB_ID": "job_id", "PADDLE_RANK": "rank",
	"PADDLE_LOG_DIR": "log_dir", "PADDLE_IPS": "ips", "PADDLE_START_PORT": "start_port",
}

const launchUsage = "usage: launch.py [-h] [--master MASTER] [--rank RANK] [--nnodes NNODES] [--nproc_per_node NPROC_PER_NODE]\n" +
	"                 [--log_dir LOG_DIR] [--job_id JOB_ID] [--devices DEVICES] [--host HOST] [--ips IPS]\n" +
	"                 training_script ...\nlaunch.py: error: "

// launch is paddle.distributed.launch in collective mode: it finds the
// other nodes (through --ips, or by registering with the rendezvous
// server at --master, which the node at that address serves), then runs
// one trainer per device with the ranks and endpoints in the environment
// the real launcher sets, each `PYTHON -u SCRIPT ARGS...` logging to
// LOG_DIR/workerlog.N; the first trainer's output is also its own. It fails
// when a trainer fails.
func launch(args []string) int {
	opts := map[string]string{"nnodes": "1", "log_dir": "log", "job_id": "default", "start_port": "6070", "rank": "-1"}
	for env, key := range launchEnv {
		if v := os.Getenv(env); v != "" {
			opts[key] = v
		}
	}
	var script string
	var scriptArgs []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			script, scriptArgs = a, args[i+1:]
			break
		}
		name, value, inline := strings.Cut(a, "=")
		key, known := launchFlags[name]
		if !known {
			continue // parse_known_args leaves unknown options alone
		}
		if !inline {
			if i+1 >= len(args) {
				fmt.Fprintf(os.Stderr, "%sargument %s: expected one argument\n", launchUsage, name)
				return 2
			}
			i++
			value = args[i]
		}
		opts[key] = value
	}
	if script == "" {
		fmt.Fprintf(os.Stderr, "%sthe following arguments are required: training_script, training_script_args\n", launchUsage)
		return 2
	}
	nnodes, err := strconv.Atoi(strings.SplitN(opts["nnodes"], ":", 2)[0])
	if err != nil || nnodes < 1 {
		fmt.Fprintf(os.Stderr, "%sargument --nnodes: invalid value: '%s'\n", launchUsage, opts["nnodes"])
		return 2
	}
	startPort, err := strconv.Atoi(opts["start_port"])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%sargument --start_port: invalid int value: '%s'\n", launchUsage, opts["start_port"])
		return 2
	}
	var devices []string
	if d := opts["devices"]; d != "" {
		devices = strings.Split(d, ",")
	}
	nproc := len(devices)
	if n, err := strconv.Atoi(opts["nproc_per_node"]); err == nil && n > 0 {
		nproc = n
	}
	if nproc == 0 {
		nproc = 1
	}
	host := opts["host"]
	if host == "" {
		host = localIP()
	}
	fmt.Printf("LAUNCH INFO job_id %s, nnodes %d, nproc_per_node %d, host %s\n", opts["job_id"], nnodes, nproc, host)

	nodes := []string{host}
	if nnodes > 1 {
		switch {
		case opts["ips"] != "":
			nodes = strings.Split(opts["ips"], ",")
			if len(nodes) != nnodes && opts["nnodes"] != "1" {
				fmt.Fprintf(os.Stderr, "LAUNCH ERROR --ips names %d nodes, --nnodes is %d\n", len(nodes), nnodes)
				return 1
			}
		case opts["master"] != "":
			nodes, err = rendezvous(opts["master"], host, nnodes)
			if err != nil {
				fmt.Fprintf(os.Stderr, "LAUNCH ERROR %v\n", err)
				return 1
			}
		default:
			fmt.Fprintf(os.Stderr, "LAUNCH ERROR --nnodes %d needs --master or --ips to find the other nodes\n", nnodes)
			return 1
		}
	} else if opts["ips"] != "" {
		nodes = strings.Split(opts["ips"], ",")
	}
	nodeRank := -1
	for i, n := range nodes {
		if n == host {
			nodeRank = i
		}
	}
	if nodeRank < 0 {
		fmt.Fprintf(os.Stderr, "LAUNCH ERROR this node's address %s is not among %s\n", host, strings.Join(nodes, ","))
		return 1
	}
	var endpoints []string
	for _, n := range nodes {
		for p := 0; p < nproc; p++ {
			endpoints = append(endpoints, net.JoinHostPort(n, strconv.Itoa(startPort+p)))
		}
	}
	if err := os.MkdirAll(opts["log_dir"], 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "LAUNCH ERROR %v\n", err)
		return 1
	}
	// The interpreter: this program itself, or the image's python3 that
	// ran the module's Python file.
	python := os.Args[0]
	type result struct {
		rank int
		err  error
		log  string
	}
	results := make([]result, nproc)
	var wg sync.WaitGroup
	for local := 0; local < nproc; local++ {
		global := nodeRank*nproc + local
		logPath := filepath.Join(opts["log_dir"], fmt.Sprintf("workerlog.%d", local))
		logf, err := os.Create(logPath)
		if err != nil {
			fmt.Fprintf(os.Stderr, "LAUNCH ERROR %v\n", err)
			return 1
		}
		defer logf.Close()
		cmd := exec.Command(python, append([]string{"-u", script}, scriptArgs...)...)
		out := io.Writer(logf)
		if local == 0 {
			out = io.MultiWriter(logf, os.Stdout)
		}
		cmd.Stdout, cmd.Stderr = out, out
		device := strconv.Itoa(local)
		if local < len(devices) {
			device = devices[local]
		}
		cmd.Env = append(os.Environ(),
			"PADDLE_TRAINER_ID="+strconv.Itoa(global), "PADDLE_GLOBAL_RANK="+strconv.Itoa(global),
			"PADDLE_TRAINERS_NUM="+strconv.Itoa(len(endpoints)), "PADDLE_GLOBAL_SIZE="+strconv.Itoa(len(endpoints)),
			"PADDLE_LOCAL_RANK="+strconv.Itoa(local), "PADDLE_RANK_IN_NODE="+strconv.Itoa(local),
			"PADDLE_LOCAL_SIZE="+strconv.Itoa(nproc), "PADDLE_NNODES="+strconv.Itoa(len(nodes)),
			"PADDLE_CURRENT_ENDPOINT="+endpoints[global], "PADDLE_TRAINER_ENDPOINTS="+strings.Join(endpoints, ","),
			"PADDLE_LOCAL_DEVICE_IDS="+device, "PADDLE_WORLD_DEVICE_IDS="+strings.Join(devices, ","),
			"FLAGS_selected_gpus="+device)
		fmt.Printf("LAUNCH INFO rank %d (local %d) logs to %s\n", global, local, logPath)
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(os.Stderr, "LAUNCH ERROR start %s: %v\n", script, err)
			return 1
		}
		wg.Add(1)
		go func(local int) {
			defer wg.Done()
			results[local] = result{rank: global, err: cmd.Wait(), log: logPath}
		}(local)
	}
	wg.Wait()
	code := 0
	for local, r := range results {
		if r.err == nil {
			continue
		}
		code = 1
		fmt.Fprintf(os.Stderr, "LAUNCH ERROR rank %d failed: %v\n", r.rank, r.err)
		if local > 0 { // the first trainer's output is already above
			b, _ := os.ReadFile(r.log)
			os.Stderr.Write(tailLines(b, 20))
		}
	}
	if code == 0 {
		fmt.Println("LAUNCH INFO Pod completed")
	}
	return code
}

// rendezvous finds the job's nodes through the master: the node whose
// address the master names serves the registry there; every node
// registers and waits until nnodes have. Ranks follow registration, the
// master's node first.
func rendezvous(master, host string, nnodes int) ([]string, error) {
	mhost, port, err := net.SplitHostPort(master)
	if err != nil {
		return nil, fmt.Errorf("--master %q: %v", master, err)
	}
	if mhost == host {
		s := &registry{want: nnodes, nodes: []string{host}, fetched: map[string]bool{host: true}}
		l, err := net.Listen("tcp", net.JoinHostPort("", port))
		if err != nil {
			return nil, fmt.Errorf("serve the rendezvous on %s: %v", master, err)
		}
		go http.Serve(l, s) //nolint:errcheck // serves until the process ends
		fmt.Printf("LAUNCH INFO waiting for %d peers at %s\n", nnodes-1, master)
		return s.wait(), nil
	}
	client := &http.Client{Timeout: 5 * time.Second}
	base := "http://" + master
	deadline := time.Now().Add(10 * time.Minute)
	waited := false
	for time.Now().Before(deadline) {
		resp, err := client.Post(base+"/register", "text/plain", strings.NewReader(host))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if !waited {
			fmt.Printf("LAUNCH INFO waiting for the master at %s\n", master)
			waited = true
		}
		time.Sleep(time.Second)
	}
	for time.Now().Before(deadline) {
		resp, err := client.Get(base + "/peers?node=" + host)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return strings.Fields(string(b)), nil
			}
		}
		time.Sleep(time.Second)
	}
	return nil, fmt.Errorf("the job's %d nodes did not all register with %s within 10 minutes", nnodes, master)
}

// registry is the master's rendezvous server.
type registry struct {
	mu      sync.Mutex
	want    int
	nodes   []string
	fetched map[string]bool
}

func (s *registry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case "/register":
		b, _ := io.ReadAll(r.Body)
		node := strings.TrimSpace(string(b))
		for _, n := range s.nodes {
			if n == node {
				return
			}
		}
		s.nodes = append(s.nodes, node)
	case "/peers":
		if len(s.nodes) < s.want {
			http.Error(w, "waiting for peers", http.StatusServiceUnavailable)
			return
		}
		s.fetched[r.URL.Query().Get("node")] = true
		fmt.Fprintln(w, strings.Join(s.nodes, "\n"))
	default:
		http.NotFound(w, r)
	}
}

// wait returns the nodes once every one has registered and read the list,
// so that no peer is left asking a master that has finished.
func (s *registry) wait() []string {
	for {
		s.mu.Lock()
		if len(s.nodes) >= s.want && len(s.fetched) >= s.want {
			nodes := append([]string(nil), s.nodes...)
			s.mu.Unlock()
			return nodes
		}
		s.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}
}

// localIP is the first non-loopback IPv4 address, the pod's.
func localIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return "127.0.0.1"
}

func tailLines(b []byte, n int) []byte {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return append(bytes.Join(lines, []byte("\n")), '\n')
}
