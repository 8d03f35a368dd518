package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeSection returns the shell blocks of the README section with the
// given heading, in order.
func readmeSection(t *testing.T, heading string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no section %q", heading)
	}
	text = text[i+len(heading)+2:]
	if j := strings.Index(text, "\n## "); j >= 0 {
		text = text[:j]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(text, -1) {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// awsCLIs lists every `aws` executable on PATH (like `which -a aws`) and
// Debian's /usr/bin/aws, without duplicates.
func awsCLIs() []string {
	var out []string
	seen := map[string]bool{}
	for _, dir := range append(filepath.SplitList(os.Getenv("PATH")), "/usr/bin") {
		p := filepath.Join(dir, "aws")
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			continue
		}
		real, err := filepath.EvalSymlinks(p)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		out = append(out, p)
	}
	return out
}

// cleanEnv is the environment without any AWS or gluenet setting, with a
// fresh HOME so that no ~/.aws config or state file of the machine is read.
func cleanEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "GLUENET_") || k == "HOME" || k == "XDG_STATE_HOME" || k == "PATH" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=")
}

// TestReadmeSimSnippet runs the README's "Try it on the simulated region"
// commands as written against a real `gluenet sim serve` process, once with
// every AWS CLI on the machine (CLI v1 from pip, Debian's CLI v2 2.9), and
// checks that the export lines in the README are the ones sim serve prints.
func TestReadmeSimSnippet(t *testing.T) {
	blocks := readmeSection(t, "## Try it on the simulated region")
	if len(blocks) < 2 || !strings.Contains(blocks[0], "gluenet sim serve") {
		t.Fatalf("the section should start with a block that runs `gluenet sim serve`, then the commands; got %q", blocks)
	}
	snippet := strings.Join(blocks[1:], "\n")
	const readmeEndpoint = "http://127.0.0.1:4566"
	if !strings.HasPrefix(snippet, "export AWS_ENDPOINT_URL="+readmeEndpoint) {
		t.Fatalf("the commands should start with the export line for %s:\n%s", readmeEndpoint, snippet)
	}
	clis := awsCLIs()
	if len(clis) == 0 {
		missingTool(t, "the AWS CLI", "pip install awscli, or apt-get install awscli")
	}
	if out, err := exec.Command("python3", "-c", "import boto3").CombinedOutput(); err != nil {
		missingTool(t, "python3 with boto3", "pip install boto3: "+strings.TrimSpace(string(out)))
	}

	bin := failpointBinary(t) // a plain gluenet unless GLUENET_FAILPOINT is set
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	serve := exec.CommandContext(ctx, bin, "sim", "serve", "--addr", "127.0.0.1:0", "--log-format", "json")
	serve.Env = append(cleanEnv(home), "PATH="+os.Getenv("PATH"))
	serve.Stderr = io.Discard
	stdout, err := serve.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		serve.Process.Signal(os.Interrupt)
		serve.Wait()
	})
	// sim serve prints a line, a blank line, then the two export lines.
	sc := bufio.NewScanner(stdout)
	var printed []string
	for len(printed) < 4 && sc.Scan() {
		printed = append(printed, sc.Text())
	}
	if len(printed) < 4 {
		t.Fatalf("sim serve printed %q before ending: %v", printed, sc.Err())
	}
	go io.Copy(io.Discard, stdout)
	endpoint := regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(printed[2])
	if endpoint == "" {
		t.Fatalf("sim serve printed no loopback endpoint in its export line: %q", printed)
	}
	exports := strings.Join(printed[2:4], "\n")
	readmeExports := strings.Join(strings.SplitN(snippet, "\n", 3)[:2], "\n")
	if want := strings.ReplaceAll(readmeExports, readmeEndpoint, endpoint); exports != want {
		t.Errorf("sim serve prints\n%s\nbut the README shows\n%s", exports, readmeExports)
	}

	script := strings.ReplaceAll(snippet, readmeEndpoint, endpoint)
	for _, cli := range clis {
		t.Run(cli, func(t *testing.T) {
			version, _ := exec.Command(cli, "--version").CombinedOutput()
			t.Logf("%s: %s", cli, strings.TrimSpace(string(version)))
			// Only this aws goes first on PATH: putting its whole directory
			// first (/usr/bin) would change python3 too.
			only := t.TempDir()
			if err := os.Symlink(cli, filepath.Join(only, "aws")); err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
			path := filepath.Dir(bin) + string(os.PathListSeparator) + only + string(os.PathListSeparator) + os.Getenv("PATH")
			cmd.Env = append(cleanEnv(home), "PATH="+path)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the README's commands failed with %s: %v\n%s", cli, err, out)
			}
			for _, want := range []string{"AirflowBlogJob", "subnet-0a1b2c3d4e5f60011", "us-east-1b", "Result: succeeded"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// missingTool skips the test, or fails it when CI=true, where every tool
// the tests need is installed.
func missingTool(t *testing.T, what, install string) {
	t.Helper()
	msg := what + " is not available; install it (" + install + ") to run this test"
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true and " + msg)
	}
	t.Skip("skipping: " + msg)
}
