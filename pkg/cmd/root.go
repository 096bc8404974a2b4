// Package cmd assembles the paddlex command tree.
package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/image"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/paddleflow/paddlex/pkg/cmd/completion"
	"github.com/paddleflow/paddlex/pkg/cmd/dataset"
	installcmd "github.com/paddleflow/paddlex/pkg/cmd/install"
	modelhubcmd "github.com/paddleflow/paddlex/pkg/cmd/modelhub"
	opencmd "github.com/paddleflow/paddlex/pkg/cmd/open"
	pipelinecmd "github.com/paddleflow/paddlex/pkg/cmd/pipeline"
	servecmd "github.com/paddleflow/paddlex/pkg/cmd/serve"
	tenantcmd "github.com/paddleflow/paddlex/pkg/cmd/tenant"
	traincmd "github.com/paddleflow/paddlex/pkg/cmd/train"
	"github.com/paddleflow/paddlex/pkg/cmd/version"
	"github.com/paddleflow/paddlex/pkg/cmdutil"
)

// EnvPrefix prefixes the environment variables mapped onto flags:
// PADDLEX_NAMESPACE sets --namespace, PADDLEX_DRY_RUN sets --dry-run.
const EnvPrefix = "PADDLEX"

// Options configure the root command.
type Options struct {
	// Plugin renders help and examples as "kubectl paddlex".
	Plugin bool
	// Env looks environment variables up; nil means os.LookupEnv.
	Env func(string) (string, bool)
}

// NewRootCmd returns the paddlex command tree using f.
func NewRootCmd(f *cmdutil.Factory, o Options) *cobra.Command {
	var configFile string
	root := &cobra.Command{
		Use:   "paddlex",
		Short: "Take PaddlePaddle models from an empty Kubernetes cluster to a served model",
		Long: `paddlex installs the PaddlePaddle platform on a Kubernetes cluster and drives it:
sample data sets cached in the cluster, distributed training for PaddleOCR,
PaddleClas, PaddleNLP and PaddleRec, a versioned model center, serving on
Knative with scale to zero and canary rollouts, and whole pipelines on Argo.

Every command renders Kubernetes objects and applies them with server-side
apply; --dry-run=client -o yaml prints exactly what would be applied.

Configuration: flags win over PADDLEX_* environment variables (PADDLEX_NAMESPACE
for --namespace), which win over the config file
($XDG_CONFIG_HOME/paddlex/config.yaml or --config), which wins over defaults.
The destructive --purge, --force, --force-conflicts and --in-cluster-redis come
from the command line only.

` + exit.Help,
		Example: `  # put the platform on a cluster
  paddlex install-standalone
  # cache a data set in the cluster
  paddlex dataset create icdar2015 --source-uri bos://paddleflow-public.hkg.bcebos.com/icdar2015/ --source-secret icdar2015
  # print what would be applied
  paddlex dataset create icdar2015 --source-uri s3://bucket/icdar2015/ --dry-run=client -o yaml`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := bindConfig(cmd, configFile, o.Env, f.Streams.ErrOut); err != nil {
				return err
			}
			if err := image.ValidateRegistry("--image-registry", string(f.ImageRegistry)); err != nil {
				return exit.UsageErrorf("%v", err)
			}
			return validateNamespace(f)
		},
	}
	root.PersistentFlags().StringVar(&configFile, "config", "", "config file (default $XDG_CONFIG_HOME/paddlex/config.yaml)")
	f.ConfigFlags.AddFlags(root.PersistentFlags())
	root.PersistentFlags().StringVar((*string)(&f.ImageRegistry), "image-registry", "", "run every image from this registry: REGISTRY/PATH:TAG, digests kept (clusters without internet; see 'paddlex install images')")
	// cli-runtime registers flags paddlex does not use; hide them from help.
	for _, name := range []string{"as", "as-group", "as-uid", "as-user-extra", "cache-dir", "certificate-authority", "client-certificate", "client-key", "insecure-skip-tls-verify", "server", "tls-server-name", "token", "username", "password", "disable-compression"} {
		if fl := root.PersistentFlags().Lookup(name); fl != nil {
			fl.Hidden = true
		}
	}
	cmdutil.RegisterGlobalCompletions(root, f)

	root.AddCommand(
		dataset.NewCmdDataset(f),
		installcmd.NewCmdInstall(f, nil),
		installcmd.NewCmdInstallStandalone(f, nil),
		installcmd.NewCmdStatus(f, nil),
		installcmd.NewCmdUninstall(f, nil),
		modelhubcmd.NewCmdModelhub(f),
		opencmd.NewCmdOpen(f),
		pipelinecmd.NewCmdPipeline(f),
		servecmd.NewCmdServe(f),
		tenantcmd.NewCmdTenant(f),
		traincmd.NewCmdTrain(f),
		version.NewCmdVersion(f),
		completion.NewCmdCompletion(f),
	)

	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exit.UsageErrorf("%v\nSee '%s --help'.", err, c.CommandPath())
	})
	walk(root, func(c *cobra.Command) {
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			// A group given an unknown verb is bad usage, not a request for
			// help. The root too: cobra would report it as an untyped error.
			// A group may name its verbs itself (open lists its targets).
			if c.Args == nil {
				c.Args = unknownCommand
			}
			c.SuggestionsMinimumDistance = 2
			c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
		}
		if c.Args != nil {
			args := c.Args
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return exit.UsageErrorf("%v\nSee '%s --help'.", err, cmd.CommandPath())
				}
				return nil
			}
		}
	})
	if o.Plugin {
		root.Annotations = map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl paddlex"}
		walk(root, func(c *cobra.Command) {
			c.Example = strings.ReplaceAll(c.Example, "  paddlex ", "  kubectl paddlex ")
		})
	}
	return root
}

