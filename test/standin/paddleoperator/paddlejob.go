package paddleoperator

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
)

// roles are a PaddleJob's resources in the order the operator creates
// their pods.
var roles = []string{resourcePS, resourceWorker, resourceHeter}

func (s *paddleJobSpec) role(r string) *resourceSpec {
	switch r {
	case resourcePS:
		return s.PS
	case resourceWorker:
		return s.Worker
	case resourceHeter:
		return s.Heter
	}
	return nil
}

func (s *paddleJobStatus) role(r string) *resourceStatus {
	switch r {
	case resourcePS:
		return s.PS
	case resourceWorker:
		return s.Worker
	case resourceHeter:
		return s.Heter
	}
	return nil
}

func (s *paddleJobStatus) setRole(r string, st *resourceStatus) {
	switch r {
	case resourcePS:
		s.PS = st
	case resourceWorker:
		s.Worker = st
	case resourceHeter:
		s.Heter = st
	}
}

// podName is the operator's name for a role's pod: JOB-ROLE-INDEX.
func podName(job, role string, idx int) string { return fmt.Sprintf("%s-%s-%d", job, role, idx) }

// realRunning says every container of the pod runs and is ready, as the
// operator's isPodRealRuning does; a running pod that is not yet counts as
// starting.
func realRunning(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning {
		return false
	}
	for _, c := range p.Status.InitContainerStatuses {
		if !c.Ready {
			return false
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		if !c.Ready || c.State.Running == nil {
			return false
		}
	}
	return true
}

// jobStatus is the status the operator's getCurrentStatus computes from
// the job's pods (those created before the job do not count): each role's
// counts and pod references, the phase, the mode and the start and
// completion times.
func jobStatus(job *paddleJob, pods []corev1.Pod, now metav1.Time) paddleJobStatus {
	st := paddleJobStatus{Mode: jobMode(&job.Spec), StartTime: job.Status.StartTime, CompletionTime: job.Status.CompletionTime,
		ObservedGeneration: job.Status.ObservedGeneration}
	sorted := append([]corev1.Pod(nil), pods...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, r := range roles {
		if job.Spec.role(r) == nil {
			continue
		}
		rs := &resourceStatus{}
		for i := range sorted {
			p := &sorted[i]
			if p.Annotations[resourceAnnotation] != r || p.CreationTimestamp.Before(&job.CreationTimestamp) {
				continue
			}
			switch p.Status.Phase {
			case corev1.PodPending:
				rs.Pending++
			case corev1.PodRunning:
				if realRunning(p) {
					rs.Running++
				} else {
					rs.Starting++
				}
			case corev1.PodFailed:
				rs.Failed++
			case corev1.PodSucceeded:
				rs.Succeeded++
			}
			rs.Refs = append(rs.Refs, corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: p.Namespace, Name: p.Name,
				UID: p.UID, ResourceVersion: p.ResourceVersion})
		}
		st.setRole(r, rs)
	}
	st.Phase = jobPhase(job.Status.Phase, &job.Spec, &st)
	if st.StartTime == nil && st.Phase == phaseRunning {
		st.StartTime = &now
	}
	if st.CompletionTime == nil && (st.Phase == phaseCompleted || st.Phase == phaseFailed) {
		st.CompletionTime = &now
	}
	return st
}

// jobPhase is the operator's getPaddleJobPhase: Completed and Failed are
// final; a failed pod fails the job; every role's pods running is Running,
// every role's pods succeeded is Completed; otherwise a pending pod keeps
// it Pending and a starting one makes it Starting.
func jobPhase(prev string, spec *paddleJobSpec, st *paddleJobStatus) string {
	if prev == phaseCompleted || prev == phaseFailed {
		return prev
	}
	every := func(count func(*resourceStatus) int) bool {
		for _, r := range roles {
			if sp := spec.role(r); sp != nil {
				if rs := st.role(r); rs == nil || count(rs) != sp.Replicas {
					return false
				}
			}
		}
		return true
	}
	some := func(count func(*resourceStatus) int) bool {
		for _, r := range roles {
			if rs := st.role(r); rs != nil && count(rs) > 0 {
				return true
			}
		}
		return false
	}
	switch {
	case some(func(r *resourceStatus) int { return r.Failed }):
		return phaseFailed
	case every(func(r *resourceStatus) int { return r.Running }):
		return phaseRunning
	case every(func(r *resourceStatus) int { return r.Succeeded }):
		return phaseCompleted
	case some(func(r *resourceStatus) int { return r.Pending }):
		return phasePending
	case some(func(r *resourceStatus) int { return r.Starting }):
		return phaseStarting
	case prev == "":
		return phasePending
	}
	return prev
}

// jobMode is PS with parameter servers, Collective with more than one
// worker, Single otherwise.
func jobMode(spec *paddleJobSpec) string {
	switch {
	case spec.PS != nil:
		return modePS
	case spec.Worker != nil && spec.Worker.Replicas > 1:
		return modeCollective
	}
	return modeSingle
}

// allPodsCreated is the operator's isAllPodsReady: every role has as many
// pods as replicas.
func allPodsCreated(spec *paddleJobSpec, st *paddleJobStatus) bool {
	for _, r := range roles {
		if sp := spec.role(r); sp != nil {
			if rs := st.role(r); rs == nil || len(rs.Refs) != sp.Replicas {
				return false
			}
		}
	}
	return true
}

// cleanPods says the job's pods go now, by its cleanPodPolicy.
func cleanPods(phase, policy string) bool {
	switch phase {
	case phaseFailed:
		return policy == cleanAlways || policy == cleanOnFailure
	case phaseCompleted:
		return policy == "" || policy == cleanAlways || policy == cleanOnCompletion
	}
	return false
}

// controllerRef makes the job its pods', Services' and ConfigMap's owner.
func controllerRef(job *paddleJob) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: PaddleJobGVR.GroupVersion().String(), Kind: "PaddleJob", Name: job.Name, UID: job.UID,
		Controller: &yes, BlockOwnerDeletion: &yes}
}

