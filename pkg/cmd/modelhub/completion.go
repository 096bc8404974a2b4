package modelhub

import (
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/serve"
)

// jobGVK is the upload Job's kind.
var jobGVK = schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}

// completeModelRef completes the MODEL or MODEL:VERSION argument from what
// the cluster knows: models from the paddlex.io/model label of upload Jobs
// and served Knative Services, versions from the Jobs' MODEL_VERSION and the
// Services' paddlex.io/model-version. The model center itself is not asked:
// reaching it may need its Secret and a port-forward, too slow for a TAB.
// With version "required" a model completes as "MODEL:"; with "optional" as
// MODEL or MODEL:; with "none" as MODEL.
func completeModelRef(f *cmdutil.Factory, version string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if model, prefix, ok := strings.Cut(toComplete, ":"); ok && version != "none" {
			objs := cmdutil.ListForCompletion(f, cmd, paddle.LabelModel+"="+model, jobGVK, paddle.KnativeServiceGVK)
			var refs []string
			for _, v := range versionsOf(objs) {
				refs = append(refs, model+":"+v)
			}
			return cmdutil.FilterCompletions(refs, nil, model+":"+prefix), cobra.ShellCompDirectiveNoFileComp
		}
		models := cmdutil.LabelValues(cmdutil.ListForCompletion(f, cmd, paddle.LabelModel, jobGVK, paddle.KnativeServiceGVK), paddle.LabelModel)
		var words []string
		for _, m := range models {
			switch version {
			case "required":
				words = append(words, m+":")
			case "optional":
				words = append(words, m, m+":")
			default:
				words = append(words, m)
			}
		}
		directive := cobra.ShellCompDirectiveNoFileComp
		if version != "none" {
			directive |= cobra.ShellCompDirectiveNoSpace
		}
		return cmdutil.FilterCompletions(words, nil, toComplete), directive
	}
}

// versionsOf returns the model versions the upload Jobs pushed and the
// Services serve.
func versionsOf(objs []unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		if o.GetKind() == paddle.KnativeServiceGVK.Kind {
			v, _, _ := unstructured.NestedString(o.Object, "spec", "template", "metadata", "labels", serve.LabelModelVersion)
			if v != "" {
				out = append(out, v)
			}
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			cm, ok := c.(map[string]any)
			if !ok {
				continue
			}
			env, _, _ := unstructured.NestedSlice(cm, "env")
			for _, e := range env {
				if m, ok := e.(map[string]any); ok && m["name"] == "MODEL_VERSION" {
					if v, ok := m["value"].(string); ok && v != "" {
						out = append(out, v)
					}
				}
			}
		}
	}
	return out
}
