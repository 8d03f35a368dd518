package executor

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/policy"
)

// TestSpecJSON: a spec is written snake_case with durations as strings, and
// specs recorded by earlier builds (Go's field names, nanoseconds) still
// read back the same.
func TestSpecJSON(t *testing.T) {
	want := Spec{Job: "J", Connections: []string{"a", "b"}, Strategy: "capacity", MinIPs: 2,
		Policy:       policy.Config{MaxAttempts: 3, InitialDelay: 30 * time.Second, Multiplier: 2, MaxDelay: 10 * time.Minute, Jitter: 0.2, MaxStartRetries: 5, StopOnInterrupt: true},
		Classify:     classify.Options{RetryJobFailures: true},
		PollInterval: 10 * time.Second}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"poll_interval":"10s"`, `"initial_delay":"30s"`, `"max_delay":"10m0s"`, `"max_attempts":3`, `"retry_job_failures":true`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("%s lacks %s", b, s)
		}
	}
	tests := []struct{ name, json string }{
		{"current", string(b)},
		{"recorded by an earlier build", `{"job":"J","connections":["a","b"],"strategy":"capacity","min_ips":2,
			"policy":{"MaxAttempts":3,"InitialDelay":30000000000,"Multiplier":2,"MaxDelay":600000000000,"Jitter":0.2,"MaxStartRetries":5,"StopOnInterrupt":true},
			"classify":{"RetryJobFailures":true},"poll_interval":10000000000,"start":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Spec
			if err := json.Unmarshal([]byte(tt.json), &got); err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(got)
			if string(g) != string(b) {
				t.Errorf("read back\n%s\nwant\n%s", g, b)
			}
		})
	}
}

// TestCurrentInputs: recorded inputs in the old shape come out in the new
// one; anything that is not a spec comes out untouched.
func TestCurrentInputs(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"old shape", `{"job":"J","connections":[],"strategy":"s","min_ips":2,"policy":{"MaxAttempts":1,"InitialDelay":1000000000},"classify":{},"poll_interval":2000000000,"start":{}}`,
			`"poll_interval":"2s"`},
		{"not a spec", `[1,2]`, `[1,2]`},
		{"empty", ``, ``},
	}
	for _, tt := range tests {
		if got := string(CurrentInputs(json.RawMessage(tt.in))); !strings.Contains(got, tt.want) || (tt.want == "" && got != "") {
			t.Errorf("%s: got %s, want it to contain %s", tt.name, got, tt.want)
		}
	}
}
