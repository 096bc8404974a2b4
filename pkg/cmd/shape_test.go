package cmd

import (
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

// An apply command's --action delete takes a delete's flags: a client dry
// run has nothing to print, so it is refused before any request, where it
// used to reach a delete with no engine.
func TestActionDeleteRefusesClientDryRun(t *testing.T) {
	want := []string{"--dry-run=client does not apply to action delete", "--dry-run=server"}
	runBadInput(t, []badInput{
		{name: "dataset", args: with(datasetArgs, "--action", "delete", "--dry-run=client"), want: want},
		{name: "dataset bare --dry-run", args: with(datasetArgs, "--action", "delete", "--dry-run"), want: want},
		{name: "dataset spec file", args: []string{"dataset", "create", "-f", "$DIR/d.yaml", "--dry-run=client"},
			files: map[string]string{"d.yaml": "name: icdar2015\naction: delete\n"}, want: want},
		{name: "train", args: with(trainArgs, "--action", "delete", "--dry-run=client"), want: want},
		{name: "serve", args: with(serveArgs, "--action", "delete", "--dry-run=client"), want: want},
		{name: "dataset negative timeout", args: with(datasetArgs, "--action", "delete", "--timeout", "-1s"), want: []string{"--timeout must not be negative"}},
	})
}

// Every delete command shares one set of flags: --dry-run (none or server),
// --wait and --timeout, and none of an apply's.
func TestDeleteCommandsShareDeleteFlags(t *testing.T) {
	root := NewRootCmd(cmdutil.NewFactory(cmdutil.IOStreams{}), Options{})
	var deletes []*cobra.Command
	walk(root, func(c *cobra.Command) {
		if c.Name() == "delete" || c.Name() == "uninstall" {
			deletes = append(deletes, c)
		}
	})
	if len(deletes) < 5 {
		t.Fatalf("found %d delete commands, want every noun's", len(deletes))
	}
	for _, c := range deletes {
		for _, name := range []string{"force-conflicts", "field-manager"} {
			if c.Flags().Lookup(name) != nil {
				t.Errorf("%s has --%s: a delete owns no fields", c.CommandPath(), name)
			}
		}
		if c.CommandPath() == "paddlex modelhub delete" {
			continue // deletes model files from the store, not cluster objects
		}
		for _, name := range []string{"dry-run", "wait", "timeout"} {
			if c.Flags().Lookup(name) == nil {
				t.Errorf("%s lacks --%s", c.CommandPath(), name)
			}
		}
	}
	runBadInput(t, []badInput{
		{name: "train", args: []string{"train", "delete", "ppocr-det", "--dry-run=client"}, want: []string{`--dry-run of a delete must be none or server, not "client"`}},
		{name: "serve", args: []string{"serve", "delete", "ppocr-det", "--dry-run=client"}, want: []string{`--dry-run of a delete must be none or server, not "client"`}},
		{name: "dataset", args: []string{"dataset", "delete", "icdar2015", "--timeout", "-5s"}, want: []string{"--timeout must not be negative"}},
		{name: "uninstall", args: []string{"uninstall", "--dry-run=client"}, want: []string{"uninstall supports --dry-run=server, not client"}},
	})
}

// Every leaf command runs Complete, Validate, Connect and Run through the
// one driver, so the context default and --timeout are handled once.
func TestEveryLeafRunsThroughTheDriver(t *testing.T) {
	root := NewRootCmd(cmdutil.NewFactory(cmdutil.IOStreams{}), Options{})
	leaves := 0
	walk(root, func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c == root {
			return
		}
		name := ""
		if c.RunE != nil {
			name = runtime.FuncForPC(reflect.ValueOf(c.RunE).Pointer()).Name()
		}
		if c.HasSubCommands() && strings.Contains(name, "pkg/cmd.NewRootCmd.") {
			return // a group: it prints its help
		}
		leaves++
		// The closure is named after the generic driver, inlined or not.
		if !strings.Contains(name, ".PhasedRunE[") {
			t.Errorf("%s: RunE is %q, not cmdutil.PhasedRunE", c.CommandPath(), name)
		}
	})
	if leaves < 30 {
		t.Errorf("found %d leaf commands; the walk missed some", leaves)
	}
}
