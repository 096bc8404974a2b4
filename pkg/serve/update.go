package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/paddleflow/paddlex/pkg/exit"
)

// ErrNoChange reports an update that would change nothing.
var ErrNoChange = errors.New("the revision already has these settings")

// Change is what `serve update` changes in a revision's settings; nil and
// empty fields keep theirs.
type Change struct {
	MinScale, MaxScale, Target *int32
	// Env sets variables; Unset removes them.
	Env   map[string]string
	Unset []string
}

// Empty reports a change of nothing.
func (c Change) Empty() bool {
	return c.MinScale == nil && c.MaxScale == nil && c.Target == nil && len(c.Env) == 0 && len(c.Unset) == 0
}

// Apply returns s with the change.
func (c Change) Apply(s Spec) Spec {
	if c.MinScale != nil {
		s.MinScale = *c.MinScale
	}
	if c.MaxScale != nil {
		s.MaxScale = *c.MaxScale
	}
	if c.Target != nil {
		s.Target = *c.Target
	}
	env := map[string]string{}
	for k, v := range s.Env {
		env[k] = v
	}
	for k, v := range c.Env {
		env[k] = v
	}
	for _, k := range c.Unset {
		delete(env, k)
	}
	s.Env = env
	if len(env) == 0 {
		s.Env = nil
	}
	return s
}

// Update is a planned `serve update`.
type Update struct {
	// Service is the Service to apply.
	Service *unstructured.Unstructured
	// Tag is the traffic tag whose revision is replaced.
	Tag string
	// Old and New are the replaced revision's settings and the new one's.
	Old, New Spec
	// Traffic is the new split: the same shares and tags, the new revision
	// in place of the old.
	Traffic Traffic
}

// UpdateService plans `serve update`: the revision tagged tag is replaced by
// a new revision of the same model version with c applied, named
// NAME-VERSION-N with the first N from 2 that names no revision the Service
// records, its traffic names, or used lists (the revisions in the cluster);
// it takes the old one's share and tag, and every other target stays as it
// was. Revisions never change, so new settings need a new revision, and
// Knative creates one from the Service's template: the template becomes the
// new revision's.
func UpdateService(live *unstructured.Unstructured, tag string, c Change, used map[string]bool) (*Update, error) {
	_, specs, traffic, err := state(live)
	if err != nil {
		return nil, err
	}
	target, ok := traffic.Find(tag)
	if !ok {
		return nil, fmt.Errorf("no revision tagged %s (traffic: %s)", tag, traffic)
	}
	old, ok := specs[target.Revision]
	if !ok {
		return nil, fmt.Errorf("revision %s, tagged %s, has no settings recorded in annotation %s or %s", target.Revision, tag, AnnotationSpec, AnnotationRevisions)
	}
	next := c.Apply(old)
	next.Action = ""
	if specJSON(next) == specJSON(old) {
		return nil, ErrNoChange
	}
	taken := map[string]bool{}
	for rev := range specs {
		taken[rev] = true
	}
	for _, rev := range traffic.Revisions() {
		taken[rev] = true
	}
	for rev := range used {
		taken[rev] = true
	}
	base := RevisionName(old.Name, old.ModelVersion)
	for n := 2; ; n++ {
		if name := fmt.Sprintf("%s-%d", base, n); !taken[name] {
			next.Revision = name
			break
		}
	}
	if errs := validation.IsDNS1035Label(next.Revision); len(errs) > 0 {
		return nil, exit.UsageErrorf("the new revision's name %q is not valid: %s (shorten NAME or the model version)", next.Revision, strings.Join(errs, "; "))
	}
	t := make(Traffic, len(traffic))
	for i, x := range traffic {
		if x.Revision == target.Revision {
			x.Revision = next.Revision
		}
		t[i] = x
	}
	return &Update{Service: finish(live, next, t, specs), Tag: tag, Old: old, New: next, Traffic: t}, nil
}

// Diff lists the settings that differ between two specs, one line each
// with the spec file's key: "max_scale: 3 -> 5", "env.LOG_LEVEL: (unset) -> debug".
func Diff(old, new Spec) []string {
	a, b := flatSpec(old), flatSpec(new)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if a[k] != b[k] {
			out = append(out, fmt.Sprintf("%s: %s -> %s", k, orUnset(a[k]), orUnset(b[k])))
		}
	}
	sort.Strings(out)
	return out
}

func orUnset(s string) string {
	if s == "" {
		return "(unset)"
	}
	return s
}

// flatSpec renders a spec's recorded keys as strings, env.KEY for each
// variable.
func flatSpec(s Spec) map[string]string {
	var m map[string]any
	_ = json.Unmarshal([]byte(specJSON(s)), &m)
	out := map[string]string{}
	for k, v := range m {
		if env, ok := v.(map[string]any); ok && k == "env" {
			for ek, ev := range env {
				out["env."+ek] = fmt.Sprint(ev)
			}
			continue
		}
		out[k] = fmt.Sprint(v)
	}
	return out
}
