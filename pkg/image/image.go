// Package image names and moves container images: the references a
// rendered object runs, and their rewriting onto a private registry for
// clusters without internet (--image-registry).
package image

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Registry is a private registry images are rewritten onto; empty means
// images stay as written.
type Registry string

// ValidateRegistry checks a --image-registry value: a host with an
// optional port and path, without a scheme, tag or digest.
func ValidateRegistry(flag, r string) error {
	if r == "" {
		return nil
	}
	if strings.Contains(r, "://") {
		return fmt.Errorf("%s %q: give a registry host and optional path without a scheme, e.g. registry.example:5000/mirror", flag, r)
	}
	host, path, _ := strings.Cut(strings.TrimSuffix(r, "/"), "/")
	if host == "" || strings.ContainsAny(r, "@ \t") || strings.Contains(path, ":") {
		return fmt.Errorf("%s %q is not a registry: want HOST[:PORT][/PATH], e.g. registry.example:5000/mirror", flag, r)
	}
	for _, c := range strings.Split(path, "/") {
		if path != "" && (c == "" || strings.ToLower(c) != c) {
			return fmt.Errorf("%s %q: the path must be lowercase components separated by /", flag, r)
		}
	}
	return nil
}

// Ref is a parsed image reference.
type Ref struct {
	// Host is the registry host, with docker.io for unqualified names.
	Host string
	// Path is the repository path below the host (library/NAME for
	// Docker Hub's official images).
	Path string
	// Tag and Digest are empty when not given.
	Tag, Digest string
}

// Parse splits an image reference the way container runtimes read it: a
// first component with a dot or a colon, or localhost, is the registry.
func Parse(ref string) Ref {
	var r Ref
	rest := ref
	if i := strings.Index(rest, "@"); i >= 0 {
		rest, r.Digest = rest[:i], rest[i+1:]
	}
	if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i:], "/") {
		rest, r.Tag = rest[:i], rest[i+1:]
	}
	first, after, found := strings.Cut(rest, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Host, r.Path = first, after
	} else {
		r.Host, r.Path = "docker.io", rest
		if !found {
			r.Path = "library/" + rest
		}
	}
	return r
}

// String writes the reference back in full.
func (r Ref) String() string {
	s := r.Host + "/" + r.Path
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Rewrite returns ref on the registry: REGISTRY/PATH:TAG, keeping the
// digest, so the bytes pulled are the ones the reference names. A
// reference that is not an image (a ko:// build reference, an empty
// string) is returned unchanged, as is every reference when the registry
// is empty.
func (reg Registry) Rewrite(ref string) string {
	if reg == "" || !IsImage(ref) {
		return ref
	}
	r := Parse(ref)
	r.Host = strings.TrimSuffix(string(reg), "/")
	return r.String()
}

// IsImage says whether ref names a pullable image.
func IsImage(ref string) bool {
	return ref != "" && !strings.Contains(ref, "://") && !strings.HasPrefix(ref, "$") && !strings.Contains(ref, "{{")
}

// imageArgs are command-line flags of upstream controllers that name an
// image the controller runs (Argo's executor).
var imageArgs = []string{"--executor-image"}

// imageConfigKeys are ConfigMap keys holding an image a controller runs
// (Knative's queue-proxy sidecar).
var imageConfigKeys = map[string]bool{"queue-sidecar-image": true}

// Visit calls fn with every image an object runs, wherever it sits: the
// containers of any pod template (Deployments, Jobs, PaddleJobs, Knative
// Services), Argo templates' container and script, an image flag of a
// controller, a ConfigMap key naming one and Knative's image cache. fn returns the value to keep,
// so Visit rewrites as well as lists.
func Visit(obj *unstructured.Unstructured, fn func(string) string) {
	// Knative's image cache entry (queue-proxy's): the node pre-pulls it.
	if obj.GetKind() == "Image" && obj.GroupVersionKind().Group == "caching.internal.knative.dev" {
		if spec, ok := obj.Object["spec"].(map[string]any); ok {
			if s, ok := spec["image"].(string); ok && IsImage(s) {
				spec["image"] = fn(s)
			}
		}
		return
	}
	if obj.GetKind() == "ConfigMap" && obj.GroupVersionKind().Group == "" {
		if data, ok := obj.Object["data"].(map[string]any); ok {
			for k, v := range data {
				if s, ok := v.(string); ok && imageConfigKeys[k] && IsImage(s) {
					data[k] = fn(s)
				}
			}
		}
		return
	}
	visit(obj.Object, fn)
}

func visit(x any, fn func(string) string) {
	switch v := x.(type) {
	case map[string]any:
		for k, val := range v {
			switch k {
			case "containers", "initContainers", "ephemeralContainers":
				if list, ok := val.([]any); ok {
					for _, c := range list {
						if cm, ok := c.(map[string]any); ok {
							container(cm, fn)
						}
					}
				}
			case "container", "script":
				if cm, ok := val.(map[string]any); ok {
					container(cm, fn)
				}
			}
			visit(val, fn)
		}
	case []any:
		for _, e := range v {
			visit(e, fn)
		}
	}
}

func container(c map[string]any, fn func(string) string) {
	if s, ok := c["image"].(string); ok && IsImage(s) {
		c["image"] = fn(s)
	}
	for _, field := range []string{"args", "command"} {
		list, ok := c[field].([]any)
		if !ok {
			continue
		}
		for i, a := range list {
			s, ok := a.(string)
			if !ok {
				continue
			}
			for _, flag := range imageArgs {
				if v, found := strings.CutPrefix(s, flag+"="); found && IsImage(v) {
					list[i] = flag + "=" + fn(v)
				} else if s == flag && i+1 < len(list) {
					if v, ok := list[i+1].(string); ok && IsImage(v) {
						list[i+1] = fn(v)
					}
				}
			}
		}
	}
}

// List returns every image the objects run, sorted and unique.
func List(objs []*unstructured.Unstructured) []string {
	seen := map[string]bool{}
	for _, o := range objs {
		Visit(o, func(s string) string { seen[s] = true; return s })
	}
	return Sorted(seen)
}

// Sorted returns the keys of set, sorted.
func Sorted(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// RewriteObjects rewrites every image the objects run onto the registry,
// in place.
func (reg Registry) RewriteObjects(objs []*unstructured.Unstructured) {
	if reg == "" {
		return
	}
	for _, o := range objs {
		Visit(o, reg.Rewrite)
	}
}
