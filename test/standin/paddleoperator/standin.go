// Package paddleoperator is a stand-in for paddle-operator's controllers
// (PaddleFlow/paddle-operator at commit 667185d, the release paddlex
// installs): the PaddleJob controller and the SampleSet and SampleJob
// controllers of its data extension. paddle-operator is not on the Go
// module proxy, and its SampleSet cache is JuiceFS (a CSI driver and a
// FUSE mount), so it cannot run here; tests start this stand-in in their
// own process instead, and the objects paddlex creates are acted on as the
// operator acts on them, up to what paddlex waits on:
//
//   - a PaddleJob's pods are created from its ps, worker and heter
//     templates, named JOB-ROLE-INDEX, with the operator's labels,
//     environment (POD_IP, PADDLE_TRAINER_ID, TRAINING_ROLE, the job's
//     ConfigMap of endpoints, made once every pod has an address) and the
//     SampleSet's claim at sampleSetRef.mountPath; its status counts them
//     and takes the operator's phases (Pending, Starting, Running,
//     Completed, Failed) and mode; its cleanPodPolicy removes them;
//   - a SampleSet gets a volume and claim named after it, as the operator
//     makes them, once its Secret holds the JuiceFS keys; the volume is a
//     directory on the node (Options.VolumeDir), not JuiceFS. Its phase
//     goes "" → Bound → Mount → Ready, with the cache status of that
//     directory, through Syncing (SyncFailed) when it syncs its own source;
//   - a SampleJob (sync, warmup, rmr) runs as a pod of Options.Image on the
//     SampleSet's claim where the operator posts it to its runtime server:
//     a sync copies from the in-cluster MinIO (minio://ENDPOINT/BUCKET/PATH,
//     the keys from its secretRef) with MinIO's client; its phase goes ""
//     → Pending → Running → Succeeded or Failed, with the operator's events.
//
// Not played: Volcano gang scheduling, elastic training, intranet Host,
// the runtime's cache nodes and their node affinity (the node is the one
// cache), finalizers (a deleted SampleSet's volume is removed while the
// stand-in runs), a SampleJob's terminate.
package paddleoperator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Options say what the stand-in acts on and with what.
type Options struct {
	// Namespace is the one namespace the controllers act in, as the
	// operator's --namespace; empty means every namespace.
	Namespace string
	// VolumeDir is the directory, on the node the pods run on, that holds
	// SampleSet namespace/name's data. The stand-in makes it.
	VolumeDir func(namespace, name string) string
	// Image runs the SampleJobs' work: it must hold a POSIX shell, find
	// and MinIO's client, mc.
	Image string
}

// kinds of the objects the stand-in reconciles.
const (
	kindPaddleJob = "PaddleJob"
	kindSampleSet = "SampleSet"
	kindSampleJob = "SampleJob"
)

type key struct{ kind, namespace, name string }

// StandIn is a running paddle-operator stand-in. Stop ends it.
type StandIn struct {
	cs   kubernetes.Interface
	dyn  dynamic.Interface
	opts Options

	queue   workqueue.TypedRateLimitingInterface[key]
	cancel  context.CancelFunc
	workers sync.WaitGroup
	stopped chan struct{}
	stop    func()

	mu     sync.Mutex
	log    []string
	warned map[string]bool
}

// Start starts the stand-in's controllers with the client configuration
// cfg. They run until Stop.
func Start(cfg *rest.Config, opts Options) (*StandIn, error) {
	if opts.VolumeDir == nil || opts.Image == "" {
		return nil, errors.New("paddle-operator stand-in: Options.VolumeDir and Options.Image are required")
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	s := &StandIn{cs: cs, dyn: dyn, opts: opts, warned: map[string]bool{}, stopped: make(chan struct{}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[key](),
			workqueue.TypedRateLimitingQueueConfig[key]{Name: "paddle-operator-stand-in"})}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel

	crds := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, opts.Namespace, nil)
	for _, c := range []struct {
		kind string
		inf  cache.SharedIndexInformer
	}{
		{kindPaddleJob, crds.ForResource(PaddleJobGVR).Informer()},
		{kindSampleSet, crds.ForResource(SampleSetGVR).Informer()},
		{kindSampleJob, crds.ForResource(SampleJobGVR).Informer()},
	} {
		kind := c.kind
		if _, err := c.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { s.enqueueObject(kind, o) },
			UpdateFunc: func(_, o any) { s.enqueueObject(kind, o) },
			DeleteFunc: func(o any) { s.enqueueObject(kind, o) },
		}); err != nil {
			cancel()
			return nil, err
		}
	}
	core := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(opts.Namespace))
	// A pod brings back the object that controls it.
	podOwner := func(o any) {
		if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = t.Obj
		}
		p, ok := o.(*corev1.Pod)
		if !ok {
			return
		}
		if c := metav1.GetControllerOf(p); c != nil && strings.HasPrefix(c.APIVersion, PaddleJobGVR.Group+"/") {
			s.enqueue(c.Kind, p.Namespace, c.Name)
		}
	}
	if _, err := core.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: podOwner, UpdateFunc: func(_, o any) { podOwner(o) }, DeleteFunc: podOwner,
	}); err != nil {
		cancel()
		return nil, err
	}
	// A SampleSet's claim brings it back when it binds.
	if _, err := core.Core().V1().PersistentVolumeClaims().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, o any) {
			if c, ok := o.(*corev1.PersistentVolumeClaim); ok && c.Labels[volumeLabel(c.Name)] == "true" {
				s.enqueue(kindSampleSet, c.Namespace, c.Name)
			}
		},
	}); err != nil {
		cancel()
		return nil, err
	}
	crds.Start(ctx.Done())
	core.Start(ctx.Done())
	s.stop = func() {
		crds.Shutdown()
		core.Shutdown()
	}
	for i := 0; i < 2; i++ {
		s.workers.Add(1)
		go func() {
			defer s.workers.Done()
			for s.next(ctx) {
			}
		}()
	}
	return s, nil
}

