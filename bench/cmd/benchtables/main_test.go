package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"one section", []string{"-sections", "throttle", "-n", "2, 10"}, ""},
		{"unknown section", []string{"-sections", "latency,cpu"}, `unknown section "cpu"`},
		{"n too large", []string{"-n", "2,201"}, `"201" is not a connection count`},
		{"n not a number", []string{"-n", "ten"}, `"ten" is not a connection count`},
		{"no repetitions", []string{"-reps", "0"}, "at least 1"},
		{"rate above 1", []string{"-throttle-rate", "1.5"}, "between 0 and 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseFlags(tt.args)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("parseFlags(%q) = %v", tt.args, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("parseFlags(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
		})
	}
}

// TestRun prints every table from a tiny, latency-free measurement.
func TestRun(t *testing.T) {
	t.Parallel()
	f, err := parseFlags([]string{"-n", "2", "-latency", "0s", "-reps", "2", "-throttle-n", "2",
		"-throttle-rate", "0", "-throttle-reps", "2", "-throttle-ref-reps", "1"})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(context.Background(), f, &out, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"### Decision latency and API calls",
		"| 2 | baseline | 2 |",
		"| 2 | gluenet-cold | 2 |",
		"### Baseline / gluenet",
		"### Throttling: 0% of calls throttled, N = 2",
		"| gluenet-warm | standard | 5 | shared by the series | 2 | 2 (100%) |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