// trainerPod is the pod the operator makes for one replica of a role
// (constructPod, and constructPodWithSampleSet with a sampleSetRef): the
// role's template, named JOB-ROLE-INDEX, labelled and annotated with its
// role, its first container given the trainer's identity (POD_IP,
// PADDLE_TRAINER_ID, TRAINING_ROLE, PADDLE_TRAINING_ROLE), the job's
// ConfigMap as environment and the SampleSet's claim at its mountPath.
func trainerPod(job *paddleJob, role string, idx int) (*corev1.Pod, error) {
	spec := job.Spec.role(role)
	if spec == nil {
		return nil, fmt.Errorf("PaddleJob %s/%s has no %s", job.Namespace, job.Name, role)
	}
	if len(spec.Template.Spec.Containers) == 0 {
		return nil, fmt.Errorf("PaddleJob %s/%s: the %s template has no container", job.Namespace, job.Name, role)
	}
	name := podName(job.Name, role, idx)
	pod := &corev1.Pod{ObjectMeta: *spec.Template.ObjectMeta.DeepCopy(), Spec: *spec.Template.Spec.DeepCopy()}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[labelResourceName] = name
	pod.Labels[labelResourceType] = role
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[resourceAnnotation] = role
	pod.Name, pod.Namespace = name, job.Namespace
	pod.OwnerReferences = []metav1.OwnerReference{controllerRef(job)}

	c := &pod.Spec.Containers[0]
	ip := corev1.EnvVar{Name: "POD_IP"}
	if job.Spec.Intranet == intranetService {
		ip.Value = name
	} else {
		ip.ValueFrom = &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}
	}
	c.Env = append(c.Env, ip,
		corev1.EnvVar{Name: "PADDLE_TRAINER_ID", Value: fmt.Sprint(idx)},
		corev1.EnvVar{Name: "TRAINING_ROLE", Value: trainingRole[role]},
		corev1.EnvVar{Name: "PADDLE_TRAINING_ROLE", Value: trainingRole[role]})
	c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: job.Name}}})
	if job.Spec.Intranet == intranetService {
		c.Ports = append(c.Ports, corev1.ContainerPort{ContainerPort: paddlePort})
	}
	if pod.Spec.RestartPolicy == "" {
		pod.Spec.RestartPolicy = corev1.RestartPolicyNever
		if role == resourceWorker && job.Spec.Intranet == intranetService {
			pod.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
		}
	}
	if ref := job.Spec.SampleSetRef; ref != nil {
		pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: ref.Name,
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: ref.Name}}})
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: ref.Name, MountPath: ref.MountPath})
	}
	return pod, nil
}

