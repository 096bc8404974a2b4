package serve_test

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/paddleflow/paddlex/pkg/cmd"
	servecmd "github.com/paddleflow/paddlex/pkg/cmd/serve"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/serve"
)

// servingPod is a pod of revision rev as Knative labels it.
func servingPod(svc, rev, name string, age time.Duration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kubeflow",
			CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(-age)),
			Labels:            map[string]string{serve.PodLabelService: svc, serve.PodLabelRevision: rev}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "fetch-model"}, {Name: "verify-model"}},
			Containers:     []corev1.Container{{Name: "server"}, {Name: "queue-proxy"}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
}

// runClients runs paddlex in-process with both the engine and the typed
// client faked.
func runClients(t *testing.T, k kube.Interface, cs kubernetes.Interface, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}})
	f.KubeOverride, f.ClientsetOverride = k, cs
	code := cmd.Run(context.Background(), f, append([]string{"--kubeconfig", filepath.Join(t.TempDir(), "none")}, args...), cmd.Options{Env: func(string) (string, bool) { return "", false }})
	return result{out.String(), errOut.String(), code}
}

func TestLogsAcrossTheRevisionsPods(t *testing.T) {
	failed := servingPod("ocr", "ocr-v2", "ocr-v2-deployment-b-1", time.Minute)
	failed.Status.Phase = corev1.PodPending
	failed.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "fetch-model", LastTerminationState: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: "cannot download"}}}}
	cs := fake.NewClientset(
		servingPod("ocr", "ocr-v1", "ocr-v1-deployment-a-2", time.Minute),
		servingPod("ocr", "ocr-v1", "ocr-v1-deployment-a-1", time.Hour),
		failed,
		servingPod("other", "other-v1", "other-v1-deployment-c-1", time.Hour),
	)
	k := kube.NewFake(secret())

	r := runClients(t, k, cs, "serve", "logs", "ocr")
	if r.code != 0 {
		t.Fatalf("logs: %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	sort.Strings(lines)
	want := "[ocr-v1-deployment-a-1] fake logs|[ocr-v1-deployment-a-2] fake logs|[ocr-v2-deployment-b-1] fake logs"
	if got := strings.Join(lines, "|"); got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	for _, w := range []string{"pod ocr-v2-deployment-b-1 of revision ocr-v2 exited with code 1 (Error): cannot download",
		"paddlex serve logs ocr -n kubeflow --revision ocr-v2 --container fetch-model"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}

	// --revision takes the model version or the revision's name.
	for _, rev := range []string{"v1", "ocr-v1"} {
		r = runClients(t, k, cs, "serve", "logs", "ocr", "--revision", rev)
		if r.code != 0 || strings.Count(r.stdout, "\n") != 2 || strings.Contains(r.stdout, "ocr-v2") {
			t.Errorf("--revision %s: %+v", rev, r)
		}
	}

	// Bad flags are named, before any call.
	for _, args := range [][]string{{"--container", "paddle"}, {"--tail", "-2"}, {"--revision", "V_1!"}} {
		if r := run(t, nil, append([]string{"serve", "logs", "ocr"}, args...)...); r.code != 2 || !strings.Contains(r.stderr, args[0]) {
			t.Errorf("%v: %+v", args, r)
		}
	}
}

// The server container is read unless --container says otherwise, and
// the pods stream in revision and age order.
func TestLogsReadsTheServerContainer(t *testing.T) {
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{Out: &out, ErrOut: &errOut}})
	ns := "ml"
	f.ConfigFlags.Namespace = &ns
	for _, c := range []struct {
		args      []string
		container string
	}{
		{[]string{"ocr"}, "server"},
		{[]string{"ocr", "--container", "queue-proxy", "-f"}, "queue-proxy"},
	} {
		var o *servecmd.LogsOptions
		cmd := servecmd.NewCmdLogs(f, func(x *servecmd.LogsOptions) error { o = x; return nil })
		cmd.Flags().String("namespace", "", "")
		cmd.SetArgs(c.args)
		cmd.SetOut(io.Discard)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		p := servingPod("ocr", "ocr-v1", "ocr-v1-deployment-a-1", 0)
		p.Namespace = "ml"
		o.Clientset = fake.NewClientset(p)
		var got []string
		o.Open = func(_ context.Context, pod *corev1.Pod, lo *corev1.PodLogOptions) (io.ReadCloser, error) {
			got = append(got, pod.Name+"/"+lo.Container)
			return io.NopCloser(strings.NewReader("listening on 8040\n")), nil
		}
		if err := o.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != "ocr-v1-deployment-a-1/"+c.container || o.Follow != (len(c.args) > 3) {
			t.Errorf("%v: opened %v (follow %v)", c.args, got, o.Follow)
		}
	}
	if !strings.Contains(out.String(), "[ocr-v1-deployment-a-1] listening on 8040") {
		t.Errorf("stdout = %q", out.String())
	}
}

// A service scaled to zero has no pods: the error says so and how to wake it.
func TestLogsOfAServiceScaledToZero(t *testing.T) {
	svc := serve.Render(serve.Spec{Name: "ocr", Namespace: "kubeflow", ModelVersion: "v1", Image: serve.DefaultImage,
		ModelName: "ocr", Secret: "data-center", Port: 8040, Metric: "concurrency"})[0]
	k := kube.NewFake(svc)
	cs := fake.NewClientset()
	r := runClients(t, k, cs, "serve", "logs", "ocr")
	if r.code != 1 || !strings.Contains(r.stderr, "service ocr has no pods in namespace kubeflow") || !strings.Contains(r.stderr, "paddlex serve predict ocr") {
		t.Errorf("scaled to zero: %+v", r)
	}
	r = runClients(t, k, cs, "serve", "logs", "ocr", "--revision", "v9")
	if r.code != 1 || !strings.Contains(r.stderr, "has no revision ocr-v9") {
		t.Errorf("unknown revision: %+v", r)
	}
	r = runClients(t, k, cs, "serve", "logs", "missing")
	if r.code != 1 || !strings.Contains(r.stderr, "service missing does not exist") {
		t.Errorf("missing service: %+v", r)
	}
}
