package serve_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/serve"
)

var revisionsGVR = schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "revisions"}

// stampRevision plays the part of Knative's configuration controller the
// knative stand-in leaves out: it creates the Revision of the Service's
// template, labelled as Knative labels it, and reports it Ready with one pod.
func stampRevision(t *testing.T, e *testenv.Env, ns, name string) string {
	t.Helper()
	svc := e.Get(t, svcRef(ns, name))
	tmpl, _, _ := unstructured.NestedMap(svc.Object, "spec", "template")
	md := tmpl["metadata"].(map[string]any)
	revName := md["name"].(string)
	labels := map[string]any{}
	for k, v := range md["labels"].(map[string]any) {
		labels[k] = v
	}
	labels[serve.LabelKnativeService] = name
	labels["serving.knative.dev/configuration"] = name
	labels[serve.LabelConfigurationGen] = strconv.FormatInt(svc.GetGeneration(), 10)
	rev := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "serving.knative.dev/v1", "kind": "Revision",
		"metadata": map[string]any{"name": revName, "namespace": ns, "labels": labels, "annotations": md["annotations"]},
		"spec":     tmpl["spec"],
	}}
	ctx := context.Background()
	created, err := e.Dynamic.Resource(revisionsGVR).Namespace(ns).Create(ctx, rev, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return revName
	}
	if err != nil {
		t.Fatalf("create revision %s: %v", revName, err)
	}
	created.Object["status"] = map[string]any{"observedGeneration": int64(1), "actualReplicas": int64(1), "desiredReplicas": int64(1),
		"conditions": []any{map[string]any{"type": "Ready", "status": "True", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}}
	if _, err := e.Dynamic.Resource(revisionsGVR).Namespace(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("status of revision %s: %v", revName, err)
	}
	return revName
}

func templateAnnotation(t *testing.T, obj *unstructured.Unstructured, key string) string {
	t.Helper()
	v, _, _ := unstructured.NestedString(obj.Object, "spec", "template", "metadata", "annotations", key)
	return v
}

