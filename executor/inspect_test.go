package executor

import (
	"testing"
	"time"

	"github.com/gluenet/gluenet/store"
)

// TestNextPoll: status says a run is due one poll interval after the
// journal last saw its Glue run change, as run --detach said when it
// recorded the start; now when that is past or unknown.
func TestNextPoll(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 7, 3, 45, 42, 0, time.UTC)
	attempts := []store.Attempt{
		{Number: 1, GlueRunID: "jr_1", States: []store.StateChange{{State: "STARTING", At: t0.Add(-time.Hour)}, {State: "FAILED", At: t0.Add(-50 * time.Minute)}}},
		{Number: 2, GlueRunID: "jr_2", States: []store.StateChange{{State: "STARTING", At: t0}}},
	}
	tests := []struct {
		name  string
		runID string
		now   time.Time
		want  time.Time
	}{
		{"right after the start", "jr_2", t0.Add(time.Second), t0.Add(10 * time.Second)},
		{"past due", "jr_2", t0.Add(time.Minute), t0.Add(time.Minute)},
		{"an older run's change is long past", "jr_1", t0, t0},
		{"unknown run", "jr_9", t0, t0},
	}
	for _, tt := range tests {
		if got := nextPoll(attempts, tt.runID, 10*time.Second, tt.now); !got.Equal(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
