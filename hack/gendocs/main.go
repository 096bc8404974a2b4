// Command gendocs writes the CLI reference (one Markdown page per command) and
// the shell completion scripts from the real paddlex command tree, so both
// always match the binary. `make docs completions` runs it; `make docs-check`
// fails when the committed files differ from what it writes.
//
//	go run ./hack/gendocs -docs docs/reference -completions completions
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/paddleflow/paddlex/pkg/cmd"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

func main() {
	docsDir := flag.String("docs", "", "directory for the Markdown reference (skipped when empty)")
	complDir := flag.String("completions", "", "directory for the completion scripts (skipped when empty)")
	flag.Parse()
	// Defaults under the home directory (the artifact cache) print as ~/...,
	// the same on every machine, whatever its HOME and XDG variables.
	env := map[string]string{"HOME": home, "XDG_CACHE_HOME": "", "XDG_CONFIG_HOME": ""}
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
	}
	if *docsDir == "" && *complDir == "" {
		fmt.Fprintln(os.Stderr, "usage: gendocs [-docs DIR] [-completions DIR]")
		os.Exit(2)
	}
	if *docsDir != "" {
		if err := writeDocs(*docsDir); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
	}
	if *complDir != "" {
		if err := writeCompletions(*complDir); err != nil {
			fmt.Fprintln(os.Stderr, "error:", err)
			os.Exit(1)
		}
	}
}

// factory returns a Factory on empty streams: building the tree reads no
// kubeconfig and no environment.
func factory(out *bytes.Buffer) *cmdutil.Factory {
	var errOut bytes.Buffer
	return cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: &errOut}})
}

func noEnv(string) (string, bool) { return "", false }

// home stands in for the home directory while the tree is built; defaults
// under it are shown under ~.
const home = "/paddlex-docs-home"

// writeDocs replaces every page in dir with one page per available command.
func writeDocs(dir string) error {
	var out bytes.Buffer
	root := cmd.NewRootCmd(factory(&out), cmd.Options{Env: noEnv})
	walk(root, func(c *cobra.Command) {
		c.DisableAutoGenTag = true
		tilde := func(fl *pflag.Flag) {
			if fl.DefValue == home || strings.HasPrefix(fl.DefValue, home+"/") {
				fl.DefValue = "~" + strings.TrimPrefix(fl.DefValue, home)
			}
		}
		c.LocalFlags().VisitAll(tilde)
		c.PersistentFlags().VisitAll(tilde)
	})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	return doc.GenMarkdownTree(root, dir)
}

// writeCompletions runs `paddlex completion SHELL` for every shell, so the
// files are byte for byte what users get from the binary.
func writeCompletions(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := []struct {
		shell, name string
		mode        os.FileMode
	}{
		{"bash", "paddlex.bash", 0o644},
		{"zsh", "paddlex.zsh", 0o644},
		{"fish", "paddlex.fish", 0o644},
		{"powershell", "paddlex.ps1", 0o644},
		{"kubectl", "kubectl_complete-paddlex", 0o755},
	}
	for _, file := range files {
		var out bytes.Buffer
		f := factory(&out)
		if code := cmd.Run(context.Background(), f, []string{"completion", file.shell}, cmd.Options{Env: noEnv}); code != 0 {
			return fmt.Errorf("paddlex completion %s: exit %d", file.shell, code)
		}
		p := filepath.Join(dir, file.name)
		if err := os.WriteFile(p, out.Bytes(), file.mode); err != nil {
			return err
		}
		// WriteFile keeps an existing file's mode.
		if err := os.Chmod(p, file.mode); err != nil {
			return err
		}
	}
	return nil
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}
