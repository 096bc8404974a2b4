//go:build linux

package realnode

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/train"
)

// TestOpenForwardsToAPodOnTheNode runs `paddlex open visualdl` against a
// board played by busybox's httpd in a pod: the forward goes through the
// API server to the real kubelet, which carries it into the pod's network
// namespace, and the page comes back on the local URL.
func TestOpenForwardsToAPodOnTheNode(t *testing.T) {
	e := testenv.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := namespace(t, e)
	image := busybox(t)
	labels := map[string]string{"app": "board"}
	board := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "board", Namespace: ns, Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "httpd", Image: image,
			Command:        []string{"sh", "-c", "mkdir /www && echo board of $(hostname) > /www/index.html && exec httpd -f -p 8040 -h /www"},
			Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: train.VisualDLPort}},
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}, PeriodSeconds: 1},
		}}},
	}
	if _, err := e.Clientset.CoreV1().Pods(ns).Create(ctx, board, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "ppocr-det-visualdl", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: labels,
			Ports: []corev1.ServicePort{{Name: "http", Port: train.VisualDLPort, TargetPort: intstr.FromString("http")}}},
	}
	if _, err := e.Clientset.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, ctx, e, ns, "board", ready)

	out := testenv.NewOutput()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var r testenv.Result
	run := testenv.Background(t, func(bg *testenv.T) {
		r = e.RunWith(runCtx, bg, func(f *cmdutil.Factory) { f.Streams.Out = io.MultiWriter(f.Streams.Out, out) }, "open", "visualdl", "ppocr-det", "-n", ns)
	})
	if !out.Await(ctx, run.Done(), "\n") {
		stop()
		run.Wait()
		t.Fatalf("no URL:\n%s", r)
	}
	url := strings.TrimSpace(out.String())
	resp, err := (&http.Client{Timeout: time.Minute}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v\nkubelet log:\n%s", url, err, e.Log("kubelet", 20))
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	stop()
	run.Wait()
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(b)) != "board of board" {
		t.Errorf("GET %s: %s %q", url, resp.Status, b)
	}
	if r.Code != 0 || !strings.Contains(r.Stderr, "to service "+ns+"/ppocr-det-visualdl (pod "+ns+"/board port 8040)") {
		t.Errorf("%s", r)
	}
}
