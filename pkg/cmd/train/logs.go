package train

import (
	"context"
	"fmt"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/podlogs"
)

// LogsOptions are the options of `train logs`.
type LogsOptions struct {
	Name      string
	Namespace string
	Role      string
	// Rank selects one index of the role; negative means every rank.
	Rank int
	// RankSet says --rank was given: an explicit negative rank is an error.
	RankSet bool
	Follow  bool
	Since   time.Duration
	Tail    int64

	Streams   cmdutil.IOStreams
	Clientset kubernetes.Interface
	// Open reads one pod's logs; nil reads them through Clientset.
	Open podlogs.Opener
}

// NewCmdLogs returns `train logs`.
func NewCmdLogs(f *cmdutil.Factory, runF func(*LogsOptions) error) *cobra.Command {
	o := &LogsOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "logs NAME [-f] [--role worker|ps] [--rank N] [--since 10m] [--tail N]",
		Short: "Print the logs of every replica of a training at once",
		Long: `Print the logs of every worker and parameter server of a training at once,
each line prefixed with its rank ("[worker-0] "). When a pod failed, the first
failing rank and its exit reason follow the logs on stderr.`,
		Example: `  paddlex train logs ppocr-det -f
  paddlex train logs ppocr-det --role worker --rank 1 --tail 100
  paddlex train logs wide-deep --role ps --since 10m`,
		ValidArgsFunction: completeTrainings(f),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.BoolVarP(&o.Follow, "follow", "f", false, "stream new lines until the pods stop")
	fs.StringVar(&o.Role, "role", "", "only this role: worker or ps")
	fs.IntVar(&o.Rank, "rank", -1, "only this index of the role (with --role, or workers by default)")
	fs.DurationVar(&o.Since, "since", 0, "only lines newer than this, e.g. 10m")
	fs.Int64Var(&o.Tail, "tail", -1, "only the last lines of each pod (-1: all)")
	return cmd
}

// Validate checks the flags.
func (o *LogsOptions) Validate() error {
	if err := validate.Name("NAME", o.Name); err != nil {
		return err
	}
	switch o.Role {
	case "", "worker", "ps":
	default:
		return exit.UsageErrorf("--role must be worker or ps, not %q", o.Role)
	}
	if o.Rank >= 0 && o.Role == "" {
		o.Role = "worker"
	}
	if o.RankSet && o.Rank < 0 {
		return exit.UsageErrorf("--rank must not be negative")
	}
	if o.Since < 0 {
		return exit.UsageErrorf("--since must not be negative")
	}
	if o.Tail < -1 {
		return exit.UsageErrorf("--tail must be -1 (all lines) or more, not %d", o.Tail)
	}
	return nil
}

// Complete takes NAME, the namespace, and whether --rank was given.
func (o *LogsOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	o.RankSet = cmdutil.Changed(cmd.Flags(), "rank")
	return nil
}

// Connect builds the typed client for pods and logs.
func (o *LogsOptions) Connect(f *cmdutil.Factory) error {
	var err error
	o.Clientset, err = f.Clientset()
	return err
}

// Run streams the logs.
func (o *LogsOptions) Run(ctx context.Context) error {
	pods, err := podlogs.List(ctx, o.Clientset, o.Namespace, TrainingPodSelector(o.Name, o.Role))
	if err != nil {
		return err
	}
	if o.Rank >= 0 {
		var keep []corev1.Pod
		for i := range pods {
			if RankIndex(o.Name, &pods[i]) == o.Rank {
				keep = append(keep, pods[i])
			}
		}
		pods = keep
	}
	if len(pods) == 0 {
		what := "training " + o.Name
		if o.Role != "" {
			what += " role " + o.Role
		}
		if o.Rank >= 0 {
			what += fmt.Sprintf(" rank %d", o.Rank)
		}
		return exit.FailedErrorf("no pods of %s in namespace %s (paddle-operator removes them on completion; the training-operator keeps them)", what, o.Namespace)
	}
	SortPods(o.Name, pods)
	open := o.Open
	if open == nil {
		open = podlogs.ClientOpener(o.Clientset)
	}
	err = podlogs.Stream(ctx, open, pods, o.Streams.Out, podlogs.Options{
		Follow: o.Follow, Since: o.Since, Tail: o.Tail, Prefix: prefixFor(o.Name),
	})
	// Re-read the pods: with -f they have finished since.
	if fresh, lerr := podlogs.List(ctx, o.Clientset, o.Namespace, TrainingPodSelector(o.Name, o.Role)); lerr == nil && len(fresh) > 0 {
		SortPods(o.Name, fresh)
		pods = fresh
	}
	if f, ok := podlogs.FirstFailure(pods); ok {
		fmt.Fprintf(o.Streams.ErrOut, "%s failed: pod %s %s\n", Rank(o.Name, f.Pod), f.Pod.Name, f)
	}
	return err
}
