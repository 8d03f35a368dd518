package runner

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRunnerImportsNoSDK: the runner drives the executor on the wall
// clock; the AWS SDK stays in awsclient, behind the interfaces the
// executor and the runner define.
func TestRunnerImportsNoSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/aws/") || p == "github.com/gluenet/gluenet/awsclient" {
			t.Errorf("runner depends on %s", p)
		}
	}
}
