package train

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/paddleflow/paddlex/pkg/exit"
	"github.com/paddleflow/paddlex/pkg/kube"
)

// What `train wait --for` waits for: a condition of the training, as
// kubectl wait --for=condition=NAME, or its deletion.
const (
	ForSucceeded = "Succeeded"
	ForRunning   = "Running"
	ForFailed    = "Failed"
	ForDelete    = "delete"
)

// ParseFor reads --for: condition=Succeeded (the default), condition=Running,
// condition=Failed, each optionally =True as kubectl spells it, or delete.
func ParseFor(s string) (string, error) {
	if s == "" || s == ForDelete {
		if s == "" {
			return ForSucceeded, nil
		}
		return s, nil
	}
	cond, ok := strings.CutPrefix(s, "condition=")
	if ok {
		if c, v, hasValue := strings.Cut(cond, "="); hasValue {
			if !strings.EqualFold(v, "true") {
				return "", exit.UsageErrorf("--for %s: only a condition being True can be waited for (condition=%s)", s, c)
			}
			cond = c
		}
		for _, c := range []string{ForSucceeded, ForRunning, ForFailed} {
			if strings.EqualFold(cond, c) {
				return c, nil
			}
		}
	}
	return "", exit.UsageErrorf("--for %q: use condition=Succeeded, condition=Running, condition=Failed or delete", s)
}

// WaitCondition is the condition of `train wait --for`, for either backend.
// Succeeded and Failed end the wait either way: waiting for one, the other
// exits 1, as does a training that finishes before it was Running. Progress
// lines show the worker and parameter-server counts.
func WaitCondition(target, backend string) kube.Condition {
	switch target {
	case ForDelete:
		return kube.Gone()
	case ForSucceeded:
		return Condition(backend)
	}
	return kube.NewCondition("condition "+target+"=True", func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "not found", exit.FailedErrorf("the training was deleted while waiting for %s", target)
		}
		phase := Phase(obj)
		status := "phase " + phase
		if phase == "" {
			status = "phase not set yet"
		}
		if d := Progress(obj); d != "" {
			status += " (" + d + ")"
		}
		switch {
		case target == ForFailed && Failed(obj):
			return true, status, nil
		case target == ForRunning && phase == ForRunning:
			return true, status, nil
		case Failed(obj):
			msg := FailedPods(obj)
			if c, ok := Read(obj).Finish(); ok && c.Message != "" {
				msg = c.Message
			}
			return false, status, &kube.FailedError{Ref: kube.RefOf(obj), Reason: "phase " + phase, Message: msg}
		case Succeeded(obj):
			return false, status, exit.FailedErrorf("%s finished (%s) without being %s", kube.RefOf(obj), phase, target)
		}
		return false, status, nil
	})
}

// Finished reports a training that succeeded or failed.
func Finished(obj *unstructured.Unstructured) bool { return Succeeded(obj) || Failed(obj) }
