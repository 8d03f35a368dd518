package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
)

// Contention helpers, for drivers' tests of writes that meet a busy or
// restarting database (through store.Guard): nothing may be lost.

// BeginRuns begins the runs "run-0" ... "run-(n-1)".
func BeginRuns(t *testing.T, s store.Store, n int) {
	t.Helper()
	for i := range n {
		if _, _, err := s.BeginRun(ctxOf(t), store.Run{Key: fmt.Sprintf("run-%d", i), Job: "job", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
}

// Writers starts n goroutines at once, the i-th recording, on handle(i),
// attempt 1 of run-i (begun by BeginRuns) with Glue run id jr_i and adding
// one failure to subnet-a's health. The returned wait waits for them and
// checks that every write succeeded and is in check's store: n attempts,
// n failures.
func Writers(t *testing.T, n int, handle func(i int) store.Store) (wait func(check store.Store)) {
	t.Helper()
	ctx := ctxOf(t)
	errs := make(chan error, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := handle(i)
			errs <- s.PutAttempt(ctx, store.Attempt{RunKey: fmt.Sprintf("run-%d", i), Number: 1, GlueRunID: fmt.Sprintf("jr_%d", i)})
			errs <- s.UpdateHealth(ctx, func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
				if len(recs) == 0 {
					recs = []gluenet.HealthRecord{{Scope: gluenet.ScopeSubnet, Key: "subnet-a"}}
				}
				recs[0].ConsecutiveFailures++
				return recs, nil, nil
			})
		}()
	}
	return func(check store.Store) {
		t.Helper()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("write: %v", err)
			}
		}
		for i := range n {
			as, err := check.Attempts(ctx, fmt.Sprintf("run-%d", i))
			if err != nil || len(as) != 1 || as[0].GlueRunID != fmt.Sprintf("jr_%d", i) {
				t.Errorf("run-%d: attempts %+v, %v; want its one attempt recorded", i, as, err)
			}
		}
		recs, err := check.Health(ctx)
		if err != nil || len(recs) != 1 || recs[0].ConsecutiveFailures != n {
			t.Errorf("health = %+v, %v; want %d failures counted", recs, err, n)
		}
	}
}
