package cmdutil

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/validate"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/paddleflow/paddlex/pkg/kube"
)

// Dry-run flag values.
const (
	DryRunNone   = "none"
	DryRunClient = "client"
	DryRunServer = "server"
)

// ApplyFlags are the flags every rendering command shares.
type ApplyFlags struct {
	DryRun         string
	FieldManager   string
	ForceConflicts bool
	Wait           bool
	Timeout        time.Duration
}

// AddFlags binds the flags; wait and timeout give the command's defaults.
func (a *ApplyFlags) AddFlags(fs *pflag.FlagSet, wait bool, timeout time.Duration) {
	fs.StringVar(&a.DryRun, "dry-run", DryRunNone, `"none" applies; "client" prints the objects that would be applied without contacting the cluster; "server" sends them with dry-run so the API server validates them without persisting`)
	fs.Lookup("dry-run").NoOptDefVal = DryRunClient
	fs.StringVar(&a.FieldManager, "field-manager", kube.FieldManager, "name of the server-side apply field manager")
	fs.BoolVar(&a.ForceConflicts, "force-conflicts", false, "take ownership of fields that another field manager owns")
	a.AddWaitFlags(fs, wait, timeout)
}

// AddWaitFlags binds only --wait and --timeout.
func (a *ApplyFlags) AddWaitFlags(fs *pflag.FlagSet, wait bool, timeout time.Duration) {
	fs.BoolVar(&a.Wait, "wait", wait, "wait until the objects are ready (or deleted) before returning")
	fs.DurationVar(&a.Timeout, "timeout", timeout, fmt.Sprintf("how long to wait in all before giving up with exit code 3, at most %dh (0 waits forever)", int(validate.MaxTimeout.Hours())))
}

// Validate checks the flag values.
func (a *ApplyFlags) Validate() error {
	switch a.DryRun {
	case DryRunNone, DryRunClient, DryRunServer:
	default:
		return exit.UsageErrorf("--dry-run must be one of none, client or server, not %q", a.DryRun)
	}
	if a.Timeout < 0 {
		return exit.UsageErrorf("--timeout must not be negative, not %s (0 waits without a limit)", a.Timeout)
	}
	if a.Timeout > validate.MaxTimeout {
		return exit.UsageErrorf("--timeout must be at most %dh, not %s (0 waits without a limit)", int(validate.MaxTimeout.Hours()), a.Timeout)
	}
	if a.FieldManager == "" {
		return exit.UsageErrorf("--field-manager must not be empty")
	}
	return nil
}

// ClientDryRun reports --dry-run=client: print, do not send.
func (a *ApplyFlags) ClientDryRun() bool { return a.DryRun == DryRunClient }

// ApplyOptions returns the engine options for these flags.
func (a *ApplyFlags) ApplyOptions() kube.ApplyOptions {
	o := kube.ApplyOptions{FieldManager: a.FieldManager, Force: a.ForceConflicts}
	if a.DryRun == DryRunServer {
		o.DryRun = kube.DryRunServer
	}
	return o
}

// EngineDryRun returns the engine's dry-run mode.
func (a *ApplyFlags) EngineDryRun() kube.DryRun {
	if a.DryRun == DryRunServer {
		return kube.DryRunServer
	}
	return kube.DryRunNone
}

// RunTimeout is --timeout, the bound of a command's whole Run.
func (a *ApplyFlags) RunTimeout() time.Duration { return a.Timeout }

// ForDelete returns the delete flags an apply command's --action delete
// runs with.
func (a *ApplyFlags) ForDelete() DeleteFlags {
	return DeleteFlags{DryRun: a.DryRun, Wait: a.Wait, Timeout: a.Timeout}
}

// ValidateDelete checks the flags for an apply command's --action delete:
// a delete has nothing to print, so it takes no client dry run.
func (a *ApplyFlags) ValidateDelete() error {
	if a.ClientDryRun() {
		return exit.UsageErrorf("--dry-run=client does not apply to action delete: use --dry-run=server")
	}
	d := a.ForDelete()
	return d.Validate()
}

// DeleteFlags are the flags every delete command shares: --dry-run (none or
// server: a client dry run has nothing to print), --wait and --timeout. A
// delete owns no fields, so it has no --field-manager or --force-conflicts.
type DeleteFlags struct {
	DryRun  string
	Wait    bool
	Timeout time.Duration
}

// AddFlags binds the flags; wait and timeout give the command's defaults.
func (d *DeleteFlags) AddFlags(fs *pflag.FlagSet, wait bool, timeout time.Duration) {
	d.DryRun = DryRunNone
	fs.StringVar(&d.DryRun, "dry-run", DryRunNone, `"server" asks the API server what would be deleted without deleting it; "none" deletes`)
	fs.BoolVar(&d.Wait, "wait", wait, "wait until the objects are gone before returning")
	fs.DurationVar(&d.Timeout, "timeout", timeout, fmt.Sprintf("how long to wait in all before giving up with exit code 3, at most %dh (0 waits forever)", int(validate.MaxTimeout.Hours())))
}

