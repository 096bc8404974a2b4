package paddleoperator

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// sampleSetVolume is the volume and claim the operator makes for a
// SampleSet, both named after it and labelled with volumeLabel, the claim
// selecting the volume by that label. Where the operator's volume is a
// JuiceFS CSI volume, the stand-in's is dir on the node.
func sampleSetVolume(set *sampleSet, dir string) (*corev1.PersistentVolume, *corev1.PersistentVolumeClaim) {
	label := map[string]string{volumeLabel(set.Name): "true"}
	annotations := map[string]string{"CreatedBy": createdBy}
	size := resource.MustParse(volumeSize)
	class := storageClassName
	dirType := corev1.HostPathDirectoryOrCreate
	fsMode := corev1.PersistentVolumeFilesystem
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: set.Name, Labels: label, Annotations: annotations},
		Spec: corev1.PersistentVolumeSpec{
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			StorageClassName:              class,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &dirType}},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			VolumeMode:                    &fsMode,
			// The claim of this SampleSet, not a claim of that name in
			// another namespace.
			ClaimRef: &corev1.ObjectReference{Namespace: set.Namespace, Name: set.Name},
		},
	}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: set.Name, Namespace: set.Namespace, Labels: label, Annotations: annotations},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
			Selector:         &metav1.LabelSelector{MatchLabels: label},
			StorageClassName: &class,
		},
	}
	return pv, pvc
}

// missingKeys are the keys of the JuiceFS Secret that secret lacks.
func missingKeys(secret *corev1.Secret) []string {
	var out []string
	for _, k := range juicefsSecretKeys {
		if _, ok := secret.Data[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// humanSize writes a byte count as the cache status does, in binary units.
func humanSize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", v, units[i])
}

// dirCacheStatus is the cache status of the data in dir: every byte of it
// is on the node, so cached equals total; the disk is the node's.
func dirCacheStatus(dir string) *cacheStatus {
	var size, files int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
				files++
			}
		}
		return nil
	})
	st := &cacheStatus{TotalSize: humanSize(size), TotalFiles: fmt.Sprint(files), CachedSize: humanSize(size)}
	if err != nil {
		st.ErrorMassage = err.Error()
	}
	var fsStat syscall.Statfs_t
	if syscall.Statfs(dir, &fsStat) == nil && fsStat.Blocks > 0 {
		total, avail := int64(fsStat.Blocks)*fsStat.Bsize, int64(fsStat.Bavail)*fsStat.Bsize
		used := total - int64(fsStat.Bfree)*fsStat.Bsize
		st.DiskSize, st.DiskUsed, st.DiskAvail = humanSize(total), humanSize(used), humanSize(avail)
		st.DiskUsageRate = fmt.Sprintf("%.1f%%", 100*float64(used)/float64(total))
	}
	return st
}

// setReadyStatus is the runtime status once the data is served: the
// stand-in's runtime is the node, which serves every partition.
func setRuntimeStatus(partitions int32) *runtimeStatus {
	if partitions < 1 {
		partitions = 1
	}
	p := partitions
	return &runtimeStatus{RuntimeReady: fmt.Sprintf("%d/%d", p, p), SpecReplicas: &p, ReadyReplicas: &p}
}

// sourceSyncPod is the name of the pod of a SampleSet's own sync.
func sourceSyncPod(set string) string { return set + "-source-sync" }

// syncSampleSet reconciles one SampleSet through the operator's phases:
// "" (the Secret checked, the volume and claim made) → Bound once the
// claim is bound → Mount (the operator's runtime is up; the stand-in's is
// the node) → Syncing and back to Mount when the SampleSet syncs its own
// source (SyncFailed when that fails) → Ready with the cache status. A
// deleted SampleSet's volume and claim are removed.
func (s *StandIn) syncSampleSet(ctx context.Context, ns, name string) (time.Duration, error) {
	res := s.dyn.Resource(SampleSetGVR).Namespace(ns)
	u, err := res.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, s.removeVolume(ctx, ns, name)
	}
	if err != nil {
		return 0, err
	}
	set := &sampleSet{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, set); err != nil {
		return 0, fmt.Errorf("read SampleSet %s/%s: %w", ns, name, err)
	}
	if set.DeletionTimestamp != nil {
		return 0, nil
	}
	st := set.Status
	switch st.Phase {
	case setNone:
		bound, wait, err := s.ensureVolume(ctx, u, set)
		if err != nil || !bound {
			return wait, err
		}
		st.Phase = setBound
	case setBound:
		st.Phase, st.RuntimeStatus = setMount, setRuntimeStatus(set.Spec.Partitions)
	case setMount:
		if !set.Spec.NoSync && set.Spec.Source != nil && set.Spec.Source.URI != "" && (st.JobsName == nil || st.JobsName.SyncJobName == "") {
			keys := ""
			if ref := set.Spec.Source.SecretRef; ref != nil {
				keys = ref.Name
			}
			pod, err := syncPod(ownerRef(u), ns, sourceSyncPod(name), name, s.opts.Image, set.Spec.Source.URI, "", keys)
			if err != nil {
				s.warn(ctx, u, "ErrorCreateSyncJobOption", err.Error())
				st.Phase = setSyncFailed
				break
			}
			if err := s.createPod(ctx, pod); err != nil {
				return 0, err
			}
			jn := jobsName{}
			if st.JobsName != nil {
				jn = *st.JobsName
			}
			jn.SyncJobName = string(uuid.NewUUID())
			st.JobsName, st.Phase = &jn, setSyncing
			break
		}
		st.Phase, st.CacheStatus = setReady, dirCacheStatus(s.opts.VolumeDir(ns, name))
	case setSyncing:
		pod, err := s.cs.CoreV1().Pods(ns).Get(ctx, sourceSyncPod(name), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			s.warn(ctx, u, "ErrorDoSyncJob", "the sync pod "+sourceSyncPod(name)+" is gone")
			st.Phase = setSyncFailed
			break
		}
		if err != nil {
			return 0, err
		}
		done, failed, msg := podOutcome(pod)
		switch {
		case !done:
			return 0, nil
		case failed:
			s.warn(ctx, u, "ErrorDoSyncJob", msg)
			st.Phase = setSyncFailed
		default:
			s.event(ctx, u, corev1.EventTypeNormal, "SuccessfulCreate", "data is synchronized")
			st.Phase = setMount
		}
	case setReady:
		// SampleJobs change the data: the cache status follows. The disk's
		// figures are those of when it became Ready, or every write on the
		// node would make a new status.
		cs := dirCacheStatus(s.opts.VolumeDir(ns, name))
		if old := st.CacheStatus; old != nil {
			cs.DiskSize, cs.DiskUsed, cs.DiskAvail, cs.DiskUsageRate = old.DiskSize, old.DiskUsed, old.DiskAvail, old.DiskUsageRate
		}
		st.CacheStatus = cs
	default:
		return 0, nil
	}
	if equality.Semantic.DeepEqual(st, set.Status) {
		return 0, nil
	}
	if err := s.updateStatus(ctx, res, u, &st); err != nil {
		return 0, err
	}
	if st.Phase != set.Status.Phase {
		s.logf("SampleSet %s/%s: phase %s", ns, name, st.Phase)
	}
	// The next phase follows at once, as the operator's status update
	// brings the SampleSet back.
	return 0, nil
}

