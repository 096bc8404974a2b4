//go:build linux

package realnode

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/serve"
)

// TestPythonIsDebians runs the stand-in suite image's python3 and python:
// Debian's interpreter, unpacked from its packages, with the standard
// library and the C libraries its modules load.
func TestPythonIsDebians(t *testing.T) {
	e := testenv.Get(t)
	suiteImage(t, e, ocrImage)
	ns := namespace(t, e)
	phase, log := runPod(t, e, ns, ocrImage, "sh", "-c",
		`python3 -c 'import hashlib, json, ssl, sys, tarfile, urllib.request; print(sys.version.split()[0], ssl.OPENSSL_VERSION, hashlib.sha256(b"").hexdigest()[:8])' && python --version`)
	if phase != corev1.PodSucceeded || !strings.Contains(log, "3.11") || !strings.Contains(log, "OpenSSL 3") ||
		!strings.Contains(log, "e3b0c442") || !strings.Contains(log, "Python 3.11") {
		t.Fatalf("phase %s, log:\n%s", phase, log)
	}
}

// TestServingVerifyRunsOnTheNode runs the verify-model init container of
// the serving revision, as paddlex renders it (pkg/serve), in the stand-in
// suite image's real python3, on what fetch-model leaves in the model
// folder: a good archive is checked and unpacked; archives crafted to
// write outside the folder (an absolute path, "..", a link out) are
// refused with the script's message and nothing is unpacked.
func TestServingVerifyRunsOnTheNode(t *testing.T) {
	e := testenv.Get(t)
	suiteImage(t, e, ocrImage)
	ns := namespace(t, e)
	claim(t, e, ns, "models")

	s := serve.Spec{Name: "ppocr-det", Namespace: ns, ModelVersion: "v1", Image: ocrImage}
	s.Defaults()
	verify := initContainer(t, serve.Render(s)[0], "verify-model")

	server := map[string]string{"ppocr-det/server/inference.pdmodel": "model", "ppocr-det/server/serving_server_conf.prototxt": "conf",
		"ppocr-det/client/serving_client_conf.prototxt": "conf"}
	cases := []struct {
		name    string
		members []tarMember
		want    string // the refusal; "" for a good archive
	}{
		{"good", members(server), ""},
		{"absolute", append(members(server), tarMember{name: "/tmp/escaped", body: "x"}), "member /tmp/escaped has an absolute path"},
		{"dotdot", append(members(server), tarMember{name: "ppocr-det/../../escaped", body: "x"}), "member ppocr-det/../../escaped has '..' in its path"},
		{"link", append(members(server), tarMember{name: "ppocr-det/server/out", link: "../../.."}), "member ppocr-det/server/out is a symbolic link to ../../.., outside the model folder"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(localcluster.VolumeDir(ns, "models"), c.name)
			archive := tarGz(t, c.members)
			sum := sha256.Sum256(archive)
			record := (&modelhub.Metadata{Model: "ppocr-det", Version: "v1", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(archive))}).Marshal()
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for name, b := range map[string][]byte{modelhub.ArchiveName("ppocr-det"): archive, "model.json": record} {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// fetch-model runs as the pods' non-root user, so what it
			// leaves (and the folder verify-model unpacks into) is that
			// user's, as in the serving pod's emptyDir.
			for _, p := range []string{dir, filepath.Join(dir, modelhub.ArchiveName("ppocr-det")), filepath.Join(dir, "model.json")} {
				if err := os.Chown(p, int(paddle.NonRootID), int(paddle.NonRootID)); err != nil {
					t.Fatal(err)
				}
			}
			c0 := *verify.DeepCopy()
			c0.VolumeMounts[0].SubPath = c.name
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "verify-" + c.name, Namespace: ns},
				Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{c0},
					Volumes: []corev1.Volume{{Name: c0.VolumeMounts[0].Name, VolumeSource: corev1.VolumeSource{
						PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "models"}}}}},
			}
			phase, log := runPodSpec(t, e, pod)
			if c.want == "" {
				if phase != corev1.PodSucceeded || !strings.Contains(log, "model ppocr-det verified: sha256 "+hex.EncodeToString(sum[:])) {
					t.Fatalf("phase %s, log:\n%s", phase, log)
				}
				if b, err := os.ReadFile(filepath.Join(dir, "ppocr-det/server/inference.pdmodel")); err != nil || string(b) != "model" {
					t.Errorf("unpacked model: %q %v", b, err)
				}
				return
			}
			msg := terminationMessage(t, e, ns, pod.Name)
			if phase != corev1.PodFailed || !strings.Contains(msg, c.want) || !strings.Contains(msg, "nothing was unpacked") {
				t.Fatalf("phase %s, termination message:\n%s", phase, msg)
			}
			if _, err := os.Stat(filepath.Join(dir, "ppocr-det")); !os.IsNotExist(err) {
				t.Errorf("a refused archive was unpacked: %v", err)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escaped")); !os.IsNotExist(err) {
				t.Errorf("a member escaped the model folder: %v", err)
			}
		})
	}
}

// initContainer returns a rendered Knative Service's init container.
func initContainer(t *testing.T, ksvc *unstructured.Unstructured, name string) corev1.Container {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(ksvc.Object, "spec", "template", "spec", "initContainers")
	for _, c := range cs {
		var out corev1.Container
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(c.(map[string]any), &out); err != nil {
			t.Fatal(err)
		}
		if out.Name == name {
			return out
		}
	}
	t.Fatalf("no init container %s in %s", name, ksvc.GetName())
	return corev1.Container{}
}

// terminationMessage returns the message of a pod's first container.
func terminationMessage(t *testing.T, e *testenv.Env, ns, name string) string {
	t.Helper()
	p, err := e.Clientset.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Terminated != nil {
			return cs.State.Terminated.Message
		}
	}
	return ""
}

type tarMember struct{ name, body, link string }

func members(files map[string]string) []tarMember {
	var ms []tarMember
	for name, body := range files {
		ms = append(ms, tarMember{name: name, body: body})
	}
	return ms
}

func tarGz(t *testing.T, ms []tarMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(m.body))}
		if m.link != "" {
			h.Typeflag, h.Linkname, h.Size = tar.TypeSymlink, m.link, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if m.link == "" {
			if _, err := tw.Write([]byte(m.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
