package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// clas reports whether the working directory is a PaddleClas checkout,
// whose tools parse their options differently from PaddleOCR's.
func clas() bool {
	_, err := os.Stat("ppcls")
	return err == nil
}

// parseArgs parses a suite tool's command line: PaddleOCR's ArgsParser
// (tools/program.py: -c, one -o taking every KEY=VALUE after it, the last
// -o winning, as argparse's nargs='+' does) or PaddleClas's
// (ppcls/utils/config.py: -o once per KEY=VALUE, appended).
func parseArgs(script string, args []string) (string, []string, error) {
	prog := filepath.Base(script)
	usage := fmt.Sprintf("usage: %s [-h] [-c CONFIG] [-o OPT [OPT ...]] [-p PROFILER_OPTIONS]\n%s: error: ", prog, prog)
	if clas() {
		usage = fmt.Sprintf("usage: %s [-h] [-c CONFIG] [-o OVERRIDE] [-p PROFILER_OPTIONS]\n%s: error: ", prog, prog)
	}
	var config string
	var opts, unknown []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, inline := strings.Cut(a, "=")
		if !strings.HasPrefix(a, "--") {
			name, inline = a, false
		}
		switch name {
		case "-c", "--config", "-p", "--profiler_options":
			if !inline {
				if i+1 >= len(args) || strings.HasPrefix(args[i+1], "-") {
					return "", nil, fmt.Errorf("%sargument %s: expected one argument", usage, flagNames(name))
				}
				i++
				value = args[i]
			}
			if name == "-c" || name == "--config" {
				config = value
			}
		case "-o", "--opt", "--override":
			if clas() {
				if !inline {
					if i+1 >= len(args) || strings.HasPrefix(args[i+1], "-") {
						return "", nil, fmt.Errorf("%sargument -o/--override: expected one argument", usage)
					}
					i++
					value = args[i]
				}
				opts = append(opts, value)
				continue
			}
			var group []string
			if inline {
				group = append(group, value)
			}
			for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				group = append(group, args[i])
			}
			if len(group) == 0 {
				return "", nil, fmt.Errorf("%sargument -o/--opt: expected at least one argument", usage)
			}
			opts = group
		default:
			unknown = append(unknown, a)
		}
	}
	if len(unknown) > 0 {
		return "", nil, fmt.Errorf("%sunrecognized arguments: %s", usage, strings.Join(unknown, " "))
	}
	return config, opts, nil
}

func flagNames(name string) string {
	switch name {
	case "-c", "--config":
		return "-c/--config"
	case "-p", "--profiler_options":
		return "-p/--profiler_options"
	}
	return name
}

// loadConfig parses the command line, reads the YAML config and applies
// the -o options as the suite does, and returns the config path and the
// merged config.
func loadConfig(script string, args []string) (string, map[string]any, error) {
	config, opts, err := parseArgs(script, args)
	if err != nil {
		return "", nil, err
	}
	if config == "" {
		if !clas() {
			return "", nil, fmt.Errorf("AssertionError: Please specify --config=configure_file_path.")
		}
		config = "configs/config.yaml" // PaddleClas's default
	}
	if ext := filepath.Ext(config); !clas() && ext != ".yml" && ext != ".yaml" {
		return "", nil, fmt.Errorf("AssertionError: only support yaml files for now")
	}
	b, err := os.ReadFile(config)
	if err != nil {
		return "", nil, fmt.Errorf("FileNotFoundError: [Errno 2] No such file or directory: '%s'", config)
	}
	cfg := map[string]any{}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		return "", nil, fmt.Errorf("yaml.scanner.ScannerError: %s: %v", config, err)
	}
	if !clas() {
		if _, ok := cfg["Global"]; !ok {
			cfg["Global"] = map[string]any{"debug": false}
		}
	}
	for _, o := range opts {
		if err := override(cfg, o); err != nil {
			return "", nil, err
		}
	}
	return config, cfg, nil
}

// override applies one KEY=VALUE; the value is YAML, as both suites load
// it.
func override(cfg map[string]any, opt string) error {
	parts := strings.Split(strings.TrimSpace(opt), "=")
	if clas() {
		if len(parts) < 2 {
			return fmt.Errorf("AssertionError: option(%s) should contain a =to distinguish between key and value", opt)
		}
		if len(parts) > 2 {
			return fmt.Errorf("AssertionError: there can be only a = in the option")
		}
	} else if len(parts) < 2 {
		return fmt.Errorf("ValueError: not enough values to unpack (expected 2, got 1)")
	} else if len(parts) > 2 {
		return fmt.Errorf("ValueError: too many values to unpack (expected 2)")
	}
	key := parts[0]
	var value any
	if err := yaml.Unmarshal([]byte(parts[1]), &value); err != nil {
		value = parts[1]
	}
	keys := strings.Split(key, ".")
	if len(keys) == 1 {
		cfg[key] = value
		return nil
	}
	if _, ok := cfg[keys[0]]; !ok {
		if !clas() {
			return fmt.Errorf("AssertionError: the sub_keys can only be one of global_config: dict_keys([%s]), but get: %s, please check your running command", quotedKeys(cfg), keys[0])
		}
		fmt.Printf("A new Series field (%s) detected!\n", keys[0])
		cfg[keys[0]] = map[string]any{}
	}
	cur := cfg
	for i, k := range keys[:len(keys)-1] {
		next, ok := cur[k].(map[string]any)
		if !ok {
			if _, exists := cur[k]; exists || !clas() {
				if exists {
					return fmt.Errorf("TypeError: '%T' object does not support item assignment", cur[k])
				}
				return fmt.Errorf("KeyError: '%s'", k)
			}
			if i > 0 {
				fmt.Printf("A new Series field (%s) detected!\n", k)
			}
			next = map[string]any{}
			cur[k] = next
		}
		cur = next
	}
	last := keys[len(keys)-1]
	if _, ok := cur[last]; !ok && clas() {
		fmt.Printf("A new field (%s) detected!\n", last)
	}
	cur[last] = value
	return nil
}

func quotedKeys(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, "'"+k+"'")
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// lookup returns cfg[k0][k1]..., or nil.
func lookup(cfg map[string]any, keys ...string) any {
	var cur any = cfg
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}
