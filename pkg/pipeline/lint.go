package pipeline

import (
	"errors"
	"strings"

	"github.com/argoproj/argo-workflows/v3/workflow/validate"

	"github.com/paddleflow/paddlex/pkg/exit"
)

// Severities of lint findings.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Finding is one problem Lint found in a pipeline file.
type Finding struct {
	File     string `json:"file"`
	Pipeline string `json:"pipeline,omitempty"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
}

// LintResult is what Lint found in one file.
type LintResult struct {
	File     string    `json:"file"`
	Pipeline string    `json:"pipeline,omitempty"`
	Valid    bool      `json:"valid"`
	Findings []Finding `json:"findings"`
}

// Lint checks a pipeline file as `pipeline run` would before submitting it,
// without a cluster: it loads the file (namespace fills in one the file
// does not set), validates every step as its own command does, compiles it,
// and runs Argo's own validation of the Workflow, as `argo lint` and the
// workflow controller do. Loading and validation stop at the first error;
// a train step whose data set no earlier step provides is a warning, since
// the cluster may already hold it.
func Lint(data []byte, file, namespace string) LintResult {
	r := LintResult{File: file, Findings: []Finding{}}
	fail := func(err error) LintResult {
		msg := strings.TrimPrefix(err.Error(), file+": ")
		r.Findings = append(r.Findings, Finding{File: file, Pipeline: r.Pipeline, Severity: SeverityError, Message: msg})
		return r
	}
	p, err := Load(data, file, nil)
	if err != nil {
		return fail(err)
	}
	r.Pipeline = p.Name
	p.Complete(namespace)
	if err := p.Validate(); err != nil {
		return fail(err)
	}
	c, err := Compile(p, Options{})
	if err != nil {
		return fail(err)
	}
	for _, opts := range []validate.ValidateOpts{{Lint: true}, {Submit: true}} {
		if err := validate.ValidateWorkflow(nil, nil, c.Workflow, nil, opts); err != nil {
			return fail(errors.New("argo: " + strings.TrimSpace(err.Error())))
		}
	}
	for _, g := range p.DatasetGaps() {
		r.Findings = append(r.Findings, Finding{File: file, Pipeline: p.Name, Severity: SeverityWarning, Message: g.String()})
	}
	r.Valid = true
	return r
}

// LintError is the error of a lint that found errors: it exits 2 and
// names every file at fault.
func LintError(results []LintResult) error {
	var bad []string
	for _, r := range results {
		if !r.Valid {
			bad = append(bad, r.File)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return exit.UsageErrorf("lint: %d of %d pipeline files have errors: %s", len(bad), len(results), strings.Join(bad, ", "))
}
