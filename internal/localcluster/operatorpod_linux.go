package localcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// TrainingOperatorManifests builds the Kubeflow training-operator's own
// standalone overlay (manifests/overlays/standalone of its module, which
// hack/testbin.sh copies into Bin) and pushes the image its Deployment
// names, built from the operator's binary in Bin at the path the
// Deployment runs (/manager). Applied unmodified, the manifests run the
// operator as a pod on the real node, in namespace kubeflow, with its
// webhook behind its Service. It returns the manifests as YAML documents.
func (e *Cluster) TrainingOperatorManifests(ctx context.Context) (string, error) {
	dir := filepath.Join(e.Bin, "manifests", "training-operator", "overlays", "standalone")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("the training-operator's manifests: %w (run hack/testbin.sh all)", err)
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return "", fmt.Errorf("kustomize %s: %w", dir, err)
	}
	out, err := res.AsYaml()
	if err != nil {
		return "", err
	}
	var image string
	for _, r := range res.Resources() {
		if r.GetKind() != "Deployment" {
			continue
		}
		m, err := r.Map()
		if err != nil {
			return "", err
		}
		b, _ := yaml.Marshal(m)
		var d struct {
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct{ Image string }
					}
				}
			}
		}
		if err := yaml.Unmarshal(b, &d); err != nil {
			return "", err
		}
		if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
			image = cs[0].Image
		}
	}
	if image == "" {
		return "", fmt.Errorf("the training-operator's manifests in %s hold no Deployment image", dir)
	}
	bin, err := os.ReadFile(filepath.Join(e.Bin, "training-operator"))
	if err != nil {
		return "", fmt.Errorf("%w (run hack/testbin.sh all)", err)
	}
	layer, err := Layer([]File{{Path: "/manager", Mode: 0o755, Content: bin}})
	if err != nil {
		return "", err
	}
	base, err := BusyboxImage()
	if err != nil {
		return "", err
	}
	img, err := Image(base, []v1.Layer{layer}, v1.Config{Entrypoint: []string{"/manager"}})
	if err != nil {
		return "", err
	}
	if err := PushImage(ctx, image, img); err != nil {
		return "", err
	}
	return string(out), nil
}
