//go:build linux

package realnode

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/internal/localcluster"
	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/serve"
	"github.com/paddleflow/paddlex/test/standin/paddleoperator"
)

// The stand-in ICDAR2015 data set the built-in pipeline trains on, in the
// platform's MinIO: the label files as ICDAR2015's (one image's path and
// its text boxes per line), two images and the pretrained weights the
// pipeline starts from, which travel with the data here (the pipeline's
// own URL is outside the node). Its images and weights are placeholders:
// the suite stand-in trains on nothing, but opens the label files and the
// weights as the real tools do.
const (
	datasetsBucket = "datasets"
	datasetName    = "icdar2015"
	pretrainedName = "MobileNetV3_large_x0_5_pretrained.pdparams"
)

var icdar2015 = map[string]string{
	"train_icdar2015_label.txt": "icdar_c4_train_imgs/img_1.jpg\t" +
		`[{"transcription": "Genaxis Theatre", "points": [[377, 117], [463, 117], [465, 130], [378, 130]]}]` + "\n",
	"test_icdar2015_label.txt": "ch4_test_images/img_1.jpg\t" +
		`[{"transcription": "###", "points": [[822, 288], [872, 286], [871, 298], [823, 300]]}]` + "\n",
	"icdar_c4_train_imgs/img_1.jpg": "stand-in image\n",
	"ch4_test_images/img_1.jpg":     "stand-in image\n",
	pretrainedName:                  "stand-in MobileNetV3 weights\n",
}

// builtinSteps are the paths of the built-in ppocr-det pipeline's steps
// and their parts, as `pipeline run --watch` names them.
var builtinSteps = []string{
	"dataset", "dataset/sampleset", "dataset/sync", "dataset/warmup", "dataset/cleanup-sync", "dataset/cleanup-warmup",
	"train", "train/paddlejob", "train/visualdl-deployment", "train/visualdl-service", "train/export", "train/convert",
	"modelhub", "modelhub/upload", "modelhub-latest", "modelhub-latest/upload",
	"serve", "serve/service",
}

// TestBuiltinPipelineRuns runs the built-in PP-OCR detection pipeline from
// an empty namespace to a served model; see builtinPipeline.
func TestBuiltinPipelineRuns(t *testing.T) {
	builtinPipeline(t, testenv.Get(t))
}

