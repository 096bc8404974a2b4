package cmd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

// specNouns are the commands that read a spec file with -f, each with a
// valid file and a key it does not define.
var specNouns = []struct {
	noun    string
	args    []string
	valid   string
	unknown string
}{
	{"dataset", []string{"dataset", "create"}, "name: icdar2015\nsource_uri: s3://b/icdar2015/\n", "sorce_secret"},
	{"dataset apply", []string{"dataset", "apply"}, "name: icdar2015\nsource_uri: s3://b/icdar2015/\n", "sorce_secret"},
	{"train", []string{"train", "create"}, "name: ppocr-det\nproject: PaddleOCR\nimage: paddleocr:2.1.3\nconfig_path: c.yml\npvc_name: task\n", "epochs"},
	{"train apply", []string{"train", "apply"}, "name: ppocr-det\nproject: PaddleOCR\nimage: paddleocr:2.1.3\nconfig_path: c.yml\npvc_name: task\n", "epochs"},
	{"modelhub", []string{"modelhub", "push"}, "name: ppocr-det\nmodel_name: ppocr-det\nmodel_version: v1\npvc_name: task\n", "model"},
	{"serve", []string{"serve", "create"}, "name: ppocr-det\nmodel_version: v1\n", "replicas"},
	{"serve apply", []string{"serve", "apply"}, "name: ppocr-det\nmodel_version: v1\n", "replicas"},
	{"pipeline", []string{"pipeline", "run"}, "apiVersion: paddlex.io/v1alpha1\nkind: Pipeline\nname: p\nsteps:\n- name: a\n  container: {image: busybox:1.36}\n", "stepz"},
}

func TestSpecFilesExitTwo(t *testing.T) {
	var cases []badInput
	for _, n := range specNouns {
		file := func(name, content, path string, want ...string) badInput {
			return badInput{name: n.noun + "/" + name, args: with(n.args, "-f", "$DIR/"+path, "--dry-run=client"),
				files: map[string]string{"spec.yaml": content}, want: append([]string{"-f "}, want...)}
		}
		stdin := func(name, content string, want ...string) badInput {
			return badInput{name: n.noun + "/stdin " + name, args: with(n.args, "-f", "-", "--dry-run=client"),
				stdin: content, want: append([]string{"-f -: "}, want...)}
		}
		unknown := n.valid + n.unknown + ": 3\n"
		cases = append(cases,
			file("malformed", n.valid+"name: [unclosed\n", "spec.yaml", "spec.yaml: ", "yaml"),
			file("tab indentation", n.valid+"\tproject: x\n", "spec.yaml", "spec.yaml: ", "yaml"),
			file("duplicate key", n.valid+"name: again\n", "spec.yaml", "spec.yaml: ", `"name"`),
			file("a list, not a mapping", "- name: x\n", "spec.yaml", "spec.yaml: ", "mapping"),
			file("unknown key", unknown, "spec.yaml", "spec.yaml: ", `unknown key "`+n.unknown+`"`),
			file("empty", "", "spec.yaml", "spec.yaml: the file is empty"),
			file("only a comment", "# nothing yet\n", "spec.yaml", "spec.yaml: the file is empty"),
			file("only a document marker", "---\n# nothing yet\n", "spec.yaml", "spec.yaml: the file is empty"),
			file("missing", n.valid, "absent.yaml", "absent.yaml: ", "no such file"),
			stdin("empty", "", "the file is empty"),
			stdin("only a comment", "# nothing yet\n", "the file is empty"),
			stdin("malformed", n.valid+"name: [unclosed\n", "yaml"),
			stdin("unknown key", unknown, `unknown key "`+n.unknown+`"`),
		)
	}
	runBadInput(t, cases)
}

// TestSpecFromStdin proves -f - reads the spec from standard input: the
// valid files above, piped, render as from a file.
func TestSpecFromStdin(t *testing.T) {
	for _, n := range specNouns {
		t.Run(n.noun, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "spec.yaml")
			if err := os.WriteFile(path, []byte(n.valid), 0o600); err != nil {
				t.Fatal(err)
			}
			xdg := map[string]string{"XDG_CONFIG_HOME": t.TempDir()}
			fromFile := run(t, xdg, Options{}, with(n.args, "-f", path, "--dry-run=client", "-o", "yaml")...)
			fromStdin := runStdin(t, n.valid, xdg, with(n.args, "-f", "-", "--dry-run=client", "-o", "yaml")...)
			if fromFile.code != 0 || fromStdin.code != 0 || fromStdin.out != fromFile.out || !strings.Contains(fromStdin.out, "kind: ") {
				t.Errorf("-f FILE: exit %d, -f -: exit %d; outputs differ or are empty\n-f FILE:\n%s%s\n-f -:\n%s%s",
					fromFile.code, fromStdin.code, fromFile.out, fromFile.err, fromStdin.out, fromStdin.err)
			}
		})
	}
}

// runStdin is run with stdin as the command's standard input.
func runStdin(t *testing.T, stdin string, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &out, ErrOut: &errOut}})
	code := Run(context.Background(), f, args, Options{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	return result{out.String(), errOut.String(), code}
}

func TestConfigFileExitsTwo(t *testing.T) {
	version := []string{"version"}
	explicit := func(name, content string, want ...string) badInput {
		return badInput{name: "--config " + name, args: with([]string{"--config", "$DIR/c.yaml"}, with(datasetArgs, "--dry-run=client")...),
			files: map[string]string{"c.yaml": content}, want: append([]string{"config file ", "c.yaml"}, want...)}
	}
	xdg := func(name, content string, want ...string) badInput {
		return badInput{name: "XDG " + name, args: with(datasetArgs, "--dry-run=client"),
			files: map[string]string{"paddlex/config.yaml": content}, env: map[string]string{"XDG_CONFIG_HOME": "$DIR"},
			want: append([]string{"config file ", "paddlex/config.yaml"}, want...)}
	}
	var cases []badInput
	for _, mk := range []func(string, string, ...string) badInput{explicit, xdg} {
		cases = append(cases,
			mk("malformed", "namespace: [unclosed\n", "yaml"),
			mk("tab indentation", "namespace: ml\n\ttimeout: 1h\n", "yaml"),
			mk("a list, not a mapping", "- namespace\n"),
			mk("unknown key", "namspace: ml\n", `unknown key "namspace"`),
			mk("nested unknown key", "dataset:\n  partitions: 2\n", `unknown key "dataset.partitions"`),
			mk("bad value", "partitions: many\n", "key partitions", "--partitions"),
			mk("bad namespace", "namespace: Kube_Flow\n", "--namespace", `"Kube_Flow"`),
		)
	}
	cases = append(cases,
		badInput{name: "--config missing", args: with([]string{"--config", "$DIR/absent.yaml"}, version...), want: []string{"config file ", "absent.yaml"}},
		badInput{name: "PADDLEX_CONFIG missing", args: version, env: map[string]string{"PADDLEX_CONFIG": "$DIR/absent.yaml"}, want: []string{"config file ", "absent.yaml"}},
	)
	runBadInput(t, cases)
}
