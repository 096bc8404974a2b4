// Package cluster_test checks the simulated cluster the integration tests
// stand on: real controllers and scheduler with kwok nodes make Deployments
// Available and Jobs Complete, and the engine's waits see it.
package cluster_test

import (
	"context"
	"os"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/internal/testenv"
	"github.com/paddleflow/paddlex/pkg/kube"
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Options{Cluster: true}))
}

func parse(t *testing.T, ns, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace(ns)
	return u
}

const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
`

const job = `
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: "busybox:1.36"}]
`

func TestDeploymentBecomesAvailableAndJobCompletes(t *testing.T) {
	e := testenv.Get(t)
	ns := e.Namespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	k := e.Kube()
	objs := []*unstructured.Unstructured{parse(t, ns, deployment), parse(t, ns, job)}
	if _, err := k.Apply(ctx, objs, kube.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := k.Wait(ctx, kube.RefOf(objs[0]), kube.DeploymentAvailable()); err != nil {
		t.Fatalf("deployment: %v\ncontroller-manager:\n%s\nkwok:\n%s", err, e.Log("kube-controller-manager", 30), e.Log("kwok", 30))
	}
	if _, err := k.Wait(ctx, kube.RefOf(objs[1]), kube.JobComplete()); err != nil {
		t.Fatalf("job: %v\nkwok:\n%s", err, e.Log("kwok", 30))
	}
	t.Logf("Deployment available and Job complete in %s", time.Since(start).Round(time.Millisecond))

	// Foreground deletion goes through the garbage collector: the pods of
	// the Job are removed before it.
	refs := []kube.ObjectRef{kube.RefOf(objs[0]), kube.RefOf(objs[1])}
	if err := k.Delete(ctx, refs, kube.DeleteOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
}
