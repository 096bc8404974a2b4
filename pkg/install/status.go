package install

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// WorkloadStatus is one workload of a component.
type WorkloadStatus struct {
	Ref    kube.ObjectRef
	Ready  bool
	Status string
}

// ComponentStatus is what `paddlex status` reports of one component.
type ComponentStatus struct {
	Name string
	// Version is the installed version (from the objects' labels), empty
	// when nothing of the component is installed.
	Version string
	// Want is the catalog's version.
	Want        string
	Installed   bool
	Workloads   []WorkloadStatus
	CRDs        []string
	MissingCRDs []string
	// Problems say what to fix.
	Problems []string
}

// Ready reports whether every workload is ready and every CRD established.
func (s ComponentStatus) Ready() bool {
	if !s.Installed || len(s.MissingCRDs) > 0 {
		return false
	}
	for _, w := range s.Workloads {
		if !w.Ready {
			return false
		}
	}
	return true
}

// ReadyCount is "ready/total" workloads.
func (s ComponentStatus) ReadyCount() string {
	n := 0
	for _, w := range s.Workloads {
		if w.Ready {
			n++
		}
	}
	return fmt.Sprintf("%d/%d", n, len(s.Workloads))
}

// Report is the status of an installation.
type Report struct {
	Components []ComponentStatus
	// Fixes are cluster-wide problems, e.g. no default StorageClass.
	Fixes []string
	// Settings are what the installed components were configured to do
	// that users notice, e.g. when idle notebooks are stopped.
	Settings []string
}

// Ready reports whether every component is ready.
func (r Report) Ready() bool {
	for _, c := range r.Components {
		if !c.Ready() {
			return false
		}
	}
	return len(r.Components) > 0
}

// presenceKinds are the kinds looked at to tell whether a component is
// installed: its workloads, CRDs, and the kinds components made only of
// configuration consist of.
var presenceKinds = []schemaGVK{deploymentGVK, statefulSetGVK, daemonSetGVK, crdGVK, namespaceGVK, secretGVK, storageGVK,
	corev1.SchemeGroupVersion.WithKind("ConfigMap"), corev1.SchemeGroupVersion.WithKind("ServiceAccount"),
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}}

// Installed lists the catalog's components that have objects in the
// cluster, in catalog order.
func Installed(ctx context.Context, k kube.Interface, cat *Catalog) ([]*Component, error) {
	found := map[string]bool{}
	sel := labels.Set{kube.LabelPartOf: PartOf}.String()
	for _, gvk := range presenceKinds {
		items, err := k.List(ctx, gvk, kube.ListOptions{LabelSelector: sel})
		if err != nil {
			return nil, err
		}
		for i := range items {
			found[items[i].GetLabels()[LabelComponent]] = true
		}
	}
	var out []*Component
	for _, c := range cat.Components {
		if found[c.Name] {
			out = append(out, c)
		}
	}
	return out, nil
}

