package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/paddleflow/paddlex/pkg/exit"

	"sigs.k8s.io/yaml"
)

// topKeys and stepKeys are the keys the file format defines; any other key
// is refused, naming where it was found.
var (
	topKeys  = []string{"apiVersion", "kind", "name", "namespace", "description", "volume", "params", "steps"}
	stepKeys = append([]string{"name", "after"}, Kinds...)
)

// Load parses a pipeline file, applies --set overrides (STEP.KEY=VALUE,
// params.NAME=VALUE, volume.KEY=VALUE, name=, namespace=) and substitutes
// {{params.NAME}} in the steps. source names the file in errors (e.g.
// "-f ppocr.yaml"). Errors exit 2 and name the step and key at fault.
func Load(data []byte, source string, sets []string) (*Pipeline, error) {
	bad := func(format string, a ...any) error {
		return exit.UsageErrorf("%s: %s", source, fmt.Sprintf(format, a...))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, bad("the file is empty")
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, bad("%v", cleanYAMLError(err))
	}
	if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
		// Comments only, or "---".
		return nil, bad("the file is empty")
	}
	var doc any
	if err := decodeNumbers(js, &doc); err != nil {
		return nil, bad("%v", err)
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, bad("a pipeline file is a mapping with apiVersion: %s, kind: %s, name and steps", APIVersion, Kind)
	}
	if err := checkKeys(top, topKeys); err != nil {
		return nil, bad("%v", err)
	}
	for _, s := range sets {
		if err := applySet(top, s); err != nil {
			return nil, exit.UsageErrorf("--set %s: %v", s, err)
		}
	}

	p := &Pipeline{}
	for key, out := range map[string]any{"apiVersion": &p.APIVersion, "kind": &p.Kind, "name": &p.Name, "namespace": &p.Namespace, "description": &p.Description} {
		if v, ok := top[key]; ok {
			if err := strictDecode(v, out); err != nil {
				return nil, bad("%s: %v", key, err)
			}
		}
	}
	if p.APIVersion != APIVersion || p.Kind != Kind {
		return nil, bad("apiVersion: %s and kind: %s are required (got %q, %q)", APIVersion, Kind, p.APIVersion, p.Kind)
	}
	if v, ok := top["volume"]; ok {
		if err := strictDecode(v, &p.Volume); err != nil {
			return nil, bad("volume: %v", err)
		}
	}
	if v, ok := top["params"]; ok && v != nil {
		params, ok := v.(map[string]any)
		if !ok {
			return nil, bad("params: a mapping of NAME: VALUE is required")
		}
		p.Params = map[string]any{}
		for _, k := range sortedKeys(params) {
			if !paramName.MatchString(k) {
				return nil, bad("params: %q is not a parameter name: use letters, digits, '_' and '-'", k)
			}
			switch params[k].(type) {
			case string, json.Number, bool:
				p.Params[k] = params[k]
			default:
				return nil, bad("params: %s: a value must be a string, number or boolean", k)
			}
		}
	}

	rawSteps, ok := top["steps"].([]any)
	if !ok || len(rawSteps) == 0 {
		return nil, bad("steps: at least one step is required")
	}
	for i, rs := range rawSteps {
		m, ok := rs.(map[string]any)
		where := fmt.Sprintf("steps[%d]", i)
		if !ok {
			return nil, bad("%s: a step is a mapping with name and one of %s", where, strings.Join(Kinds, ", "))
		}
		if n, ok := m["name"].(string); ok && n != "" {
			where = fmt.Sprintf("step %q", n)
		}
		if err := checkKeys(m, stepKeys); err != nil {
			return nil, bad("%s: %v", where, err)
		}
		if err := substituteParams(m, p.Params); err != nil {
			return nil, bad("%s: %v", where, err)
		}
		var st Step
		if v, ok := m["name"]; ok {
			if err := strictDecode(v, &st.Name); err != nil {
				return nil, bad("%s: name: %v", where, err)
			}
		}
		if v, ok := m["after"]; ok {
			// One name may be written without a list.
			if s, ok := v.(string); ok {
				v = []any{s}
			}
			if err := strictDecode(v, &st.After); err != nil {
				return nil, bad("%s: after: a list of step names is required", where)
			}
		}
		for _, kind := range Kinds {
			v, ok := m[kind]
			if !ok {
				continue
			}
			if v == nil {
				v = map[string]any{}
			}
			if err := strictDecode(v, st.target(kind)); err != nil {
				return nil, bad("%s: %s: %v", where, kind, err)
			}
		}
		p.Steps = append(p.Steps, st)
	}
	return p, nil
}

// target allocates the spec of kind and returns a pointer to decode into.
func (s *Step) target(kind string) any {
	switch kind {
	case KindDataset:
		s.Dataset = new(datasetSpec)
		return s.Dataset
	case KindTrain:
		s.Train = new(trainSpec)
		return s.Train
	case KindModelHub:
		s.ModelHub = new(modelhubSpec)
		return s.ModelHub
	case KindServe:
		s.Serve = new(serveSpec)
		return s.Serve
	case KindContainer:
		s.Container = new(Container)
		return s.Container
	case KindResource:
		s.Resource = new(Resource)
		return s.Resource
	}
	return nil
}

var (
	paramName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	paramRef  = regexp.MustCompile(`\{\{\s*params\.([A-Za-z0-9_-]+)\s*\}\}`)
)

