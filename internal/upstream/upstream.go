// Package upstream gives tests and benchmarks the upstream artifacts the
// install catalog pins, made the way their projects make them, from what
// this machine can reach: Argo's install.yaml and Knative Serving's release
// files are built from their Go modules in the module cache (the modules
// are not added to go.mod), paddle-operator's raw files are read from
// PADDLEX_UPSTREAM_DIR. Nothing here is pasted into the repository.
package upstream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Module versions. KnativeServingVersion is Knative release knative-v1.15.2
// (docs/install.md maps module versions to releases); both must match the
// catalog in pkg/install/default.go and hack/testbin.sh.
const (
	ArgoModule            = "github.com/argoproj/argo-workflows/v3"
	ArgoVersion           = "v3.7.9"
	KnativeServingModule  = "knative.dev/serving"
	KnativeServingVersion = "v0.42.2"
	KnativeRelease        = "knative-v1.15.2"
)

// EnvDir names the directory holding paddle-operator/ with the raw files.
const EnvDir = "PADDLEX_UPSTREAM_DIR"

// PaddleOperatorFiles maps the catalog's file names (the last element of the
// pinned URL) to the names in $PADDLEX_UPSTREAM_DIR/paddle-operator.
var PaddleOperatorFiles = map[string]string{
	"crd.yaml":         "v1_crd.yaml",
	"operator.yaml":    "v1_operator.yaml",
	"controllers.yaml": "extensions_controllers.yaml",
}

// ModuleDir downloads MODULE@VERSION into the module cache (through the
// module proxy, once) and returns its directory. It runs outside any module,
// so no go.mod or go.sum changes.
func ModuleDir(module, version string) (string, error) {
	tmp, err := os.MkdirTemp("", "paddlex-mod-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	if err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s %s", module, version, err, info.Error, strings.TrimSpace(stderr.String()))
	}
	return info.Dir, nil
}

// ArgoInstall builds Argo Workflows' release install.yaml as its Makefile
// does: `kustomize build --load-restrictor=LoadRestrictionsNone
// manifests/cluster-install`, then every `:latest` image tag set to the
// version.
func ArgoInstall() ([]byte, error) {
	dir, err := ModuleDir(ArgoModule, ArgoVersion)
	if err != nil {
		return nil, err
	}
	opts := krusty.MakeDefaultOptions()
	opts.LoadRestrictions = types.LoadRestrictionsNone
	rm, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), filepath.Join(dir, "manifests", "cluster-install"))
	if err != nil {
		return nil, fmt.Errorf("kustomize build argo-workflows manifests/cluster-install: %w", err)
	}
	y, err := rm.AsYaml()
	if err != nil {
		return nil, err
	}
	return bytes.ReplaceAll(y, []byte(":latest"), []byte(":"+ArgoVersion)), nil
}

// knativeDirs returns the serving module and the knative.dev/networking and
// knative.dev/caching modules it requires: Knative's repository links some
// of their files into config/ as symlinks, which module zips leave out.
func knativeDirs() (serving, networking, caching string, err error) {
	if serving, err = ModuleDir(KnativeServingModule, KnativeServingVersion); err != nil {
		return
	}
	gomod, err := os.ReadFile(filepath.Join(serving, "go.mod"))
	if err != nil {
		return
	}
	require := func(mod string) (string, error) {
		for _, line := range strings.Split(string(gomod), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == mod {
				return ModuleDir(mod, f[1])
			}
		}
		return "", fmt.Errorf("%s@%s does not require %s", KnativeServingModule, KnativeServingVersion, mod)
	}
	if networking, err = require("knative.dev/networking"); err != nil {
		return
	}
	caching, err = require("knative.dev/caching")
	return
}

// KnativeServingCRDs is serving-crds.yaml as Knative's
// hack/generate-yamls.sh makes it: config/core/300-resources (whose
// networking CRDs are links to knative.dev/networking's config) and the
// image cache CRD of knative.dev/caching.
func KnativeServingCRDs() ([]byte, error) {
	serving, networking, caching, err := knativeDirs()
	if err != nil {
		return nil, err
	}
	files, err := yamlFiles(filepath.Join(serving, "config", "core", "300-resources"))
	if err != nil {
		return nil, err
	}
	for _, f := range []string{"certificate.yaml", "domain-claim.yaml", "ingress.yaml", "serverlessservice.yaml"} {
		files = append(files, filepath.Join(networking, "config", f))
	}
	files = append(files, filepath.Join(caching, "config", "image.yaml"))
	return concat(files)
}

// KnativeServingCore is serving-core.yaml from config/core, with the
// config-network ConfigMap of knative.dev/networking its configmaps link to.
// Images stay ko:// references (the release resolves them to digests), and
// the admission webhook configurations are left out unless webhooks is set:
// without Knative's webhook serving they would reject every later request.
func KnativeServingCore(webhooks bool) ([]byte, error) {
	serving, networking, _, err := knativeDirs()
	if err != nil {
		return nil, err
	}
	core := filepath.Join(serving, "config", "core")
	var files []string
	err = filepath.WalkDir(core, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(core, p)
		if d.IsDir() {
			if rel == "300-resources" || (rel == "webhooks" && !webhooks) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".yaml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	files = append(files, filepath.Join(networking, "config", "config-network.yaml"))
	return concat(files)
}

// PaddleOperatorDir is $PADDLEX_UPSTREAM_DIR/paddle-operator, or "" when
// the variable is unset.
func PaddleOperatorDir() (string, error) {
	root := os.Getenv(EnvDir)
	if root == "" {
		return "", nil
	}
	dir := filepath.Join(root, "paddle-operator")
	for _, name := range PaddleOperatorFiles {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return "", fmt.Errorf("%s: %w", EnvDir, err)
		}
	}
	return dir, nil
}

func yamlFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

func concat(files []string) ([]byte, error) {
	var buf bytes.Buffer
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		buf.WriteString("---\n")
		buf.Write(data)
		if !bytes.HasSuffix(data, []byte("\n")) {
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes(), nil
}
