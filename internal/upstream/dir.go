package upstream

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
)

//go:embed standins
var standIns embed.FS

// Artifact is one file of a manifests directory and where it came from.
type Artifact struct {
	// Path is COMPONENT/FILE, as `paddlex install --manifests-dir` reads it.
	Path string
	// Real says the bytes are the upstream artifact (or built from its
	// module as its release is); otherwise a stand-in plays it.
	Real bool
	// From says where the bytes came from.
	From string
}

// ManifestsDir writes, under dir, every upstream artifact of the built-in
// catalog laid out as `--manifests-dir` reads them: the real Argo
// install.yaml, Knative Serving files and paddle-operator files, and
// stand-ins for those this machine cannot fetch (istio, kourier, net-istio,
// juicefs-csi, the JupyterHub chart). Without PADDLEX_UPSTREAM_DIR the
// paddle-operator files are left out and the returned note says so.
func ManifestsDir(dir string) (arts []Artifact, note string, err error) {
	write := func(rel string, data []byte, real bool, from string) error {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		arts = append(arts, Artifact{Path: rel, Real: real, From: from})
		return os.WriteFile(p, data, 0o644)
	}
	argo, err := ArgoInstall()
	if err != nil {
		return nil, "", err
	}
	if err := write("argo-workflows/install.yaml", argo, true, "kustomize build manifests/cluster-install of "+ArgoModule+"@"+ArgoVersion); err != nil {
		return nil, "", err
	}
	crds, err := KnativeServingCRDs()
	if err != nil {
		return nil, "", err
	}
	if err := write("knative-serving/serving-crds.yaml", crds, true, KnativeServingModule+"@"+KnativeServingVersion+" config/core/300-resources with the networking and caching CRDs"); err != nil {
		return nil, "", err
	}
	core, err := KnativeServingCore(false)
	if err != nil {
		return nil, "", err
	}
	if err := write("knative-serving/serving-core.yaml", core, true, KnativeServingModule+"@"+KnativeServingVersion+" config/core without its webhook configurations"); err != nil {
		return nil, "", err
	}
	pdir, err := PaddleOperatorDir()
	if err != nil {
		return nil, "", err
	}
	if pdir == "" {
		note = EnvDir + " is unset: paddle-operator's files are not in the manifests directory"
	} else {
		names := make([]string, 0, len(PaddleOperatorFiles))
		for n := range PaddleOperatorFiles {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			data, err := os.ReadFile(filepath.Join(pdir, PaddleOperatorFiles[n]))
			if err != nil {
				return nil, "", err
			}
			if err := write("paddle-operator/"+n, data, true, filepath.Join(pdir, PaddleOperatorFiles[n])); err != nil {
				return nil, "", err
			}
		}
	}
	for _, s := range []string{"kourier/kourier.yaml", "juicefs-csi/k8s.yaml", "istio/istio.yaml", "net-istio/net-istio.yaml"} {
		data, err := standIns.ReadFile("standins/" + s)
		if err != nil {
			return nil, "", err
		}
		if err := write(s, data, false, "stand-in"); err != nil {
			return nil, "", err
		}
	}
	chart, err := StandInChart()
	if err != nil {
		return nil, "", err
	}
	if err := write("jupyterhub/jupyterhub-4.2.0.tgz", chart, false, "stand-in chart"); err != nil {
		return nil, "", err
	}
	return arts, note, nil
}

// StandInChart packs the stand-in JupyterHub chart as a chart archive.
func StandInChart() ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	root := "standins/jupyterhub"
	err := fs.WalkDir(standIns, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := standIns.ReadFile(p)
		if err != nil {
			return err
		}
		name := path.Join("jupyterhub", p[len(root)+1:])
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("stand-in chart: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
