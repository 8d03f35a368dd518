package main

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/store"
	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// flagsFor builds the run command's flag set, parsed from args.
func flagsFor(t *testing.T, args ...string) *cobra.Command {
	t.Helper()
	a := &app{}
	cmd := a.runCommand()
	cmd.Flags().String("config", "", "")
	if err := cmd.Flags().Parse(args); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestResolvePrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gluenet.yaml")
	os.WriteFile(cfg, []byte(`job: from-file
connections: [f1, f2]
strategy: random
retry: {attempts: 5, delay: 1m}
poll_interval: 3s
arguments: {--day: "2026-11-27"}
jobs:
  per-job:
    connections: [p1, p2]
    strategy: weighted
`), 0o600)
	envOf := func(m map[string]string) env {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		job      string
		conns    []string
		strategy string
		attempts int
	}{
		{"file only", []string{"--config", cfg}, nil, "from-file", []string{"f1", "f2"}, "random", 5},
		{"env beats file", []string{"--config", cfg}, map[string]string{"GLUENET_JOB": "from-env", "GLUENET_CONNECTIONS": "e1,e2", "GLUENET_STRATEGY": "ordered", "GLUENET_ATTEMPTS": "2"},
			"from-env", []string{"e1", "e2"}, "ordered", 2},
		{"flags beat env", []string{"--config", cfg, "--job", "from-flag", "--connections", "x,y", "--strategy", "capacity", "--attempts", "4"},
			map[string]string{"GLUENET_JOB": "from-env", "GLUENET_STRATEGY": "ordered"}, "from-flag", []string{"x", "y"}, "capacity", 4},
		{"config from env", nil, map[string]string{"GLUENET_CONFIG": cfg}, "from-file", []string{"f1", "f2"}, "random", 5},
		{"per-job settings", []string{"--config", cfg, "--job", "per-job"}, nil, "per-job", []string{"p1", "p2"}, "weighted", 5},
		{"per-job settings yield to flags", []string{"--config", cfg, "--job", "per-job", "--strategy", "spread"}, nil, "per-job", []string{"p1", "p2"}, "spread", 5},
		{"defaults", []string{"--job", "j", "--connections", "a"}, nil, "j", []string{"a"}, "weighted", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := flagsFor(t, tt.args...)
			s, err := resolve(cmd.Flags(), envOf(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(true); err != nil {
				t.Fatal(err)
			}
			if s.Job != tt.job || !slices.Equal(s.Connections, tt.conns) || s.Strategy != tt.strategy || s.Retry.MaxAttempts != tt.attempts {
				t.Fatalf("got job %q conns %v strategy %q attempts %d", s.Job, s.Connections, s.Strategy, s.Retry.MaxAttempts)
			}
		})
	}
	cmd := flagsFor(t, "--config", cfg, "--arg", "--mode=full")
	s, _ := resolve(cmd.Flags(), envOf(nil))
	if s.Retry.InitialDelay != time.Minute || s.PollInterval != 3*time.Second || s.Arguments["--day"] != "2026-11-27" || s.Arguments["--mode"] != "full" {
		t.Fatalf("file values not applied: %+v", s)
	}
}

// TestIAMPolicyGolden checks the printed policy against testdata/; run
// with -update to rewrite it.
func TestIAMPolicyGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"iam-policy-default", []string{"iam-policy", "--job", "AirflowBlogJob", "--connections", "MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2"}},
		{"iam-policy-full", []string{"iam-policy", "--job", "AirflowBlogJob", "--connections", "MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2",
			"--account", "123456789012", "--region", "us-east-1", "--logs", "--role-arn", "arn:aws:iam::123456789012:role/service-role/AWSGlueServiceRole-Blog"}},
		{"iam-policy-table", []string{"iam-policy", "--job", "AirflowBlogJob", "--connections", "MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2",
			"--account", "123456789012", "--region", "us-east-1", "--logs", "--output", "table"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out, errb strings.Builder
			// AWS_REGION is this shell's, not the runner's: only --region
			// fills the policy's region in.
			getenv := func(k string) (string, bool) {
				if k == "AWS_REGION" {
					return "eu-west-3", true
				}
				return "", false
			}
			code := execute(t.Context(), tt.args, &out, &errb, getenv)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			if strings.Contains(out.String(), "eu-west-3") {
				t.Errorf("the policy took its region from AWS_REGION:\n%s", out.String())
			}
			ext := ".json"
			if strings.HasSuffix(tt.name, "-table") {
				ext = ".txt"
			}
			golden := filepath.Join("testdata", tt.name+ext)
			if *update {
				os.MkdirAll("testdata", 0o755)
				os.WriteFile(golden, []byte(out.String()), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if out.String() != string(want) {
				t.Fatalf("output differs from %s (run with -update if intended):\n%s", golden, out.String())
			}
		})
	}
	var out, errb strings.Builder
	if code := execute(t.Context(), []string{"iam-policy", "--job", "j", "--connections", "a", "--account", "12"}, &out, &errb, func(string) (string, bool) { return "", false }); code != exitUsage {
		t.Fatalf("bad account: exit %d", code)
	}
}

