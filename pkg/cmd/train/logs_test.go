package train

import (
	"context"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/pkg/exit"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/train"
)

func trainingPod(name, role string, exit int32) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ml", Labels: map[string]string{
			paddle.LabelTrain: "wide-deep", kube.LabelComponent: train.ComponentTraining, train.LabelRole: role}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "paddle"}}},
	}
	if exit != 0 {
		p.Status.Phase = corev1.PodFailed
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "paddle", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Reason: "Error", Message: "segfault"}}}}
	}
	return p
}

func runLogs(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	f, out, errOut := testFactory("")
	other := trainingPod("other-worker-0", "worker", 0)
	other.Labels[paddle.LabelTrain] = "other"
	cs := fake.NewClientset(
		trainingPod("wide-deep-worker-0", "worker", 0), trainingPod("wide-deep-worker-1", "worker", 139),
		trainingPod("wide-deep-master-0", "ps", 0), other)
	var opts *LogsOptions
	cmd := NewCmdLogs(f, func(o *LogsOptions) error { opts = o; return nil })
	cmd.Flags().String("namespace", "", "")
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.Execute(); err != nil {
		return "", "", err
	}
	opts.Clientset = cs
	err := opts.Run(context.Background())
	return out.String(), errOut.String(), err
}

func TestLogsPrefixesEveryRank(t *testing.T) {
	out, errOut, err := runLogs(t, "wide-deep")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	sort.Strings(lines)
	if got := strings.Join(lines, "|"); got != "[ps-0] fake logs|[worker-0] fake logs|[worker-1] fake logs" {
		t.Errorf("stdout = %q", got)
	}
	if !strings.Contains(errOut, "worker-1 failed: pod wide-deep-worker-1 exited with code 139 (Error): segfault") {
		t.Errorf("stderr = %q", errOut)
	}
	out, _, err = runLogs(t, "wide-deep", "--rank", "1")
	if err != nil || strings.TrimSpace(out) != "[worker-1] fake logs" {
		t.Errorf("--rank 1: %q, %v", out, err)
	}
	out, _, err = runLogs(t, "wide-deep", "--role", "ps")
	if err != nil || strings.TrimSpace(out) != "[ps-0] fake logs" {
		t.Errorf("--role ps: %q, %v", out, err)
	}
	if _, _, err := runLogs(t, "wide-deep", "--role", "chief"); exit.Code(err) != 2 {
		t.Errorf("--role chief: %v", err)
	}
	if _, _, err := runLogs(t, "nothing"); exit.Code(err) != 1 || !strings.Contains(err.Error(), "no pods of training nothing") {
		t.Errorf("unknown training: %v", err)
	}
}
