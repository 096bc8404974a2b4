package serve

import (
	"errors"
	"fmt"
	"strings"

	"github.com/paddleflow/paddlex/pkg/paddle"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Traffic tags. Each tag also gives its revision its own address
// (http://candidate-NAME.NAMESPACE...), so a candidate at 0% can be tried
// before it takes any traffic.
const (
	// TagCurrent marks the revision serving the model's traffic.
	TagCurrent = "current"
	// TagCandidate marks the revision a rollout is trying.
	TagCandidate = "candidate"
	// TagPrevious marks the revision a promotion replaced: rollback returns to it.
	TagPrevious = "previous"
)

// Target is one entry of a Knative Service's spec.traffic.
type Target struct {
	Revision string
	Percent  int64
	Tag      string
	// Latest routes to the latest ready revision instead of a named one;
	// paddlex never writes it but reads it on Services made elsewhere.
	Latest bool
}

// Traffic is a Service's split of requests between revisions.
type Traffic []Target

// Errors of the traffic transitions; commands exit 1 on them.
var (
	ErrNoCandidate = errors.New("no candidate revision")
	ErrNoPrevious  = errors.New("no revision to roll back to")
	ErrNoCurrent   = errors.New("no current revision")
)

// Initial sends all traffic to rev, tagged current.
func Initial(rev string) Traffic {
	return Traffic{{Revision: rev, Percent: 100, Tag: TagCurrent}}
}

// Find returns the target tagged tag.
func (t Traffic) Find(tag string) (Target, bool) {
	for _, x := range t {
		if x.Tag == tag {
			return x, true
		}
	}
	return Target{}, false
}

// Current returns the revision serving the model: the one tagged current or,
// on a Service whose traffic paddlex did not write, the named revision with
// the largest share.
func (t Traffic) Current() (Target, bool) {
	if c, ok := t.Find(TagCurrent); ok {
		return c, true
	}
	var best Target
	found := false
	for _, x := range t {
		if x.Revision != "" && (!found || x.Percent > best.Percent) {
			best, found = x, true
		}
	}
	return best, found
}

// Rollout starts trying rev: it gets percent of the traffic, tagged
// candidate, and the current revision keeps the rest. A rollout while
// another is in progress replaces its candidate; the same candidate again
// changes its share.
func Rollout(t Traffic, rev string, percent int64) (Traffic, error) {
	if percent < 0 || percent > 100 {
		return nil, fmt.Errorf("traffic %d%% is outside 0-100", percent)
	}
	cur, ok := t.Current()
	if !ok {
		return nil, ErrNoCurrent
	}
	if cur.Revision == rev {
		return nil, fmt.Errorf("%s is already the current revision", rev)
	}
	return Traffic{
		{Revision: cur.Revision, Percent: 100 - percent, Tag: TagCurrent},
		{Revision: rev, Percent: percent, Tag: TagCandidate},
	}, nil
}

// Promote gives the candidate all the traffic; the revision it replaces
// stays addressable, tagged previous, for a rollback.
func Promote(t Traffic) (Traffic, error) {
	cand, ok := t.Find(TagCandidate)
	if !ok {
		return nil, ErrNoCandidate
	}
	out := Traffic{{Revision: cand.Revision, Percent: 100, Tag: TagCurrent}}
	if cur, ok := t.Current(); ok && cur.Revision != cand.Revision {
		out = append(out, Target{Revision: cur.Revision, Percent: 0, Tag: TagPrevious})
	}
	return out, nil
}

// Rollback returns all traffic to the revision that served before: during a
// rollout the current one (the candidate is dropped), after a promotion the
// previous one.
func Rollback(t Traffic) (Traffic, error) {
	if _, ok := t.Find(TagCandidate); ok {
		cur, ok := t.Current()
		if !ok {
			return nil, ErrNoCurrent
		}
		return Initial(cur.Revision), nil
	}
	if prev, ok := t.Find(TagPrevious); ok {
		return Initial(prev.Revision), nil
	}
	return nil, ErrNoPrevious
}

// Total is the sum of the percentages; Knative requires 100.
func (t Traffic) Total() int64 {
	var n int64
	for _, x := range t {
		n += x.Percent
	}
	return n
}

// String renders the split as "ppocr-det-v1=90%(current),ppocr-det-v2=10%(candidate)".
func (t Traffic) String() string {
	if len(t) == 0 {
		return "-"
	}
	parts := make([]string, len(t))
	for i, x := range t {
		name := x.Revision
		if x.Latest || name == "" {
			name = "@latest"
		}
		parts[i] = fmt.Sprintf("%s=%d%%", name, x.Percent)
		if x.Tag != "" {
			parts[i] += "(" + x.Tag + ")"
		}
	}
	return strings.Join(parts, ",")
}

func (t Traffic) render() []paddle.TrafficTarget {
	out := make([]paddle.TrafficTarget, len(t))
	for i, x := range t {
		out[i] = paddle.TrafficTarget{Tag: x.Tag, RevisionName: x.Revision, Percent: ptr(x.Percent)}
		if x.Latest {
			out[i].LatestRevision = ptr(true)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// trafficOf converts Knative traffic targets.
func trafficOf(targets []paddle.TrafficTarget) Traffic {
	out := make(Traffic, 0, len(targets))
	for _, x := range targets {
		t := Target{Revision: x.RevisionName, Tag: x.Tag}
		if x.Percent != nil {
			t.Percent = *x.Percent
		}
		if x.LatestRevision != nil {
			t.Latest = *x.LatestRevision
		}
		out = append(out, t)
	}
	return out
}

// TrafficOf reads spec.traffic of a Knative Service, or status.traffic when
// from is "status" (where the Route reports each tag's URL).
func TrafficOf(obj *unstructured.Unstructured, from string) Traffic {
	svc := Read(obj)
	if from == "status" {
		return trafficOf(svc.Status.Traffic)
	}
	return trafficOf(svc.Spec.Traffic)
}

// TagURLs maps each tag to the address Knative gave it in status.traffic.
func TagURLs(obj *unstructured.Unstructured) map[string]string {
	return tagURLs(Read(obj))
}

func tagURLs(svc *paddle.KnativeService) map[string]string {
	out := map[string]string{}
	for _, x := range svc.Status.Traffic {
		if x.Tag != "" && x.URL != "" {
			out[x.Tag] = x.URL
		}
	}
	return out
}

// Revisions lists the revisions traffic names, in order, without repeats.
func (t Traffic) Revisions() []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range t {
		if x.Revision != "" && !seen[x.Revision] {
			seen[x.Revision] = true
			out = append(out, x.Revision)
		}
	}
	return out
}
