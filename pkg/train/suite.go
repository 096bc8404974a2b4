package train

import (
	"sort"
	"strings"
)

// The task volume's layout, as the original platform laid it out: the
// trained checkpoints, the exported inference model and the VisualDL logs.
const (
	TaskMountPath = "/mnt/task-center/"
	ModelsDir     = TaskMountPath + "models/"
	InferenceDir  = TaskMountPath + "inference/"
	PretrainDir   = TaskMountPath + "pretrain_model/"
	VisualDLDir   = ModelsDir + "vdl/"
	LogDir        = TaskMountPath + "log/"
)

// Inputs are what paddlex feeds every suite's config: paths resolved from
// the spec, and the switches.
type Inputs struct {
	// DataDir is the data set's directory, empty when there is none.
	DataDir string
	// TrainLabel and TestLabel are label files' full paths, or empty.
	TrainLabel, TestLabel string
	// Pretrained is the pretrained weights file's full path, or empty.
	Pretrained string
	VisualDL   bool
	GPU        bool
	// Distributed is true with more than one worker or with parameter servers.
	Distributed bool
}

// Suite builds the commands of one Paddle suite. Each suite knows its own
// config keys (save and inference directories, data directory, label files,
// pretrained weights, the VisualDL switch) and how its entry points take them.
// A new suite is a new file registering one.
type Suite interface {
	// Name is the project name users give, e.g. PaddleOCR.
	Name() string
	// ConfigHelp says what config_path is for this suite, with an example.
	ConfigHelp() string
	// SupportsPS reports whether the suite trains with parameter servers.
	SupportsPS() bool
	// HasLabels reports whether the suite reads label files.
	HasLabels() bool
	// Settings are the config changes paddlex makes, before the user's own.
	Settings(in Inputs) []KV
	// TrainArgs returns the training process's arguments after the Python
	// interpreter (and launcher): the entry script, the config and changes.
	TrainArgs(s *Spec, in Inputs, changes []KV) []string
	// ExportCommand returns the command that writes the inference model of
	// the TRAINED weights into InferenceDir.
	ExportCommand(s *Spec) []string
	// ModelFiles are the file names the export writes, for serving conversion.
	ModelFiles() (model, params string)
}

var suites = map[string]Suite{}

func register(s Suite) { suites[strings.ToLower(s.Name())] = s }

// Lookup finds a suite by project name, case-insensitively.
func Lookup(project string) (Suite, bool) {
	s, ok := suites[strings.ToLower(project)]
	return s, ok
}

// SuiteNames lists the suites, sorted.
func SuiteNames() []string {
	var out []string
	for _, s := range suites {
		out = append(out, s.Name())
	}
	sort.Strings(out)
	return out
}

// pairs renders changes as KEY=VALUE words.
func pairs(changes []KV) []string {
	out := make([]string, len(changes))
	for i, c := range changes {
		out[i] = c.Key + "=" + c.Value
	}
	return out
}

// weightsPrefix drops .pdparams: Paddle suites name weights by prefix.
func weightsPrefix(p string) string { return strings.TrimSuffix(p, ".pdparams") }

func boolText(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
