package image

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func TestRewrite(t *testing.T) {
	const reg = Registry("mirror.example:5000/paddlex")
	for in, want := range map[string]string{
		"redis:7.4.2":                   "mirror.example:5000/paddlex/library/redis:7.4.2",
		"docker.io/library/redis:7.4.2": "mirror.example:5000/paddlex/library/redis:7.4.2",
		"minio/minio":                   "mirror.example:5000/paddlex/minio/minio",
		"quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z":                       "mirror.example:5000/paddlex/minio/mc:RELEASE.2025-08-13T08-35-41Z",
		"localhost:5000/a/b:1":                                                "mirror.example:5000/paddlex/a/b:1",
		"gcr.io/knative-releases/knative.dev/serving/cmd/queue@sha256:" + sha: "mirror.example:5000/paddlex/knative-releases/knative.dev/serving/cmd/queue@sha256:" + sha,
		"quay.io/argoproj/argoexec:v3.7.9@sha256:" + sha:                      "mirror.example:5000/paddlex/argoproj/argoexec:v3.7.9@sha256:" + sha,
		"ko://knative.dev/serving/cmd/queue":                                  "ko://knative.dev/serving/cmd/queue",
	} {
		if got := reg.Rewrite(in); got != want {
			t.Errorf("Rewrite(%s) = %s, want %s", in, got, want)
		}
	}
	if got := Registry("").Rewrite("redis:7"); got != "redis:7" {
		t.Errorf("no registry rewrote %s", got)
	}
}

const sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestValidateRegistry(t *testing.T) {
	for _, ok := range []string{"", "mirror.example", "127.0.0.1:5000", "mirror.example:5000/team/paddlex"} {
		if err := ValidateRegistry("--image-registry", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"https://mirror.example", "mirror.example/Team", "mirror.example/a:1", "mirror.example//a", "a b"} {
		if err := ValidateRegistry("--image-registry", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

const objects = `
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: workflow-controller}
  spec:
    template:
      spec:
        initContainers: [{name: init, image: busybox:1.36}]
        containers:
        - name: c
          image: quay.io/argoproj/workflow-controller:v3.7.9
          args: [--executor-image, quay.io/argoproj/argoexec:v3.7.9, --configmap=x]
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: config-deployment}
  data:
    queue-sidecar-image: gcr.io/knative-releases/queue@sha256:` + sha + `
    _example: "queue-sidecar-image: not/this:1"
- apiVersion: caching.internal.knative.dev/v1alpha1
  kind: Image
  metadata: {name: queue-proxy}
  spec: {image: gcr.io/knative-releases/queue@sha256:` + sha + `}
- apiVersion: argoproj.io/v1alpha1
  kind: Workflow
  metadata: {name: wf}
  spec:
    templates:
    - name: a
      container: {image: "alpine:3.20", args: ["--executor-image=x/y:1"]}
    - name: b
      script: {image: "python:3.12", source: "print(1)"}
    - name: c
      container: {image: "{{inputs.parameters.image}}"}
- apiVersion: batch.paddlepaddle.org/v1
  kind: PaddleJob
  metadata: {name: job}
  spec:
    worker: {template: {spec: {containers: [{name: w, image: busybox:1.36}]}}}
`

func TestListAndRewriteObjects(t *testing.T) {
	var raw []map[string]any
	if err := yaml.Unmarshal([]byte(objects), &raw); err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, m := range raw {
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	want := []string{
		"alpine:3.20", "busybox:1.36", "gcr.io/knative-releases/queue@sha256:" + sha, "python:3.12",
		"quay.io/argoproj/argoexec:v3.7.9", "quay.io/argoproj/workflow-controller:v3.7.9", "x/y:1",
	}
	if got := List(objs); !reflect.DeepEqual(got, want) {
		t.Errorf("List:\n got %v\nwant %v", got, want)
	}
	Registry("r.example").RewriteObjects(objs)
	want = []string{
		"r.example/argoproj/argoexec:v3.7.9", "r.example/argoproj/workflow-controller:v3.7.9", "r.example/knative-releases/queue@sha256:" + sha,
		"r.example/library/alpine:3.20", "r.example/library/busybox:1.36", "r.example/library/python:3.12", "r.example/x/y:1",
	}
	if got := List(objs); !reflect.DeepEqual(got, want) {
		t.Errorf("List after RewriteObjects:\n got %v\nwant %v", got, want)
	}
	if ex := objs[1].Object["data"].(map[string]any)["_example"]; ex != "queue-sidecar-image: not/this:1" {
		t.Errorf("the _example block was rewritten: %v", ex)
	}
	if cached := objs[2].Object["spec"].(map[string]any)["image"]; cached != "r.example/knative-releases/queue@sha256:"+sha {
		t.Errorf("Knative's image cache entry: %v", cached)
	}
}