// trainerConfigMap is the operator's constructConfigMap: the endpoints of
// every trainer, made once all pods have an address (nil until then), which
// the pods read as their environment.
func trainerConfigMap(job *paddleJob, pods []corev1.Pod) *corev1.ConfigMap {
	n := func(r *resourceSpec) int {
		if r == nil {
			return 0
		}
		return r.Replicas
	}
	ps, workers, hosts, heters := make([]string, n(job.Spec.PS)), make([]string, n(job.Spec.Worker)), make([]string, n(job.Spec.Worker)), make([]string, n(job.Spec.Heter))
	for _, p := range pods {
		if len(strings.Split(p.Status.PodIP, ".")) != 4 {
			return nil
		}
		role := p.Labels[labelResourceType]
		var idx int
		if _, err := fmt.Sscanf(strings.TrimPrefix(p.Name, job.Name+"-"+role+"-"), "%d", &idx); err != nil {
			continue
		}
		host := p.Status.PodIP
		if job.Spec.Intranet == intranetService {
			host = p.Name
		}
		ep := fmt.Sprintf("%s:%d", host, paddlePort)
		switch {
		case role == resourcePS && idx < len(ps):
			ps[idx] = ep
		case role == resourceWorker && idx < len(workers):
			workers[idx], hosts[idx] = ep, host
		case role == resourceHeter && idx < len(heters):
			heters[idx] = ep
		}
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: job.Name, Namespace: job.Namespace, Labels: map[string]string{labelResourceName: job.Name},
			OwnerReferences: []metav1.OwnerReference{controllerRef(job)}},
		Data: map[string]string{"TRAINER_PORTS_NUM": fmt.Sprint(hostPortNum), "PADDLE_PORT": fmt.Sprint(paddlePort)},
	}
	if job.Spec.PS != nil {
		cm.Data["PADDLE_PSERVERS_IP_PORT_LIST"] = strings.Join(ps, ",")
	}
	if job.Spec.Worker != nil {
		cm.Data["PADDLE_TRAINER_ENDPOINTS"] = strings.Join(workers, ",")
		cm.Data["PADDLE_TRAINERS"] = strings.Join(hosts, ",")
		cm.Data["PADDLE_TRAINERS_NUM"] = fmt.Sprint(job.Spec.Worker.Replicas)
	}
	if job.Spec.Heter != nil {
		cm.Data["PADDLE_HETER_ENDPOINTS"] = strings.Join(heters, ",")
	}
	if g := job.Spec.WithGloo; g != nil && *g > 0 && job.Spec.Intranet != intranetService && len(ps) > 0 {
		cm.Data["PADDLE_WITH_GLOO"] = fmt.Sprint(*g)
		cm.Data["PADDLE_GLOO_RENDEZVOUS"] = "3"
		cm.Data["PADDLE_GLOO_HTTP_ENDPOINT"] = strings.Replace(ps[0], fmt.Sprintf(":%d", paddlePort), fmt.Sprintf(":%d", paddlePort+hostPortNum-2), 1)
	}
	return cm
}

// podService is the headless Service the operator gives each pod of a job
// with intranet Service, so trainers reach each other by pod name.
func podService(job *paddleJob, pod *corev1.Pod) *corev1.Service {
	var ports []corev1.ServicePort
	for i := 0; i < hostPortNum; i++ {
		ports = append(ports, corev1.ServicePort{Name: fmt.Sprintf("p-%d", i), Port: int32(paddlePort + i)})
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, OwnerReferences: []metav1.OwnerReference{controllerRef(job)}},
		Spec:       corev1.ServiceSpec{Ports: ports, Selector: map[string]string{labelResourceName: pod.Name}, ClusterIP: corev1.ClusterIPNone},
	}
}

// ownedBy returns the objects whose controller is uid.
func ownedBy[T any](items []T, meta func(*T) metav1.Object, uid string) []T {
	var out []T
	for i := range items {
		if c := metav1.GetControllerOf(meta(&items[i])); c != nil && string(c.UID) == uid {
			out = append(out, items[i])
		}
	}
	return out
}

