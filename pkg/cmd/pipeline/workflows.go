package pipeline

import (
	"context"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

// A pipeline run is an Argo Workflow. The commands reach Workflows through
// the engine like every other kind, so retries, exit codes and messages are
// the engine's; the helpers here only add what to do about a run that is
// missing or already there.

func wfRef(ns, name string) kube.ObjectRef {
	return kube.ObjectRef{GVK: paddle.WorkflowGVK, Namespace: ns, Name: name}
}

// notFound says how to find the runs that do exist.
func notFound(ref kube.ObjectRef) error {
	return exit.FailedErrorf("%s not found: list the runs with `paddlex pipeline list -n %s`", ref, ref.Namespace)
}

// getWorkflow reads one run, typed and as the server answered.
func getWorkflow(ctx context.Context, k kube.Interface, ns, name string) (*wfv1.Workflow, *unstructured.Unstructured, error) {
	ref := wfRef(ns, name)
	obj, err := k.Get(ctx, ref)
	if apierrors.IsNotFound(err) {
		return nil, nil, notFound(ref)
	}
	if err != nil {
		return nil, nil, err
	}
	wf, err := pipeline.FromObject(obj)
	return wf, obj, err
}

// listWorkflows reads the runs paddlex submitted ("" for every namespace).
func listWorkflows(ctx context.Context, k kube.Interface, ns string) ([]*unstructured.Unstructured, error) {
	items, err := k.List(ctx, paddle.WorkflowGVK, kube.ListOptions{Namespace: ns, LabelSelector: pipeline.LabelPipeline})
	if err != nil {
		return nil, err
	}
	out := make([]*unstructured.Unstructured, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out, nil
}

// listRuns reads the runs paddlex submitted, typed.
func listRuns(ctx context.Context, k kube.Interface, ns string) ([]*wfv1.Workflow, error) {
	objs, err := listWorkflows(ctx, k, ns)
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

// createWorkflow submits obj, whose name may be generated; a run of the same
// name is refused with the ways out.
func createWorkflow(ctx context.Context, k kube.Interface, obj *unstructured.Unstructured, opts kube.CreateOptions) (*unstructured.Unstructured, error) {
	created, err := k.Create(ctx, obj, opts)
	if apierrors.IsAlreadyExists(err) {
		ref := kube.RefOf(obj)
		return nil, exit.FailedErrorf("%s already exists: delete it (`paddlex pipeline delete %s -n %s`), retry it, or run with --generate-name", ref, ref.Name, ref.Namespace)
	}
	return created, err
}
