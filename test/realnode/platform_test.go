//go:build linux

package realnode

import (
	"context"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/manifests"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/modelhub"
)

// platformComponents are the install's components that run on this node:
// the platform namespace and MinIO. The others are left out with
// --components: Redis (a C program) and the JuiceFS CSI driver are not
// brought up on this node, Argo's and Knative's by their own tests.
var platformComponents = []string{"namespaces", "minio"}

var platformState struct {
	once           sync.Once
	failed         string
	access, secret string
}

// platform installs the platform's components that run here with
// `paddlex install-standalone --components namespaces,minio`, once per run:
// the real MinIO server, built from its module and pushed under the image
// name paddlex's manifest runs, its claim bound to a volume on the node
// (there is no provisioner). It returns the MinIO keys the install
// generated, read from its Secret. The mc image is pushed too, for the
// upload Jobs and the serving pods' fetch-model container.
func platform(t *testing.T, e *testenv.Env) (access, secret string) {
	t.Helper()
	s := &platformState
	s.once.Do(func() {
		s.failed = "the install did not finish"
		image, err := minioImage()
		if err != nil {
			s.failed = err.Error()
			return
		}
		binaryImage(t, e, "minio", "/usr/bin/minio", image)
		binaryImage(t, e, "mc", "/usr/bin/mc", modelhub.DefaultImage)
		ctx := context.Background()
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "minio-data-" + install.PlatformNamespace},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("20Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
					Path: localcluster.VolumeDir(install.PlatformNamespace, "minio-data"), Type: ptr(corev1.HostPathDirectoryOrCreate)}},
				ClaimRef: &corev1.ObjectReference{Namespace: install.PlatformNamespace, Name: "minio-data"},
			},
		}
		if _, err := e.Clientset.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			s.failed = err.Error()
			return
		}
		r := e.Run(t, "install-standalone", "--components", strings.Join(platformComponents, ","), "--timeout", "5m")
		if r.Code != 0 {
			s.failed = "install-standalone: " + r.String() + "\nkubelet log:\n" + e.Log("kubelet", 30)
			return
		}
		keys, err := e.Clientset.CoreV1().Secrets(install.PlatformNamespace).Get(ctx, "minio-credentials", metav1.GetOptions{})
		if err != nil {
			s.failed = err.Error()
			return
		}
		s.access, s.secret, s.failed = string(keys.Data["accesskey"]), string(keys.Data["secretkey"]), ""
	})
	if s.failed != "" {
		t.Fatalf("install the platform: %s", s.failed)
	}
	return s.access, s.secret
}

// minioImage is the image paddlex's MinIO Deployment runs.
func minioImage() (string, error) {
	b, err := manifests.FS.ReadFile("components/minio/minio.yaml")
	if err != nil {
		return "", err
	}
	for _, doc := range strings.Split(string(b), "\n---") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			return "", err
		}
		if u.GetKind() == "Deployment" {
			cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
			image, _, _ := unstructured.NestedString(cs[0].(map[string]any), "image")
			return image, nil
		}
	}
	return "", nil
}

// modelCenterKeys creates Secret data-center in ns with the install's MinIO
// keys, as the prerequisites component does (it also needs Redis and
// JuiceFS, which do not run here).
func modelCenterKeys(t *testing.T, e *testenv.Env, ns, access, secret string) {
	t.Helper()
	keys := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "data-center", Namespace: ns},
		StringData: map[string]string{"access-key": access, "secret-key": secret}}
	if _, err := e.Clientset.CoreV1().Secrets(ns).Create(context.Background(), keys, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }
