package modelhub

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/modelhub"
	"github.com/paddleflow/paddlex/pkg/modelstore"
)

// ListOptions are the options of `modelhub list` and `modelhub versions`.
type ListOptions struct {
	Model  string
	Output string
	S3     S3Options

	Streams cmdutil.IOStreams
	Store   *modelstore.Store
	OpensInRun
}

// NewCmdList returns `modelhub list [MODEL]`, or with use "versions",
// `modelhub versions MODEL`.
func NewCmdList(f *cmdutil.Factory, use string, runF func(*ListOptions) error) *cobra.Command {
	o := &ListOptions{Streams: f.Streams}
	cmd := &cobra.Command{
		Use:   use + " [MODEL]",
		Short: "List the models in the model center and their versions",
		Long: `List model versions with their tags, size, creation time, sha256 prefix and
source; -o wide adds the framework and labels, -o json|yaml prints the records.`,
		Example: fmt.Sprintf(`  paddlex modelhub %s ppocr-det
  paddlex modelhub %[1]s ppocr-det -o json`, use),
		ValidArgsFunction: completeModelRef(f, "none"),
		Args:              cobra.MaximumNArgs(1),
		RunE:              cmdutil.PhasedRunE(f, o, runF),
	}
	if use == "versions" {
		cmd.Short = "List the versions of a model"
		cmd.Use = use + " MODEL"
		cmd.Args = cobra.ExactArgs(1)
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "output format: wide, json or yaml (default: a table)")
	o.S3.AddFlags(cmd.Flags())
	return cmd
}

// Complete takes MODEL and wires the model center's clients.
func (o *ListOptions) Complete(f *cmdutil.Factory, _ *cobra.Command, args []string) error {
	o.S3.Complete(f)
	if len(args) == 1 {
		o.Model = args[0]
	}
	return nil
}

// Validate checks the arguments.
func (o *ListOptions) Validate() error {
	switch o.Output {
	case "", "wide", "json", "yaml":
	default:
		return exit.UsageErrorf("--output must be wide, json or yaml, not %q", o.Output)
	}
	if o.Model != "" {
		if err := modelhub.ValidateModel("MODEL", o.Model); err != nil {
			return err
		}
	}
	return o.S3.Validate()
}

// Run lists and prints.
func (o *ListOptions) Run(ctx context.Context) error {
	closeStore, err := o.S3.Open(ctx, &o.Store)
	if err != nil {
		return err
	}
	defer closeStore()
	versions, err := o.Store.List(ctx, o.Model)
	if err != nil {
		return err
	}
	if versions == nil {
		versions = []modelstore.Version{}
	}
	switch o.Output {
	case "json":
		b, err := json.MarshalIndent(versions, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.Streams.Out, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(versions)
		if err != nil {
			return err
		}
		_, err = o.Streams.Out.Write(b)
		return err
	}
	if len(versions) == 0 {
		what := "No models"
		if o.Model != "" {
			what = "No versions of " + o.Model
		}
		fmt.Fprintf(o.Streams.ErrOut, "%s found in %s/%s.\n", what, o.S3.Endpoint, modelhub.Bucket)
		return nil
	}
	headers := []string{"VERSION", "TAGS", "SIZE", "CREATED", "SHA256", "SOURCE"}
	if o.Model == "" {
		headers = append([]string{"MODEL"}, headers...)
	}
	if o.Output == "wide" {
		headers = append(headers, "FRAMEWORK", "LABELS")
	}
	t := cmdutil.NewTable(o.Streams.Out, headers...)
	for _, v := range versions {
		version, tags := v.Version, strings.Join(v.Tags, ",")
		if v.TagOf != "" { // a tag whose version is gone
			version, tags = "-", v.Version+"->"+v.TagOf
		}
		row := []string{version, orDash(tags), modelstore.HumanBytes(v.Size), v.Created.UTC().Format(time.RFC3339), short(v.SHA256), orDash(v.Source)}
		if o.Model == "" {
			row = append([]string{v.Model}, row...)
		}
		if o.Output == "wide" {
			row = append(row, orDash(v.Framework), orDash(labels(v.Labels)))
		}
		t.Row(row...)
	}
	return t.Flush()
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return orDash(sha)
}

func labels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + m[k]
	}
	return strings.Join(keys, ",")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
