package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestCompletion: shell completion offers the values of flags and
// arguments, and job and connection names from the (simulated) region.
func TestCompletion(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"strategy", []string{"plan", "--strategy", ""}, []string{"weighted", "capacity", "prefer-az"}},
		{"output", []string{"run", "--output", ""}, []string{"table", "json"}},
		{"log format", []string{"plan", "--log-format", ""}, []string{"auto", "text", "json"}},
		{"sim scenario", []string{"sim", "serve", "--scenario", ""}, []string{"default", "az-degraded"}},
		{"lab scenario", []string{"lab", "--scenario", ""}, []string{"ip-pressure", "herd"}},
		{"fault verbs", []string{"sim", "fault", ""}, []string{"az", "exhaust", "throttle", "state"}},
		{"zone states", []string{"sim", "fault", "az", "us-east-1a", ""}, []string{"down", "degraded", "healthy"}},
		{"health scope", []string{"health", "--scope", ""}, []string{"subnet", "az"}},
		{"job names", []string{"plan", "--endpoint-url", e.url, "--job", ""}, []string{job}},
		{"connection names", []string{"run", "--endpoint-url", e.url, "--connections", ""}, []string{conn1, conn2}},
		{"next connection", []string{"run", "--endpoint-url", e.url, "--connections", conn1 + ","}, []string{conn1 + "," + conn2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := execute(context.Background(), append([]string{"__complete"}, tt.args...), &out, &errb, func(string) (string, bool) { return "", false })
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			lines := strings.Split(out.String(), "\n")
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || l == w || strings.HasPrefix(l, w+"\t")
				}
				if !found {
					t.Errorf("completions lack %q:\n%s", w, out.String())
				}
			}
			if tt.name == "next connection" && strings.Contains(out.String(), conn1+","+conn1) {
				t.Errorf("offers a connection already given:\n%s", out.String())
			}
		})
	}
}
