package install

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/pkg/kube"
)

type schemaGVK = schema.GroupVersionKind

// UninstallOptions tune Uninstall.
type UninstallOptions struct {
	// KeepData keeps PersistentVolumeClaims, Secrets labelled as data, the
	// namespaces that hold either, and CRDs that still have objects.
	KeepData bool
	DryRun   kube.DryRun
	Wait     bool
}

// Removal is what uninstalling one component did.
type Removal struct {
	Component string
	Deleted   []kube.ObjectRef
	// Kept are the objects left for their data, with the reason.
	Kept []string
}

// Uninstall removes comps, given in install order, in reverse order. kinds
// are the kinds to look for (from discovery); objects are found by the
// paddlex labels, so what an older version installed goes too.
func Uninstall(ctx context.Context, k kube.Interface, comps []*Component, kinds []schema.GroupVersionKind, opts UninstallOptions, p *Progress) ([]Removal, error) {
	if p == nil {
		p = NewProgress(discard{}, false)
	}
	byComp := map[string][]*unstructured.Unstructured{}
	sel := labels.Set{kube.LabelPartOf: PartOf}.String()
	for _, gvk := range kinds {
		items, err := k.List(ctx, gvk, kube.ListOptions{LabelSelector: sel})
		if err != nil {
			continue // kinds that cannot be listed hold nothing of ours
		}
		for i := range items {
			c := items[i].GetLabels()[LabelComponent]
			byComp[c] = append(byComp[c], &items[i])
		}
	}
	var out []Removal
	for i := len(comps) - 1; i >= 0; i-- {
		c := comps[i]
		objs := byComp[c.Name]
		rm := Removal{Component: c.Name}
		if len(objs) == 0 {
			continue
		}
		p.Start(c.Name, fmt.Sprintf("removing %d objects", len(objs)))
		var refs []kube.ObjectRef
		for _, o := range objs {
			if opts.KeepData {
				if why := keepReason(ctx, k, o); why != "" {
					rm.Kept = append(rm.Kept, kube.RefOf(o).String()+" ("+why+")")
					continue
				}
			}
			refs = append(refs, kube.RefOf(o))
		}
		err := k.Delete(ctx, refs, kube.DeleteOptions{DryRun: opts.DryRun, Wait: opts.Wait, IgnoreNotFound: true})
		if err != nil {
			p.Done(c.Name, "", err)
			return out, fmt.Errorf("uninstall %s: %w", c.Name, err)
		}
		rm.Deleted = refs
		sort.Strings(rm.Kept)
		msg := fmt.Sprintf("%d deleted", len(refs))
		if len(rm.Kept) > 0 {
			msg += fmt.Sprintf(", %d kept for their data", len(rm.Kept))
		}
		p.Done(c.Name, msg, nil)
		out = append(out, rm)
	}
	return out, nil
}

// secretCopy reports whether o is a copy install --secret-namespace made
// of a platform Secret: marked so, or, made before copies were marked, the
// prerequisites component's data-center outside the platform namespace.
func secretCopy(o *unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	if gvk.Group != "" || gvk.Kind != "Secret" {
		return false
	}
	l := o.GetLabels()
	if l[LabelCopyOf] != "" {
		return true
	}
	return o.GetNamespace() != PlatformNamespace && o.GetName() == "data-center" && l[LabelComponent] == "prerequisites"
}

// keepReason says why obj holds data, or "".
func keepReason(ctx context.Context, k kube.Interface, o *unstructured.Unstructured) string {
	gvk := o.GroupVersionKind()
	switch {
	case secretCopy(o):
		return ""
	case o.GetLabels()[LabelData] == "true":
		return "holds data"
	case gvk.Group == "" && gvk.Kind == "PersistentVolumeClaim":
		return "a volume"
	case gvk.Group == "" && gvk.Kind == "Namespace":
		var held []string
		if pvcs, err := k.List(ctx, pvcGVK, kube.ListOptions{Namespace: o.GetName()}); err == nil {
			for _, p := range pvcs {
				held = append(held, "PersistentVolumeClaim "+p.GetName())
			}
		}
		if secrets, err := k.List(ctx, secretGVK, kube.ListOptions{Namespace: o.GetName(), LabelSelector: LabelData + "=true"}); err == nil {
			for i := range secrets {
				if !secretCopy(&secrets[i]) {
					held = append(held, "Secret "+secrets[i].GetName())
				}
			}
		}
		if len(held) > 0 {
			return "holds " + strings.Join(held, ", ")
		}
	case kube.IsCRD(o):
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		for _, v := range versions {
			m, _ := v.(map[string]any)
			if served, _ := m["served"].(bool); !served {
				continue
			}
			name, _ := m["name"].(string)
			items, err := k.List(ctx, schema.GroupVersionKind{Group: group, Version: name, Kind: kind}, kube.ListOptions{})
			if err == nil && len(items) > 0 {
				return fmt.Sprintf("%d %s objects exist", len(items), kind)
			}
			break
		}
	}
	return ""
}
