// Package completion implements `paddlex completion`.
package completion

import (
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

// NewCmdCompletion returns the completion command.
func NewCmdCompletion(f *cmdutil.Factory) *cobra.Command {
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
		RunE: func(cmd *cobra.Command, args []string) error {
			out := f.Streams.Out
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			case "kubectl":
				_, err := fmt.Fprint(out, KubectlCompleteScript)
				return err
			}
			return exit.UsageErrorf("unknown shell %q", args[0])
		},
	}
	return cmd
}
