package main

import (
	"strings"
	"testing"
)

// TestFlagHints: a flag another tool would use, a misspelt flag, a value of
// the wrong kind and an abbreviated strategy each exit 2 with a sentence
// that names what gluenet takes instead of pflag's or strconv's words.
func TestFlagHints(t *testing.T) {
	t.Parallel()
	noEnv := func(string) (string, bool) { return "", false }
	tests := []struct {
		name string
		args []string
		want string
		not  string
	}{
		{"retries", []string{"run", "--retries", "2"}, `unknown flag --retries for "gluenet run"; gluenet calls it --attempts`, ""},
		{"retries=", []string{"run", "--retries=2"}, "gluenet calls it --attempts", ""},
		{"job-name", []string{"plan", "--job-name", "x"}, "gluenet calls it --job", ""},
		{"alias only where the flag exists", []string{"plan", "--retries", "2"}, `unknown flag --retries for "gluenet plan"`, "calls it"},
		{"typo", []string{"plan", "--stratgy", "capacity"}, "did you mean --strategy?", ""},
		{"a command as a flag", []string{"--plan"}, `"plan" is a command`, ""},
		{"attempts abc", []string{"run", "--attempts", "abc"}, `--attempts "abc": want a whole number, e.g. --attempts=3`, "strconv"},
		{"bool", []string{"plan", "--no-memory=maybe"}, `--no-memory "maybe": want true or false`, "strconv"},
		{"strategy prefix", []string{"plan", "--job", "j", "--connections", "a", "--strategy", "cap", "--region", "us-east-1"}, "did you mean capacity?", ""},
		{"strategy typo", []string{"plan", "--job", "j", "--connections", "a", "--strategy", "weigthed", "--region", "us-east-1"}, "did you mean weighted?", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errb strings.Builder
			code := execute(t.Context(), tt.args, &out, &errb, noEnv)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(errb.String(), tt.want) || (tt.not != "" && strings.Contains(errb.String(), tt.not)) {
				t.Errorf("stderr %q, want %q (and not %q)", errb.String(), tt.want, tt.not)
			}
		})
	}
}

// TestDetachUsage: --detach's help reads as a switch: cobra takes the first
// backquoted word of a usage text as the flag's value name.
func TestDetachUsage(t *testing.T) {
	t.Parallel()
	var out, errb strings.Builder
	execute(t.Context(), []string{"run", "--help"}, &out, &errb, func(string) (string, bool) { return "", false })
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "--detach" && f[1] != "rank," {
			t.Errorf("--detach shows a value: %q", line)
		}
	}
	if !strings.Contains(out.String(), "--detach ") {
		t.Errorf("run --help has no --detach:\n%s", out.String())
	}
}

// TestQuietOnTerminal: plan's table at a terminal comes without the info
// lines that repeat it; piped, as JSON, with --log-level, or for run, they
// stay.
func TestQuietOnTerminal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		command, output   string
		terminal, setting bool
		want              bool
	}{
		{"plan", "table", true, false, true},
		{"plan", "table", false, false, false},
		{"plan", "table", true, true, false},
		{"plan", "json", true, false, false},
		{"run", "table", true, false, false},
	}
	for _, tt := range tests {
		if got := quietOnTerminal(tt.command, tt.output, tt.terminal, tt.setting); got != tt.want {
			t.Errorf("quietOnTerminal(%+v) = %v, want %v", tt, got, tt.want)
		}
	}
}
