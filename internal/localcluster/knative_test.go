package localcluster

import (
	"bytes"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/internal/upstream"
)

// TestResolveKoRefsServingCore resolves the ko:// references of Knative
// Serving's config/core, as the real node does: they are exactly the five
// commands hack/testbin.sh builds, every reference is replaced (the
// Deployments' images, config-deployment's queue-sidecar-image, the
// queue-proxy image cache), and no other line changes.
func TestResolveKoRefsServingCore(t *testing.T) {
	core, err := upstream.KnativeServingCore(true)
	if err != nil {
		t.Fatalf("knative.dev/serving's module: %v", err)
	}
	const digest = "@sha256:0000000000000000000000000000000000000000000000000000000000000000"
	out, images, err := resolveKoRefs(core, func(p string) (string, error) {
		return KnativeReleaseRepo + "/" + p + digest, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var paths, binaries []string
	for p := range images {
		paths = append(paths, p)
		binaries = append(binaries, KnativeBinary(p))
	}
	sort.Strings(paths)
	sort.Strings(binaries)
	want := []string{"knative.dev/serving/cmd/activator", "knative.dev/serving/cmd/autoscaler", "knative.dev/serving/cmd/controller",
		"knative.dev/serving/cmd/queue", "knative.dev/serving/cmd/webhook"}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("import paths %v, want %v", paths, want)
	}
	if !reflect.DeepEqual(binaries, []string{"knative-activator", "knative-autoscaler", "knative-controller", "knative-queue", "knative-webhook"}) {
		t.Fatalf("binaries %v", binaries)
	}
	if bytes.Contains(out, []byte("ko://")) {
		t.Fatal("a ko:// reference is left")
	}
	if !bytes.Contains(out, []byte("queue-sidecar-image: "+KnativeReleaseRepo+"/knative.dev/serving/cmd/queue"+digest+"\n")) {
		t.Error("config-deployment's queue-sidecar-image is not resolved")
	}
	in, res := strings.Split(string(core), "\n"), strings.Split(string(out), "\n")
	if len(in) != len(res) {
		t.Fatalf("%d lines became %d", len(in), len(res))
	}
	changed := 0
	for i := range in {
		if in[i] != res[i] {
			changed++
			if !strings.Contains(in[i], "ko://") {
				t.Errorf("line %d changed: %q → %q", i+1, in[i], res[i])
			}
		}
	}
	if refs := strings.Count(string(core), "ko://"); changed != refs {
		t.Errorf("%d lines changed for %d references", changed, refs)
	}
}