// FuzzConfigFile: any config file gives settings or a usage error, never a
// panic.
func FuzzConfigFile(f *testing.F) {
	for _, seed := range []string{
		"job: j\nconnections: [a, b]\nstrategy: capacity\n",
		"retry: {attempts: 2, delay: 1s, max_delay: 1m, multiplier: 3, jitter: 0.5}\n",
		"health: {consecutive_failures: 2, base_ejection: 1m}\nstate: {path: /tmp/x}\n",
		"jobs: {j: {connections: [x], strategy: weighted, prefer_az: [us-east-1a]}}\n",
		"arguments: {--day: '2026'}\npoll_interval: 5s\nlock_ttl: 10s\n",
		"job: [", "conections: []", "retry: {delay: soon}", "arguments: [1, 2]",
	} {
		f.Add(seed)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := flagsFor(t, "--config", p)
		s, err := resolve(cmd.Flags(), func(string) (string, bool) { return "", false })
		if err != nil {
			if _, ok := err.(*usageError); !ok {
				t.Fatalf("not a usage error: %T %v", err, err)
			}
			return
		}
		_ = s.Validate(false)
	})
}

func TestResolveCallTimeoutAndRetention(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "gluenet.yaml")
	os.WriteFile(cfg, []byte(`call_timeout: 20s
state: {keep_runs: 7d, keep_health_events: "0", prune_every: 10m}
`), 0o600)
	day := 24 * time.Hour
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		timeout time.Duration
		keep    store.Retention
	}{
		{"defaults", nil, nil, awsclient.DefaultCallTimeout, store.DefaultRetention()},
		{"file", []string{"--config", cfg}, nil, 20 * time.Second, store.Retention{Runs: 7 * day, Every: 10 * time.Minute}},
		{"env beats file", []string{"--config", cfg}, map[string]string{"GLUENET_CALL_TIMEOUT": "5s", "GLUENET_KEEP_RUNS": "48h", "GLUENET_KEEP_HEALTH_EVENTS": "3d"},
			5 * time.Second, store.Retention{Runs: 48 * time.Hour, HealthEvents: 3 * day, Every: 10 * time.Minute}},
		{"flag beats env", []string{"--config", cfg, "--call-timeout", "2s"}, map[string]string{"GLUENET_CALL_TIMEOUT": "5s"},
			2 * time.Second, store.Retention{Runs: 7 * day, Every: 10 * time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := &app{}
			cmd := a.runCommand()
			cmd.Flags().String("config", "", "")
			cmd.Flags().String("call-timeout", "", "")
			if err := cmd.Flags().Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			s, err := resolve(cmd.Flags(), func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			if s.CallTimeout != tt.timeout || s.Retention != tt.keep {
				t.Fatalf("call timeout %s, retention %+v; want %s, %+v", s.CallTimeout, s.Retention, tt.timeout, tt.keep)
			}
		})
	}
}

func TestResolveStateTimeout(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "gluenet.yaml")
	os.WriteFile(cfg, []byte("state: {timeout: 45s}\n"), 0o600)
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    time.Duration
		wantErr bool
	}{
		{"default", nil, nil, store.DefaultTimeout, false},
		{"file", []string{"--config", cfg}, nil, 45 * time.Second, false},
		{"env beats file", []string{"--config", cfg}, map[string]string{"GLUENET_STATE_TIMEOUT": "2m"}, 2 * time.Minute, false},
		{"not a duration", nil, map[string]string{"GLUENET_STATE_TIMEOUT": "soon"}, 0, true},
		{"not positive", nil, map[string]string{"GLUENET_STATE_TIMEOUT": "0s"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := &app{}
			cmd := a.runCommand()
			cmd.Flags().String("config", "", "")
			if err := cmd.Flags().Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			s, err := resolve(cmd.Flags(), func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.wantErr {
				if exitCode(err) != exitUsage {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil || s.StateTimeout != tt.want {
				t.Fatalf("state timeout %s, %v; want %s", s.StateTimeout, err, tt.want)
			}
		})
	}
}

func TestLockTimeoutFlag(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args    []string
		want    time.Duration
		wantErr bool
	}{
		{nil, 0, false},
		{[]string{"--lock-timeout", "2m"}, 2 * time.Minute, false},
		{[]string{"--lock-timeout", "0"}, 0, true},
		{[]string{"--lock-timeout", "-1s"}, 0, true},
		{[]string{"--lock-timeout", "soon"}, 0, true},
	} {
		s, err := resolve(flagsFor(t, tt.args...).Flags(), func(string) (string, bool) { return "", false })
		if tt.wantErr {
			if exitCode(err) != exitUsage || !strings.Contains(err.Error(), "--lock-timeout") {
				t.Errorf("%v: err %v, want a usage error naming --lock-timeout", tt.args, err)
			}
			continue
		}
		if err != nil || s.LockTimeout != tt.want {
			t.Errorf("%v: lock timeout %s, %v; want %s", tt.args, s.LockTimeout, err, tt.want)
		}
	}
}
