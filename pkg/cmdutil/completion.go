package cmdutil

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// CompletionTimeout bounds the cluster requests behind one shell completion:
// a slow or unreachable cluster completes nothing instead of hanging the
// shell.
const CompletionTimeout = 2 * time.Second

// CompleteNames completes the names of the objects of kind gvk that match
// selector, in the namespace the command line selects. Names already on the
// command line are left out, and nothing is offered once the command takes no
// further argument.
func CompleteNames(f *Factory, gvk schema.GroupVersionKind, selector string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if !AcceptsAnotherArg(cmd, args) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, o := range ListForCompletion(f, cmd, selector, gvk) {
			names = append(names, o.GetName())
		}
		return FilterCompletions(names, args, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteLabelValues completes the distinct values of label on the objects
// of the given kinds, for names that live in a label rather than in the
// objects' own names (a training spans several jobs; a data set, several
// SampleJobs).
func CompleteLabelValues(f *Factory, label string, gvks ...schema.GroupVersionKind) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if !AcceptsAnotherArg(cmd, args) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return FilterCompletions(LabelValues(ListForCompletion(f, cmd, label, gvks...), label), args, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteFixed completes a fixed set of words, such as suites or built-in
// pipeline names, for the command's arguments.
func CompleteFixed(words ...string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if !AcceptsAnotherArg(cmd, args) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return FilterCompletions(words, args, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteFlagFixed completes a flag's value from a fixed set of words.
func CompleteFlagFixed(words ...string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return FilterCompletions(words, nil, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// RegisterGlobalCompletions completes the values of the cluster flags every
// command inherits: --namespace from the cluster's namespaces, --context,
// --cluster and --user from the kubeconfig.
func RegisterGlobalCompletions(root *cobra.Command, f *Factory) {
	_ = root.RegisterFlagCompletionFunc("namespace", func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		prepareCompletion(f, cmd)
		var names []string
		for _, o := range listForCompletion(f, cmd, "", "", []schema.GroupVersionKind{namespaceGVK}) {
			names = append(names, o.GetName())
		}
		return FilterCompletions(names, nil, toComplete), cobra.ShellCompDirectiveNoFileComp
	})
	kubeconfig := func(names func(contexts, clusters, users []string) []string) cobra.CompletionFunc {
		return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			raw, err := f.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var contexts, clusters, users []string
			for n := range raw.Contexts {
				contexts = append(contexts, n)
			}
			for n := range raw.Clusters {
				clusters = append(clusters, n)
			}
			for n := range raw.AuthInfos {
				users = append(users, n)
			}
			return FilterCompletions(names(contexts, clusters, users), nil, toComplete), cobra.ShellCompDirectiveNoFileComp
		}
	}
	_ = root.RegisterFlagCompletionFunc("context", kubeconfig(func(c, _, _ []string) []string { return c }))
	_ = root.RegisterFlagCompletionFunc("cluster", kubeconfig(func(_, c, _ []string) []string { return c }))
	_ = root.RegisterFlagCompletionFunc("user", kubeconfig(func(_, _, u []string) []string { return u }))
}

var namespaceGVK = schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}

// ListForCompletion lists the objects of each kind that match selector in
// the namespace the command line selects (-n, PADDLEX_NAMESPACE, the config
// file, the kubeconfig context, kubeflow). It returns whatever answered
// within CompletionTimeout, in the order of gvks, and swallows errors: a kind
// whose CRD is not installed, or a cluster that is down, completes nothing.
func ListForCompletion(f *Factory, cmd *cobra.Command, selector string, gvks ...schema.GroupVersionKind) []unstructured.Unstructured {
	return listForCompletion(f, cmd, prepareCompletion(f, cmd), selector, gvks)
}

func listForCompletion(f *Factory, cmd *cobra.Command, ns, selector string, gvks []schema.GroupVersionKind) []unstructured.Unstructured {
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, CompletionTimeout)
	defer cancel()

	type result struct {
		i     int
		items []unstructured.Unstructured
	}
	// Buffered, so a List that ignores its context and answers late never
	// blocks its goroutine.
	results := make(chan result, len(gvks))
	for i, gvk := range gvks {
		go func() {
			k, err := f.Kube()
			if err != nil {
				results <- result{i: i}
				return
			}
			items, err := k.List(ctx, gvk, kube.ListOptions{Namespace: ns, LabelSelector: selector})
			if err != nil {
				items = nil
			}
			results <- result{i: i, items: items}
		}()
	}
	byKind := make([][]unstructured.Unstructured, len(gvks))
wait:
	for range gvks {
		select {
		case r := <-results:
			byKind[r.i] = r.items
		case <-ctx.Done():
			break wait
		}
	}
	var out []unstructured.Unstructured
	for _, items := range byKind {
		out = append(out, items...)
	}
	return out
}

// prepareCompletion applies what a normal run would before a request: the
// PADDLEX_* variables and the config file (the root's persistent pre-run,
// which cobra skips for completions) and a request timeout, then resolves the
// namespace. The timeout is set before anything reads the kubeconfig, because
// the loader keeps the overrides it was first built with.
func prepareCompletion(f *Factory, cmd *cobra.Command) string {
	for c := cmd; c != nil; c = c.Parent() {
		if c.PersistentPreRunE != nil {
			_ = c.PersistentPreRunE(cmd, nil)
			break
		}
	}
	if t := f.ConfigFlags.Timeout; t != nil && (*t == "" || *t == "0") {
		*t = CompletionTimeout.String()
	}
	return f.Namespace()
}

// AcceptsAnotherArg reports whether cmd's argument check allows one more
// positional argument after args, so `delete NAME <TAB>` offers nothing.
func AcceptsAnotherArg(cmd *cobra.Command, args []string) bool {
	if cmd.Args == nil {
		return true
	}
	more := append(append([]string{}, args...), "x")
	return cmd.Args(cmd, more) == nil
}

// LabelValues returns the distinct non-empty values of label on objs.
func LabelValues(objs []unstructured.Unstructured, label string) []string {
	var out []string
	for _, o := range objs {
		if v := o.GetLabels()[label]; v != "" {
			out = append(out, v)
		}
	}
	return out
}

// FilterCompletions returns the distinct words that start with toComplete
// and are not in given, sorted.
func FilterCompletions(words, given []string, toComplete string) []cobra.Completion {
	seen := map[string]bool{}
	for _, g := range given {
		seen[g] = true
	}
	var out []cobra.Completion
	for _, w := range words {
		if seen[w] || !strings.HasPrefix(w, toComplete) {
			continue
		}
		seen[w] = true
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}
