package install

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/manifests"
	"github.com/paddleflow/paddlex/pkg/kube"
)

// Rendered is one component's objects.
type Rendered struct {
	Component *Component
	Objects   []*unstructured.Unstructured
}

// Render renders every component of a plan; artifacts holds the fetched
// sources of each component by name, in Sources order. It is pure.
func Render(plan []*Component, artifacts map[string][][]byte, s Settings) ([]Rendered, error) {
	out := make([]Rendered, 0, len(plan))
	for _, c := range plan {
		objs, err := RenderComponent(c, artifacts[c.Name], s)
		if err != nil {
			return nil, err
		}
		out = append(out, Rendered{Component: c, Objects: objs})
	}
	return out, nil
}

// RenderComponent renders one component: its sources (charts rendered
// in-process) and its manifests/ directory go through kustomize over an
// in-memory filesystem; generated objects are added, and every object gets
// the paddlex labels.
func RenderComponent(c *Component, artifacts [][]byte, s Settings) ([]*unstructured.Unstructured, error) {
	if len(artifacts) != len(c.Sources) {
		return nil, fmt.Errorf("component %s: %d artifacts for %d sources", c.Name, len(artifacts), len(c.Sources))
	}
	fsys := filesys.MakeFsInMemory()
	root := "/" + c.Name
	if err := fsys.MkdirAll(root); err != nil {
		return nil, err
	}
	kust := map[string]any{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
	var own []any
	if c.Manifests != "" {
		dir := "components/" + c.Manifests
		err := fs.WalkDir(manifests.FS, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := manifests.FS.ReadFile(p)
			if err != nil {
				return err
			}
			rel := strings.TrimPrefix(p, dir+"/")
			if rel == "kustomization.yaml" {
				if err := yaml.Unmarshal(data, &kust); err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				return nil
			}
			if err := fsys.MkdirAll(path.Dir(root + "/" + rel)); err != nil {
				return err
			}
			return fsys.WriteFile(root+"/"+rel, data)
		})
		if err != nil {
			return nil, fmt.Errorf("component %s: manifests: %w", c.Name, err)
		}
		if r, ok := kust["resources"].([]any); ok {
			own = r
		}
	}
	var resources []any
	for i, src := range c.Sources {
		data := artifacts[i]
		if src.Chart != nil {
			var extra map[string]any
			if c.chartValues != nil {
				extra = c.chartValues(s)
			}
			var err error
			if data, err = renderChart(data, *src.Chart, extra); err != nil {
				return nil, fmt.Errorf("component %s: %s: %w", c.Name, src.URL, err)
			}
		}
		name := fmt.Sprintf("upstream-%02d.yaml", i)
		if err := fsys.WriteFile(root+"/"+name, data); err != nil {
			return nil, err
		}
		resources = append(resources, name)
	}
	resources = append(resources, own...)
	var objs []*unstructured.Unstructured
	if len(resources) > 0 {
		kust["resources"] = resources
		kb, err := yaml.Marshal(kust)
		if err != nil {
			return nil, err
		}
		if err := fsys.WriteFile(root+"/kustomization.yaml", kb); err != nil {
			return nil, err
		}
		rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, root)
		if err != nil {
			return nil, fmt.Errorf("component %s: kustomize: %w", c.Name, err)
		}
		for _, r := range rm.Resources() {
			// Through JSON, so numbers become int64 as everywhere in
			// client-go (kustomize's maps hold int, which DeepCopy rejects).
			b, err := r.MarshalJSON()
			if err != nil {
				return nil, fmt.Errorf("component %s: %w", c.Name, err)
			}
			u := &unstructured.Unstructured{}
			if err := u.UnmarshalJSON(b); err != nil {
				return nil, fmt.Errorf("component %s: %w", c.Name, err)
			}
			objs = append(objs, u)
		}
	}
	if c.generate != nil {
		gen, err := c.generate(s)
		if err != nil {
			return nil, fmt.Errorf("component %s: %w", c.Name, err)
		}
		objs = append(objs, gen...)
	}
	if c.mutate != nil {
		if err := c.mutate(s, objs); err != nil {
			return nil, fmt.Errorf("component %s: %w", c.Name, err)
		}
	}
	for _, o := range objs {
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[kube.LabelManagedBy] = kube.ManagedByValue
		labels[kube.LabelPartOf] = PartOf
		labels[LabelComponent] = c.Name
		labels[LabelVersion] = labelValue(c.Version)
		o.SetLabels(labels)
	}
	return objs, nil
}

// labelValue makes s a valid label value.
func labelValue(s string) string {
	b := []byte(s)
	for i, ch := range b {
		ok := ch == '-' || ch == '_' || ch == '.' || (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
		if !ok {
			b[i] = '-'
		}
	}
	v := string(b)
	if len(v) > validation.LabelValueMaxLength {
		v = v[:validation.LabelValueMaxLength]
	}
	return strings.Trim(v, "-_.")
}

// splitYAML parses a YAML stream into objects, skipping empty documents and
// expanding Lists.
func splitYAML(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.IsList() {
			if err := u.EachListItem(func(o runtime.Object) error {
				out = append(out, o.(*unstructured.Unstructured))
				return nil
			}); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, u)
	}
}

// Objects flattens rendered components in install order.
func Objects(rs []Rendered) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, r := range rs {
		out = append(out, r.Objects...)
	}
	return out
}
