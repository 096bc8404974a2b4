package install

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/image"
)

// MoveImages moves every image the rendered components run onto reg
// (--image-registry), in place: the images their objects name, and those a
// controller runs by a built-in default (Component.Images), which are first
// written into the objects (pinImages) so the rewrite reaches them. An
// empty reg leaves the objects as rendered.
func MoveImages(rs []Rendered, reg image.Registry) error {
	if reg == "" {
		return nil
	}
	for _, r := range rs {
		if r.Component.pinImages != nil {
			if err := r.Component.pinImages(r.Objects); err != nil {
				return fmt.Errorf("component %s: %w", r.Component.Name, err)
			}
		}
		reg.RewriteObjects(r.Objects)
	}
	return nil
}

// pinArgoExecutor passes the workflow controller its executor image (the
// one it runs by default) with --executor-image, unless the manifests
// already do: every step's pod runs that image, so it must come from the
// registry too.
func pinArgoExecutor(objs []*unstructured.Unstructured) error {
	for _, o := range objs {
		if o.GetKind() != "Deployment" || o.GetName() != "workflow-controller" {
			continue
		}
		return editContainer(o, "workflow-controller", func(c map[string]any) {
			args, _, _ := unstructured.NestedStringSlice(c, "args")
			for _, a := range args {
				if a == "--executor-image" || strings.HasPrefix(a, "--executor-image=") {
					return
				}
			}
			c["args"] = toAny(append(args, "--executor-image", argoExecutorImage))
		})
	}
	return fmt.Errorf("no Deployment workflow-controller to give the executor image %s", argoExecutorImage)
}
