package localcluster

import (
	"bytes"
	"path"
	"regexp"
	"sort"
)

// koRef matches a ko build reference in a manifest.
var koRef = regexp.MustCompile(`ko://[A-Za-z0-9._/-]+`)

// KnativeBinary is the testbin binary hack/testbin.sh builds for a ko
// import path of knative.dev/serving: knative-controller for
// knative.dev/serving/cmd/controller.
func KnativeBinary(importPath string) string { return "knative-" + path.Base(importPath) }

// resolveKoRefs replaces every ko://IMPORT-PATH in manifests with the
// image image returns for it, once per import path, in order, and returns
// the images by import path.
func resolveKoRefs(manifests []byte, image func(importPath string) (string, error)) ([]byte, map[string]string, error) {
	paths := map[string]bool{}
	for _, m := range koRef.FindAll(manifests, -1) {
		paths[string(bytes.TrimPrefix(m, []byte("ko://")))] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	images := map[string]string{}
	for _, p := range sorted {
		ref, err := image(p)
		if err != nil {
			return nil, nil, err
		}
		images[p] = ref
	}
	out := koRef.ReplaceAllFunc(manifests, func(m []byte) []byte {
		return []byte(images[string(bytes.TrimPrefix(m, []byte("ko://")))])
	})
	return out, images, nil
}
