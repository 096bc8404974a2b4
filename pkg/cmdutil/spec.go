package cmdutil

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/paddle"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

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
		return exit.UsageErrorf("-f %s: %v", path, err)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return exit.UsageErrorf("-f %s: %v", path, cleanYAMLError(err))
	}
	// A file of comments (or of "---") is as empty as a file of nothing:
	// refusing it beats running with every default.
	if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
		return exit.UsageErrorf("-f %s: the file is empty", path)
	}
	if t := bytes.TrimSpace(js); t[0] != '{' {
		return exit.UsageErrorf("-f %s: a spec file is a mapping of keys to values (name: ..., ...)", path)
	}
	if err := yaml.UnmarshalStrict(data, out); err != nil {
		return exit.UsageErrorf("-f %s: %v", path, cleanYAMLError(err))
	}
	return nil
}

// cleanYAMLError shortens sigs.k8s.io/yaml's messages to what a user needs.
func cleanYAMLError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "error unmarshaling JSON: while decoding JSON: ")
	msg = strings.ReplaceAll(msg, "json: unknown field", "unknown key")
	return fmt.Errorf("%s", msg)
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
	case paddle.ActionCreate:
		return "created"
	case paddle.ActionPatch:
		return "patched"
	case paddle.ActionDelete:
		return "deleted"
	}
	return "applied"
}
