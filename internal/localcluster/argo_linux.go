package localcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// argoImage is one image of an Argo Workflows release, as Argo's Dockerfile
// makes it: a binary in /bin run by name, as a user or as root.
type argoImage struct {
	// Repository is the image's name without its tag.
	Repository string
	// Binary is the binary's name in Bin and in /bin.
	Binary string
	// User is the image's USER; "" runs as root.
	User string
}

// argoImages are the release's images that the install runs: the
// controller and the server (the CLI) run as Argo's user 8737, as their
// Deployments' runAsNonRoot requires; the executor runs as root, as Argo's
// argoexec image does (its -nonroot tag runs as 8737).
var argoImages = []argoImage{
	{Repository: "quay.io/argoproj/workflow-controller", Binary: "workflow-controller", User: "8737"},
	{Repository: "quay.io/argoproj/argocli", Binary: "argo", User: "8737"},
	{Repository: "quay.io/argoproj/argoexec", Binary: "argoexec"},
}

// PushArgoImages builds Argo Workflows' images at tag from the binaries
// hack/testbin.sh built into Bin (Argo's release link flags, so the
// controller's default executor is quay.io/argoproj/argoexec:TAG) on the
// busybox base, and pushes them to the node's registry under the names
// Argo's own manifests use. It returns the image references.
//
// The executor needs no kubectl in its image: Argo v3.7 runs kubectl's
// command in-process for resource steps (workflow/executor/resource.go).
func (e *Cluster) PushArgoImages(ctx context.Context, tag string) ([]string, error) {
	base, err := BusyboxImage()
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, a := range argoImages {
		bin, err := os.ReadFile(filepath.Join(e.Bin, a.Binary))
		if err != nil {
			return nil, fmt.Errorf("argo's %s: %w (run hack/testbin.sh node)", a.Binary, err)
		}
		layer, err := Layer([]File{{Path: "/bin/" + a.Binary, Mode: 0o755, Content: bin}})
		if err != nil {
			return nil, err
		}
		img, err := Image(base, []v1.Layer{layer}, v1.Config{Entrypoint: []string{a.Binary}, User: a.User})
		if err != nil {
			return nil, err
		}
		ref := a.Repository + ":" + tag
		if err := PushImage(ctx, ref, img); err != nil {
			return nil, err
		}
		refs = append(refs, ref)
	}
	return refs, nil
}
