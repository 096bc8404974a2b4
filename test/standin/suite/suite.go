// Package suite lays out the Python side of the stand-in suite image: the
// Paddle suites' scripts and modules that paddlex's pods run with python,
// each a small Python file that execs the stand-in program
// (test/standin/paddle) with the interpreter as its argv[0] and Python's
// own arguments after it. Python itself is real (Debian's in the image), so
// whatever else paddlex runs with python runs as it would on the suites'
// images.
package suite

import "path"

// Standin is where the image keeps the stand-in program.
const Standin = "/usr/local/bin/paddle-standin"

// SitePackages is where Debian's python3 finds locally installed modules.
const SitePackages = "/usr/local/lib/python3.11/dist-packages"

// scripts are PaddleOCR's scripts, by path in the suite's tree.
var scripts = map[string]string{
	"tools/train.py":        "PaddleOCR's tools/train.py",
	"tools/export_model.py": "PaddleOCR's tools/export_model.py",
}

// modules are the modules paddlex's pods run with python -m, by the file
// python runs for each.
var modules = map[string]string{
	"paddle/distributed/launch/__main__.py": "paddle.distributed.launch",
	"paddle_serving_client/convert.py":      "paddle_serving_client.convert",
	"paddle_serving_server/serve.py":        "paddle_serving_server.serve",
	"visualdl/__main__.py":                  "visualdl",
}

// Scripts returns the suite's scripts that exec standin, by path relative
// to the suite's tree.
func Scripts(standin string) map[string][]byte {
	out := map[string][]byte{}
	for p, tool := range scripts {
		out[p] = []byte("# Stand-in for " + tool + ": the Paddle suites cannot be installed here, so\n" +
			"# test/standin/paddle checks the arguments as the real tool does and\n" +
			"# writes the files it writes.\n" +
			"import os, sys\n" +
			"os.execv(\"" + standin + "\", [sys.executable] + sys.argv)\n")
	}
	return out
}

// Modules returns the modules that exec standin, with their packages'
// __init__.py files, by path relative to a site-packages folder.
func Modules(standin string) map[string][]byte {
	out := map[string][]byte{}
	for p, module := range modules {
		out[p] = []byte("# Stand-in for " + module + " (see test/standin/paddle).\n" +
			"import os, sys\n" +
			"os.execv(\"" + standin + "\", [sys.executable, \"-m\", \"" + module + "\"] + sys.argv[1:])\n")
		for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
			out[dir+"/__init__.py"] = nil
		}
	}
	return out
}

// BinDir is where pip puts console scripts.
const BinDir = "/usr/local/bin"

// consoleScripts are the commands pip installs for the suites' packages,
// by name, with the module each runs.
var consoleScripts = map[string]string{
	"visualdl": "visualdl",
}

// ConsoleScripts returns the console scripts (by name, for BinDir): Python
// files, as pip writes them, that run their module's stand-in.
func ConsoleScripts(standin string) map[string][]byte {
	out := map[string][]byte{}
	for name, module := range consoleScripts {
		out[name] = []byte("#!/usr/bin/python3\n" +
			"# Stand-in for the " + name + " command (see test/standin/paddle).\n" +
			"import os, sys\n" +
			"os.execv(\"" + standin + "\", [sys.executable, \"-m\", \"" + module + "\"] + sys.argv[1:])\n")
	}
	return out
}
