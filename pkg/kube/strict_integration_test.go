package kube_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
)

func parse(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// A misspelled field fails the apply with exit 2, naming the object and the
// field, whether or not the request is a server-side dry run, and nothing
// is saved.
func TestStrictValidationRejectsUnknownFields(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	cases := []struct {
		name, doc string
		want      []string
		// upstream marks a case that needs the upstream paddle-operator
		// schemas: the fallback fixtures keep unknown fields in pod templates.
		upstream bool
	}{{
		name: "Job",
		doc: `
apiVersion: batch/v1
kind: Job
metadata: {name: typo}
spec:
  podFailurePolicyy:
    rules: [{action: FailJob, onExitCodes: {operator: In, values: [42]}}]
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
`,
		want: []string{"apply Job " + ns + "/typo", `unknown field "spec.podFailurePolicyy"`},
	}, {
		name: "Job container",
		doc: `
apiVersion: batch/v1
kind: Job
metadata: {name: typo-container}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        securityContext: {allowPrivilegeEscalaton: false}
`,
		want: []string{"apply Job " + ns + "/typo-container", `unknown field "spec.template.spec.containers[0].securityContext.allowPrivilegeEscalaton"`},
	}, {
		name: "PaddleJob spec",
		doc: `
apiVersion: batch.paddlepaddle.org/v1
kind: PaddleJob
metadata: {name: typo-spec}
spec:
  cleanPodPolicyy: OnCompletion
  worker:
    replicas: 1
    template:
      spec:
        containers: [{name: paddle, image: paddle}]
`,
		want: []string{"apply PaddleJob " + ns + "/typo-spec", `unknown field "spec.cleanPodPolicyy"`},
	}, {
		name: "PaddleJob container",
		doc: `
apiVersion: batch.paddlepaddle.org/v1
kind: PaddleJob
metadata: {name: typo-container}
spec:
  worker:
    replicas: 1
    template:
      spec:
        containers: [{name: paddle, image: paddle, imagePullPolicyy: Always}]
`,
		want:     []string{"apply PaddleJob " + ns + "/typo-container", `unknown field "spec.worker.template.spec.containers[0].imagePullPolicyy"`},
		upstream: true,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.upstream && !e.UpstreamCRDs {
				t.Skip("needs the upstream paddle-operator CRDs: set PADDLEX_UPSTREAM_DIR (make test does)")
			}
			for _, dry := range []kube.DryRun{kube.DryRunServer, kube.DryRunNone} {
				obj := parse(t, c.doc)
				obj.SetNamespace(ns)
				_, err := e.Kube().Apply(context.Background(), []*unstructured.Unstructured{obj}, kube.ApplyOptions{DryRun: dry})
				if err == nil {
					t.Fatalf("dry-run=%v: apply succeeded; want a strict validation error", dry)
				}
				if got := exit.Code(err); got != exit.Usage {
					t.Errorf("dry-run=%v: exit code %d, want %d: %v", dry, got, exit.Usage, err)
				}
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("dry-run=%v: error %q does not contain %q", dry, err, w)
					}
				}
				if _, err := e.Kube().Get(context.Background(), kube.RefOf(obj)); !apierrors.IsNotFound(err) {
					t.Errorf("dry-run=%v: %s was saved (get: %v)", dry, kube.RefOf(obj), err)
				}
			}
		})
	}
}

// A field given twice is as much a mistake as an unknown one.
func TestStrictValidationRejectsDuplicateFields(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	obj := configMap(ns, "dup", "v")
	body, err := obj.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	// Go maps cannot hold a key twice, so the duplicate goes in as text.
	dup := strings.Replace(string(body), `"data":{`, `"data":{"key":"first",`, 1)
	if dup == string(body) {
		t.Fatalf("no data in %s", body)
	}
	force := true
	_, err = e.Dynamic.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace(ns).Patch(context.Background(), "dup",
		types.ApplyPatchType, []byte(dup), metav1.PatchOptions{FieldManager: kube.FieldManager, Force: &force, FieldValidation: metav1.FieldValidationStrict})
	if err == nil {
		t.Fatal("the API server accepted a duplicate field under strict validation")
	}
	err = kube.Classify(err, "apply", kube.RefOf(obj), "configmaps")
	if got := exit.Code(err); got != exit.Usage || !strings.Contains(err.Error(), `duplicate field: line 1: key "key" already set in map`) {
		t.Fatalf("exit %d: %v; want exit 2 naming the duplicate key", got, err)
	}
}

// The API server's warnings (here a deprecated CRD version's) reach the
// command's stderr, once each, through the Factory's clients.
func TestServerWarningsReachStderrOnce(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	ctx := context.Background()
	crd := parse(t, `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.test.paddlex.io}
spec:
  group: test.paddlex.io
  scope: Namespaced
  names: {kind: Gadget, plural: gadgets, singular: gadget, listKind: GadgetList}
  versions:
  - name: v1
    served: true
    storage: false
    deprecated: true
    deprecationWarning: "test.paddlex.io/v1 Gadget is deprecated; use test.paddlex.io/v2"
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}}
  - name: v2
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}}
`)
	if _, err := e.Kube().Apply(ctx, []*unstructured.Unstructured{crd}, kube.ApplyOptions{}); err != nil {
		t.Fatalf("apply CRD: %v", err)
	}
	t.Cleanup(func() {
		_ = e.Kube().Delete(ctx, []kube.ObjectRef{kube.RefOf(crd)}, kube.DeleteOptions{IgnoreNotFound: true})
	})

	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}})
	kc, cache := e.Kubeconfig, filepath.Join(t.TempDir(), "cache")
	f.ConfigFlags.KubeConfig, f.ConfigFlags.CacheDir = &kc, &cache
	k, err := f.Kube()
	if err != nil {
		t.Fatal(err)
	}
	var gadgets []*unstructured.Unstructured
	for _, name := range []string{"a", "b", "c"} {
		g := parse(t, "apiVersion: test.paddlex.io/v1\nkind: Gadget\nspec: {size: 1}\n")
		g.SetName(name)
		g.SetNamespace(ns)
		gadgets = append(gadgets, g)
	}
	if _, err := k.Apply(ctx, gadgets, kube.ApplyOptions{}); err != nil {
		t.Fatalf("apply gadgets: %v", err)
	}
	f.Reporter().Close()
	const want = "Warning: test.paddlex.io/v1 Gadget is deprecated; use test.paddlex.io/v2\n"
	if n := strings.Count(errOut.String(), want); n != 1 {
		t.Errorf("stderr has the warning %d times, want once:\n%s", n, errOut.String())
	}
	if out.Len() != 0 {
		t.Errorf("warnings went to stdout: %q", out.String())
	}
}
