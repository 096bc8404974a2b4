package validate

import (
	"strings"
	"testing"

	"github.com/paddleflow/paddlex/pkg/exit"
)

func TestEnvVarName(t *testing.T) {
	for _, name := range []string{"MODEL_DIR", "_x", "my.env-name", "a1"} {
		if err := EnvVarName("--env", name); err != nil {
			t.Errorf("EnvVarName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", "1X", "A=B", "A B", "..", "é"} {
		err := EnvVarName("--env", name)
		if err == nil {
			t.Errorf("EnvVarName(%q) = nil, want an error", name)
			continue
		}
		if exit.Code(err) != exit.Usage {
			t.Errorf("EnvVarName(%q): exit code %d, want %d", name, exit.Code(err), exit.Usage)
		}
		if want := "--env " + `"` + name + `"` + " is not a valid environment variable name"; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("EnvVarName(%q) = %q, want it to start with %q", name, err, want)
		}
	}
}