// builtinPipeline runs `paddlex pipeline run --builtin ppocr-det --watch`
// in a namespace of its own, as a model developer runs it on the platform:
// the real Argo controller runs the DAG and argoexec's resource steps
// create the objects; the paddle-operator stand-in
// (test/standin/paddleoperator) acts on the SampleSet, SampleJobs and
// PaddleJob as paddle-operator does, its sync pod copying the stand-in
// ICDAR2015 data set from the platform's MinIO (the real mc) into the
// SampleSet's volume; the trainer, export and conversion pods run the
// rendered commands in the stand-in suite image; the real mc Jobs push the
// model; the real Knative Serving serves it. The overrides are those of a
// cluster without GPUs or a way out: the data set's address in MinIO, the
// pretrained weights from the data set, no GPU, and a model version no
// other test pushes. The command exits 0 having shown every step succeed,
// and what the steps made is checked where it lives.
func builtinPipeline(t *testing.T, e *testenv.Env) {
	t.Helper()
	ctx := context.Background()
	access, secret := platform(t, e)
	argoWorkflows(t, e)
	knativeServing(t, e)
	ns := namespace(t, e)
	suiteImage(t, e, ocrImage)
	suiteImage(t, e, serve.DefaultImage)
	pipelineSecrets(t, e, ns, access, secret)
	uploadDataset(t, e, access, secret)

	po, err := paddleoperator.Start(e.Config, paddleoperator.Options{Namespace: ns, VolumeDir: localcluster.VolumeDir, Image: modelhub.DefaultImage})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(po.Stop)
	// The SampleSet's volume is cluster-wide and named after it, as the
	// operator names it: it goes with the test, whatever became of the
	// SampleSet.
	t.Cleanup(func() {
		_ = e.Clientset.CoreV1().PersistentVolumes().Delete(ctx, paddle.DefaultSampleSet, metav1.DeleteOptions{})
	})
	vol := taskVolume(t, e, ns, "ppocr-det")

	version := "builtin-" + ns
	start := time.Now()
	r := e.Run(t, "pipeline", "run", "--builtin", "ppocr-det", "-n", ns, "--watch", "--timeout", "25m",
		"--set", "dataset.source_uri=minio://minio-service."+install.PlatformNamespace+":9000/"+datasetsBucket+"/"+datasetName+"/",
		"--set", "train.pretrain_model="+paddle.DataMountPath+"/"+datasetName+"/"+pretrainedName,
		"--set", "train.gpu_per_node=0",
		"--set", "params.version="+version)
	t.Logf("pipeline run --builtin ppocr-det (%s):\n%s", time.Since(start).Round(time.Second), r)
	if r.Code != 0 {
		t.Fatalf("pipeline run --builtin ppocr-det: %s\npods:\n%s\npaddle-operator stand-in:\n%s\nargo:\n%s", r, podsIn(e, ns), po.Log(), podsIn(e, "argo"))
	}
	for _, step := range builtinSteps {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(step) + `: Succeeded( after .*)?$`).MatchString(r.Stdout) {
			t.Errorf("the watch never showed step %s succeed", step)
		}
	}
	if !strings.Contains(r.Stdout, "workflow ppocr-det: Succeeded") {
		t.Errorf("the watch never showed the run succeed:\n%s", r.Stdout)
	}

	wf := e.Get(t, kube.ObjectRef{GVK: paddle.WorkflowGVK, Namespace: ns, Name: "ppocr-det"})
	if wf == nil {
		t.Fatal("the Workflow is gone")
	}
	get := func(gvk kube.ObjectRef) *unstructured.Unstructured {
		t.Helper()
		obj := e.Get(t, gvk)
		if obj == nil {
			t.Fatalf("%s: not found", gvk)
		}
		return obj
	}
	ownedByRun := func(kind string, obj metav1.Object) {
		t.Helper()
		own := obj.GetOwnerReferences()
		if len(own) != 1 || own[0].Kind != "Workflow" || own[0].UID != wf.GetUID() {
			t.Errorf("%s %s is owned by %+v, not the run %s", kind, obj.GetName(), own, wf.GetUID())
		}
		if obj.GetLabels()[kube.LabelManagedBy] != kube.ManagedByValue {
			t.Errorf("%s %s labels %v", kind, obj.GetName(), obj.GetLabels())
		}
	}

	// The data set: the SampleSet outlives the run, Ready; the SampleJobs
	// are gone, as the cleanup steps delete them; the data is on the
	// SampleSet's volume, as uploaded.
	set := get(kube.ObjectRef{GVK: paddle.SampleSetGVK, Namespace: ns, Name: paddle.DefaultSampleSet})
	if phase, _, _ := unstructured.NestedString(set.Object, "status", "phase"); phase != paddle.SampleSetReady || len(set.GetOwnerReferences()) != 0 ||
		set.GetLabels()[kube.LabelManagedBy] != kube.ManagedByValue {
		t.Errorf("SampleSet %s: phase %q owners %v labels %v", set.GetName(), phase, set.GetOwnerReferences(), set.GetLabels())
	}
	if files, _, _ := unstructured.NestedString(set.Object, "status", "cacheStatus", "totalFiles"); files != fmt.Sprint(len(icdar2015)) {
		t.Errorf("SampleSet cache status: %d files, %v", len(icdar2015), set.Object["status"])
	}
	for _, name := range []string{datasetName + "-sync", datasetName + "-warmup"} {
		if obj := e.Get(t, kube.ObjectRef{GVK: paddle.SampleJobGVK, Namespace: ns, Name: name}); obj != nil {
			t.Errorf("SampleJob %s outlived its cleanup step", name)
		}
	}
	data := localcluster.VolumeDir(ns, paddle.DefaultSampleSet)
	for name, content := range icdar2015 {
		if b, err := os.ReadFile(filepath.Join(data, datasetName, name)); err != nil || string(b) != content {
			t.Errorf("%s on the SampleSet's volume: %q %v", name, b, err)
		}
	}

	// The training: the PaddleJob Completed, owned by the run; the
	// operator's ConfigMap gave its one trainer its endpoints.
	job := get(kube.ObjectRef{GVK: paddle.PaddleJobGVK, Namespace: ns, Name: "ppocr-det"})
	ownedByRun("PaddleJob", job)
	if phase, _, _ := unstructured.NestedString(job.Object, "status", "phase"); phase != "Completed" {
		t.Errorf("PaddleJob phase %q", phase)
	}
	if mode, _, _ := unstructured.NestedString(job.Object, "status", "mode"); mode != "Single" || job.GetLabels()[paddle.LabelTrain] != "ppocr-det" {
		t.Errorf("PaddleJob mode %q labels %v", mode, job.GetLabels())
	}
	if done, _, _ := unstructured.NestedString(job.Object, "status", "completionTime"); done == "" {
		t.Error("PaddleJob has no completionTime")
	}
	cm, err := e.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "ppocr-det", metav1.GetOptions{})
	if err != nil {
		t.Errorf("the PaddleJob's ConfigMap: %v", err)
	} else if c := metav1.GetControllerOf(cm); c == nil || c.UID != job.GetUID() || cm.Data["PADDLE_TRAINERS_NUM"] != "1" {
		t.Errorf("ConfigMap ppocr-det: owner %+v data %v", c, cm.Data)
	}
	// cleanPodPolicy OnCompletion: the trainer's pod is gone.
	if _, err := e.Clientset.CoreV1().Pods(ns).Get(ctx, "ppocr-det-worker-0", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the trainer's pod outlived the training: %v", err)
	}
	for _, name := range []string{"ppocr-det-inference-convert", "ppocr-det-serving-convert", "ppocr-det-model-hub", "ppocr-det-latest-model-hub"} {
		j, err := e.Clientset.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("Job %s: %v", name, err)
			continue
		}
		ownedByRun("Job", j)
		if j.Status.Succeeded < 1 {
			t.Errorf("Job %s: %+v", name, j.Status)
		}
	}

	// The model on the task volume: the checkpoints, the inference model,
	// the serving model and its archive.
	for _, f := range []string{"models/best_accuracy.pdparams", "inference/inference.pdmodel", "ppocr-det/server/serving_server_conf.prototxt", "ppocr-det.tar.gz"} {
		if _, err := os.Stat(filepath.Join(vol, f)); err != nil {
			t.Errorf("the task volume: %v", err)
		}
	}
	archive := readFile(t, filepath.Join(vol, "ppocr-det.tar.gz"))

	// The model center holds the archive as the version the run pushed.
	out := t.TempDir()
	if r := e.Run(t, "modelhub", "pull", "ppocr-det:"+version, "-n", ns, "-o", out); r.Code != 0 {
		t.Errorf("modelhub pull ppocr-det:%s: %s", version, r)
	} else if got := readFile(t, filepath.Join(out, "ppocr-det.tar.gz")); sha256.Sum256(got) != sha256.Sum256(archive) {
		t.Errorf("the model center's ppocr-det:%s (%d bytes) is not the task volume's archive (%d bytes)", version, len(got), len(archive))
	}

	// The served model: the Knative Service outlives the run, Ready, on
	// the version the run pushed.
	svc := get(kube.ObjectRef{GVK: paddle.KnativeServiceGVK, Namespace: ns, Name: "ppocr-det"})
	if cond, ok := kube.FindCondition(svc, "Ready"); !ok || cond.Status != "True" || len(svc.GetOwnerReferences()) != 0 {
		t.Errorf("Knative Service ppocr-det: Ready %+v owners %v", cond, svc.GetOwnerReferences())
	}
	if rev, _, _ := unstructured.NestedString(svc.Object, "status", "latestReadyRevisionName"); rev != "ppocr-det-"+version {
		t.Errorf("Knative Service ppocr-det serves revision %q, want ppocr-det-%s", rev, version)
	}
}