// TestUpdateServesANewRevisionAndRevisionsListsThem: serve update changes
// the scaling and environment of the served version as NAME-VERSION-2,
// which takes the old revision's share; nothing else of the template
// changes; serve revisions lists both with traffic and readiness.
func TestUpdateServesANewRevisionAndRevisionsListsThem(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	startKnative(t, e, ns, noFailures)
	modelCenterKeys(t, e, ns)
	ref := svcRef(ns, "ppocr-det")
	must(t, e.Run(t, "serve", "create", "ppocr-det", "-n", ns, "--model-version", "v1", "--max-scale", "3", "--env", "A=1", "--timeout", "30s"), "create")
	stampRevision(t, e, ns, "ppocr-det")
	before := e.Get(t, ref)

	// The dry run shows the change and changes nothing.
	r := must(t, e.Run(t, "serve", "update", "ppocr-det", "-n", ns, "--max-scale", "5", "--env", "LOG_LEVEL=debug", "--env", "A-", "--dry-run"), "update --dry-run")
	for _, want := range []string{"revision ppocr-det-v1 (current, 100%) -> ppocr-det-v1-2", "  max_scale: 3 -> 5", "  env.LOG_LEVEL: (unset) -> debug", "  env.A: 1 -> (unset)",
		"traffic: ppocr-det-v1=100%(current) -> ppocr-det-v1-2=100%(current)"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("dry run lacks %q:\n%s", want, r.Stdout)
		}
	}
	if templateOf(t, e.Get(t, ref)) != "ppocr-det-v1" {
		t.Fatal("a client dry run changed the service")
	}
	r = must(t, e.Run(t, "serve", "update", "ppocr-det", "-n", ns, "--max-scale", "5", "--dry-run=server"), "update --dry-run=server")
	if !strings.Contains(r.Stdout, "ppocr-det-v1-2=100%(current) (server dry run)") || templateOf(t, e.Get(t, ref)) != "ppocr-det-v1" {
		t.Errorf("server dry run: %s", r)
	}

	r = must(t, e.Run(t, "serve", "update", "ppocr-det", "-n", ns, "--max-scale", "5", "--env", "LOG_LEVEL=debug", "--env", "A-", "--timeout", "30s"), "update")
	if !strings.Contains(r.Stderr, "max_scale: 3 -> 5") || !strings.Contains(r.Stdout, "ppocr-det-v1-2") {
		t.Errorf("update output: %s", r)
	}
	after := e.Get(t, ref)
	if got := trafficOf(t, e, ref); got != "ppocr-det-v1-2=100%(current)" || templateOf(t, after) != "ppocr-det-v1-2" {
		t.Fatalf("after update: %s, template %s", got, templateOf(t, after))
	}
	if templateAnnotation(t, after, serve.AnnotationMaxScale) != "5" || templateAnnotation(t, after, serve.AnnotationMinScale) != "0" {
		t.Errorf("scale annotations of the new revision")
	}
	// Nothing else changed: the same pod spec but for the environment.
	podOf := func(obj *unstructured.Unstructured) map[string]any {
		spec, _, _ := unstructured.NestedMap(obj.Object, "spec", "template", "spec")
		c := spec["containers"].([]any)[0].(map[string]any)
		env := map[string]string{}
		for _, x := range c["env"].([]any) {
			env[x.(map[string]any)["name"].(string)] = x.(map[string]any)["value"].(string)
		}
		delete(c, "env")
		spec["env"] = env
		return spec
	}
	b, a := podOf(before), podOf(after)
	if a["env"].(map[string]string)["LOG_LEVEL"] != "debug" || a["env"].(map[string]string)["A"] != "" || b["env"].(map[string]string)["A"] != "1" {
		t.Errorf("environment: before %v after %v", b["env"], a["env"])
	}
	delete(a, "env")
	delete(b, "env")
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Errorf("the update changed more than the environment:\nbefore %s\nafter  %s", jb, ja)
	}
	if r := e.Run(t, "serve", "update", "ppocr-det", "-n", ns, "--max-scale", "5"); r.Code != 0 || !strings.Contains(r.Stderr, "nothing to update") || templateOf(t, e.Get(t, ref)) != "ppocr-det-v1-2" {
		t.Errorf("update to the same settings: %s", r)
	}
	stampRevision(t, e, ns, "ppocr-det")

	r = must(t, e.Run(t, "serve", "revisions", "ppocr-det", "-n", ns), "revisions")
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("revisions:\n%s", r.Stdout)
	}
	if f := strings.Fields(lines[1]); len(f) < 7 || f[0] != "ppocr-det-v1-2*" || f[1] != "v1" || f[2] != "100%" || f[3] != "current" || f[4] != "True" || f[6] != "1/1" {
		t.Errorf("new revision row: %q", lines[1])
	}
	if f := strings.Fields(lines[2]); len(f) < 5 || f[0] != "ppocr-det-v1" || f[2] != "0%" || f[3] != "-" || f[4] != "True" {
		t.Errorf("old revision row: %q", lines[2])
	}
	// A rollout's candidate shows before Knative creates it.
	must(t, e.Run(t, "serve", "rollout", "ppocr-det", "-n", ns, "--model-version", "v2", "--traffic", "20", "--wait=false"), "rollout")
	r = must(t, e.Run(t, "serve", "revisions", "ppocr-det", "-n", ns, "-o", "json"), "revisions -o json")
	var rows []serve.RevisionRow
	if err := json.Unmarshal([]byte(r.Stdout), &rows); err != nil || len(rows) != 3 {
		t.Fatalf("revisions -o json: %v\n%s", err, r.Stdout)
	}
	if rows[0].Name != "ppocr-det-v2" || rows[0].Exists || rows[0].Percent != 20 || rows[0].Tags[0] != "candidate" || rows[1].Percent != 80 {
		t.Errorf("rows %+v", rows)
	}
	if r := must(t, e.Run(t, "serve", "revisions", "ppocr-det", "-n", ns, "-o", "name"), "-o name"); r.Stdout != "revision.serving.knative.dev/ppocr-det-v1\nrevision.serving.knative.dev/ppocr-det-v1-2\n" {
		t.Errorf("revisions -o name: %q", r.Stdout)
	}

	for _, args := range [][]string{
		{"update", "ppocr-det"},
		{"update", "ppocr-det", "--min-scale", "-1"},
		{"update", "ppocr-det", "--min-scale", "4", "--max-scale", "2"},
		{"update", "ppocr-det", "--env", "PORT=1"},
		{"update", "ppocr-det", "--env", "=x"},
		{"revisions", "ppocr-det", "-o", "table"},
	} {
		if r := e.Run(t, append(append([]string{"serve"}, args...), "-n", "no-such-namespace")...); r.Code != 2 {
			t.Errorf("%v: %s", args, r)
		}
	}
	if r := e.Run(t, "serve", "update", "nosuch", "-n", ns, "--max-scale", "2"); r.Code != 1 || !strings.Contains(r.Stderr, "not found") {
		t.Errorf("update of a missing service: %s", r)
	}
	if r := e.Run(t, "serve", "revisions", "nosuch", "-n", ns); r.Code != 1 || !strings.Contains(r.Stderr, "not found") {
		t.Errorf("revisions of a missing service: %s", r)
	}
}
