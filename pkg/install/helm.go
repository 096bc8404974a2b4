package install

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/paddleflow/paddlex/pkg/kube"
	"helm.sh/helm/v4/pkg/chart/common"
	commonutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	"sigs.k8s.io/yaml"
)

// renderChart renders a chart archive in-process, as `helm template` would,
// and returns its objects as a YAML stream. There is no helm binary and no
// release record: the engine applies the objects and its labels own them.
// Hooks are left out: nothing runs them, and the charts paddlex installs
// use them only for tests and image pre-pulling.
func renderChart(archive []byte, ch Chart, extra map[string]any) ([]byte, error) {
	c, err := loader.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		return nil, fmt.Errorf("load chart: %w", err)
	}
	vals := commonutil.MergeTables(deepCopyMap(extra), deepCopyMap(ch.Values))
	if err := chartutil.ProcessDependencies(c, vals); err != nil {
		return nil, fmt.Errorf("chart %s dependencies: %w", c.Name(), err)
	}
	opts := common.ReleaseOptions{Name: ch.Release, Namespace: ch.Namespace, Revision: 1, IsInstall: true}
	top, err := commonutil.ToRenderValues(c, vals, opts, common.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("chart %s values: %w", c.Name(), err)
	}
	files, err := engine.Render(c, top)
	if err != nil {
		return nil, fmt.Errorf("render chart %s: %w", c.Name(), err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)
	var out bytes.Buffer
	for _, name := range names {
		objs, err := splitYAML([]byte(files[name]))
		if err != nil {
			return nil, fmt.Errorf("chart %s: %s: %w", c.Name(), name, err)
		}
		for _, o := range objs {
			if _, hook := o.GetAnnotations()["helm.sh/hook"]; hook {
				continue
			}
			if o.GetNamespace() == "" && !kube.ClusterScopedKind(o.GetKind()) {
				o.SetNamespace(ch.Namespace)
			}
			b, err := yaml.Marshal(o.Object)
			if err != nil {
				return nil, err
			}
			out.WriteString("---\n")
			out.Write(b)
		}
	}
	return out.Bytes(), nil
}

func deepCopyMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return runtimeDeepCopy(m)
}

func runtimeDeepCopy(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if mm, ok := v.(map[string]any); ok {
			out[k] = runtimeDeepCopy(mm)
			continue
		}
		out[k] = v
	}
	return out
}
