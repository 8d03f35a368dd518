package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestRefusedRunIsNotRecorded: a misspelt job exits 2 with gluenet's own
// sentence first, and leaves no run behind (runs list, the fleet view and
// its metrics read the same journal), with --detach too.
func TestRefusedRunIsNotRecorded(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	ctx := context.Background()
	for _, detach := range []bool{false, true} {
		args := append([]string{"run", "--job", "AirflowBlogJb", "--connections", conn1 + "," + conn2}, fast...)
		if detach {
			args = append(args, "--detach")
		}
		code, _, stderr := e.gluenet(ctx, args...)
		if code != exitUsage {
			t.Errorf("detach=%v: exit %d, want %d\n%s", detach, code, exitUsage, stderr)
		}
		if want := `gluenet: no such job "AirflowBlogJb" in `; !strings.Contains(stderr, want) {
			t.Errorf("detach=%v: stderr does not lead with gluenet's sentence %q:\n%s", detach, want, stderr)
		}
		if strings.Index(stderr, "operation error") < strings.Index(stderr, "no such job") {
			t.Errorf("detach=%v: the SDK's words come before gluenet's:\n%s", detach, stderr)
		}
	}
	code, out, stderr := e.gluenet(ctx, "runs", "list", "--output", "json")
	if code != 0 || strings.Contains(out, "AirflowBlogJb") {
		t.Errorf("runs list after refused runs: exit %d\n%s\n%s", code, out, stderr)
	}
	// A good run still records its key.
	if code, _, stderr := e.gluenet(ctx, append([]string{"run", "--job", job, "--connections", conn1 + "," + conn2, "--run-key", "good"}, fast...)...); code != 0 {
		t.Fatalf("good run: exit %d\n%s", code, stderr)
	}
	if code, out, _ := e.gluenet(ctx, "runs", "list", "--output", "json"); code != 0 || !strings.Contains(out, `"good"`) {
		t.Errorf("runs list lacks the good run: %s", out)
	}
}

// TestNoRegion: no region anywhere is a configuration error (2) that says
// where a region can come from, not an AWS error (4).
func TestNoRegion(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	for _, args := range [][]string{
		{"plan", "--job", job, "--connections", conn1},
		{"run", "--job", job, "--connections", conn1},
	} {
		code, _, stderr := e.gluenet(context.Background(), args...)
		if code != exitUsage || !strings.Contains(stderr, "no AWS region: give --region") {
			t.Errorf("%v: exit %d, want %d with a hint\n%s", args, code, exitUsage, stderr)
		}
	}
}

// TestStartOverridesRefused: --workers and --timeout below their minimum
// exit 2 with gluenet.StartInput.Validate's sentence, before any AWS call.
func TestStartOverridesRefused(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	tests := []struct {
		flags []string
		want  string
	}{
		{[]string{"--workers", "0"}, "--workers must be at least 1, got 0"},
		{[]string{"--timeout", "-1"}, "--timeout must be at least 1 minute, got -1"},
		{[]string{"--workers", "0", "--timeout", "0"}, "--workers must be at least 1, got 0"},
		// Too large for Glue's 32-bit fields: refused, not wrapped to 0.
		{[]string{"--workers", "4294967296"}, "--workers 4294967296 is more than Glue accepts"},
		{[]string{"--timeout", "4294967297"}, "--timeout 4294967297 is more than Glue accepts"},
	}
	for _, tt := range tests {
		args := append([]string{"run", "--job", "j", "--connections", "c1", "--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:1", "--state", filepath.Join(t.TempDir(), "s.db")}, tt.flags...)
		var out, errb bytes.Buffer
		code := execute(t.Context(), args, &out, &errb, func(string) (string, bool) { return "", false })
		if code != exitUsage || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s", tt.flags, code, exitUsage, tt.want, errb.String())
		}
	}
}
