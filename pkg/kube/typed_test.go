package kube

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func TestToUnstructuredDropsEmptiesKeepsMeaningfulZeros(t *testing.T) {
	zero := int32(0)
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: "j", Namespace: "ns"},
		Spec: batchv1.JobSpec{
			BackoffLimit: &zero,
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "c", Image: "i"}},
				Volumes:       []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			}},
		},
	}
	got, err := yaml.Marshal(ToUnstructured(job).Object)
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: batch/v1
kind: Job
metadata:
  name: j
  namespace: ns
spec:
  backoffLimit: 0
  template:
    metadata: {}
    spec:
      containers:
      - image: i
        name: c
      restartPolicy: Never
      volumes:
      - emptyDir: {}
        name: v
`
	if string(got) != want {
		t.Errorf("ToUnstructured:\n%s\nwant:\n%s", got, want)
	}
}

func TestToUnstructuredPanicsWithoutTypeMeta(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic for an object without apiVersion and kind")
		}
	}()
	ToUnstructured(&corev1.Service{})
}

func TestFromUnstructuredRoundTrip(t *testing.T) {
	u := ToUnstructured(&corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8040}}},
	})
	u.Object["status"] = map[string]any{"loadBalancer": map[string]any{"ingress": []any{map[string]any{"ip": "10.0.0.1"}}}}
	var svc corev1.Service
	if err := FromUnstructured(u, &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Ports[0].Port != 8040 || svc.Status.LoadBalancer.Ingress[0].IP != "10.0.0.1" {
		t.Errorf("FromUnstructured = %+v", svc)
	}
	u.Object["spec"] = "not an object"
	if err := FromUnstructured(u, &svc); err == nil {
		t.Error("FromUnstructured accepted a spec that is a string")
	}
}
