package pipeline

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/paddleflow/paddlex/pkg/exit"
)

// Builtin is one built-in pipeline.
type Builtin struct {
	Name, Suite, Description string
	// Data is the file as shipped, comments and all.
	Data []byte
}

// Builtins reads the built-in pipelines from fsys (NAME.yaml files under
// dir), sorted by name. Each must load and be named after its file.
func Builtins(fsys fs.FS, dir string) ([]Builtin, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []Builtin
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".yaml" {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(e.Name(), ".yaml")
		p, err := Load(data, "built-in pipeline "+name, nil)
		if err != nil {
			return nil, err
		}
		if p.Name != name {
			return nil, fmt.Errorf("built-in pipeline %s is named %q", e.Name(), p.Name)
		}
		out = append(out, Builtin{Name: name, Suite: p.Suite(), Description: p.Description, Data: data})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// FindBuiltin returns the built-in pipeline name, or a usage error listing them.
func FindBuiltin(builtins []Builtin, name string) (Builtin, error) {
	var names []string
	for _, b := range builtins {
		if b.Name == name {
			return b, nil
		}
		names = append(names, b.Name)
	}
	return Builtin{}, exit.UsageErrorf("--builtin %q: no such built-in pipeline (built-ins: %s; see `paddlex pipeline builtins`)", name, strings.Join(names, ", "))
}
