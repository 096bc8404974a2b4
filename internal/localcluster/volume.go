package localcluster

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// BoundClaim creates a PersistentVolumeClaim ns/name bound to a new
// hostPath PersistentVolume, so the scheduler places the pods that mount it
// (the local cluster has no storage provisioner). It returns the volume's
// name, for cleanup. On the real node the directory is under the node's
// state directory, where the kubelet creates it.
func BoundClaim(ctx context.Context, cs kubernetes.Interface, ns, name string) (string, error) {
	empty := ""
	dir := "/tmp/" + ns + "/" + name
	if Isolated() {
		dir = VolumeDir(ns, name)
		// Writable by every user, as a provisioner's volume is (the
		// local-path provisioner's, NFS exports): paddlex's pods run as a
		// non-root user, and a hostPath volume ignores fsGroup.
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return "", err
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			return "", err
		}
	}
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	size := resource.MustParse("10Gi")
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-" + ns},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              empty,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &dirOrCreate}},
			ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: name},
		},
	}
	if _, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("create PersistentVolume %s: %w", pv.Name, err)
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			StorageClassName: &empty,
			VolumeName:       pv.Name,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
	if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		return pv.Name, fmt.Errorf("create PersistentVolumeClaim %s/%s: %w", ns, name, err)
	}
	return pv.Name, nil
}
