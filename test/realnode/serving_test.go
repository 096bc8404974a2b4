//go:build linux

package realnode

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
)

// TestServingStandInAnswers runs the serving stand-in as paddlex's
// serving pods run it, `python3 -m paddle_serving_server.serve --model
// NAME/server --port PORT` in the model directory, on a serving model the
// conversion wrote, and asks it as Paddle Serving's HTTP clients do: the
// GeneralModelService request with the model's feed variables. A feed the
// model does not declare, or given in another type than the model's, is
// refused, and the C++ server answers nothing else.
func TestServingStandInAnswers(t *testing.T) {
	e := testenv.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ns := namespace(t, e)
	claim(t, e, ns, "models")
	// What paddle_serving_client.convert writes for a model with one feed
	// and one fetch variable.
	server := filepath.Join(localcluster.VolumeDir(ns, "models"), "ppocr-det", "server")
	if err := os.MkdirAll(server, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := "feed_var {\n  name: \"x\"\n  alias_name: \"x\"\n  is_lod_tensor: false\n  feed_type: 1\n  shape: 3\n}\n" +
		"fetch_var {\n  name: \"save_infer_model/scale_0.tmp_1\"\n  alias_name: \"save_infer_model/scale_0.tmp_1\"\n  is_lod_tensor: false\n  fetch_type: 1\n  shape: 1\n}\n"
	for name, content := range map[string]string{"serving_server_conf.prototxt": conf, "inference.pdmodel": "model", "inference.pdiparams": "params"} {
		if err := os.WriteFile(filepath.Join(server, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	suiteImage(t, e, ocrImage)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "server", Namespace: ns},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "server", Image: ocrImage, WorkingDir: "/mnt/models",
				Command:        []string{"python3", "-m", "paddle_serving_server.serve", "--model", "ppocr-det/server", "--port", "9292"},
				Ports:          []corev1.ContainerPort{{ContainerPort: 9292}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(9292)}}, PeriodSeconds: 1},
				VolumeMounts:   []corev1.VolumeMount{{Name: "models", MountPath: "/mnt/models"}},
			}},
			Volumes: []corev1.Volume{{Name: "models", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "models"}}}},
		},
	}
	if _, err := e.Clientset.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := waitPod(t, ctx, e, ns, "server", ready)
	// The tests run in the node's network namespace, which routes the pod
	// network.
	base := "http://" + net.JoinHostPort(p.Status.PodIP, "9292")
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out := map[string]any{}
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("POST %s: %s: not JSON: %s", path, resp.Status, b)
		}
		return resp.StatusCode, out
	}

	code, out := post("/GeneralModelService/inference",
		`{"tensor":[{"float_data":[1,2,3],"elem_type":1,"name":"x","alias_name":"x","shape":[1,3]}],"fetch_var_names":["save_infer_model/scale_0.tmp_1"],"log_id":0}`)
	b, _ := json.Marshal(out)
	if code != http.StatusOK || !bytes.Contains(b, []byte(`"name":"save_infer_model/scale_0.tmp_1"`)) || !bytes.Contains(b, []byte(`"float_data"`)) {
		t.Fatalf("GeneralModelService: %d %s", code, b)
	}
	code, out = post("/GeneralModelService/inference",
		`{"tensor":[{"int64_data":[1,2,3],"elem_type":0,"name":"x","alias_name":"x","shape":[1,3]}],"fetch_var_names":["save_infer_model/scale_0.tmp_1"],"log_id":0}`)
	b, _ = json.Marshal(out)
	if code == http.StatusOK || !bytes.Contains(b, []byte("float32")) {
		t.Fatalf("int64 values for a float32 feed: %d %s", code, b)
	}
	code, out = post("/ppocr-det/prediction", `{"key":["x"],"value":["[1,2,3]"]}`)
	b, _ = json.Marshal(out)
	if code != http.StatusNotFound {
		t.Fatalf("a pipeline web service's path: %d %s", code, b)
	}
	code, out = post("/GeneralModelService/inference",
		`{"tensor":[{"float_data":[1],"elem_type":1,"name":"image","alias_name":"image","shape":[1,1]}],"fetch_var_names":["save_infer_model/scale_0.tmp_1"],"log_id":0}`)
	b, _ = json.Marshal(out)
	if code == http.StatusOK || !bytes.Contains(b, []byte("image")) {
		t.Fatalf("an undeclared feed: %d %s", code, b)
	}
}
