package pipeline

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/pipeline"
)

// ownerManager is the field manager of the run's owner references.
const ownerManager = "paddlex-run"

// submit applies the run's account and rights, creates the Workflow, and
// then hands the account and rights to the Workflow (owner references), so
// deleting the run removes them. They go first because the run's pods
// need them the moment the Workflow exists.
func submit(ctx context.Context, k kube.Interface, apply cmdutil.ApplyFlags, rbac []*unstructured.Unstructured, wf *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	dry := apply.DryRun == cmdutil.DryRunServer
	opts := apply.ApplyOptions()
	if len(rbac) > 0 && wf.GetName() != "" {
		// A run of that name exists: its account is its own, leave it be;
		// creating the Workflow says what to do.
		_, err := k.Get(ctx, kube.ObjectRef{GVK: paddle.WorkflowGVK, Namespace: wf.GetNamespace(), Name: wf.GetName()})
		if err == nil {
			rbac = nil
		}
	}
	if len(rbac) > 0 {
		if _, err := k.Apply(ctx, rbac, opts); err != nil {
			return nil, fmt.Errorf("apply the run's service account and role (or pass --service-account): %w", err)
		}
	}
	created, err := createWorkflow(ctx, k, wf, kube.CreateOptions{FieldManager: opts.FieldManager, DryRun: opts.DryRun})
	if err != nil {
		return nil, err
	}
	if len(rbac) > 0 && !dry {
		// Only the owner references, under a field manager of their own,
		// so a later apply of the account never takes them away.
		var owned []*unstructured.Unstructured
		for _, o := range pipeline.OwnedBy(rbac, created) {
			owned = append(owned, &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": o.GetAPIVersion(), "kind": o.GetKind(),
				"metadata": map[string]any{"name": o.GetName(), "namespace": o.GetNamespace(), "ownerReferences": o.Object["metadata"].(map[string]any)["ownerReferences"]},
			}})
		}
		ownerOpts := opts
		ownerOpts.FieldManager = ownerManager
		if _, err := k.Apply(ctx, owned, ownerOpts); err != nil {
			return nil, fmt.Errorf("hand the run's service account and role to workflow %s/%s (delete them with it: kubectl delete workflow %s -n %s): %w",
				created.GetNamespace(), created.GetName(), created.GetName(), created.GetNamespace(), err)
		}
	}
	return created, nil
}