// substituteParams replaces {{params.NAME}} in every string of v. A string
// that is only the reference takes the parameter's type, so numbers and
// booleans reach numeric and boolean keys.
func substituteParams(v map[string]any, params map[string]any) error {
	var walk func(x any, path string) (any, error)
	walk = func(x any, path string) (any, error) {
		switch t := x.(type) {
		case string:
			if !strings.Contains(t, "{{") {
				return t, nil
			}
			if m := paramRef.FindStringSubmatch(t); m != nil && m[0] == strings.TrimSpace(t) {
				val, ok := params[m[1]]
				if !ok {
					return nil, fmt.Errorf("%s: {{params.%s}} is not defined under params", path, m[1])
				}
				return val, nil
			}
			var missing string
			out := paramRef.ReplaceAllStringFunc(t, func(ref string) string {
				name := paramRef.FindStringSubmatch(ref)[1]
				val, ok := params[name]
				if !ok {
					missing = name
					return ref
				}
				return fmt.Sprint(val)
			})
			if missing != "" {
				return nil, fmt.Errorf("%s: {{params.%s}} is not defined under params", path, missing)
			}
			return out, nil
		case map[string]any:
			for _, k := range sortedKeys(t) {
				nv, err := walk(t[k], joinPath(path, k))
				if err != nil {
					return nil, err
				}
				t[k] = nv
			}
			return t, nil
		case []any:
			for i := range t {
				nv, err := walk(t[i], fmt.Sprintf("%s[%d]", path, i))
				if err != nil {
					return nil, err
				}
				t[i] = nv
			}
			return t, nil
		}
		return x, nil
	}
	for _, k := range sortedKeys(v) {
		if k == "name" {
			continue
		}
		nv, err := walk(v[k], k)
		if err != nil {
			return err
		}
		v[k] = nv
	}
	return nil
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// applySet applies one --set KEY=VALUE to the parsed file.
func applySet(top map[string]any, set string) error {
	key, raw, ok := strings.Cut(set, "=")
	if !ok || key == "" {
		return fmt.Errorf("write STEP.KEY=VALUE (or params.NAME=VALUE)")
	}
	parts := strings.Split(key, ".")
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("%q has an empty key segment", key)
		}
	}
	switch {
	case len(parts) == 1 && (key == "name" || key == "namespace" || key == "description"):
		top[key] = raw
		return nil
	case parts[0] == "params":
		if len(parts) != 2 {
			return fmt.Errorf("write params.NAME=VALUE")
		}
		params, _ := top["params"].(map[string]any)
		if params == nil {
			params = map[string]any{}
			top["params"] = params
		}
		params[parts[1]] = setValue(params[parts[1]], raw)
		return nil
	case parts[0] == "volume":
		if len(parts) != 2 {
			return fmt.Errorf("write volume.KEY=VALUE")
		}
		vol, _ := top["volume"].(map[string]any)
		if vol == nil {
			vol = map[string]any{}
			top["volume"] = vol
		}
		vol[parts[1]] = raw
		return nil
	}
	if len(parts) < 2 {
		return fmt.Errorf("write STEP.KEY=VALUE, e.g. train.worker_replicas=2")
	}
	steps, _ := top["steps"].([]any)
	var names []string
	for _, rs := range steps {
		m, ok := rs.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		names = append(names, name)
		if name != parts[0] {
			continue
		}
		var kinds []string
		for _, k := range Kinds {
			if _, ok := m[k]; ok {
				kinds = append(kinds, k)
			}
		}
		if len(kinds) != 1 {
			return fmt.Errorf("step %q must set exactly one of %s", name, strings.Join(Kinds, ", "))
		}
		block, _ := m[kinds[0]].(map[string]any)
		if block == nil {
			block = map[string]any{}
			m[kinds[0]] = block
		}
		path := parts[1:]
		if path[0] == kinds[0] && len(path) > 1 {
			path = path[1:]
		}
		for _, seg := range path[:len(path)-1] {
			next, ok := block[seg].(map[string]any)
			if !ok {
				next = map[string]any{}
				block[seg] = next
			}
			block = next
		}
		last := path[len(path)-1]
		block[last] = setValue(block[last], raw)
		return nil
	}
	return fmt.Errorf("no step named %q (steps: %s)", parts[0], strings.Join(names, ", "))
}

// setValue reads a --set value as YAML (numbers, booleans, lists), except
// where the key already holds a string: there it stays the text typed.
func setValue(old any, raw string) any {
	if _, isString := old.(string); isString {
		return raw
	}
	js, err := yaml.YAMLToJSON([]byte(raw))
	if err != nil {
		return raw
	}
	var v any
	if err := decodeNumbers(js, &v); err != nil || v == nil {
		return raw
	}
	return v
}

func decodeNumbers(js []byte, out any) error {
	d := json.NewDecoder(bytes.NewReader(js))
	d.UseNumber()
	return d.Decode(out)
}

// strictDecode decodes v into out, refusing keys out does not define.
func strictDecode(v any, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(out); err != nil {
		return cleanJSONError(err)
	}
	return nil
}

func cleanJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Errorf("%s: a %s cannot hold a %s", te.Field, typeName(te.Type.String()), te.Value)
		}
		return fmt.Errorf("a %s cannot hold a %s", typeName(te.Type.String()), te.Value)
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	msg = strings.ReplaceAll(msg, "unknown field", "unknown key")
	return errors.New(msg)
}

func typeName(t string) string {
	switch {
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
		return "number"
	case t == "string":
		return "string"
	case t == "bool":
		return "boolean"
	case strings.HasPrefix(t, "[]"):
		return "list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "struct"), strings.Contains(t, "."):
		return "mapping"
	}
	return t
}

func cleanYAMLError(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error converting YAML to JSON: ")
	return errors.New(msg)
}

func checkKeys(m map[string]any, allowed []string) error {
	ok := map[string]bool{}
	for _, k := range allowed {
		ok[k] = true
	}
	for _, k := range sortedKeys(m) {
		if !ok[k] {
			return fmt.Errorf("unknown key %q (known keys: %s)", k, strings.Join(allowed, ", "))
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