// Stop ends the stand-in: its controllers stop, and what they made stays
// with the cluster.
func (s *StandIn) Stop() {
	select {
	case <-s.stopped:
		return
	default:
		close(s.stopped)
	}
	s.cancel()
	s.queue.ShutDown()
	s.workers.Wait()
	s.stop()
}

// Log returns what the stand-in did and the errors it met, for failure
// messages.
func (s *StandIn) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, "\n")
}

func (s *StandIn) logf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, time.Now().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
	if len(s.log) > 200 {
		s.log = s.log[len(s.log)-200:]
	}
}

func (s *StandIn) enqueue(kind, ns, name string) {
	s.queue.Add(key{kind, ns, name})
}

func (s *StandIn) enqueueObject(kind string, o any) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	if m, ok := o.(metav1.Object); ok {
		s.enqueue(kind, m.GetNamespace(), m.GetName())
	}
}

// next reconciles the next object of the queue; false once it shuts down.
func (s *StandIn) next(ctx context.Context) bool {
	k, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(k)
	var after time.Duration
	var err error
	switch k.kind {
	case kindPaddleJob:
		after, err = s.syncPaddleJob(ctx, k.namespace, k.name)
	case kindSampleSet:
		after, err = s.syncSampleSet(ctx, k.namespace, k.name)
	case kindSampleJob:
		after, err = s.syncSampleJob(ctx, k.namespace, k.name)
	}
	switch {
	case ctx.Err() != nil:
	case err != nil:
		if !apierrors.IsConflict(err) {
			s.logf("%s %s/%s: %v", k.kind, k.namespace, k.name, err)
		}
		s.queue.AddRateLimited(k)
	case after > 0:
		s.queue.Forget(k)
		s.queue.AddAfter(k, after)
	default:
		s.queue.Forget(k)
	}
	return true
}

// ownerRef makes u the controller of what the stand-in makes for it.
func ownerRef(u *unstructured.Unstructured) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Name: u.GetName(), UID: u.GetUID(),
		Controller: &yes, BlockOwnerDeletion: &yes}
}

func (s *StandIn) createPod(ctx context.Context, pod *corev1.Pod) error {
	if _, err := s.cs.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	s.logf("pod %s/%s created", pod.Namespace, pod.Name)
	return nil
}

// event records an event on u, as the operator's controllers do, from the
// stand-in.
func (s *StandIn) event(ctx context.Context, u *unstructured.Unstructured, typ, reason, message string) {
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: u.GetName() + ".", Namespace: u.GetNamespace()},
		InvolvedObject: corev1.ObjectReference{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(),
			Name: u.GetName(), UID: u.GetUID(), ResourceVersion: u.GetResourceVersion()},
		Type: typ, Reason: reason, Message: message, Count: 1, FirstTimestamp: now, LastTimestamp: now,
		Source: corev1.EventSource{Component: "paddle-operator-stand-in"},
	}
	if _, err := s.cs.CoreV1().Events(u.GetNamespace()).Create(ctx, ev, metav1.CreateOptions{}); err != nil && ctx.Err() == nil {
		s.logf("event on %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	if typ == corev1.EventTypeWarning {
		s.logf("%s %s/%s: %s: %s", u.GetKind(), u.GetNamespace(), u.GetName(), reason, message)
	}
}

// warn records a Warning event once per object, reason and message: the
// operator repeats them on every retry, which says nothing more.
func (s *StandIn) warn(ctx context.Context, u *unstructured.Unstructured, reason, message string) {
	k := string(u.GetUID()) + "\x00" + reason + "\x00" + message
	s.mu.Lock()
	seen := s.warned[k]
	s.warned[k] = true
	s.mu.Unlock()
	if !seen {
		s.event(ctx, u, corev1.EventTypeWarning, reason, message)
	}
}
