package localcluster

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/paddleflow/paddlex/internal/upstream"
)

// KnativeReleaseRepo is where Knative's release pushes its images: its
// release resolves config/core with `ko resolve --preserve-import-paths`
// and KO_DOCKER_REPO set to this, so serving-core.yaml names each image
// gcr.io/knative-releases/IMPORT-PATH@sha256:DIGEST.
const KnativeReleaseRepo = "gcr.io/knative-releases"

// KnativeUser is the user Knative's images run as: ko's base images are
// nonroot (65532), and Knative's Deployments and queue-proxy insist on
// runAsNonRoot.
const KnativeUser = "65532"

// ResolveKo does what `ko resolve --preserve-import-paths` does for
// manifests: each ko://IMPORT-PATH becomes an image built from the
// binary hack/testbin.sh built for it (KnativeBinary), pushed to the
// node's registry as KnativeReleaseRepo/IMPORT-PATH@sha256:DIGEST, the
// name Knative's release gives it. The digests are this machine's, not
// the release's: the release's images cannot be reproduced byte for byte.
// Like ko's images, each runs its binary from /ko-app as user 65532, with
// KO_DATA_PATH set. Everything else in the manifests is left as it is.
// It returns the resolved manifests and the image of each import path.
func (e *Cluster) ResolveKo(ctx context.Context, manifests []byte) ([]byte, map[string]string, error) {
	base, err := BusyboxImage()
	if err != nil {
		return nil, nil, err
	}
	return resolveKoRefs(manifests, func(importPath string) (string, error) {
		return e.koImage(ctx, base, importPath)
	})
}

// koImage builds and pushes the image of one import path.
func (e *Cluster) koImage(ctx context.Context, base v1.Image, importPath string) (string, error) {
	bin, err := os.ReadFile(filepath.Join(e.Bin, KnativeBinary(importPath)))
	if err != nil {
		return "", fmt.Errorf("ko://%s: %w (run hack/testbin.sh node)", importPath, err)
	}
	img, err := koAppImage(base, importPath, bin)
	if err != nil {
		return "", err
	}
	digest, err := img.Digest()
	if err != nil {
		return "", err
	}
	ref := KnativeReleaseRepo + "/" + importPath + "@" + digest.String()
	if err := PushImage(ctx, ref, img); err != nil {
		return "", err
	}
	return ref, nil
}

// koAppImage is base with bin as ko lays a command out: the binary at
// /ko-app/NAME, its entrypoint, KO_DATA_PATH, and ko's nonroot user.
func koAppImage(base v1.Image, importPath string, bin []byte) (v1.Image, error) {
	app := "/ko-app/" + path.Base(importPath)
	layer, err := Layer([]File{
		{Path: app, Mode: 0o755, Content: bin},
		{Path: "/var/run/ko/.keep", Mode: 0o644},
	})
	if err != nil {
		return nil, err
	}
	return Image(base, []v1.Layer{layer}, v1.Config{
		Entrypoint: []string{app},
		User:       KnativeUser,
		Env: []string{
			"PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin:/ko-app",
			"KO_DATA_PATH=/var/run/ko",
		},
	})
}

// KnativeServingManifestsDir writes Knative Serving's release files as
// `paddlex install --manifests-dir DIR` reads them:
// DIR/knative-serving/serving-crds.yaml and serving-core.yaml, built from
// knative.dev/serving's module as its release builds them (see
// internal/upstream), with the admission webhook configurations, and with
// every ko:// image resolved by ResolveKo, the queue-proxy image of
// config-deployment among them. It returns the images it pushed, by
// import path.
func (e *Cluster) KnativeServingManifestsDir(ctx context.Context, dir string) (map[string]string, error) {
	crds, err := upstream.KnativeServingCRDs()
	if err != nil {
		return nil, err
	}
	core, err := upstream.KnativeServingCore(true)
	if err != nil {
		return nil, err
	}
	core, images, err := e.ResolveKo(ctx, core)
	if err != nil {
		return nil, err
	}
	sub := filepath.Join(dir, "knative-serving")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(sub, "serving-crds.yaml"), crds, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(sub, "serving-core.yaml"), core, 0o644); err != nil {
		return nil, err
	}
	return images, nil
}