// ensureVolume checks the SampleSet's Secret as the JuiceFS driver does
// and makes its volume and claim; bound says the claim is bound.
func (s *StandIn) ensureVolume(ctx context.Context, obj *unstructured.Unstructured, set *sampleSet) (bound bool, wait time.Duration, err error) {
	pv, err := s.cs.CoreV1().PersistentVolumes().Get(ctx, set.Name, metav1.GetOptions{})
	if err == nil {
		ours := pv.Labels[volumeLabel(set.Name)] == "true" && pv.Spec.ClaimRef != nil &&
			pv.Spec.ClaimRef.Namespace == set.Namespace && pv.Spec.ClaimRef.Name == set.Name
		if !ours {
			s.warn(ctx, obj, "ErrorPersistentVolumeAlreadyExist", fmt.Sprintf("pv %s is already exist", set.Name))
			return false, 10 * time.Second, nil
		}
		if pv.Status.Phase != corev1.VolumeBound {
			return false, time.Second, nil
		}
		return true, 0, nil
	}
	if !apierrors.IsNotFound(err) {
		return false, 0, err
	}
	if set.Spec.SecretRef == nil || set.Spec.SecretRef.Name == "" {
		s.warn(ctx, obj, "ErrorSecretNotExist", "spec.secretRef should not be empty")
		return false, 0, nil
	}
	secret, err := s.cs.CoreV1().Secrets(set.Namespace).Get(ctx, set.Spec.SecretRef.Name, metav1.GetOptions{})
	if err != nil {
		s.warn(ctx, obj, "ErrorSecretNotExist", fmt.Sprintf("get secret %s error: %v", set.Spec.SecretRef.Name, err))
		return false, 5 * time.Second, nil
	}
	if missing := missingKeys(secret); len(missing) > 0 {
		s.warn(ctx, obj, "ErrorCreatePersistentVolume", fmt.Sprintf("secret %s is not valid (it lacks %v)", secret.Name, missing))
		return false, 0, nil
	}
	dir := s.opts.VolumeDir(set.Namespace, set.Name)
	// Writable by the pods' non-root users, as the JuiceFS mount is.
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return false, 0, err
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		return false, 0, err
	}
	newPV, pvc := sampleSetVolume(set, dir)
	if _, err := s.cs.CoreV1().PersistentVolumes().Create(ctx, newPV, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		s.warn(ctx, obj, "ErrorCreatePersistentVolume", fmt.Sprintf("create pv %s error: %v", set.Name, err))
		return false, 0, err
	}
	old, err := s.cs.CoreV1().PersistentVolumeClaims(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
	switch {
	case err == nil && old.Labels[volumeLabel(set.Name)] != "true":
		s.warn(ctx, obj, "ErrorPersistentVolumeClaimAlreadyExist", fmt.Sprintf("pvc %s/%s is already exist", set.Namespace, set.Name))
		return false, 10 * time.Second, nil
	case apierrors.IsNotFound(err):
		if _, err := s.cs.CoreV1().PersistentVolumeClaims(set.Namespace).Create(ctx, pvc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return false, 0, err
		}
		s.event(ctx, obj, corev1.EventTypeNormal, "SuccessfulCreate", fmt.Sprintf("create pv and pvc: %s successful", set.Name))
	case err != nil:
		return false, 0, err
	}
	// The claim's binding brings the SampleSet back (the stand-in watches
	// claims); look again in a second in any case, as the operator does.
	return false, time.Second, nil
}

// removeVolume deletes a deleted SampleSet's claim and volume, as the
// operator's finalizers do (the stand-in puts none: stopped, it would keep
// the SampleSet's namespace from going away).
func (s *StandIn) removeVolume(ctx context.Context, ns, name string) error {
	pv, err := s.cs.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pv.Labels[volumeLabel(name)] != "true" || pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.Namespace != ns || pv.Spec.ClaimRef.Name != name {
		return nil
	}
	if err := s.cs.CoreV1().PersistentVolumeClaims(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err := s.cs.CoreV1().PersistentVolumes().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	s.logf("SampleSet %s/%s deleted: its volume and claim are removed", ns, name)
	return nil
}
