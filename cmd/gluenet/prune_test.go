package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/sqlite"
)

// pruneFixture writes a state file with runs and health events of several
// ages (relative to the real clock, which `runs prune` uses) and an
// expired reservation.
func pruneFixture(t *testing.T) string {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := sqlite.Open(ctx, path, sqlite.WithRetention(store.Retention{})) // no pruning while writing the fixture
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	for _, r := range []struct {
		key string
		age time.Duration // since it finished; 0: not finished
	}{{"old", 40 * 24 * time.Hour}, {"recent", 24 * time.Hour}, {"going", 0}} {
		created := now.Add(-r.age - time.Hour)
		if _, _, err := st.BeginRun(ctx, store.Run{Key: r.key, Job: job, CreatedAt: created}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutAttempt(ctx, store.Attempt{RunKey: r.key, Number: 1, Phase: store.PhaseStarted}); err != nil {
			t.Fatal(err)
		}
		if r.age > 0 {
			if err := st.FinishRun(ctx, r.key, store.RunSucceeded, "succeeded", now.Add(-r.age)); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = st.UpdateHealth(ctx, func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
		return recs, []store.HealthEvent{
			{At: now.Add(-40 * 24 * time.Hour), Scope: gluenet.ScopeSubnet, Key: "subnet-a", Kind: store.HealthFailure},
			{At: now.Add(-24 * time.Hour), Scope: gluenet.ScopeSubnet, Key: "subnet-a", Kind: store.HealthSuccess},
		}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddReservation(ctx, gluenet.Reservation{ID: "r", SubnetID: "subnet-a", IPs: 4,
		CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunsPrune(t *testing.T) {
	state := pruneFixture(t)
	run := func(env map[string]string, args ...string) (int, string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		code := execute(context.Background(), append([]string{"--state", state}, args...), &out, &errb,
			func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		return code, out.String(), errb.String()
	}
	prune := func(env map[string]string, args ...string) pruneJSON {
		t.Helper()
		code, out, stderr := run(env, append([]string{"runs", "prune", "--output", "json"}, args...)...)
		if code != 0 {
			t.Fatalf("runs prune %v: exit %d: %s", args, code, stderr)
		}
		var j pruneJSON
		if err := json.Unmarshal([]byte(out), &j); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		return j
	}
	keys := func() string {
		t.Helper()
		code, out, stderr := run(nil, "runs", "list", "--output", "json")
		if code != 0 {
			t.Fatalf("runs list: exit %d: %s", code, stderr)
		}
		var runs []store.Run
		if err := json.Unmarshal([]byte(out), &runs); err != nil {
			t.Fatal(err)
		}
		var k []string
		for _, r := range runs {
			k = append(k, r.Key)
		}
		return strings.Join(k, ",")
	}

	// A dry run counts what the default retention (30 days) would delete.
	j := prune(nil, "--dry-run")
	if want := (store.Pruned{Runs: 1, Attempts: 1, HealthEvents: 1, Reservations: 1}); j.Pruned != want || !j.DryRun || j.RunsFinishedBefore == nil {
		t.Errorf("dry run = %+v, want %+v", j, want)
	}
	if got := keys(); got != "going,recent,old" {
		t.Errorf("runs after a dry run = %s, want all three", got)
	}
	// The environment's retention wins over the default.
	if j := prune(map[string]string{"GLUENET_KEEP_RUNS": "12h"}, "--dry-run"); j.Pruned.Runs != 2 {
		t.Errorf("dry run with GLUENET_KEEP_RUNS=12h = %+v, want 2 runs", j.Pruned)
	}

	// The real thing, as a table.
	code, out, stderr := run(nil, "runs", "prune")
	if code != 0 {
		t.Fatalf("runs prune: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Deleted", "runs            1", "health events   1", "reservations    1"} {
		if !strings.Contains(out, want) {
			t.Errorf("table output does not say %q:\n%s", want, out)
		}
	}
	if got := keys(); got != "going,recent" {
		t.Errorf("runs after prune = %s, want going,recent", got)
	}

	// --older-than overrides the retention; unfinished runs stay.
	if j := prune(nil, "--older-than", "12h"); j.Pruned.Runs != 1 || j.Pruned.HealthEvents != 1 {
		t.Errorf("prune --older-than 12h = %+v, want the recent run and event", j.Pruned)
	}
	if got := keys(); got != "going" {
		t.Errorf("runs left = %s, want the unfinished one", got)
	}

	for _, bad := range [][]string{{"--older-than", "soon"}, {"--older-than", "0"}, {"--output", "yaml"}} {
		if code, _, stderr := run(nil, append([]string{"runs", "prune"}, bad...)...); code != exitUsage {
			t.Errorf("runs prune %v: exit %d, want %d: %s", bad, code, exitUsage, stderr)
		}
	}
	if code, _, stderr := run(map[string]string{"GLUENET_KEEP_RUNS": "-1h"}, "runs", "prune"); code != exitUsage || !strings.Contains(stderr, "GLUENET_KEEP_RUNS") {
		t.Errorf("a negative GLUENET_KEEP_RUNS: exit %d, want %d: %s", code, exitUsage, stderr)
	}
}
