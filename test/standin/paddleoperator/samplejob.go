package paddleoperator

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// jobReason is the reason of a SampleJob's failure event (the operator's
// ErrorDo<Type>Job).
func jobReason(jobType string) string {
	if jobType == "" {
		return "ErrorDoJob"
	}
	return "ErrorDo" + strings.ToUpper(jobType[:1]) + jobType[1:] + "Job"
}

// sampleJobPod is the pod that does a SampleJob's work on its SampleSet's
// data, named after the SampleJob and owned by it.
func sampleJobPod(job *sampleJob, owner metav1.OwnerReference, image string) (*corev1.Pod, error) {
	set := job.Spec.SampleSetRef.Name
	switch job.Spec.Type {
	case jobSync:
		o := job.Spec.SyncOptions
		if o == nil || o.Source == "" {
			return nil, fmt.Errorf("data source cannot be empty")
		}
		keys := ""
		if ref := job.Spec.SecretRef; ref != nil {
			if ref.Namespace != "" && ref.Namespace != job.Namespace {
				return nil, fmt.Errorf("the paddle-operator stand-in reads the source's keys from Secrets in the SampleJob's namespace %s, not %s", job.Namespace, ref.Namespace)
			}
			keys = ref.Name
		}
		return syncPod(owner, job.Namespace, job.Name, set, image, o.Source, o.Destination, keys)
	case jobWarmup:
		var paths []string
		if o := job.Spec.WarmupOptions; o != nil {
			paths = o.Paths
		}
		return pathsPod(owner, job.Namespace, job.Name, set, jobWarmup, image, paths)
	case jobRmr:
		var paths []string
		if o := job.Spec.RmrOptions; o != nil {
			paths = o.Paths
		}
		return pathsPod(owner, job.Namespace, job.Name, set, jobRmr, image, paths)
	}
	return nil, fmt.Errorf("job type %s is not supported", job.Spec.Type)
}

// runtimeUp says the SampleSet's runtime takes jobs: its data is mounted.
func runtimeUp(phase string) bool {
	switch phase {
	case setMount, setSyncing, setSyncFailed, "PartialReady", setReady:
		return true
	}
	return false
}

// syncSampleJob reconciles one SampleJob as the operator's SampleJob
// controller does: "" until its SampleSet's runtime takes the job, then
// Pending with the job's name, Running, and Succeeded or Failed with a
// Warning event that says why. Where the operator's runtime server does the
// work, the stand-in's pod does it.
func (s *StandIn) syncSampleJob(ctx context.Context, ns, name string) (time.Duration, error) {
	res := s.dyn.Resource(SampleJobGVR).Namespace(ns)
	u, err := res.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	job := &sampleJob{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, job); err != nil {
		return 0, fmt.Errorf("read SampleJob %s/%s: %w", ns, name, err)
	}
	if job.DeletionTimestamp != nil {
		return 0, nil
	}
	st := job.Status
	switch st.Phase {
	case jobNone:
		switch job.Spec.Type {
		case jobSync, jobWarmup, jobRmr, jobClear:
		default:
			s.warn(ctx, u, "ErrorJobTypeNotSupport", fmt.Sprintf("job type %s is not supported", job.Spec.Type))
			return 0, nil
		}
		if job.Spec.SampleSetRef == nil || job.Spec.SampleSetRef.Name == "" {
			s.warn(ctx, u, "ErrorSampleSetNotExist", fmt.Sprintf("samplejob %s spec.sampleSetRef is empty", name))
			return 0, nil
		}
		setObj, err := s.dyn.Resource(SampleSetGVR).Namespace(ns).Get(ctx, job.Spec.SampleSetRef.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			s.warn(ctx, u, "ErrorSampleSetNotExist", err.Error())
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		phase, _, _ := unstructured.NestedString(setObj.Object, "status", "phase")
		if !runtimeUp(phase) {
			// The operator cannot post the job to a runtime that is not up.
			return 2 * time.Second, nil
		}
		st.JobName = string(uuid.NewUUID())
		if job.Spec.Type == jobClear {
			// The stand-in's cache is the volume itself: there is no
			// other cache to clear.
			s.event(ctx, u, corev1.EventTypeNormal, "ClearJobSucceeded", "the paddle-operator stand-in keeps no cache besides the SampleSet's volume: nothing to clear")
			st.Phase = jobSucceeded
			break
		}
		pod, err := sampleJobPod(job, ownerRef(u), s.opts.Image)
		if err != nil {
			s.warn(ctx, u, jobReason(job.Spec.Type), err.Error())
			st.Phase = jobFailed
			break
		}
		if err := s.createPod(ctx, pod); err != nil {
			return 0, err
		}
		st.Phase = jobPending
	case jobPending, jobRunning:
		pod, err := s.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			s.warn(ctx, u, jobReason(job.Spec.Type), "the pod that did the job, "+name+", is gone")
			st.Phase = jobFailed
			break
		}
		if err != nil {
			return 0, err
		}
		done, failed, msg := podOutcome(pod)
		switch {
		case failed:
			s.warn(ctx, u, jobReason(job.Spec.Type), msg)
			st.Phase = jobFailed
		case done:
			s.event(ctx, u, corev1.EventTypeNormal, strings.TrimPrefix(jobReason(job.Spec.Type), "Error")+"Successfully", "samplejob "+name+" succeeded")
			st.Phase = jobSucceeded
		case pod.Status.Phase == corev1.PodRunning:
			st.Phase = jobRunning
		}
	default:
		return 0, nil
	}
	if st == job.Status {
		return 0, nil
	}
	if err := s.updateStatus(ctx, res, u, &st); err != nil {
		return 0, err
	}
	s.logf("SampleJob %s/%s (%s): phase %s", ns, name, job.Spec.Type, st.Phase)
	if st.Phase == jobSucceeded || st.Phase == jobFailed {
		// The data changed: its SampleSet's cache status follows.
		s.enqueue(kindSampleSet, ns, job.Spec.SampleSetRef.Name)
	}
	return 0, nil
}
