package cmd

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
)

func TestOpenBadInputExitsTwo(t *testing.T) {
	runBadInput(t, []badInput{
		{name: "unknown target", args: []string{"open", "notebooks"},
			want: []string{`unknown target "notebooks" for "paddlex open": the targets are jupyterhub, pipelines, minio, visualdl, serve`}},
		{name: "address not loopback", args: []string{"open", "jupyterhub", "--address", "0.0.0.0"}, want: []string{"--address", "loopback"}},
		{name: "port out of range", args: []string{"open", "minio", "--port", "65536"}, want: []string{"--port must be between 0 and 65535"}},
		{name: "bad run name", args: []string{"open", "pipelines", "PPOCR"}, want: []string{"RUN"}},
		{name: "visualdl needs a training", args: []string{"open", "visualdl"}, want: []string{"accepts 1 arg(s)"}},
		{name: "minio is not on the gateway", args: []string{"open", "minio", "--gateway"}, want: []string{"--gateway", "minio"}},
		{name: "revision through the gateway", args: []string{"open", "serve", "ppocr-det", "--gateway", "--revision", "ppocr-det-v1"}, want: []string{"--gateway", "--tag"}},
		{name: "both token flags", args: []string{"open", "pipelines", "--show-token", "--copy-token"}, want: []string{"--show-token and --copy-token"}},
	})
}

func TestOpenCompletion(t *testing.T) {
	svc := schema.GroupVersionKind{Version: "v1", Kind: "Service"}
	k := kube.NewFake(
		object(svc, "kubeflow", "ppocr-det-visualdl", map[string]string{paddle.LabelTrain: "ppocr-det", kube.LabelComponent: "visualdl"}, nil),
		object(svc, "kubeflow", "minio-service", nil, nil),
		object(paddle.KnativeServiceGVK, "kubeflow", "ppocr-det", map[string]string{paddle.LabelServe: "ppocr-det"}, nil),
		object(paddle.WorkflowGVK, "kubeflow", "ppocr-det-x7k2p", map[string]string{"paddlex.io/pipeline": "ppocr-det"}, nil),
	)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"open", ""}, []string{"jupyterhub", "minio", "pipelines", "serve", "visualdl"}},
		{[]string{"open", "visualdl", ""}, []string{"ppocr-det"}},
		{[]string{"open", "serve", ""}, []string{"ppocr-det"}},
		{[]string{"open", "pipelines", ""}, []string{"ppocr-det-x7k2p"}},
		{[]string{"open", "pipelines", "ppocr-det-x7k2p", ""}, nil},
		{[]string{"open", "jupyterhub", ""}, nil},
	} {
		out, code, _ := complete(t, k, nil, tc.args...)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if l != "" && !strings.HasPrefix(l, ":") {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		if code != 0 || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%v: exit %d, completions %v; want %v", tc.args, code, got, tc.want)
		}
	}
}
