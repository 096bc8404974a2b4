// Command probe runs inside the real-node tests' pods and checks what a
// workload on a cluster relies on, with Go's own resolver (busybox's static
// resolver cannot search the cluster domains):
//
//	probe get URL        GET URL until it answers 200, print the body
//	probe configmaps     list the pod's namespace's ConfigMaps through the
//	                     in-cluster configuration, as a controller does
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe get URL | probe configmaps")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "get":
		if len(os.Args) != 3 {
			err = fmt.Errorf("usage: probe get URL")
			break
		}
		err = get(os.Args[2])
	case "configmaps":
		err = configMaps()
	default:
		err = fmt.Errorf("unknown probe %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

// get tries url for a minute: a Service's rules are written a moment
// after its endpoint becomes ready, and a client on a cluster retries.
func get(url string) error {
	client := &http.Client{Timeout: 5 * time.Second}
	var last error
	for range 60 {
		resp, err := client.Get(url)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && rerr == nil {
				fmt.Print(string(b))
				return nil
			}
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		if last == nil || err.Error() != last.Error() {
			fmt.Fprintln(os.Stderr, "probe:", err)
		}
		last = err
		time.Sleep(time.Second)
	}
	return last
}

func configMaps() error {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return err
	}
	fmt.Printf("API server %s\n", cfg.Host)
	ns, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list, err := cs.CoreV1().ConfigMaps(strings.TrimSpace(string(ns))).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, cm := range list.Items {
		fmt.Printf("configmap %s/%s\n", cm.Namespace, cm.Name)
	}
	return nil
}
