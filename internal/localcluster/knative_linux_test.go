package localcluster

import (
	"archive/tar"
	"io"
	"reflect"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
)

// TestKoAppImage lays a command out as ko does, so Knative's Deployments,
// which insist on runAsNonRoot, run it: the binary at /ko-app/NAME is the
// entrypoint, the user is numeric and not root, KO_DATA_PATH is set.
func TestKoAppImage(t *testing.T) {
	img, err := koAppImage(empty.Image, "knative.dev/serving/cmd/queue", []byte("binary"))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cf.Config.Entrypoint, []string{"/ko-app/queue"}) || cf.Config.User != "65532" {
		t.Errorf("entrypoint %v, user %q", cf.Config.Entrypoint, cf.Config.User)
	}
	env := map[string]bool{}
	for _, v := range cf.Config.Env {
		env[v] = true
	}
	if !env["KO_DATA_PATH=/var/run/ko"] {
		t.Errorf("env %v", cf.Config.Env)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "ko-app/queue" {
			b, _ := io.ReadAll(tr)
			found = string(b) == "binary" && h.Mode == 0o755
		}
	}
	if !found {
		t.Error("no executable /ko-app/queue holding the binary")
	}
}
