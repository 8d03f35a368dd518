package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLabCommandBadInput(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no scenario", []string{"lab"}, "--scenario is required"},
		{"unknown scenario", []string{"lab", "--scenario", "no-such-scenario"}, "unknown lab scenario"},
		{"unknown strategy", []string{"lab", "--scenario", "herd", "--strategies", "post-capacity,teleport"}, `unknown strategy "teleport"`},
		{"zero seeds", []string{"lab", "--scenario", "herd", "--seeds", "0"}, "--seeds must be at least 1"},
		{"negative seeds", []string{"lab", "--scenario", "herd", "--seeds", "-3"}, "--seeds must be at least 1"},
		{"bad output", []string{"lab", "--scenario", "herd", "--output", "xml"}, `--output "xml"`},
		{"positional argument", []string{"lab", "herd"}, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := execute(t.Context(), tt.args, &out, &errb, noEnv)
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d (stderr %q)", code, exitUsage, errb.String())
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr %q does not say %q", errb.String(), tt.want)
			}
		})
	}
}

func TestLabCommandBadScenarioFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("name: x\nregion: default\nduration: 1h\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := execute(t.Context(), []string{"lab", "--scenario", path}, &out, &errb, func(string) (string, bool) { return "", false }); code != exitUsage {
		t.Fatalf("exit code %d, want %d (stderr %q)", code, exitUsage, errb.String())
	}
	if !strings.Contains(errb.String(), "bogus") {
		t.Errorf("stderr %q does not name the unknown key", errb.String())
	}
}

func TestLabCommandOutputs(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "r.html")
	var out, errb bytes.Buffer
	args := []string{"lab", "--scenario", "herd", "--seeds", "1", "--strategies", "post-capacity,gluenet-capacity",
		"--output", "json", "--report", report, "--log-format", "text"}
	if code := execute(t.Context(), args, &out, &errb, func(string) (string, bool) { return "", false }); code != exitOK {
		t.Fatalf("exit code %d (stderr %q)", code, errb.String())
	}
	var res struct {
		Scenario   string `json:"scenario"`
		Strategies []struct {
			Variant struct {
				Name string `json:"name"`
			} `json:"variant"`
		} `json:"strategies"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, out.String())
	}
	if res.Scenario != "herd" || len(res.Strategies) != 2 || res.Strategies[1].Variant.Name != "gluenet-capacity" {
		t.Errorf("JSON output = %+v", res)
	}
	html, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "<svg") || !strings.Contains(string(html), "gluenet-capacity") {
		t.Errorf("report has no chart or no strategy")
	}

	out.Reset()
	if code := execute(t.Context(), []string{"lab", "--scenario", "herd", "--seeds", "1", "--strategies", "ordered"}, &out, &errb, func(string) (string, bool) { return "", false }); code != exitOK {
		t.Fatalf("exit code %d (stderr %q)", code, errb.String())
	}
	if !strings.Contains(out.String(), "STRATEGY") || !strings.Contains(out.String(), "ordered") {
		t.Errorf("table output:\n%s", out.String())
	}
}
