package paddleoperator

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// A PaddleJob as paddlex renders it for the ppocr-det pipeline: one worker,
// intranet PodIP, the data-center SampleSet at /mnt/data-center.
const renderedJob = `apiVersion: batch.paddlepaddle.org/v1
kind: PaddleJob
metadata:
  name: ppocr-det
  namespace: kubeflow
  uid: 6c4a0e2e-0000-4000-8000-000000000001
  labels:
    paddlex.io/train: ppocr-det
spec:
  cleanPodPolicy: OnCompletion
  intranet: PodIP
  withGloo: 1
  sampleSetRef:
    name: data-center
    namespace: kubeflow
    mountPath: /mnt/data-center
  worker:
    replicas: 2
    template:
      metadata:
        labels:
          paddlex.io/role: worker
      spec:
        restartPolicy: Never
        containers:
        - name: paddle
          image: paddleocr
          command: [python, tools/train.py]
          env:
          - name: HOME
            value: /tmp
          volumeMounts:
          - name: task-center
            mountPath: /mnt/task-center/
        volumes:
        - name: task-center
          persistentVolumeClaim:
            claimName: ppocr-det-task-center
`

func readJob(t *testing.T, doc string) *paddleJob {
	t.Helper()
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	job := &paddleJob{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, job); err != nil {
		t.Fatal(err)
	}
	return job
}

