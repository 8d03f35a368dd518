package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCleanConnections(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      []string
		want    []string
		wantErr string
	}{
		{[]string{" a ", "b"}, []string{"a", "b"}, ""},
		{nil, nil, "no connections"},
		{[]string{"a", " "}, nil, "connection 2 of 2 is empty"},
		{[]string{"a", "b", " a"}, nil, `"a" is listed twice`},
	}
	for _, tt := range tests {
		got, err := CleanConnections(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: err %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%v: got %v %v", tt.in, got, err)
		}
	}
}

// TestConfigFileErrors: a bad config file is a usage error that names the
// key, the file and the line in the user's words, never a Go type.
func TestConfigFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, body string
		want       []string
	}{
		{"typo", "job: j\nstratgy: capacity\n", []string{"line 2: unknown key `stratgy`; did you mean `strategy`?"}},
		{"nested typo", "retry:\n  atempts: 2\n", []string{"unknown key `retry.atempts`; did you mean `retry.attempts`?"}},
		{"per-job typo", "jobs:\n  etl:\n    conections: [a]\n", []string{"unknown key `jobs.etl.conections`; did you mean `jobs.etl.connections`?"}},
		{"no near key", "colour: blue\n", []string{"unknown key `colour`"}},
		{"connections as a string", "connections: a,b\n", []string{"`connections` must be a list", "connections: [a, b]"}},
		{"not a number", "need_ips: many\n", []string{"line 1: `need_ips`: \"many\" is not a whole number"}},
		{"not a bool", "health: {enabled: maybe}\n", []string{"`health.enabled`: \"maybe\" is not true or false"}},
		{"mapping expected", "retry: 3\n", []string{"`retry` must hold keys"}},
		{"not YAML", "job: [unclosed\n", []string{"is not valid YAML"}},
		{"a list at the top", "- a\n", []string{"want keys such as `job:`"}},
		{"a key twice", "job: a\nstrategy: capacity\njob: b\n", []string{"line 3: `job` is given twice (first on line 1): keep one"}},
		{"two documents", "job: a\n---\njob: b\n", []string{"more than one YAML document"}},
		{"a list item of the wrong kind", "prefer_az: [[us-east-1a]]\n", []string{"line 1: `prefer_az[0]` must be a single value, not a list"}},
		{"per-job value of the wrong kind", "jobs:\n  etl:\n    need_ips: lots\n", []string{"line 3: `jobs.etl.need_ips`: \"lots\" is not a whole number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
			if err := os.WriteFile(p, []byte(tt.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadFile(p)
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("want a usage error, got %T %v", err, err)
			}
			msg := err.Error()
			for _, w := range append(tt.want, p) {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
			for _, bad := range []string{"main.", "config.File", "unmarshal", "[]string"} {
				if strings.Contains(msg, bad) {
					t.Errorf("message shows Go internals (%q):\n%s", bad, msg)
				}
			}
		})
	}
}

func TestParseKeep(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"30d", 30 * 24 * time.Hour, false}, {"720h", 720 * time.Hour, false}, {"0", 0, false}, {" 7d ", 7 * 24 * time.Hour, false},
		{"soon", 0, true}, {"-3d", 0, true}, {"1.5d", 0, true}, {"-1h", 0, true},
	} {
		got, err := ParseKeep("keep_runs", tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseKeep(%q) = %s, %v", tt.in, got, err)
		}
		var ue *UsageError
		if tt.wantErr && !errors.As(err, &ue) {
			t.Errorf("ParseKeep(%q): %T is not a usage error", tt.in, err)
		}
	}
}