// pipelineSecrets creates the Secrets the built-in pipeline names in ns:
// data-center, the SampleSet's JuiceFS Secret as the prerequisites
// component writes it (the model center's keys among its keys), and
// icdar2015, the keys of the data set's storage (here the platform's
// MinIO).
func pipelineSecrets(t *testing.T, e *testenv.Env, ns, access, secret string) {
	t.Helper()
	endpoint := "http://minio-service." + install.PlatformNamespace + ":9000"
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: paddle.DataCenterSecret, Namespace: ns}, StringData: map[string]string{
			"name": "data-center", "storage": "minio", "bucket": endpoint + "/data-center",
			"metaurl":    "redis://redis." + install.PlatformNamespace + ":6379/1",
			"access-key": access, "secret-key": secret}},
		{ObjectMeta: metav1.ObjectMeta{Name: datasetName, Namespace: ns}, StringData: map[string]string{"access-key": access, "secret-key": secret}},
	} {
		if _, err := e.Clientset.CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// uploadDataset puts the stand-in ICDAR2015 data set into the platform's
// MinIO, at datasets/icdar2015/, through its Service's cluster address.
func uploadDataset(t *testing.T, e *testenv.Env, access, secret string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	svc, err := e.Clientset.CoreV1().Services(install.PlatformNamespace).Get(ctx, "minio-service", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(net.JoinHostPort(svc.Spec.ClusterIP, "9000"), &minio.Options{
		Creds: credentials.NewStaticV4(access, secret, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(ctx, datasetsBucket, minio.MakeBucketOptions{}); err != nil {
		if exists, e2 := c.BucketExists(ctx, datasetsBucket); e2 != nil || !exists {
			t.Fatalf("make bucket %s: %v", datasetsBucket, err)
		}
	}
	for name, content := range icdar2015 {
		key := datasetName + "/" + name
		if _, err := c.PutObject(ctx, datasetsBucket, key, bytes.NewReader([]byte(content)), int64(len(content)), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("upload %s/%s: %v", datasetsBucket, key, err)
		}
	}
}
