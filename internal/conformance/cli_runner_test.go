package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// cliRunner runs `aws <args>` and returns its stdout, stderr and exit code.
type cliRunner interface {
	run(args []string) (stdout []byte, stderr string, rc int, err error)
	mode() string
}

// execRunner starts the CLI once per command.
type execRunner struct {
	bin string
	env []string
}

func (r execRunner) mode() string { return "one process per command" }

func (r execRunner) run(args []string) ([]byte, string, int, error) {
	stdout, stderr, err := runTool(r.env, r.bin, args...)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout, stderr, 0, nil
	case errors.As(err, &exit):
		return stdout, stderr, exit.ExitCode(), nil
	default:
		return nil, "", 0, fmt.Errorf("run %s: %w", r.bin, err)
	}
}

// driverRunner runs every command in one interpreter of the CLI's own
// Python through testdata/awscli_driver.py, which calls the same function
// as the `aws` entry script.
type driverRunner struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	resp   *bufio.Reader
	cancel context.CancelFunc
}

func (r *driverRunner) mode() string { return "one interpreter, awscli.clidriver.main per command" }

func (r *driverRunner) run(args []string) ([]byte, string, int, error) {
	req, err := json.Marshal(map[string][]string{"args": args})
	if err != nil {
		return nil, "", 0, fmt.Errorf("encode CLI request: %w", err)
	}
	if _, err := r.stdin.Write(append(req, '\n')); err != nil {
		return nil, "", 0, fmt.Errorf("send CLI request: %w", err)
	}
	line, err := r.resp.ReadBytes('\n')
	if err != nil {
		return nil, "", 0, fmt.Errorf("read CLI driver response (did the driver die? see its stderr): %w", err)
	}
	var resp struct {
		RC     int    `json:"rc"`
		Stdout string `json:"stdout"`
		Stderr string `json:"stderr"`
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, "", 0, fmt.Errorf("decode CLI driver response %q: %w", line, err)
	}
	return []byte(resp.Stdout), resp.Stderr, resp.RC, nil
}

// pythonOf returns the interpreter of a Python script from its #! line, or
// "" when bin is not a Python script (the PyInstaller build of CLI v2).
func pythonOf(bin string) string {
	f, err := os.Open(bin)
	if err != nil {
		return ""
	}
	defer f.Close()
	first, _ := bufio.NewReader(io.LimitReader(f, 512)).ReadString('\n')
	interp, ok := strings.CutPrefix(strings.TrimSpace(first), "#!")
	if !ok {
		return ""
	}
	fields := strings.Fields(interp)
	if len(fields) == 0 {
		return ""
	}
	// "#!/usr/bin/env python3" names the interpreter second.
	if strings.HasSuffix(fields[0], "/env") && len(fields) > 1 {
		p, err := exec.LookPath(fields[1])
		if err != nil {
			return ""
		}
		return p
	}
	if !strings.Contains(fields[0], "python") {
		return ""
	}
	return fields[0]
}

// newCLIRunner returns a driver runner for a Python-packaged CLI whose
// interpreter imports awscli, and an exec runner otherwise.
func newCLIRunner(t *testing.T, bin string, env []string) cliRunner {
	t.Helper()
	exe := execRunner{bin: bin, env: env}
	py := pythonOf(bin)
	if py == "" {
		return exe
	}
	script, err := absTestdata("awscli_driver.py")
	if err != nil {
		t.Fatal(err)
	}
	// A guard against a hung driver, not a performance assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, py, script)
	cmd.Env = env
	cmd.Dir = os.TempDir()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatalf("CLI driver stdin: %v", err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		cancel()
		t.Fatalf("CLI driver pipe: %v", err)
	}
	cmd.ExtraFiles = []*os.File{pw} // descriptor 3 in the driver
	if err := cmd.Start(); err != nil {
		cancel()
		pr.Close()
		pw.Close()
		t.Logf("cannot start the CLI driver with %s (%v); starting the CLI once per command", py, err)
		return exe
	}
	pw.Close() // the driver holds the write end now; EOF when it exits
	r := &driverRunner{cmd: cmd, stdin: stdin, resp: bufio.NewReaderSize(pr, 1<<20), cancel: cancel}
	stop := func() error {
		stdin.Close()
		err := cmd.Wait()
		cancel()
		pr.Close()
		return err
	}
	// The interpreter of the script may lack the awscli package it runs
	// (a broken install): then run the CLI itself.
	if out, _, rc, err := r.run([]string{"--version"}); err != nil || rc != 0 || !cliVersionRE.Match(out) {
		werr := stop()
		t.Logf("the CLI driver on %s does not work (%v, rc %d, %v: %s); starting the CLI once per command", py, err, rc, werr, stderr.String())
		return exe
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("CLI driver: %v\n%s", err, stderr.String())
		}
	})
	return r
}
