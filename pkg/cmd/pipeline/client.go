package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/paddleflow/paddlex/pkg/exit"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

var workflowGVR = schema.GroupVersionResource{Group: paddle.WorkflowGVK.Group, Version: paddle.WorkflowGVK.Version, Resource: "workflows"}

// workflows reaches Argo Workflows: created (server-side apply cannot
// generate names), read and watched through the dynamic client.
type workflows struct {
	dyn dynamic.Interface
}

func newWorkflows(f *cmdutil.Factory) (*workflows, error) {
	cfg, err := f.RESTConfig()
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	return &workflows{dyn: dyn}, nil
}

func wfRef(ns, name string) kube.ObjectRef {
	return kube.ObjectRef{GVK: paddle.WorkflowGVK, Namespace: ns, Name: name}
}

// explain turns API errors about Workflows into what to do.
func explain(err error, verb string, ref kube.ObjectRef) error {
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err) && ref.Name == "":
		return kube.NoKindError(paddle.WorkflowGVK)
	case apierrors.IsNotFound(err):
		var status apierrors.APIStatus
		if errors.As(err, &status) && status.Status().Details != nil && status.Status().Details.Kind == "workflows" {
			return exit.FailedErrorf("%s not found: list the runs with `paddlex pipeline list -n %s`", ref, ref.Namespace)
		}
		return kube.NoKindError(paddle.WorkflowGVK)
	case apierrors.IsAlreadyExists(err):
		return exit.FailedErrorf("%s already exists: delete it (`paddlex pipeline delete %s -n %s`), retry it, or run with --generate-name", ref, ref.Name, ref.Namespace)
	case apierrors.IsForbidden(err):
		return exit.PreconditionErrorf("%s %s: RBAC forbids it: ask a cluster admin for access to workflows.argoproj.io: %v", verb, ref, err)
	case errors.As(err, new(*url.Error)):
		return exit.PreconditionErrorf("%s %s: cannot reach the cluster: %v (check --kubeconfig and --context)", verb, ref, err)
	case apierrors.IsInvalid(err):
		return exit.FailedErrorf("%s %s: the API server refused it: %v", verb, ref, err)
	}
	return fmt.Errorf("%s %s: %w", verb, ref, err)
}

// Create submits wf; with dryRun the API server validates it without
// persisting it.
func (w *workflows) Create(ctx context.Context, obj *unstructured.Unstructured, fieldManager string, dryRun bool) (*unstructured.Unstructured, error) {
	opts := metav1.CreateOptions{FieldManager: fieldManager}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	out, err := w.dyn.Resource(workflowGVR).Namespace(obj.GetNamespace()).Create(ctx, obj, opts)
	if err != nil {
		name := obj.GetName()
		if name == "" {
			name = obj.GetGenerateName() + "*"
		}
		return nil, explain(err, "create", wfRef(obj.GetNamespace(), name))
	}
	return out, nil
}

// Get reads one Workflow.
func (w *workflows) Get(ctx context.Context, ns, name string) (*wfv1.Workflow, *unstructured.Unstructured, error) {
	obj, err := w.dyn.Resource(workflowGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, explain(err, "get", wfRef(ns, name))
	}
	wf, err := pipeline.FromObject(obj)
	return wf, obj, err
}

// ListObjects reads the Workflows paddlex submitted ("" for every namespace).
func (w *workflows) ListObjects(ctx context.Context, ns string) ([]*unstructured.Unstructured, error) {
	list, err := w.dyn.Resource(workflowGVR).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: pipeline.LabelPipeline})
	if err != nil {
		return nil, explain(err, "list", wfRef(ns, ""))
	}
	out := make([]*unstructured.Unstructured, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// List reads the Workflows paddlex submitted, typed.
func (w *workflows) List(ctx context.Context, ns string) ([]*wfv1.Workflow, error) {
	objs, err := w.ListObjects(ctx, ns)
	if err != nil {
		return nil, err
	}
	out := make([]*wfv1.Workflow, 0, len(objs))
	for _, obj := range objs {
		wf, err := pipeline.FromObject(obj)
		if err != nil {
			return nil, err
		}
		out = append(out, wf)
	}
	return out, nil
}

// Watch calls fn with the Workflow now and on every change until fn says
// done, fn fails, or ctx ends. It is an informer on the one object, so a
// dropped watch resumes where it stopped.
func (w *workflows) Watch(ctx context.Context, ns, name string, fn func(*wfv1.Workflow) (bool, error)) error {
	ri := w.dyn.Resource(workflowGVR).Namespace(ns)
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return ri.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return ri.Watch(ctx, o)
		},
	}
	gone := func() error {
		return exit.FailedErrorf("%s was deleted while being watched", wfRef(ns, name))
	}
	precondition := func(store cache.Store) (bool, error) {
		if len(store.List()) == 0 {
			return false, gone()
		}
		return false, nil
	}
	_, err := watchtools.UntilWithSync(ctx, lw, &unstructured.Unstructured{}, precondition, func(ev watch.Event) (bool, error) {
		switch ev.Type {
		case watch.Deleted:
			return false, gone()
		case watch.Added, watch.Modified:
			obj, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				return false, nil
			}
			wf, err := pipeline.FromObject(obj)
			if err != nil {
				return false, err
			}
			return fn(wf)
		case watch.Error:
			return false, apierrors.FromObject(ev.Object)
		}
		return false, nil
	})
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, watchtools.ErrWatchClosed) {
		return context.DeadlineExceeded
	}
	return err
}
