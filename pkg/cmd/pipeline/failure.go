package pipeline

import (
	"context"
	"fmt"
	"io"
	"strings"

	wfv1 "github.com/argoproj/argo-workflows/v3/pkg/apis/workflow/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/paddleflow/paddlex/pkg/cmdutil"
	"github.com/paddleflow/paddlex/pkg/pipeline"
	"github.com/paddleflow/paddlex/pkg/podlogs"
)

// failureLines is how much of the failed container's log a failed run shows.
const failureLines = 20

// failedStepLog returns the end of the log of the container that failed
// the run's failing step, under a line naming its pod and container: the
// pods of the objects the step created first (a training Job's, say, for a
// resource step), then the step's own Argo pod. "" when there is none to
// read: the step failed without a container failing, or its pods are gone.
func failedStepLog(ctx context.Context, cs kubernetes.Interface, wf *wfv1.Workflow) string {
	if cs == nil {
		return ""
	}
	path, _, ok := pipeline.Failure(pipeline.Tree(wf))
	if !ok {
		return ""
	}
	top := strings.SplitN(path, "/", 2)[0]
	var pods []corev1.Pod
	for _, sel := range stepSelectors(wf, top) {
		if list, err := podlogs.List(ctx, cs, wf.Namespace, sel); err == nil {
			pods = append(pods, list...)
		}
	}
	if list, err := podlogs.List(ctx, cs, wf.Namespace, argoWorkflowLabel+"="+wf.Name); err == nil {
		node := wf.Name + "." + strings.ReplaceAll(path, "/", ".")
		for _, p := range list {
			if p.Annotations[argoNodeAnnotation] == node {
				pods = append(pods, p)
			}
		}
	}
	f, ok := podlogs.FirstFailure(pods)
	if !ok || f.Container == "" {
		return ""
	}
	tail := int64(failureLines)
	b, err := cs.CoreV1().Pods(f.Pod.Namespace).GetLogs(f.Pod.Name, &corev1.PodLogOptions{Container: f.Container, TailLines: &tail}).DoRaw(ctx)
	if err != nil {
		return ""
	}
	out := strings.Trim(string(b), "\n")
	if out == "" {
		return ""
	}
	var s strings.Builder
	fmt.Fprintf(&s, "the last lines of pod %s (container %s, %s):\n", f.Pod.Name, f.Container, f)
	for _, l := range strings.Split(out, "\n") {
		// Argo's executor logs into the main container's log too, its
		// lines marked argo=true: they are not the step's.
		if strings.Contains(l, " argo=true") {
			continue
		}
		s.WriteString("    " + strings.TrimRight(l, " \r\t") + "\n")
	}
	return s.String()
}

// stepLogs is embedded by the options that follow a run: the pod logs a
// failed run shows come through it.
type stepLogs struct {
	Clientset kubernetes.Interface
}

// connect takes the clientset from the Factory.
func (s *stepLogs) connect(f *cmdutil.Factory) error {
	cs, err := f.Clientset()
	s.Clientset = cs
	return err
}

// printFailedStepLog writes failedStepLog on w, if any.
func printFailedStepLog(ctx context.Context, cs kubernetes.Interface, wf *wfv1.Workflow, w io.Writer) {
	if s := failedStepLog(ctx, cs, wf); s != "" {
		io.WriteString(w, s)
	}
}
