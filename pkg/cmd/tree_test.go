package cmd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

// emptyFactory returns a Factory on empty streams whose kubeconfig is never read.
func emptyFactory() *cmdutil.Factory {
	return cmdutil.NewFactory(cmdutil.IOStreams{IOStreams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}})
}

// TestEveryCommandDocumented walks the whole tree: each command has Short,
// Long and an Example, and each flag a usage text, so the generated
// reference leaves nothing blank.
func TestEveryCommandDocumented(t *testing.T) {
	root := NewRootCmd(emptyFactory(), Options{Env: func(string) (string, bool) { return "", false }})
	n := 0
	walk(root, func(c *cobra.Command) {
		if c.Hidden || c.Deprecated != "" {
			return
		}
		n++
		path := c.CommandPath()
		if strings.TrimSpace(c.Short) == "" {
			t.Errorf("%s: no Short", path)
		}
		if strings.TrimSpace(c.Long) == "" {
			t.Errorf("%s: no Long", path)
		}
		if !strings.Contains(c.Example, "paddlex ") {
			t.Errorf("%s: no Example running paddlex", path)
		}
		check := func(kind string) func(*pflag.Flag) {
			return func(fl *pflag.Flag) {
				if fl.Hidden || fl.Name == "help" {
					return
				}
				if strings.TrimSpace(fl.Usage) == "" {
					t.Errorf("%s: %s flag --%s has no description", path, kind, fl.Name)
				}
				// pflag takes a back-quoted word of the usage as the
				// value's name: "--builtin paddlex pipeline builtins".
				if strings.Contains(fl.Usage, "`") {
					t.Errorf("%s: %s flag --%s: back quotes in %q turn into the value name in help; use single quotes", path, kind, fl.Name, fl.Usage)
				}
			}
		}
		c.LocalNonPersistentFlags().VisitAll(check("local"))
		c.PersistentFlags().VisitAll(check("persistent"))
	})
	if n < 10 {
		t.Fatalf("walked only %d commands", n)
	}
}
