package main

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/runner"
)

// TestDemo runs the demo as a newcomer would and checks that each part
// shows what its story says: part 1 ranks two subnets that differ (no tie),
// every gluenet ranking uses the default strategy, part 3 shows the retry's
// ranking with PrivateSubnet1 ejected and last, and the JSON story is text
// without layout.
func TestDemo(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	noEnv := func(string) (string, bool) { return "", false }
	if code := execute(context.Background(), []string{"demo", "--output", "json"}, &out, &errb, noEnv); code != 0 {
		t.Fatalf("demo --output json exited %d: %s", code, errb.String())
	}
	var got struct {
		Chapters []demoChapter `json:"chapters"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("demo JSON: %v\n%s", err, out.String())
	}
	if len(got.Chapters) != 4 {
		t.Fatalf("want 4 chapters, got %d", len(got.Chapters))
	}
	for _, ch := range got.Chapters {
		t.Run(ch.Title, func(t *testing.T) {
			for _, s := range ch.Story {
				if s != strings.TrimSpace(s) || strings.Contains(s, "==") || s == "" {
					t.Errorf("story line carries display text: %q", s)
				}
			}
			if ch.Run == nil || len(ch.Run.Attempts) == 0 {
				t.Fatalf("no run")
			}
			for _, at := range ch.Run.Attempts {
				for _, p := range at.Connections {
					if !strings.Contains(p.Reason, "weighted by free IPs") {
						t.Errorf("attempt %d ranks %s without the default strategy: %q", at.Attempt, p.Connection, p.Reason)
					}
				}
			}
		})
	}

	first := got.Chapters[0].Run.Attempts[0].Connections
	if len(first) != 2 || first[0].Free == nil || first[1].Free == nil || *first[0].Free == *first[1].Free {
		t.Errorf("part 1 should rank two subnets with different free IPs, got %+v", first)
	}

	atts := got.Chapters[2].Run.Attempts
	if len(atts) < 2 {
		t.Fatalf("part 3 should retry after the zone goes bad, got %d attempt(s)", len(atts))
	}
	if atts[0].Expected != demoConn1 || atts[0].Class != "placement" {
		t.Errorf("part 3's first attempt should fail on placement in %s, got %s (%s)", demoConn1, atts[0].Expected, atts[0].Class)
	}
	retry := atts[1].Connections
	last := retry[len(retry)-1]
	if last.Connection != demoConn1 || last.EjectedUntil == nil || !strings.Contains(last.Reason, "ejected until") {
		t.Errorf("the retry should rank %s last, ejected until a time; got %+v", demoConn1, retry)
	}
	if retry[0].Group != gluenet.GroupGood || atts[1].State != "SUCCEEDED" {
		t.Errorf("the retry should succeed in a good subnet: %+v, state %s", retry[0], atts[1].State)
	}
}

// TestDemoAttemptLines: every attempt's timeline ends with how it ended,
// with Glue's message and the failure class when the polls did not see the
// end (a failed run's end reaches the callback only as the retry's wait).
func TestDemoAttemptLines(t *testing.T) {
	t.Parallel()
	polled := []string{"    MWAA-Glue-Blog-Subnet1   STARTING     0.0s", "    MWAA-Glue-Blog-Subnet1   RUNNING      0.3s"}
	tests := []struct {
		name string
		at   runner.AttemptReport
		seen []string
		want string // the last line
	}{
		{"failed, end not polled", runner.AttemptReport{Attempt: 1, Expected: demoConn1, State: "FAILED",
			ErrorMessage: "Resource unavailable: lost contact", Class: "placement"}, polled,
			"    MWAA-Glue-Blog-Subnet1   FAILED             Resource unavailable: lost contact (class placement)"},
		{"succeeded, end polled", runner.AttemptReport{Attempt: 1, Expected: demoConn1, State: "RUNNING"}, polled, polled[1]},
		{"no state", runner.AttemptReport{Attempt: 1}, polled, polled[1]},
		{"nothing polled", runner.AttemptReport{Attempt: 1, Expected: demoConn2, State: "FAILED", ErrorMessage: "x"}, nil,
			"    MWAA-Glue-Blog-Subnet2   FAILED             x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &demoEnv{progress: map[int][]string{1: slices.Clone(tt.seen)}}
			got := d.attemptLines(tt.at)
			if len(got) == 0 || got[len(got)-1] != tt.want {
				t.Errorf("got %q, want last line %q", got, tt.want)
			}
		})
	}
}
