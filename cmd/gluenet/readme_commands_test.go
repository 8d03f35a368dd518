package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// readmeRunners names, for each README section with shell blocks, what runs
// them. TestReadmeCommandsAreRun fails on a block anywhere else, so that no
// command the README shows goes untried.
var readmeRunners = map[string]string{
	"## Quick start":                    ".ci/run (go test -race ./..., the demo)",
	"## Try it on the simulated region": "TestReadmeSimSnippet",
	"## Install":                        "TestReadmeInstall",
	"## Using it on AWS":                "TestReadmeAWSCommands",
}

// TestReadmeCommandsAreRun: every shell block of the README is in a section
// a test or CI runs, and the Quick start's commands are the ones .ci/run
// runs.
func TestReadmeCommandsAreRun(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := ""
	inBlock := false
	for i, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			if !inBlock && line == "```sh" {
				if _, ok := readmeRunners[section]; !ok {
					t.Errorf("README.md line %d: a shell block in section %q, which no test runs (add it to readmeRunners with the test that runs it)", i+1, section)
				}
			}
			inBlock = !inBlock
		case !inBlock && strings.HasPrefix(line, "## "):
			section = line
		}
	}
	ci, err := os.ReadFile(filepath.Join("..", "..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range readmeSection(t, "## Quick start") {
		for _, line := range strings.Split(strings.TrimSpace(cmd), "\n") {
			c, _, _ := strings.Cut(line, "#")
			c = strings.TrimSpace(c)
			if c == "go test -race ./..." {
				c = "go test -race -json ./..." // .ci/run's, with a summary
			}
			if !strings.Contains(string(ci), c) {
				t.Errorf("the Quick start's %q is not run by .ci/run", c)
			}
		}
	}
}

// TestReadmeInstall runs the README's install commands as written, in a
// scratch GOBIN and release directory: go install from the clone, gluenet
// version, then scripts/release.sh for this machine's platform only, the
// checksum check, and the release binary's version, which must be the one
// given to the script (the stamp).
func TestReadmeInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gluenet twice (about 30 s): not with -short")
	}
	blocks := readmeSection(t, "## Install")
	if len(blocks) != 2 {
		t.Fatalf("want 2 shell blocks in Install (go install, release.sh), got %d", len(blocks))
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	gobin, dist := t.TempDir(), t.TempDir()
	host := runtime.GOOS + "-" + runtime.GOARCH
	script := blocks[0] + "\n" + regexp.MustCompile(`\bdist\b`).ReplaceAllString(blocks[1], dist)
	script = strings.ReplaceAll(script, "linux-amd64", host)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "PATH="+gobin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"RELEASE_DIR="+dist, "RELEASE_TARGETS="+runtime.GOOS+"/"+runtime.GOARCH)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's install commands failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"gluenet version (devel)",                 // go install from a clone
		"gluenet-v0.1.0-" + host + ": OK",         // sha256sum --check
		"gluenet version v0.1.0\n",                // the release binary's stamp
		"gluenet-v0.1.0-" + host + " ", "bytes (", // release.sh's size line
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestReadmeAWSCommands runs the README's "Using it on AWS" commands as
// written, against the simulated region instead of AWS: plan, run (with a
// config file that only shortens the poll interval), iam-policy.
func TestReadmeAWSCommands(t *testing.T) {
	blocks := readmeSection(t, "## Using it on AWS")
	if len(blocks) < 2 {
		t.Fatalf("want the plan/run block and the iam-policy block, got %d blocks", len(blocks))
	}
	e := newSimEnv(t, nil, nil)
	bin := failpointBinary(t) // a plain gluenet unless GLUENET_FAILPOINT is set
	config := filepath.Join(t.TempDir(), "gluenet.yaml")
	if err := os.WriteFile(config, []byte("poll_interval: 50ms\nretry:\n  delay: 50ms\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", strings.Join(blocks, "\n"))
	cmd.Env = append(cleanEnv(home), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"AWS_ENDPOINT_URL="+e.url, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"GLUENET_CONFIG="+config, "GLUENET_STATE="+e.state)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's AWS commands failed against the simulated region: %v\n%s", err, out)
	}
	for _, want := range []string{
		"MWAA-Glue-Blog-Subnet2",            // plan's table
		"Result: succeeded",                 // run
		`"Sid": "ReadCandidateConnections"`, // iam-policy
		"arn:aws:glue:us-east-1:123456789012:job/AirflowBlogJob",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
