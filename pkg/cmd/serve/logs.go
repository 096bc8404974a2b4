package serve

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
	"github.com/paddleflow/paddlex/pkg/paddle"
	"github.com/paddleflow/paddlex/pkg/podlogs"
	"github.com/paddleflow/paddlex/pkg/serve"
	"github.com/paddleflow/paddlex/pkg/validate"
)

// servingContainers are the containers of a serving pod: paddlex's two init
// containers, the model server and Knative's queue-proxy.
var servingContainers = []string{serve.ServerContainer, "queue-proxy", "fetch-model", "verify-model"}

// LogsOptions are the options of `serve logs`.
type LogsOptions struct {
	Name      string
	Namespace string
	// Revision is the revision named by --revision, resolved to its full
	// name; empty means every revision.
	Revision  string
	Container string
	Follow    bool
	Since     time.Duration
	Tail      int64

	Streams   cmdutil.IOStreams
	Clientset kubernetes.Interface
	Kube      kube.Interface
	// Open reads one pod's logs; nil reads them through Clientset.
	Open podlogs.Opener
}

// NewCmdLogs returns `serve logs`.
func NewCmdLogs(f *cmdutil.Factory, runF func(*LogsOptions) error) *cobra.Command {
	o := &LogsOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   "logs NAME [-f] [--revision R] [--container server|queue-proxy|fetch-model|verify-model]",
		Short: "Print the model server's logs across the pods of a served model",
		Long: `Print the logs of the model server of every pod of a served model at once,
each line prefixed with its pod ("[ppocr-det-v2-deployment-5d8f-x2k4q] "); pod
names begin with their revision. --revision keeps one revision's pods: give
the revision (NAME-VERSION) or the model version alone.

--container reads another container of the pods: fetch-model and
verify-model, the init containers that download and check the model, or
queue-proxy, Knative's proxy in front of the server. When a pod failed, the
first failing container and its exit reason follow the logs on stderr.

A service scaled to zero has no pods and so no logs: send it a request
(paddlex serve predict) and read them while it is awake.`,
		Example: `  paddlex serve logs ppocr-det
  paddlex serve logs ppocr-det -f --revision v2
  paddlex serve logs ppocr-det --container fetch-model --tail 20`,
		ValidArgsFunction: cmdutil.CompleteNames(f, paddle.KnativeServiceGVK, paddle.LabelServe),
		Args:              cobra.ExactArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	fs := cmd.Flags()
	fs.BoolVarP(&o.Follow, "follow", "f", false, "stream new lines until the pods stop")
	fs.StringVar(&o.Revision, "revision", "", "only this revision's pods: NAME-VERSION, or the model version")
	fs.StringVarP(&o.Container, "container", "c", serve.ServerContainer, "container to read: "+strings.Join(servingContainers, ", "))
	fs.DurationVar(&o.Since, "since", 0, "only lines newer than this, e.g. 10m")
	fs.Int64Var(&o.Tail, "tail", -1, "only the last lines of each pod (-1: all)")
	_ = cmd.RegisterFlagCompletionFunc("container", cmdutil.CompleteFlagFixed(servingContainers...))
	return cmd
}

// Complete takes NAME and the namespace, and resolves --revision.
func (o *LogsOptions) Complete(f *cmdutil.Factory, cmd *cobra.Command, args []string) error {
	o.Name, o.Namespace = args[0], f.Namespace()
	o.Revision = RevisionOf(o.Name, o.Revision)
	return nil
}

// RevisionOf resolves what --revision names: a revision of the service
// (NAME-...) as given, otherwise a model version, whose revision is
// NAME-VERSION.
func RevisionOf(name, r string) string {
	if r == "" || strings.HasPrefix(r, name+"-") {
		return r
	}
	return serve.RevisionName(name, r)
}