// syncPaddleJob reconciles one PaddleJob as the operator's PaddleJob
// controller does: status from the pods, pods cleaned by the
// cleanPodPolicy once the job is done, the pods of every role created
// (with the SampleSet mounted), then the ConfigMap of endpoints once every
// pod has an address. It returns when to look again, 0 for never.
func (s *StandIn) syncPaddleJob(ctx context.Context, ns, name string) (time.Duration, error) {
	res := s.dyn.Resource(PaddleJobGVR).Namespace(ns)
	u, err := res.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	job := &paddleJob{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, job); err != nil {
		return 0, fmt.Errorf("read PaddleJob %s/%s: %w", ns, name, err)
	}
	if job.DeletionTimestamp != nil {
		return 0, nil
	}
	if job.Spec.Elastic != nil || (job.Spec.Intranet != "" && job.Spec.Intranet != intranetPodIP && job.Spec.Intranet != intranetService) {
		s.warn(ctx, u, "NotPlayed", "the paddle-operator stand-in plays intranet PodIP and Service, without elastic training")
		return 0, nil
	}
	podList, err := s.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	pods := ownedBy(podList.Items, func(p *corev1.Pod) metav1.Object { return p }, string(job.UID))

	st := jobStatus(job, pods, metav1.Now())
	if !equality.Semantic.DeepEqual(st, job.Status) {
		if err := s.updateStatus(ctx, res, u, &st); err != nil {
			return 0, err
		}
		s.logf("PaddleJob %s/%s: phase %s", ns, name, st.Phase)
	}
	job.Status = st

	if cleanPods(st.Phase, job.Spec.CleanPodPolicy) {
		for _, p := range pods {
			if p.DeletionTimestamp == nil {
				if err := s.cs.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					return 0, err
				}
				s.event(ctx, u, corev1.EventTypeNormal, "Deleted", "deleted Pod "+p.Name)
			}
		}
		if job.Spec.Intranet == intranetService {
			if err := s.deleteServices(ctx, job); err != nil {
				return 0, err
			}
		}
		return 0, nil
	}
	if st.Phase == phaseCompleted || st.Phase == phaseFailed {
		return 0, nil
	}

	if ref := job.Spec.SampleSetRef; ref != nil {
		setNS := job.Namespace
		if ref.Namespace != "" {
			setNS = ref.Namespace
		}
		if _, err := s.dyn.Resource(SampleSetGVR).Namespace(setNS).Get(ctx, ref.Name, metav1.GetOptions{}); err != nil {
			s.warn(ctx, u, "Create", fmt.Sprintf("sampleset %s/%s is not exists", setNS, ref.Name))
			return 5 * time.Second, nil
		}
	}

	existing := map[string]bool{}
	for _, p := range pods {
		existing[p.Name] = true
	}
	for _, r := range roles {
		sp := job.Spec.role(r)
		if sp == nil {
			continue
		}
		for i := 0; i < sp.Replicas; i++ {
			if existing[podName(job.Name, r, i)] {
				continue
			}
			pod, err := trainerPod(job, r, i)
			if err != nil {
				s.warn(ctx, u, "Create", err.Error())
				return 0, nil
			}
			if _, err := s.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				s.event(ctx, u, corev1.EventTypeWarning, "Create", "create failed Pod "+pod.Name+": "+err.Error())
				return 0, err
			}
			s.event(ctx, u, corev1.EventTypeNormal, "Created", "created Pod "+pod.Name)
		}
	}
	if job.Spec.Intranet == intranetService {
		for i := range pods {
			svc := podService(job, &pods[i])
			if _, err := s.cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err == nil {
				s.event(ctx, u, corev1.EventTypeNormal, "Created", "created Service "+svc.Name)
			} else if !apierrors.IsAlreadyExists(err) {
				return 0, err
			}
		}
	}

	if !allPodsCreated(&job.Spec, &st) {
		return 0, nil
	}
	if _, err := s.cs.CoreV1().ConfigMaps(ns).Get(ctx, job.Name, metav1.GetOptions{}); err == nil {
		return 0, nil
	} else if !apierrors.IsNotFound(err) {
		return 0, err
	}
	cm := trainerConfigMap(job, pods)
	if cm == nil {
		// A pod has no address yet: its update brings the job back.
		return 0, nil
	}
	if _, err := s.cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return 0, err
	}
	s.event(ctx, u, corev1.EventTypeNormal, "Created", "created ConfigMap "+cm.Name)
	return 0, nil
}

func (s *StandIn) deleteServices(ctx context.Context, job *paddleJob) error {
	list, err := s.cs.CoreV1().Services(job.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, svc := range ownedBy(list.Items, func(s *corev1.Service) metav1.Object { return s }, string(job.UID)) {
		if err := s.cs.CoreV1().Services(job.Namespace).Delete(ctx, svc.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// updateStatus writes status into the object's status subresource.
func (s *StandIn) updateStatus(ctx context.Context, res dynamic.ResourceInterface, u *unstructured.Unstructured, status any) error {
	u, err := withStatus(u, status)
	if err != nil {
		return err
	}
	_, err = res.UpdateStatus(ctx, u, metav1.UpdateOptions{})
	return err
}

// withStatus returns a copy of u with status, a pointer to a status
// struct, as its status.
func withStatus(u *unstructured.Unstructured, status any) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		return nil, err
	}
	u = u.DeepCopy()
	u.Object["status"] = m
	return u, nil
}
