package pipeline

import (
	"strings"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v3/workflow/validate"
)

// TestArgoLint runs Argo's own workflow validation, as `argo lint` and the
// workflow controller do, on every built-in pipeline, a custom one and a
// retry.
func TestArgoLint(t *testing.T) {
	lint := func(t *testing.T, c *Compiled) {
		t.Helper()
		wf := c.Workflow.DeepCopy()
		if wf.Name == "" {
			wf.Name = wf.GenerateName + "abcde"
		}
		for _, opts := range []validate.ValidateOpts{{Lint: true}, {Submit: true}} {
			if err := validate.ValidateWorkflow(nil, nil, wf, nil, opts); err != nil {
				t.Errorf("argo validation (%+v): %v", opts, err)
			}
		}
	}
	for _, b := range builtins(t) {
		t.Run(b.Name, func(t *testing.T) {
			_, c := compileData(t, b.Data, nil, Options{GenerateName: true})
			lint(t, c)
		})
	}
	t.Run("100-steps", func(t *testing.T) {
		_, c := compileData(t, chain(100), nil, Options{})
		lint(t, c)
	})
	t.Run("retry", func(t *testing.T) {
		b, _ := FindBuiltin(builtins(t), "ppocr-det")
		_, c := compileData(t, b.Data, nil, Options{})
		old := withStatus(c.Workflow, "ppocr-det", "Failed", map[string]wfv1.NodePhase{"dataset": "Succeeded", "train": "Failed", "train.paddlejob": "Failed"})
		plan, err := Retry(old)
		if err != nil {
			t.Fatal(err)
		}
		lint(t, &Compiled{Workflow: plan.Workflow})
	})
	// Argo itself refuses what the compiler must never produce.
	t.Run("catches-errors", func(t *testing.T) {
		b, _ := FindBuiltin(builtins(t), "ppocr-det")
		_, c := compileData(t, b.Data, nil, Options{})
		wf := c.Workflow.DeepCopy()
		wf.Spec.Templates[0].DAG.Tasks[1].Dependencies = []string{"nosuch"}
		err := validate.ValidateWorkflow(nil, nil, wf, nil, validate.ValidateOpts{Lint: true})
		if err == nil || !strings.Contains(err.Error(), "nosuch") {
			t.Errorf("a dependency on a missing task passed Argo's validation: %v", err)
		}
	})
}
