package paddle

import corev1 "k8s.io/api/core/v1"

// NonRootID is the user and group every container paddlex renders runs as.
// The PaddlePaddle, Paddle Serving and MinIO client images declare no user
// of their own, so they would run as root; runAsNonRoot alone would make
// the kubelet refuse them. 1000 is the first ordinary user of the Debian
// and Ubuntu bases the images are built on.
const NonRootID int64 = 1000

// HomeDir is HOME in the containers that run Python: the images' HOME is
// root's, which NonRootID cannot write, and the suites cache downloaded
// weights and data sets under it.
const HomeDir = "/tmp"

// ContainerSecurity returns the securityContext of every container paddlex
// renders, as Pod Security's restricted profile asks: a non-root user, no
// privilege escalation, no capability, the runtime's default seccomp
// profile. It is set on each container rather than on the pod, because
// Knative Serving accepts only container-level security settings by default.
func ContainerSecurity() *corev1.SecurityContext {
	id, yes, no := NonRootID, true, false
	return &corev1.SecurityContext{
		RunAsNonRoot:             &yes,
		RunAsUser:                &id,
		RunAsGroup:               &id,
		AllowPrivilegeEscalation: &no,
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// RestrictContainers sets ContainerSecurity on every container and init
// container of pod.
func RestrictContainers(pod *corev1.PodSpec) {
	for i := range pod.InitContainers {
		pod.InitContainers[i].SecurityContext = ContainerSecurity()
	}
	for i := range pod.Containers {
		pod.Containers[i].SecurityContext = ContainerSecurity()
	}
}

// PodSecurity returns the pod-level securityContext of the pods paddlex
// renders outside Knative: the restricted settings every container also
// carries, so containers added by a controller (Argo's executor) inherit
// them, and NonRootID as the group owning the pod's volumes, so the
// non-root containers can write the task volume. The ownership is changed
// only when the volume's root does not have it yet, so a large data set is
// not walked on every start.
func PodSecurity() *corev1.PodSecurityContext {
	id, yes := NonRootID, true
	onMismatch := corev1.FSGroupChangeOnRootMismatch
	return &corev1.PodSecurityContext{
		RunAsNonRoot:        &yes,
		RunAsUser:           &id,
		RunAsGroup:          &id,
		FSGroup:             &id,
		FSGroupChangePolicy: &onMismatch,
		SeccompProfile:      &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// RestrictPod sets PodSecurity on pod and ContainerSecurity on each of its
// containers.
func RestrictPod(pod *corev1.PodSpec) {
	pod.SecurityContext = PodSecurity()
	RestrictContainers(pod)
}
