package serve

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/paddleflow/paddlex/pkg/exit"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/serve"
)

// Knative's feature flags live in this ConfigMap; the serving pod's init
// container needs one of them.
const (
	knativeNamespace     = "knative-serving"
	knativeFeatures      = "config-features"
	initContainerFeature = "kubernetes.podspec-init-containers"
)

var enableInitContainers = fmt.Sprintf(`kubectl patch configmap/%s -n %s --type merge -p '{"data":{"%s":"enabled"}}'`,
	knativeFeatures, knativeNamespace, initContainerFeature)

func serviceRef(namespace, name string) kube.ObjectRef {
	return kube.ObjectRef{GVK: paddle.KnativeServiceGVK, Namespace: namespace, Name: name}
}

// checkInitContainers fails early, and says how to fix it, when Knative
// would refuse the serving pod's init container. A cluster without the
// ConfigMap is left to the apply to judge.
func checkInitContainers(ctx context.Context, k kube.Interface, errOut io.Writer) error {
	ref := kube.ObjectRef{GVK: corev1.SchemeGroupVersion.WithKind("ConfigMap"), Namespace: knativeNamespace, Name: knativeFeatures}
	cm, err := k.Get(ctx, ref)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case kube.IsForbidden(err):
		fmt.Fprintf(errOut, "warning: cannot check that Knative allows init containers: %v\n", err)
		return nil
	case err != nil:
		return err
	}
	v, _, _ := unstructured.NestedString(cm.Object, "data", initContainerFeature)
	if !strings.EqualFold(v, "enabled") {
		return exit.PreconditionErrorf("Knative Serving does not allow init containers (%s is %q in ConfigMap %s/%s), and the model is fetched by one: enable them with\n  %s",
			initContainerFeature, orUnset(v), knativeNamespace, knativeFeatures, enableInitContainers)
	}
	return nil
}

// checkSecret fails early when the Secret the fetch-model init container
// reads the model center's keys from is missing: the pod would otherwise
// wait on it without end.
func checkSecret(ctx context.Context, k kube.Interface, errOut io.Writer, namespace, name string) error {
	ref := kube.ObjectRef{GVK: corev1.SchemeGroupVersion.WithKind("Secret"), Namespace: namespace, Name: name}
	_, err := k.Get(ctx, ref)
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		fix := fmt.Sprintf("create it in namespace %s", namespace)
		if name == paddle.DataCenterSecret {
			fix = fmt.Sprintf("run `%s`, or %s", install.PrerequisitesCommand(namespace), fix)
		}
		return exit.PreconditionErrorf("--secret: Secret %s/%s does not exist, and serving pods read the model center's keys from it (keys access-key and secret-key): %s", namespace, name, fix)
	case kube.IsForbidden(err):
		fmt.Fprintf(errOut, "warning: cannot check that Secret %s/%s exists: %v\n", namespace, name, err)
		return nil
	}
	return err
}

func orUnset(s string) string {
	if s == "" {
		return "unset, so disabled"
	}
	return s
}

// explainApply adds the way out to the refusals of Knative's webhook.
func explainApply(err error, rev string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "init-containers is off"):
		return exit.PreconditionErrorf("%v\nKnative Serving does not allow init containers, and the model is fetched by one: enable them with\n  %s", err, enableInitContainers)
	case strings.Contains(msg, "without a name change"):
		return exit.FailedErrorf("%v\nrevision %s already exists with other settings, and a revision never changes: change its scaling or environment with `paddlex serve update`, serve another version with `paddlex serve rollout`, or delete the service and create it again", err, rev)
	}
	return err
}

// printReady prints what a wait for readiness ended with: the URL on
// stdout for scripts, the traffic split on stderr for people.
func printReady(out, errOut io.Writer, obj *unstructured.Unstructured) {
	st := serve.StatusOf(obj)
	fmt.Fprintf(errOut, "service %s ready: %s\n", obj.GetName(), st.Traffic)
	fmt.Fprintln(out, cmdutil.OrNone(st.URL))
}

// whatNext tells the user how to look into a failed or unfinished wait and
// how to undo it (verb is rollback or delete).
func whatNext(errOut io.Writer, verb, name, namespace string) {
	fmt.Fprintf(errOut, "  inspect:  paddlex serve describe %s -n %s\n  %-9s paddlex serve %s %s -n %s\n", name, namespace, verb+":", verb, name, namespace)
}
