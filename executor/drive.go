package executor

import "context"

// Drive steps the run under key until it is done or waits on its Glue run
// (`gluenet resume`), sleeping on e.Clock between attempts (the backoff, or
// until there is room). Without sleep it steps once and returns where the
// run stands (`run --detach`, `resume --no-sleep`). Cancelling ctx is an
// interrupt: while waiting for the job lock, or during a sleep, the run is
// interrupted and stepped once more (InterruptAndStep), and that status is
// returned.
func (e *Executor) Drive(ctx context.Context, key string, sleep bool) (Status, error) {
	for {
		st, err := e.StepOrInterrupt(ctx, key)
		if err != nil || st.Done || st.Wait.For == WaitRun || !sleep {
			return st, err
		}
		e.log().Info("sleeping until the next attempt", "run_key", key, "until", st.Wait.Until, "why", st.Why)
		if err := e.Clock.Sleep(ctx, st.Wait.Until.Sub(e.now())); err != nil {
			return e.InterruptAndStep(ctx, key)
		}
	}
}
