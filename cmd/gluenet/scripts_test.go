package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildWheelsChecksPython: scripts/build-wheels.sh with a Python that
// cannot build wheels stops at once (before a Go build of a minute or two)
// with exit 2, naming what is missing and how to install it.
func TestBuildWheelsChecksPython(t *testing.T) {
	t.Parallel()
	venv := filepath.Join(t.TempDir(), "venv")
	if out, err := exec.Command("python3", "-m", "venv", "--without-pip", venv).CombinedOutput(); err != nil {
		missingTool(t, "python3 with venv", "apt-get install python3-venv: "+strings.TrimSpace(string(out)))
	}
	cmd := exec.Command("bash", filepath.Join("..", "..", "scripts", "build-wheels.sh"), "--host-only", "--out", t.TempDir())
	cmd.Env = append(cleanEnv(t.TempDir()), "PATH=/usr/bin:/bin", "GLUENET_WHEEL_PYTHON="+filepath.Join(venv, "bin", "python"))
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2:\n%s", err, out)
	}
	for _, want := range []string{"missing pip setuptools wheel", "pip install setuptools wheel", "Nothing was built"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "built in") {
		t.Errorf("it built gluenet before checking Python:\n%s", out)
	}
}