// Status reads the state of comps from the cluster.
func Status(ctx context.Context, k kube.Interface, comps []*Component) (Report, error) {
	sel := labels.Set{kube.LabelPartOf: PartOf}.String()
	byComp := map[string][]*unstructured.Unstructured{}
	for _, gvk := range presenceKinds {
		items, err := k.List(ctx, gvk, kube.ListOptions{LabelSelector: sel})
		if err != nil {
			return Report{}, err
		}
		for i := range items {
			name := items[i].GetLabels()[LabelComponent]
			byComp[name] = append(byComp[name], &items[i])
		}
	}
	var rep Report
	for _, c := range comps {
		st := ComponentStatus{Name: c.Name, Want: c.Version}
		objs := byComp[c.Name]
		st.Installed = len(objs) > 0
		for _, o := range objs {
			if v := o.GetLabels()[LabelVersion]; v != "" && st.Version == "" {
				st.Version = v
			}
		}
		if st.Version != "" && st.Version != labelValue(c.Version) {
			st.Problems = append(st.Problems, fmt.Sprintf("installed version %s differs from %s: run `paddlex install --components %s`", st.Version, c.Version, c.Name))
		}
		seen := map[kube.ObjectRef]bool{}
		check := func(ref kube.ObjectRef, obj *unstructured.Unstructured) {
			if seen[ref] {
				return
			}
			seen[ref] = true
			if ref.GVK.Kind == "CustomResourceDefinition" {
				ok := false
				if obj != nil {
					ok, _, _ = kube.CRDEstablished().Check(obj)
				}
				if ok {
					st.CRDs = append(st.CRDs, ref.Name)
				} else {
					st.MissingCRDs = append(st.MissingCRDs, ref.Name)
				}
				return
			}
			cond, _ := kube.ReadyFor(ref.GVK.Kind)
			ws := WorkloadStatus{Ref: ref}
			if obj == nil {
				ws.Status = "missing"
			} else {
				done, status, err := cond.Check(obj)
				ws.Ready, ws.Status = done && err == nil, status
			}
			st.Workloads = append(st.Workloads, ws)
			if !ws.Ready {
				why := Diagnose(ctx, k, ref)
				if obj == nil {
					why = []string{"missing: run `paddlex install --components " + c.Name + "`"}
				}
				if len(why) == 0 {
					why = []string{ws.Status}
				}
				for _, w := range why {
					st.Problems = append(st.Problems, ref.String()+": "+w)
				}
			}
		}
		for _, o := range objs {
			switch o.GetKind() {
			case "Deployment", "StatefulSet", "DaemonSet", "CustomResourceDefinition":
				check(kube.RefOf(o), o)
			}
		}
		for _, ref := range c.Ready.refs() {
			if seen[ref] {
				continue
			}
			obj, err := k.Get(ctx, ref)
			if err != nil && !apierrors.IsNotFound(err) {
				return Report{}, err
			}
			if err != nil {
				obj = nil
			}
			check(ref, obj)
		}
		sort.Slice(st.Workloads, func(i, j int) bool { return st.Workloads[i].Ref.String() < st.Workloads[j].Ref.String() })
		sort.Strings(st.CRDs)
		sort.Strings(st.MissingCRDs)
		if !st.Installed {
			st.Problems = append([]string{"not installed: run `paddlex install --components " + c.Name + "`"}, st.Problems...)
		}
		for _, m := range st.MissingCRDs {
			st.Problems = append(st.Problems, "CustomResourceDefinition "+m+" is missing or not established")
		}
		rep.Components = append(rep.Components, st)
	}
	fixes, err := clusterFixes(ctx, k)
	if err != nil {
		return rep, err
	}
	rep.Fixes = fixes
	for _, c := range comps {
		if c.Name == "jupyterhub" {
			culling, err := NotebookCulling(ctx, k)
			if err != nil {
				return rep, err
			}
			if culling != "" {
				rep.Settings = append(rep.Settings, culling)
			}
		}
	}
	return rep, nil
}

// hubSecret is where the JupyterHub chart keeps the values the hub reads.
var hubSecret = kube.ObjectRef{GVK: secretGVK, Namespace: "jhub", Name: "hub"}

// NotebookCulling says whether and when JupyterHub stops idle notebook
// servers, as the installed chart values say; "" when the hub's values are
// not there to read.
func NotebookCulling(ctx context.Context, k kube.Interface) (string, error) {
	obj, err := k.Get(ctx, hubSecret)
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	raw, _, _ := unstructured.NestedString(obj.Object, "data", "values.yaml")
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(b) == 0 {
		return "", nil
	}
	var v struct {
		Cull *struct {
			Enabled *bool `json:"enabled"`
			Timeout int64 `json:"timeout"`
		} `json:"cull"`
	}
	if err := yaml.Unmarshal(b, &v); err != nil {
		return "", fmt.Errorf("read %s: values.yaml: %w", hubSecret, err)
	}
	switch {
	case v.Cull == nil:
		return "", nil
	case v.Cull.Enabled != nil && !*v.Cull.Enabled:
		return "notebooks: idle servers are never stopped (the idle culler is off): run `paddlex install --components jupyterhub` to turn it on", nil
	}
	return fmt.Sprintf("notebooks: idle servers are stopped after %s (--notebook-idle-timeout)", time.Duration(v.Cull.Timeout)*time.Second), nil
}

// clusterFixes finds cluster-wide problems: without a default
// StorageClass, MinIO's and Redis's volumes stay Pending.
func clusterFixes(ctx context.Context, k kube.Interface) ([]string, error) {
	scs, err := k.List(ctx, storageGVK, kube.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range scs {
		a := scs[i].GetAnnotations()
		if a["storageclass.kubernetes.io/is-default-class"] == "true" || a["storageclass.beta.kubernetes.io/is-default-class"] == "true" {
			return nil, nil
		}
	}
	names := make([]string, 0, len(scs))
	for i := range scs {
		names = append(names, scs[i].GetName())
	}
	fix := "the cluster has no default StorageClass, so the volumes of MinIO and Redis stay Pending: install a provisioner, or mark one default with `kubectl annotate storageclass NAME storageclass.kubernetes.io/is-default-class=true`"
	if len(names) > 0 {
		fix += " (classes: " + strings.Join(names, ", ") + ")"
	}
	return []string{fix}, nil
}
