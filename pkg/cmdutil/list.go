package cmdutil

import (
	"github.com/spf13/pflag"

	"github.com/paddleflow/paddlex/pkg/validate"
)

// ListFlags are what get and list commands share: the NAME arguments, the
// namespace or -A, and -o.
type ListFlags struct {
	Names         []string
	Namespace     string
	AllNamespaces bool
	Output        OutputFlags
}

// AddFlags binds -A and -o.
func (l *ListFlags) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&l.AllNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	l.Output.AddFlags(fs)
}

// Complete takes the NAME arguments and the namespace.
func (l *ListFlags) Complete(f *Factory, args []string) {
	l.Names, l.Namespace = args, f.Namespace()
}

// Validate checks -o, the namespace and the NAME arguments (argName in
// messages).
func (l *ListFlags) Validate(argName string) error {
	if err := l.Output.Validate(); err != nil {
		return err
	}
	if !l.AllNamespaces {
		if err := validate.Name("--namespace", l.Namespace); err != nil {
			return err
		}
	}
	for _, n := range l.Names {
		if err := validate.Name(argName, n); err != nil {
			return err
		}
	}
	return nil
}

// ListNamespace is the namespace to list: "" with -A.
func (l *ListFlags) ListNamespace() string {
	if l.AllNamespaces {
		return ""
	}
	return l.Namespace
}