// Validate checks the flags.
func (o *LogsOptions) Validate() error {
	if err := validate.Name("NAME", o.Name); err != nil {
		return err
	}
	if err := validate.Name("--namespace", o.Namespace); err != nil {
		return err
	}
	if o.Revision != "" {
		if err := validate.Name("--revision", o.Revision); err != nil {
			return err
		}
	}
	known := false
	for _, c := range servingContainers {
		known = known || c == o.Container
	}
	if !known {
		return exit.UsageErrorf("--container %q: a serving pod has %s", o.Container, strings.Join(servingContainers, ", "))
	}
	if o.Since < 0 {
		return exit.UsageErrorf("--since must not be negative")
	}
	if o.Tail < -1 {
		return exit.UsageErrorf("--tail must be -1 (all lines) or more, not %d", o.Tail)
	}
	return nil
}

// Connect builds the typed client for pods and logs, and the engine that
// reads the Service when it has no pods.
func (o *LogsOptions) Connect(f *cmdutil.Factory) error {
	var err error
	if o.Clientset, err = f.Clientset(); err != nil {
		return err
	}
	o.Kube, err = f.Kube()
	return err
}

// Run streams the logs.
func (o *LogsOptions) Run(ctx context.Context) error {
	sel := serve.PodSelector(o.Name, o.Revision)
	pods, err := podlogs.List(ctx, o.Clientset, o.Namespace, sel)
	if err != nil {
		return err
	}
	if len(pods) == 0 {
		return o.noPods(ctx)
	}
	serve.SortPods(pods)
	open := o.Open
	if open == nil {
		open = podlogs.ClientOpener(o.Clientset)
	}
	err = podlogs.Stream(ctx, open, pods, o.Streams.Out, podlogs.Options{
		Container: o.Container, Follow: o.Follow, Since: o.Since, Tail: o.Tail,
	})
	// Re-read the pods: with -f they have changed since.
	if fresh, lerr := podlogs.List(ctx, o.Clientset, o.Namespace, sel); lerr == nil && len(fresh) > 0 {
		serve.SortPods(fresh)
		pods = fresh
	}
	if f, ok := podlogs.FirstFailure(pods); ok {
		fmt.Fprintf(o.Streams.ErrOut, "pod %s of revision %s %s\n", f.Pod.Name, f.Pod.Labels[serve.PodLabelRevision], f)
		if f.Container != "" && f.Container != o.Container {
			fmt.Fprintf(o.Streams.ErrOut, "  its logs: paddlex serve logs %s -n %s --revision %s --container %s\n",
				o.Name, o.Namespace, f.Pod.Labels[serve.PodLabelRevision], f.Container)
		}
	}
	return err
}

// noPods explains why there are no logs: no such service or revision, or
// a service scaled to zero.
func (o *LogsOptions) noPods(ctx context.Context) error {
	ref := serviceRef(o.Namespace, o.Name)
	obj, err := o.Kube.Get(ctx, ref)
	switch {
	case apierrors.IsNotFound(err):
		return exit.FailedErrorf("service %s does not exist in namespace %s (list them with `paddlex serve list -n %s`)", o.Name, o.Namespace, o.Namespace)
	case err != nil:
		return err
	}
	what := "service " + o.Name
	if o.Revision != "" {
		what = "revision " + o.Revision
		st := serve.StatusOf(obj)
		known := st.LatestCreated == o.Revision
		for _, r := range st.Traffic.Revisions() {
			known = known || r == o.Revision
		}
		if !known {
			return exit.FailedErrorf("service %s has no revision %s in its traffic (see `paddlex serve describe %s -n %s`)", o.Name, o.Revision, o.Name, o.Namespace)
		}
	}
	return exit.FailedErrorf("%s has no pods in namespace %s: with min-scale 0 it scales to zero when idle; wake it with a request (`paddlex serve predict %s -n %s ...`) and read the logs while it serves, or keep a pod with --min-scale 1",
		what, o.Namespace, o.Name, o.Namespace)
}