// validateNamespace checks -n once for every command, wherever it came from
// (flag, PADDLEX_NAMESPACE or the config file), so that no command sends a
// request to a namespace that cannot exist.
func validateNamespace(f *cmdutil.Factory) error {
	if f.ConfigFlags.Namespace == nil || *f.ConfigFlags.Namespace == "" {
		return nil
	}
	return validate.Name("--namespace", *f.ConfigFlags.Namespace)
}

// unknownCommand rejects any argument to a group: it can only be a verb the
// group does not have. It says so as cobra does, with its suggestions.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return errors.New(msg)
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// commandLineOnly are the destructive flags: only the command line turns
// them on. A PADDLEX_* variable or config-file key for them is ignored with
// a warning, so a value left in a shell profile or a team's config file
// never deletes data or takes over fields.
var commandLineOnly = map[string]bool{"purge": true, "force": true, "force-conflicts": true, "in-cluster-redis": true}

// bindConfig maps PADDLEX_* variables and the config file onto every flag the
// user did not set: flag > env > file > default. viper lives here alone;
// commands read their options. Warnings go to warn.
func bindConfig(cmd *cobra.Command, configFile string, env func(string) (string, bool), warn io.Writer) error {
	if env == nil {
		env = os.LookupEnv
	}
	v := viper.New()
	explicit := configFile != ""
	if !explicit {
		if p, ok := env(EnvPrefix + "_CONFIG"); ok && p != "" {
			configFile, explicit = p, true
		}
	}
	if !explicit {
		dir, ok := env("XDG_CONFIG_HOME")
		if !ok || dir == "" {
			if home, err := os.UserHomeDir(); err == nil {
				dir = filepath.Join(home, ".config")
			}
		}
		configFile = filepath.Join(dir, "paddlex", "config.yaml")
	}
	v.SetConfigFile(configFile)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		var notFound *os.PathError
		if explicit || !errors.As(err, &notFound) {
			return exit.UsageErrorf("config file %s: %v", configFile, err)
		}
	}
	if err := checkConfigKeys(cmd.Root(), v, configFile); err != nil {
		return err
	}
	var errs []error
	set := func(fl *pflag.Flag) {
		if fl.Changed || fl.Name == "config" {
			return
		}
		key := strings.ToUpper(EnvPrefix + "_" + strings.ReplaceAll(fl.Name, "-", "_"))
		val, ok := env(key)
		src := key
		if !ok && v.IsSet(fl.Name) {
			val, ok = configValue(v.Get(fl.Name)), true
			src = "config file " + configFile + ": key " + fl.Name
		}
		if !ok {
			return
		}
		if commandLineOnly[fl.Name] {
			fmt.Fprintf(warn, "warning: %s ignored: --%s is taken from the command line only\n", src, fl.Name)
			return
		}
		if err := fl.Value.Set(val); err != nil {
			errs = append(errs, fmt.Errorf("%s: invalid value %q for --%s: %w", src, val, fl.Name, err))
			return
		}
		if fl.Name == "namespace" {
			// Checked here too, so that the message says where the value came from.
			if err := validate.Name("--namespace", val); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", src, err))
			}
		}
	}
	cmd.Flags().VisitAll(set)
	if len(errs) > 0 {
		return exit.UsageErrorf("%v", errors.Join(errs...))
	}
	return nil
}

// checkConfigKeys refuses config-file keys that are no flag of any paddlex
// command: a misspelled key would otherwise be ignored without a word. The
// file is shared by every command, so a flag of another command is fine.
func checkConfigKeys(root *cobra.Command, v *viper.Viper, configFile string) error {
	known := map[string]bool{}
	walk(root, func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(fl *pflag.Flag) { known[fl.Name] = true })
		}
	})
	delete(known, "config")
	var unknown []string
	for _, k := range v.AllKeys() {
		// viper flattens nested mappings to a.b: no flag takes a mapping.
		if !known[k] {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	word := "key"
	if len(unknown) > 1 {
		word = "keys"
	}
	return exit.UsageErrorf("config file %s: unknown %s %s: the keys are the long names of paddlex's flags (namespace, timeout, worker-replicas, ...)",
		configFile, word, strings.Join(unknown, ", "))
}

// configValue renders a config-file value as flag text; lists become
// comma-separated, which slice flags accept.
func configValue(x any) string {
	if list, ok := x.([]any); ok {
		parts := make([]string, len(list))
		for i, e := range list {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(x)
}
