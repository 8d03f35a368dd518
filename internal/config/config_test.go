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

// TestBaseAndApplyJob: defaults < file < environment, then a job's own
// block where neither a flag nor the environment set the same thing.
func TestBaseAndApplyJob(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "gluenet.yaml")
	if err := os.WriteFile(cfg, []byte(`region: eu-west-1
job: etl
connections: [a, b]
strategy: random
need_ips: 4
jobs:
  etl: {connections: [x, y], strategy: spread, need_ips: 9, prefer_az: [eu-west-1a]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		env      map[string]string
		flags    []string // flags the caller says were given
		conns    []string
		strategy string
		need     int
		from     string
	}{
		{"defaults", "", nil, nil, nil, DefaultStrategy, 0, ""},
		{"the job's block beats the file's top level", cfg, nil, nil, []string{"x", "y"}, "spread", 9, "region: in " + cfg},
		{"the environment beats the job's block", cfg, map[string]string{"GLUENET_CONNECTIONS": "e1,e2", "GLUENET_STRATEGY": "capacity"}, nil, []string{"e1", "e2"}, "capacity", 9, "region: in " + cfg},
		{"a flag beats the job's block", cfg, nil, []string{"need-ips", "strategy"}, []string{"x", "y"}, "random", 4, "region: in " + cfg},
		{"another job: no block", cfg, map[string]string{"GLUENET_JOB": "other"}, nil, []string{"a", "b"}, "random", 4, "region: in " + cfg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			getenv := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			s, jobs, err := Base(tt.path, getenv)
			if err != nil {
				t.Fatal(err)
			}
			s.ApplyJob(jobs, func(name string) bool { return slices.Contains(tt.flags, name) }, getenv)
			if !slices.Equal(s.Connections, tt.conns) || s.Strategy != tt.strategy || s.NeedIPs != tt.need || s.RegionFrom != tt.from {
				t.Fatalf("got conns %v strategy %q need %d region from %q", s.Connections, s.Strategy, s.NeedIPs, s.RegionFrom)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := func() Settings { s := Defaults(); s.Job, s.Connections = " etl ", []string{" a", "b "}; return s }
	tests := []struct {
		name    string
		change  func(*Settings)
		needJob bool
		wantErr string
	}{
		{"valid, trimmed", func(*Settings) {}, true, ""},
		{"no job", func(s *Settings) { s.Job = " " }, true, "no job: give --job"},
		{"no job needed", func(s *Settings) { s.Job = "" }, false, ""},
		{"strategy abbreviated", func(s *Settings) { s.Strategy = "cap" }, true, "did you mean capacity?"},
		{"prefer-az without zones", func(s *Settings) { s.Strategy = "prefer-az" }, true, "prefer"},
		{"negative lock TTL", func(s *Settings) { s.LockTTL = -time.Second }, true, "lock TTL must not be negative"},
		{"call timeout zero", func(s *Settings) { s.CallTimeout = 0 }, true, "call timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := ok()
			tt.change(&s)
			err := s.Validate(tt.needJob)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tt.needJob && (s.Job != "etl" || !slices.Equal(s.Connections, []string{"a", "b"})) {
					t.Fatalf("not trimmed: %q %q", s.Job, s.Connections)
				}
				return
			}
			var ue *UsageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %T %v, want a usage error with %q", err, err, tt.wantErr)
			}
		})
	}
}
