package cmdutil

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// Actions of the original APIs, each also a verb: create, apply, patch, delete.
const (
	ActionCreate = "create"
	ActionApply  = "apply"
	ActionPatch  = "patch"
	ActionDelete = "delete"
)

// ValidateAction checks an action named by --action or a spec file's action key.
func ValidateAction(field, action string) error {
	switch action {
	case ActionCreate, ActionApply, ActionPatch, ActionDelete:
		return nil
	}
	return UsageErrorf("%s: unknown action %q: use create, apply, patch or delete", field, action)
}

// LoadSpecFile reads a YAML or JSON spec file ("-" for stdin) into out,
// rejecting keys out does not define.
func LoadSpecFile(path string, stdin io.Reader, out any) error {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return UsageErrorf("-f %s: %v", path, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return UsageErrorf("-f %s: the file is empty", path)
	}
	if err := yaml.UnmarshalStrict(data, out); err != nil {
		return UsageErrorf("-f %s: %v", path, cleanYAMLError(err))
	}
	return nil
}

// cleanYAMLError shortens sigs.k8s.io/yaml's messages to what a user needs.
func cleanYAMLError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error unmarshaling JSON: while decoding JSON: ")
	msg = strings.ReplaceAll(msg, "json: unknown field", "unknown key")
	return fmt.Errorf("%s", msg)
}

// ValidateName checks a DNS-1123 name (subdomain form when long names are
// fine, label form when the name becomes part of other names).
func ValidateName(field, name string) error {
	if name == "" {
		return UsageErrorf("%s is required", field)
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return UsageErrorf("%s %q is not a valid name: %s", field, name, strings.Join(errs, "; "))
	}
	return nil
}

// ValidateSubdomain checks a DNS-1123 subdomain, as object names allow.
func ValidateSubdomain(field, name string) error {
	if name == "" {
		return UsageErrorf("%s is required", field)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return UsageErrorf("%s %q is not a valid name: %s", field, name, strings.Join(errs, "; "))
	}
	return nil
}

// Changed reports whether the user set the flag, for overlaying flags on a
// spec file in Complete.
func Changed(fs *pflag.FlagSet, name string) bool {
	fl := fs.Lookup(name)
	return fl != nil && fl.Changed
}

// PastTense returns the word kubectl prints after an object name for action.
func PastTense(action string) string {
	switch action {
	case ActionCreate:
		return "created"
	case ActionPatch:
		return "patched"
	case ActionDelete:
		return "deleted"
	}
	return "applied"
}
