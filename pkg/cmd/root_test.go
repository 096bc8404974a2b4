package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

type result struct {
	out, err string
	code     int
}

func run(t *testing.T, env map[string]string, o Options, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	f := cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}})
	o.Env = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code := Run(context.Background(), f, args, o)
	return result{out.String(), errOut.String(), code}
}

// kubeconfig writes a kubeconfig whose context may set a namespace; nothing
// listens at its server, so any request would fail.
func kubeconfig(t *testing.T, ns string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: "` + ns + `"}}]
current-context: x
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func namespaceOf(t *testing.T, r result) string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	for _, l := range strings.Split(r.out, "\n") {
		if strings.HasPrefix(l, "  namespace: ") {
			return strings.TrimPrefix(l, "  namespace: ")
		}
	}
	t.Fatalf("no namespace in:\n%s", r.out)
	return ""
}

func TestNamespacePrecedence(t *testing.T) {
	cfgDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(cfgDir, "paddlex"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "paddlex", "config.yaml"), []byte("namespace: fromfile\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := func(extra ...string) []string {
		return append([]string{"dataset", "create", "d", "--source-uri", "s3://b/d/", "--dry-run=client", "-o", "yaml"}, extra...)
	}
	noFile := map[string]string{"XDG_CONFIG_HOME": t.TempDir()}
	withFile := map[string]string{"XDG_CONFIG_HOME": cfgDir}
	withEnv := map[string]string{"XDG_CONFIG_HOME": cfgDir, "PADDLEX_NAMESPACE": "fromenv"}
	ctxKC, plainKC := kubeconfig(t, "fromcontext"), kubeconfig(t, "")

	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"default", noFile, args("--kubeconfig", plainKC), "kubeflow"},
		{"kubeconfig context", noFile, args("--kubeconfig", ctxKC), "fromcontext"},
		{"config file", withFile, args("--kubeconfig", ctxKC), "fromfile"},
		{"env", withEnv, args("--kubeconfig", ctxKC), "fromenv"},
		{"flag", withEnv, args("--kubeconfig", ctxKC, "-n", "fromflag"), "fromflag"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := namespaceOf(t, run(t, c.env, Options{}, c.args...)); got != c.want {
				t.Errorf("namespace %q, want %q", got, c.want)
			}
		})
	}
}

func TestConfigFileAndEnvSetOtherFlags(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("partitions: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"--kubeconfig", kubeconfig(t, ""), "--config", cfg, "dataset", "create", "d", "--source-uri", "s3://b/d/", "--dry-run=client", "-o", "yaml"}
	r := run(t, nil, Options{}, base...)
	if !strings.Contains(r.out, "partitions: 4") {
		t.Errorf("config file value not applied:\n%s%s", r.out, r.err)
	}
	r = run(t, map[string]string{"PADDLEX_PARTITIONS": "5"}, Options{}, base...)
	if !strings.Contains(r.out, "partitions: 5") {
		t.Errorf("env did not win over the file:\n%s%s", r.out, r.err)
	}
	r = run(t, map[string]string{"PADDLEX_PARTITIONS": "5"}, Options{}, append(base, "--partitions", "6")...)
	if !strings.Contains(r.out, "partitions: 6") {
		t.Errorf("flag did not win over env:\n%s%s", r.out, r.err)
	}
	r = run(t, map[string]string{"PADDLEX_PARTITIONS": "many"}, Options{}, base...)
	if r.code != 2 || !strings.Contains(r.err, "PADDLEX_PARTITIONS") {
		t.Errorf("bad env value: exit %d %s", r.code, r.err)
	}
	r = run(t, nil, Options{}, "--config", filepath.Join(dir, "absent.yaml"), "version")
	if r.code != 2 || !strings.Contains(r.err, "absent.yaml") {
		t.Errorf("missing --config file: exit %d %s", r.code, r.err)
	}
}

func TestClientDryRunNeedsNoCluster(t *testing.T) {
	r := run(t, map[string]string{"KUBECONFIG": filepath.Join(t.TempDir(), "none")}, Options{},
		"dataset", "create", "d", "--source-uri", "s3://b/d/", "--dry-run=client")
	if r.code != 0 || !strings.Contains(r.out, "sampleset/data-center created (dry run)") {
		t.Errorf("exit %d\n%s%s", r.code, r.out, r.err)
	}
}

func TestUnreachableClusterExitsFour(t *testing.T) {
	r := run(t, nil, Options{}, "--kubeconfig", kubeconfig(t, ""), "dataset", "list")
	if r.code != 4 {
		t.Errorf("exit %d, want 4: %s", r.code, r.err)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"version", "--bogus"}, {"version", "-o", "xml"}, {"completion", "tcsh"}, {"dataset", "delete"}} {
		if r := run(t, nil, Options{}, args...); r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, r.code, r.err)
		}
	}
}

