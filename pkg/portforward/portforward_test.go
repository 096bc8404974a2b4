package portforward

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
)

func pod(name string, phase corev1.PodPhase, ready bool, created time.Time, lbls map[string]string, ports ...corev1.ContainerPort) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: lbls, CreationTimestamp: metav1.NewTime(created)},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Ports: ports}}},
		Status:     corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

func service(name string, sel map[string]string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec:       corev1.ServiceSpec{Selector: sel, Ports: ports},
	}
}

func TestResolve(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	app := map[string]string{"app": "vdl"}
	cs := fake.NewClientset(
		pod("vdl-old-notready", corev1.PodRunning, false, t0, app),
		pod("vdl-b", corev1.PodRunning, true, t0.Add(2*time.Minute), app, corev1.ContainerPort{Name: "http", ContainerPort: 8040}),
		pod("vdl-a", corev1.PodRunning, true, t0.Add(time.Minute), app, corev1.ContainerPort{Name: "http", ContainerPort: 8041}),
		pod("pending", corev1.PodPending, false, t0, map[string]string{"app": "other"}),
		service("vdl", app,
			corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http")},
			corev1.ServicePort{Port: 8040, TargetPort: intstr.FromInt32(9000)},
			corev1.ServicePort{Port: 7000}),
		service("other", map[string]string{"app": "other"}, corev1.ServicePort{Port: 80}),
		service("headless", nil, corev1.ServicePort{Port: 80}),
		service("badname", app, corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("grpc")}),
	)
	for _, tc := range []struct {
		target   Target
		pod      string
		port     int32
		errMatch string
	}{
		{Target{Namespace: "ns", Service: "vdl", Port: 80}, "vdl-a", 8041, ""},
		{Target{Namespace: "ns", Service: "vdl", Port: 8040}, "vdl-a", 9000, ""},
		{Target{Namespace: "ns", Service: "vdl", Port: 7000}, "vdl-a", 7000, ""},
		{Target{Namespace: "ns", Service: "vdl", Port: 81}, "", 0, "has no port 81"},
		{Target{Namespace: "ns", Service: "other", Port: 80}, "", 0, "none of its 1 pods is running and ready"},
		{Target{Namespace: "ns", Service: "headless", Port: 80}, "", 0, "no selector"},
		{Target{Namespace: "ns", Service: "badname", Port: 80}, "", 0, `no container port named "grpc"`},
		{Target{Namespace: "ns", Service: "missing", Port: 80}, "", 0, "the service does not exist"},
		{Target{Namespace: "ns", Pod: "vdl-b", Port: 8040}, "vdl-b", 8040, ""},
		{Target{Namespace: "ns", Pod: "pending", Port: 8040}, "", 0, "pod is Pending"},
		{Target{Namespace: "ns", Pod: "vdl-b", Port: 0}, "", 0, "between 1 and 65535"},
	} {
		t.Run(tc.target.String(), func(t *testing.T) {
			p, port, err := Resolve(context.Background(), cs, tc.target)
			if tc.errMatch != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errMatch) {
					t.Fatalf("err = %v, want %q", err, tc.errMatch)
				}
				return
			}
			if err != nil || p != tc.pod || port != tc.port {
				t.Fatalf("got %s:%d, %v; want %s:%d", p, port, err, tc.pod, tc.port)
			}
		})
	}
}

func TestStartFailsWhenThePodIsMissing(t *testing.T) {
	_, err := Start(context.Background(), nil, fake.NewClientset(), Target{Namespace: "ns", Pod: "x", Port: 80}, Options{})
	if err == nil || !strings.Contains(err.Error(), "pod ns/x port 80: the pod does not exist") {
		t.Fatalf("err = %v", err)
	}
}
