package executor

import (
	"context"
	"fmt"
	"time"

	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/store"
)

// Inspect returns the run's status as the journal has it, changing
// nothing (`gluenet status`). A run waiting on its Glue run is due for a
// check one poll interval after the journal last saw that run change, as
// Step said when it recorded the change; now if that is past.
func (e *Executor) Inspect(ctx context.Context, key string) (Status, error) {
	rec, _, err := e.load(context.WithoutCancel(ctx), key, nil)
	if err != nil {
		return Status{}, err
	}
	st := e.status(key, rec, e.pendingWait(rec))
	if w := st.Wait; w != nil && w.For == WaitRun {
		if attempts, err := e.Journal.Attempts(ctx, key); err == nil {
			w.CheckAt = nextPoll(attempts, st.GlueRunID, st.PollInterval, e.now())
		}
	}
	return st, nil
}

// WithLiveState overlays a status read by Inspect with its Glue run's
// live state (one GetRun on e.Cloud), changing nothing. A run Glue no
// longer knows (the region restarted; on AWS, a run past its retention) is
// StateLost, as Step would find, with the resume hint in Why. The attempt's
// row says the same as the status: the journal's state is older than
// Glue's (after a second Ctrl-C, say, it never saw the run stop).
func (e *Executor) WithLiveState(ctx context.Context, st Status) (Status, error) {
	if st.GlueRunID == "" {
		return st, nil
	}
	live, err := e.Cloud.GetRun(ctx, st.Job, st.GlueRunID)
	switch {
	case err != nil && e.Cloud.Classify(err).Class == classify.NotFound:
		st.State = StateLost
		st.Why = fmt.Sprintf("Glue has no run %s of job %s: `gluenet resume --run-key %s` looks for it by its marker and settles the attempt",
			st.GlueRunID, st.Job, st.Key)
		e.log().Warn("the recorded Glue run is lost", "run_key", st.Key, "run_id", st.GlueRunID, "err", err)
	case err != nil:
		return st, err
	default:
		st.State = live.State
	}
	for i := range st.Attempts {
		if at := &st.Attempts[i]; at.RunID == st.GlueRunID {
			at.State = st.State
			if live.ErrorMessage != "" {
				at.ErrorMessage = live.ErrorMessage
			}
		}
	}
	return st, nil
}

// nextPoll is when a run waiting on Glue run runID is next due for a
// check: one poll interval after the journal last saw that run change state
// (run --detach and resume say the same when they record it), or now when
// that time has passed or nothing was recorded.
func nextPoll(attempts []store.Attempt, runID string, poll time.Duration, now time.Time) time.Time {
	for i := len(attempts) - 1; i >= 0; i-- {
		at := attempts[i]
		if at.GlueRunID != runID || len(at.States) == 0 {
			continue
		}
		if due := at.States[len(at.States)-1].At.Add(poll); due.After(now) {
			return due
		}
		break
	}
	return now
}
