package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImageRegistryRewritesEveryRenderedImage: --image-registry (or the
// config key image-registry) moves every image a rendering command writes
// onto the registry, path and tag kept.
func TestImageRegistryRewritesEveryRenderedImage(t *testing.T) {
	const reg = "mirror.example:5000/paddle"
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write("config.yaml", "image-registry: "+reg+"\n")
	kc := kubeconfig(t, "")
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"train", []string{"train", "create", "ppocr-det", "--project", "PaddleOCR", "--image", "registry.baidubce.com/paddleflow-public/paddleocr:2.1.3", "--config-path", "c.yml", "--pvc-name", "task", "--use-visualdl"},
			[]string{reg + "/paddleflow-public/paddleocr:2.1.3"}},
		{"serve", []string{"serve", "create", "ppocr-det", "--model-version", "v1"},
			[]string{reg + "/paddlepaddle/serving:0.9.0-devel", reg + "/minio/mc:"}},
		{"modelhub", []string{"modelhub", "push", "ppocr-det", "--model-name", "ppocr-det", "--model-version", "v1", "--pvc-name", "task"},
			[]string{reg + "/minio/mc:"}},
		{"pipeline", []string{"pipeline", "run", "--builtin", "ppocr-det"},
			[]string{reg + "/paddleflow-public/paddleocr:", reg + "/paddlepaddle/serving:"}},
		{"pipeline container", []string{"pipeline", "run", "-f", write("p.yaml", "apiVersion: paddlex.io/v1alpha1\nkind: Pipeline\nname: p\nsteps:\n- name: a\n  container: {image: busybox:1.36}\n")},
			[]string{reg + "/library/busybox:1.36"}},
	}
	for _, c := range cases {
		for _, how := range []string{"flag", "config file"} {
			t.Run(c.name+"/"+how, func(t *testing.T) {
				args := append([]string{"--kubeconfig", kc}, c.args...)
				args = append(args, "--dry-run=client", "-o", "yaml")
				if how == "flag" {
					args = append(args, "--image-registry", reg)
				} else {
					args = append([]string{"--config", cfg}, args...)
				}
				r := run(t, nil, Options{}, args...)
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.err)
				}
				n := 0
				for _, l := range strings.Split(r.out, "\n") {
					l = strings.TrimSpace(l)
					if !strings.HasPrefix(l, "image: ") && !strings.HasPrefix(l, "- image: ") {
						continue
					}
					n++
					img := strings.Trim(l[strings.Index(l, "image: ")+len("image: "):], `"'`)
					if !strings.HasPrefix(img, reg+"/") {
						t.Errorf("image %s is not on %s", img, reg)
					}
				}
				for _, w := range c.want {
					if !strings.Contains(r.out, w) {
						t.Errorf("output lacks %s", w)
					}
				}
				if n == 0 && c.name != "pipeline" {
					t.Errorf("no image in the output:\n%s", r.out)
				}
			})
		}
	}
	bad := run(t, nil, Options{}, "--kubeconfig", kc, "--image-registry", "https://mirror.example", "serve", "create", "x", "--model-version", "v1", "--dry-run=client")
	if bad.code != 2 || !strings.Contains(bad.err, "--image-registry") {
		t.Errorf("a registry with a scheme: exit %d %s", bad.code, bad.err)
	}
}
