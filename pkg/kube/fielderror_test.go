package kube

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/pkg/exit"
)

// serverError is a stand-in for the API server's answer: the status it
// sends for a server-side apply with unknown fields (an untyped 500).
func serverError(code int32, msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: code, Message: msg}}
}

func TestFieldErrorsNameFieldsAsTheObjectSpellsThem(t *testing.T) {
	obj := map[string]any{"spec": map[string]any{"worker": map[string]any{"template": map[string]any{"spec": map[string]any{
		"containers": []any{
			map[string]any{"name": "init"},
			map[string]any{"name": "paddle", "ports": []any{map[string]any{"containerPort": int64(80), "protocol": "TCP"}}},
		}}}}}}
	ref := ObjectRef{GVK: schema.GroupVersionKind{Group: "batch.paddlepaddle.org", Version: "v1", Kind: "PaddleJob"}, Namespace: "ns", Name: "job"}
	for _, c := range []struct {
		msg  string
		want []string
	}{{
		msg:  `failed to create typed patch object (ns/job; batch.paddlepaddle.org/v1, Kind=PaddleJob): .spec.worker.template.spec.containers[name="paddle"].imagePullPolicyy: field not declared in schema`,
		want: []string{`apply PaddleJob ns/job: unknown field "spec.worker.template.spec.containers[1].imagePullPolicyy"`},
	}, {
		msg: "failed to create typed patch object (ns/job; batch.paddlepaddle.org/v1, Kind=PaddleJob): errors:\n" +
			`  .spec.worker.template.spec.containers[name="paddle"].ports[containerPort=80,protocol="TCP"].hostPortt: field not declared in schema` + "\n" +
			`  .spec.worker.replicas: expected numeric (int or float), got string`,
		want: []string{
			`unknown field "spec.worker.template.spec.containers[1].ports[0].hostPortt"`,
			`; field "spec.worker.replicas": expected numeric (int or float), got string`,
		},
	}, {
		msg:  `failed to create typed patch object (ns/job; batch.paddlepaddle.org/v1, Kind=PaddleJob): .spec.ps[name="x"].y: field not declared in schema`,
		want: []string{`unknown field "spec.ps[name=\"x\"].y"`},
	}, {
		msg:  "error strict decoding patch: error converting YAML to JSON: yaml: unmarshal errors:\n  line 3: key \"image\" already set in map",
		want: []string{`duplicate field: line 3: key "image" already set in map`},
	}, {
		msg:  `strict decoding error: unknown field "spec.x", duplicate field "spec.y"`,
		want: []string{`unknown field "spec.x"; duplicate field "spec.y"`},
	}} {
		err := classifyObject(serverError(http.StatusInternalServerError, c.msg), "apply", ref, "paddlejobs", obj)
		var fe *FieldError
		if !errors.As(err, &fe) || exit.Code(err) != exit.Usage {
			t.Errorf("%q: got %v (exit %d), want a FieldError exiting 2", c.msg, err, exit.Code(err))
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
		if retriable(serverError(http.StatusInternalServerError, c.msg), writing) {
			t.Errorf("%q is retried", c.msg)
		}
	}
	if err := classify(serverError(http.StatusInternalServerError, "etcd is down"), "apply", ref, "paddlejobs"); errors.As(err, new(*FieldError)) {
		t.Errorf("a plain 500 became a FieldError: %v", err)
	}
}