// Validate checks the flag values.
func (d *DeleteFlags) Validate() error {
	if d.DryRun != DryRunNone && d.DryRun != DryRunServer {
		return exit.UsageErrorf("--dry-run of a delete must be none or server, not %q: there are no objects to print", d.DryRun)
	}
	if d.Timeout < 0 {
		return exit.UsageErrorf("--timeout must not be negative, not %s (0 waits without a limit)", d.Timeout)
	}
	if d.Timeout > validate.MaxTimeout {
		return exit.UsageErrorf("--timeout must be at most %dh, not %s (0 waits without a limit)", int(validate.MaxTimeout.Hours()), d.Timeout)
	}
	return nil
}

// RunTimeout is --timeout, the bound of a command's whole Run.
func (d *DeleteFlags) RunTimeout() time.Duration { return d.Timeout }

// EngineDryRun returns the engine's dry-run mode.
func (d *DeleteFlags) EngineDryRun() kube.DryRun {
	if d.DryRun == DryRunServer {
		return kube.DryRunServer
	}
	return kube.DryRunNone
}

// Options returns the engine's delete options: a server dry run deletes
// nothing, so there is nothing to wait for.
func (d *DeleteFlags) Options(ignoreNotFound bool) kube.DeleteOptions {
	dry := d.EngineDryRun()
	return kube.DeleteOptions{DryRun: dry, Wait: d.Wait && dry == kube.DryRunNone, IgnoreNotFound: ignoreNotFound}
}

// Note is what follows "deleted" in a report line: " (server dry run)" or
// nothing.
func (d *DeleteFlags) Note() string {
	if d.DryRun == DryRunServer {
		return " (server dry run)"
	}
	return ""
}

// OutputFlags is -o/--output.
type OutputFlags struct {
	Output string
}

// AddFlags binds -o.
func (o *OutputFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.Output, "output", "o", "", "output format: yaml, json, name, wide, jsonpath=TEMPLATE or go-template=TEMPLATE (default: a table)")
}

// Validate checks -o.
func (o *OutputFlags) Validate() error {
	if o.Output == "" || o.Output == "wide" {
		return nil
	}
	if _, err := o.printer(); err != nil {
		return exit.UsageErrorf("--output: %v", err)
	}
	return nil
}

// Table reports whether the command should print its own table.
func (o *OutputFlags) Table() bool { return o.Output == "" || o.Output == "wide" }

// Wide reports -o wide.
func (o *OutputFlags) Wide() bool { return o.Output == "wide" }

func (o *OutputFlags) printer() (printers.ResourcePrinter, error) {
	format := o.Output
	pf := genericclioptions.NewPrintFlags("")
	pf.OutputFormat = &format
	if strings.HasPrefix(format, "jsonpath") || strings.HasPrefix(format, "go-template") || strings.HasPrefix(format, "template") {
		allow := true
		pf.TemplatePrinterFlags.AllowMissingKeys = &allow
	}
	p, err := pf.ToPrinter()
	if err != nil {
		return nil, fmt.Errorf("unsupported output format %q: use yaml, json, name, wide, jsonpath=... or go-template=...", format)
	}
	return p, nil
}

// PrintObjects prints objs in the -o format: YAML as a multi-document stream,
// JSON as one object or a v1 List, names one per line.
func (o *OutputFlags) PrintObjects(w io.Writer, objs []*unstructured.Unstructured) error {
	p, err := o.printer()
	if err != nil {
		return exit.UsageErrorf("--output: %v", err)
	}
	format := strings.SplitN(o.Output, "=", 2)[0]
	if len(objs) != 1 && (format == "json" || strings.HasPrefix(format, "jsonpath") || strings.HasPrefix(format, "go-template")) {
		list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{}}}
		for _, obj := range objs {
			list.Items = append(list.Items, *obj)
		}
		return p.PrintObj(list, w)
	}
	for _, obj := range objs {
		if err := p.PrintObj(obj, w); err != nil {
			return err
		}
	}
	return nil
}

// PrintObject prints any runtime object in the -o format.
func (o *OutputFlags) PrintObject(w io.Writer, obj runtime.Object) error {
	p, err := o.printer()
	if err != nil {
		return exit.UsageErrorf("--output: %v", err)
	}
	return p.PrintObj(obj, w)
}

// PrintApplied reports applied objects: in the -o format when one is set,
// otherwise as kubectl does, one "kind/name created|applied|patched" line
// each, with suffix (e.g. "(dry run)") appended.
func (o *OutputFlags) PrintApplied(w io.Writer, objs []*unstructured.Unstructured, action, suffix string) error {
	if !o.Table() {
		return o.PrintObjects(w, objs)
	}
	for _, obj := range objs {
		line := fmt.Sprintf("%s/%s %s", strings.ToLower(obj.GetKind()), obj.GetName(), PastTense(action))
		if suffix != "" {
			line += " " + suffix
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}
