package train

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/pkg/exit"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/paddleflow/paddlex/pkg/kube"
)

func TestVisualDLWithoutABoard(t *testing.T) {
	f, _, _ := testFactory("")
	var opts *VisualDLOptions
	cmd := NewCmdVisualDL(f, func(o *VisualDLOptions) error { opts = o; return nil })
	cmd.Flags().String("namespace", "", "")
	cmd.SetArgs([]string{"ppocr-det", "--port", "18040"})
	cmd.SetOut(io.Discard)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if opts.Port != 18040 || opts.Namespace != "ml" || opts.Address != "127.0.0.1" {
		t.Errorf("options = %+v", opts)
	}
	// A Service whose pod is not ready yet.
	opts.Clientset = fake.NewClientset(
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ppocr-det-visualdl", Namespace: "ml"},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "vdl"}, Ports: []corev1.ServicePort{{Port: 8040}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "vdl", Namespace: "ml", Labels: map[string]string{"app": "vdl"}},
			Status: corev1.PodStatus{Phase: corev1.PodPending}})
	err := opts.Run(context.Background())
	if exit.Code(err) != 1 || !strings.Contains(err.Error(), "none of its 1 pods is running and ready") {
		t.Errorf("err = %v", err)
	}
	opts.Clientset = fake.NewClientset()
	if err := opts.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "--use-visualdl") {
		t.Errorf("no service: err = %v", err)
	}
}

func TestActionDeleteThroughCreate(t *testing.T) {
	fk := kube.NewFake(fixtures()...)
	fk.OnWait = playSuccess(fk)
	if _, _, err := runCreate(t, fk, nil, append(base, "--use-visualdl", "--keep")...); err != nil {
		t.Fatal(err)
	}
	fk.Calls = nil
	out, _, err := runCreate(t, fk, nil, "ppocr-det", "--action", "delete")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"paddlejob/ppocr-det deleted", "deployment/ppocr-det-visualdl deleted", "service/ppocr-det-visualdl deleted",
		"job/ppocr-det-inference-convert deleted", "job/ppocr-det-serving-convert deleted"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := runCreate(t, fk, nil, "ppocr-det", "--action", "delete"); exit.Code(err) != 1 {
		t.Errorf("deleting again: %v", err)
	}
}