func TestVersion(t *testing.T) {
	r := run(t, nil, Options{}, "version", "-o", "json")
	var info map[string]string
	if err := json.Unmarshal([]byte(r.out), &info); err != nil || info["version"] == "" || info["commit"] == "" {
		t.Fatalf("version -o json = %q (%v)", r.out, err)
	}
	if r := run(t, nil, Options{}, "version"); !strings.HasPrefix(r.out, "paddlex v") {
		t.Errorf("version = %q", r.out)
	}
}

func TestPluginModeSpeaksAsKubectl(t *testing.T) {
	r := run(t, nil, Options{Plugin: true}, "dataset", "create", "--help")
	if !strings.Contains(r.out, "kubectl paddlex dataset create icdar2015") || !strings.Contains(r.out, "Usage:\n  kubectl paddlex dataset create") {
		t.Errorf("plugin help:\n%s", r.out)
	}
	if r := run(t, nil, Options{}, "dataset", "create", "--help"); strings.Contains(r.out, "kubectl paddlex") {
		t.Error("the plain binary's help speaks as kubectl")
	}
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if r := run(t, nil, Options{}, "completion", sh); r.code != 0 || len(r.out) < 500 {
			t.Errorf("%s: exit %d, %d bytes", sh, r.code, len(r.out))
		}
	}
	r := run(t, nil, Options{}, "completion", "kubectl")
	if !strings.Contains(r.out, `kubectl paddlex __complete "$@"`) {
		t.Errorf("kubectl_complete-paddlex = %q", r.out)
	}
	r = run(t, nil, Options{}, "__complete", "data")
	if !strings.Contains(r.out, "dataset") {
		t.Errorf("__complete data = %q", r.out)
	}
}

func TestHelpDocumentsExitCodes(t *testing.T) {
	r := run(t, nil, Options{}, "--help")
	if !strings.Contains(r.out, "Exit codes:") || !strings.Contains(r.out, "4  a precondition is missing") {
		t.Errorf("root help lacks the exit codes:\n%s", r.out)
	}
}

func TestUnknownCommandSuggests(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"datset"}, "unknown command \"datset\" for \"paddlex\"\n\nDid you mean this?\n\tdataset\n"},
		{[]string{"train", "craete"}, "unknown command \"craete\" for \"paddlex train\"\n\nDid you mean this?\n\tcreate\n"},
	} {
		r := run(t, nil, Options{}, tc.args...)
		if r.code != 2 || !strings.Contains(r.err, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with %q", tc.args, r.code, r.err, tc.want)
		}
	}
}

func TestDestructiveFlagsOnlyFromTheCommandLine(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("force: true\npartitions: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	newCmd := func() (*cobra.Command, map[string]*bool) {
		cmd := &cobra.Command{Use: "x"}
		flags := map[string]*bool{}
		for _, n := range []string{"purge", "force", "force-conflicts"} {
			flags[n] = cmd.Flags().Bool(n, false, "")
		}
		cmd.Flags().Int("partitions", 1, "")
		return cmd, flags
	}
	cmd, flags := newCmd()
	env := map[string]string{"PADDLEX_PURGE": "true", "PADDLEX_FORCE_CONFLICTS": "true"}
	var warn bytes.Buffer
	if err := bindConfig(cmd, cfg, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &warn); err != nil {
		t.Fatal(err)
	}
	for n, v := range flags {
		if *v {
			t.Errorf("--%s switched on by the environment or the config file", n)
		}
	}
	if p, _ := cmd.Flags().GetInt("partitions"); p != 4 {
		t.Errorf("the config file no longer sets other flags: partitions %d", p)
	}
	for _, want := range []string{"PADDLEX_PURGE ignored", "PADDLEX_FORCE_CONFLICTS ignored", "key force ignored"} {
		if !strings.Contains(warn.String(), want) {
			t.Errorf("no warning %q in:\n%s", want, warn.String())
		}
	}
	// The command line still turns them on.
	cmd, flags = newCmd()
	if err := cmd.Flags().Parse([]string{"--purge"}); err != nil {
		t.Fatal(err)
	}
	if err := bindConfig(cmd, cfg, func(string) (string, bool) { return "", false }, &warn); err != nil {
		t.Fatal(err)
	}
	if !*flags["purge"] {
		t.Error("--purge on the command line was lost")
	}
}
