package pipeline

import (
	"time"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
)

// Phases of steps the tree shows beyond Argo's node phases.
const (
	// PhaseWaiting is a step Argo has not reached yet.
	PhaseWaiting = "Waiting"
)

// Node is one step (or one part of a step) as views show it.
type Node struct {
	Name string
	// Phase is Argo's node phase (Pending, Running, Succeeded, Skipped,
	// Failed, Error, Omitted), or Waiting before Argo reaches the step.
	Phase      string
	Message    string
	StartedAt  time.Time
	FinishedAt time.Time
	Children   []Node
}

// Duration is how long the node ran, up to now while it runs.
func (n Node) Duration(now time.Time) time.Duration {
	if n.StartedAt.IsZero() {
		return 0
	}
	end := n.FinishedAt
	if end.IsZero() {
		end = now
	}
	if end.Before(n.StartedAt) {
		return 0
	}
	return end.Sub(n.StartedAt)
}

// Done reports a phase no further change follows.
func Done(phase string) bool {
	switch wfv1.NodePhase(phase) {
	case wfv1.NodeSucceeded, wfv1.NodeFailed, wfv1.NodeError, wfv1.NodeSkipped, wfv1.NodeOmitted:
		return true
	}
	return false
}

// Tree returns the steps of wf in the order of its entrypoint DAG, each with
// its parts, and the phase, message and times Argo recorded on their nodes.
// Steps Argo has not reached are Waiting.
func Tree(wf *wfv1.Workflow) []Node {
	byName := map[string]wfv1.NodeStatus{}
	for _, n := range wf.Status.Nodes {
		byName[n.Name] = n
	}
	templates := map[string]*wfv1.Template{}
	for i := range wf.Spec.Templates {
		templates[wf.Spec.Templates[i].Name] = &wf.Spec.Templates[i]
	}
	node := func(name, fullName string) Node {
		out := Node{Name: name, Phase: PhaseWaiting}
		if st, ok := byName[fullName]; ok {
			if st.Phase != "" {
				out.Phase = string(st.Phase)
			}
			out.Message = st.Message
			out.StartedAt = st.StartedAt.Time
			out.FinishedAt = st.FinishedAt.Time
		}
		return out
	}
	entry := templates[wf.Spec.Entrypoint]
	if entry == nil || entry.DAG == nil {
		return nil
	}
	var out []Node
	for _, task := range entry.DAG.Tasks {
		full := wf.Name + "." + task.Name
		n := node(task.Name, full)
		if t := templates[task.Template]; t != nil && t.DAG != nil {
			for _, sub := range t.DAG.Tasks {
				n.Children = append(n.Children, node(sub.Name, full+"."+sub.Name))
			}
		}
		out = append(out, n)
	}
	return out
}

// Failure returns the first failed or errored node, depth first, with the
// path of names to it ("train/paddlejob").
func Failure(nodes []Node) (path string, n Node, ok bool) {
	for _, x := range nodes {
		for _, c := range x.Children {
			if c.Phase == string(wfv1.NodeFailed) || c.Phase == string(wfv1.NodeError) {
				return x.Name + "/" + c.Name, c, true
			}
		}
		if x.Phase == string(wfv1.NodeFailed) || x.Phase == string(wfv1.NodeError) {
			return x.Name, x, true
		}
	}
	return "", Node{}, false
}

// Progress counts the leaf steps that succeeded (or were skipped) and all
// leaf steps, as "n/m".
func Progress(nodes []Node) (done, total int) {
	for _, x := range nodes {
		leaves := x.Children
		if len(leaves) == 0 {
			leaves = []Node{x}
		}
		for _, l := range leaves {
			total++
			if l.Phase == string(wfv1.NodeSucceeded) || l.Phase == string(wfv1.NodeSkipped) {
				done++
			}
		}
	}
	return done, total
}