func TestTrainerPodIsTheOperators(t *testing.T) {
	job := readJob(t, renderedJob)
	pod, err := trainerPod(job, resourceWorker, 1)
	if err != nil {
		t.Fatal(err)
	}
	if pod.Name != "ppocr-det-worker-1" || pod.Namespace != "kubeflow" {
		t.Errorf("pod %s/%s", pod.Namespace, pod.Name)
	}
	if pod.Labels["paddle-res-name"] != "ppocr-det-worker-1" || pod.Labels["paddle-res-type"] != "worker" ||
		pod.Labels["paddlex.io/role"] != "worker" || pod.Annotations["paddle-resource"] != "worker" {
		t.Errorf("labels %v annotations %v", pod.Labels, pod.Annotations)
	}
	if c := metav1.GetControllerOf(pod); c == nil || c.Kind != "PaddleJob" || c.Name != "ppocr-det" || string(c.UID) != string(job.UID) ||
		c.APIVersion != "batch.paddlepaddle.org/v1" {
		t.Errorf("controller %+v", c)
	}
	c := pod.Spec.Containers[0]
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if env["HOME"].Value != "/tmp" || env["PADDLE_TRAINER_ID"].Value != "1" || env["TRAINING_ROLE"].Value != "TRAINER" ||
		env["PADDLE_TRAINING_ROLE"].Value != "TRAINER" || env["POD_IP"].ValueFrom == nil || env["POD_IP"].ValueFrom.FieldRef.FieldPath != "status.podIP" {
		t.Errorf("env %+v", c.Env)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != "ppocr-det" {
		t.Errorf("envFrom %+v", c.EnvFrom)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	if mounts["data-center"] != "/mnt/data-center" || mounts["task-center"] != "/mnt/task-center/" {
		t.Errorf("mounts %v", mounts)
	}
	claims := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claims[v.Name] = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claims["data-center"] != "data-center" || claims["task-center"] != "ppocr-det-task-center" {
		t.Errorf("claims %v", claims)
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %s", pod.Spec.RestartPolicy)
	}
	// The template is not changed.
	if len(job.Spec.Worker.Template.Spec.Containers[0].Env) != 1 || len(job.Spec.Worker.Template.Spec.Volumes) != 1 {
		t.Error("trainerPod changed the job's template")
	}

	// Intranet Service: the pod's name is its address, the port is open,
	// and a worker restarts on failure unless the template says otherwise.
	job.Spec.Intranet = intranetService
	job.Spec.Worker.Template.Spec.RestartPolicy = ""
	pod, _ = trainerPod(job, resourceWorker, 0)
	for _, e := range pod.Spec.Containers[0].Env {
		if e.Name == "POD_IP" && e.Value != "ppocr-det-worker-0" {
			t.Errorf("POD_IP %+v", e)
		}
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyOnFailure || len(pod.Spec.Containers[0].Ports) != 1 || pod.Spec.Containers[0].Ports[0].ContainerPort != 2379 {
		t.Errorf("service intranet pod: %s %+v", pod.Spec.RestartPolicy, pod.Spec.Containers[0].Ports)
	}
	if _, err := trainerPod(job, resourcePS, 0); err == nil {
		t.Error("a pod of a role the job has not")
	}
}

func pod(name, role string, phase corev1.PodPhase, ip string, ready bool) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kubeflow", UID: types.UID("uid-" + name),
		Labels: map[string]string{labelResourceType: role}, Annotations: map[string]string{resourceAnnotation: role},
		CreationTimestamp: metav1.NewTime(time.Unix(2000, 0))},
		Status: corev1.PodStatus{Phase: phase, PodIP: ip}}
	if phase == corev1.PodRunning {
		st := corev1.ContainerStatus{Name: "paddle", Ready: ready}
		if ready {
			st.State.Running = &corev1.ContainerStateRunning{}
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{st}
	}
	return p
}

func TestJobStatusFollowsThePods(t *testing.T) {
	job := readJob(t, renderedJob)
	job.CreationTimestamp = metav1.NewTime(time.Unix(1000, 0))
	now := metav1.NewTime(time.Unix(3000, 0))
	steps := []struct {
		name  string
		pods  []corev1.Pod
		phase string
	}{
		{"no pods", nil, phasePending},
		{"one pending", []corev1.Pod{pod("ppocr-det-worker-0", "worker", corev1.PodPending, "", false)}, phasePending},
		{"one starting, one running", []corev1.Pod{pod("ppocr-det-worker-0", "worker", corev1.PodRunning, "10.244.0.5", false),
			pod("ppocr-det-worker-1", "worker", corev1.PodRunning, "10.244.0.6", true)}, phaseStarting},
		{"both running", []corev1.Pod{pod("ppocr-det-worker-0", "worker", corev1.PodRunning, "10.244.0.5", true),
			pod("ppocr-det-worker-1", "worker", corev1.PodRunning, "10.244.0.6", true)}, phaseRunning},
		{"one done", []corev1.Pod{pod("ppocr-det-worker-0", "worker", corev1.PodSucceeded, "10.244.0.5", false),
			pod("ppocr-det-worker-1", "worker", corev1.PodRunning, "10.244.0.6", true)}, phaseRunning},
		{"both done", []corev1.Pod{pod("ppocr-det-worker-0", "worker", corev1.PodSucceeded, "", false),
			pod("ppocr-det-worker-1", "worker", corev1.PodSucceeded, "", false)}, phaseCompleted},
		{"cleaned", nil, phaseCompleted},
	}
	for _, s := range steps {
		st := jobStatus(job, s.pods, now)
		if st.Phase != s.phase {
			t.Fatalf("%s: phase %s, want %s", s.name, st.Phase, s.phase)
		}
		if st.Mode != modeCollective {
			t.Errorf("%s: mode %s", s.name, st.Mode)
		}
		if len(st.Worker.Refs) != len(s.pods) || (len(s.pods) > 0 && st.Worker.Refs[0].Name != "ppocr-det-worker-0") {
			t.Errorf("%s: refs %+v", s.name, st.Worker.Refs)
		}
		job.Status = st
	}
	if job.Status.StartTime == nil || job.Status.CompletionTime == nil {
		t.Errorf("times %+v", job.Status)
	}
	if !cleanPods(phaseCompleted, "OnCompletion") || cleanPods(phaseFailed, "OnCompletion") || cleanPods(phaseRunning, "Always") ||
		!cleanPods(phaseCompleted, "") || !cleanPods(phaseFailed, "OnFailure") || cleanPods(phaseCompleted, "Never") {
		t.Error("cleanPodPolicy")
	}

	// A failed pod fails the job, for good.
	job.Status = paddleJobStatus{}
	st := jobStatus(job, []corev1.Pod{pod("ppocr-det-worker-0", "worker", corev1.PodFailed, "", false),
		pod("ppocr-det-worker-1", "worker", corev1.PodRunning, "10.244.0.6", true)}, now)
	if st.Phase != phaseFailed || st.Worker.Failed != 1 || st.Worker.Running != 1 {
		t.Fatalf("failed: %+v", st)
	}
	job.Status = st
	if st := jobStatus(job, nil, now); st.Phase != phaseFailed {
		t.Errorf("a failed job became %s", st.Phase)
	}

	// Pods older than the job are not its own.
	job.Status = paddleJobStatus{}
	old := pod("ppocr-det-worker-0", "worker", corev1.PodSucceeded, "", false)
	old.CreationTimestamp = metav1.NewTime(time.Unix(10, 0))
	if st := jobStatus(job, []corev1.Pod{old}, now); len(st.Worker.Refs) != 0 || st.Phase != phasePending {
		t.Errorf("an older pod counted: %+v", st)
	}
}

func TestModes(t *testing.T) {
	one := &resourceSpec{Replicas: 1}
	for _, c := range []struct {
		spec paddleJobSpec
		want string
	}{
		{paddleJobSpec{Worker: one}, modeSingle},
		{paddleJobSpec{Worker: &resourceSpec{Replicas: 3}}, modeCollective},
		{paddleJobSpec{PS: one, Worker: one}, modePS},
	} {
		if got := jobMode(&c.spec); got != c.want {
			t.Errorf("%+v: mode %s, want %s", c.spec, got, c.want)
		}
	}
}

func TestTrainerConfigMapWaitsForEveryAddress(t *testing.T) {
	job := readJob(t, renderedJob)
	pods := []corev1.Pod{pod("ppocr-det-worker-1", "worker", corev1.PodPending, "10.244.0.6", false),
		pod("ppocr-det-worker-0", "worker", corev1.PodPending, "", false)}
	if cm := trainerConfigMap(job, pods); cm != nil {
		t.Fatalf("a ConfigMap before every pod has an address: %v", cm.Data)
	}
	pods[1].Status.PodIP = "10.244.0.5"
	cm := trainerConfigMap(job, pods)
	if cm == nil {
		t.Fatal("no ConfigMap")
	}
	want := map[string]string{"PADDLE_TRAINER_ENDPOINTS": "10.244.0.5:2379,10.244.0.6:2379", "PADDLE_TRAINERS": "10.244.0.5,10.244.0.6",
		"PADDLE_TRAINERS_NUM": "2", "PADDLE_PORT": "2379", "TRAINER_PORTS_NUM": "20"}
	for k, v := range want {
		if cm.Data[k] != v {
			t.Errorf("%s = %q, want %q", k, cm.Data[k], v)
		}
	}
	if _, ok := cm.Data["PADDLE_WITH_GLOO"]; ok || len(cm.Data) != len(want) {
		t.Errorf("data %v: gloo needs parameter servers", cm.Data)
	}
	if cm.Name != "ppocr-det" || metav1.GetControllerOf(cm) == nil {
		t.Errorf("ConfigMap %s owners %v", cm.Name, cm.OwnerReferences)
	}

	// Parameter servers with gloo: the servers' list and gloo's endpoint.
	job.Spec.PS = &resourceSpec{Replicas: 1}
	ps := pod("ppocr-det-ps-0", "ps", corev1.PodRunning, "10.244.0.7", true)
	cm = trainerConfigMap(job, append(pods, ps))
	if cm.Data["PADDLE_PSERVERS_IP_PORT_LIST"] != "10.244.0.7:2379" || cm.Data["PADDLE_WITH_GLOO"] != "1" ||
		cm.Data["PADDLE_GLOO_HTTP_ENDPOINT"] != "10.244.0.7:2397" || cm.Data["PADDLE_GLOO_RENDEZVOUS"] != "3" {
		t.Errorf("ps data %v", cm.Data)
	}
}

func TestAllPodsCreated(t *testing.T) {
	job := readJob(t, renderedJob)
	st := jobStatus(job, []corev1.Pod{pod("ppocr-det-worker-0", "worker", corev1.PodPending, "", false)}, metav1.Now())
	if allPodsCreated(&job.Spec, &st) {
		t.Error("one pod of two")
	}
	st = jobStatus(job, []corev1.Pod{pod("ppocr-det-worker-0", "worker", corev1.PodPending, "", false),
		pod("ppocr-det-worker-1", "worker", corev1.PodPending, "", false)}, metav1.Now())
	if !allPodsCreated(&job.Spec, &st) {
		t.Error("both pods")
	}
	if svc := podService(job, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ppocr-det-worker-0", Namespace: "kubeflow"}}); svc.Spec.ClusterIP != "None" ||
		len(svc.Spec.Ports) != 20 || svc.Spec.Selector[labelResourceName] != "ppocr-det-worker-0" || !strings.HasPrefix(svc.Spec.Ports[19].Name, "p-19") {
		t.Errorf("service %+v", svc.Spec)
	}
}

func TestWithStatus(t *testing.T) {
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(renderedJob), &m); err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	job := readJob(t, renderedJob)
	st := jobStatus(job, []corev1.Pod{pod("ppocr-det-worker-0", "worker", corev1.PodSucceeded, "", false),
		pod("ppocr-det-worker-1", "worker", corev1.PodSucceeded, "", false)}, metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
	out, err := withStatus(u, &st)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := u.Object["status"]; ok {
		t.Error("withStatus changed its input")
	}
	status := out.Object["status"].(map[string]any)
	worker := status["worker"].(map[string]any)
	if status["phase"] != "Completed" || status["mode"] != "Collective" || status["completionTime"] != "2026-01-02T03:04:05Z" ||
		worker["succeeded"] != int64(2) || len(worker["refs"].([]any)) != 2 {
		t.Errorf("status %v", status)
	}
	if _, ok := worker["pending"]; ok {
		t.Errorf("zero counts are written: %v", worker)
	}
	for _, st := range []any{&sampleSetStatus{Phase: setReady, RuntimeStatus: setRuntimeStatus(1)}, &sampleJobStatus{Phase: jobPending, JobName: "x"}} {
		if _, err := withStatus(u, st); err != nil {
			t.Errorf("%T: %v", st, err)
		}
	}
}
