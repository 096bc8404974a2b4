package cmd

import (
	"os"
	"testing"

	"github.com/paddleflow/paddlex/internal/hermetic"
)

// The commands under test read no one's config file or kubeconfig.
func TestMain(m *testing.M) { os.Exit(hermetic.Main(m)) }
