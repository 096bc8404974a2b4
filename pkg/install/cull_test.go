package install_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/pkg/install"
	"github.com/paddleflow/paddlex/pkg/kube"
)

// The install turns JupyterHub's idle culler on with the default timeout,
// and status reads it back from the hub's values, as the hub itself does.
func TestIdleCullerOnAndShownByStatus(t *testing.T) {
	rs := renderReal(t, install.Default(), install.Selection{Profile: install.ProfileStandalone}, "")
	hub := find(t, rs, "Secret", "jhub", "hub")
	v, _, _ := unstructured.NestedString(hub.Object, "data", "values.yaml")
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Cull struct {
			Enabled bool  `json:"enabled"`
			Timeout int64 `json:"timeout"`
			Every   int64 `json:"every"`
		} `json:"cull"`
	}
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	if !values.Cull.Enabled || values.Cull.Timeout != 3600 || values.Cull.Every != 360 {
		t.Errorf("cull values %+v; want enabled, timeout 3600s (--notebook-idle-timeout's default), every 360s", values.Cull)
	}
	got, err := install.NotebookCulling(context.Background(), kube.NewFake(hub))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "idle servers are stopped after 1h0m0s") {
		t.Errorf("status says %q; want the 1h timeout", got)
	}

	// A hub whose culler is off says so, with the fix.
	off := hub.DeepCopy()
	_ = unstructured.SetNestedField(off.Object, base64.StdEncoding.EncodeToString([]byte("cull: {enabled: false, timeout: 600}\n")), "data", "values.yaml")
	got, err = install.NotebookCulling(context.Background(), kube.NewFake(off))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "never stopped") || !strings.Contains(got, "paddlex install --components jupyterhub") {
		t.Errorf("status of a hub with the culler off says %q", got)
	}
	// No hub: nothing to say.
	if got, err := install.NotebookCulling(context.Background(), kube.NewFake()); err != nil || got != "" {
		t.Errorf("no hub: %q, %v; want nothing", got, err)
	}
}
