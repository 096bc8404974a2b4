// Package completion implements `paddlex completion`.
package completion

import (
	"context"
	"fmt"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/spf13/cobra"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

// KubectlCompleteScript is the `kubectl_complete-paddlex` helper that kubectl
// runs, from PATH, to complete `kubectl paddlex <TAB>`.
const KubectlCompleteScript = `#!/usr/bin/env sh
# Completes "kubectl paddlex ..." for kubectl's plugin completion.
# Install this file on PATH as kubectl_complete-paddlex, executable.
exec kubectl paddlex __complete "$@"
`

// Options are the options of `paddlex completion`.
type Options struct {
	Shell string
	// Root is the command tree the script completes.
	Root    *cobra.Command
	Streams cmdutil.IOStreams
	cmdutil.Offline
}

// NewCmdCompletion returns the completion command.
func NewCmdCompletion(f *cmdutil.Factory) *cobra.Command {
	o := &Options{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell|kubectl",
		Short: "Print a shell completion script",
		Long: `Print a completion script for bash, zsh, fish or powershell.

"kubectl" prints the kubectl_complete-paddlex helper: put it on PATH, executable,
and "kubectl paddlex <TAB>" completes through kubectl's own completion.`,
		Example: `  # bash, for the current shell
  source <(paddlex completion bash)
  # zsh, installed for good
  paddlex completion zsh > "${fpath[1]}/_paddlex"
  # kubectl plugin completion
  paddlex completion kubectl > ~/bin/kubectl_complete-paddlex && chmod +x ~/bin/kubectl_complete-paddlex`,
		ValidArgs: []string{"bash", "zsh", "fish", "powershell", "kubectl"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE:      cmdutil.PhasedRunE(f, o, nil),
	}
	return cmd
}

// Complete takes the shell and the command tree.
func (o *Options) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Shell, o.Root = args[0], cmd.Root()
	return nil
}

// Validate checks the shell.
func (o *Options) Validate() error {
	switch o.Shell {
	case "bash", "zsh", "fish", "powershell", "kubectl":
		return nil
	}
	return exit.UsageErrorf("unknown shell %q: use bash, zsh, fish, powershell or kubectl", o.Shell)
}

// Run prints the script.
func (o *Options) Run(context.Context) error {
	out := o.Streams.Out
	switch o.Shell {
	case "bash":
		return o.Root.GenBashCompletionV2(out, true)
	case "zsh":
		return o.Root.GenZshCompletion(out)
	case "fish":
		return o.Root.GenFishCompletion(out, true)
	case "powershell":
		return o.Root.GenPowerShellCompletionWithDesc(out)
	}
	_, err := fmt.Fprint(out, KubectlCompleteScript)
	return err
}
