// Package storetest is the conformance suite every store.Store
// implementation must pass, in the manner of river's riverdrivertest: one
// suite, run by each driver's own tests against a real database.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
//	}
//
// Run checks each method against one handle. RunShared checks what must
// hold between several handles on one database: several processes on one
// machine for SQLite, several machines for Postgres.
//
// The suite never sleeps: every time is passed in, so expiry is tested by
// moving a virtual now.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
)

// Opener returns a new, empty store, and closes it when the test ends
// (t.Cleanup). The suite calls it once per subtest, from parallel subtests.
type Opener func(t *testing.T) store.Store

// SharedOpener returns n handles on one new, empty database, each with its
// own connections as a separate process would have, and closes them when
// the test ends.
type SharedOpener func(t *testing.T, n int) []store.Store

// t0 is the suite's virtual now. It is deliberately not in UTC and has
// nanoseconds, so that the suite checks that stores return UTC times
// truncated to the microsecond.
var t0 = time.Date(2025, time.March, 1, 12, 0, 0, 123_456_789, time.FixedZone("UTC+1", 3600))

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"BeginRun", testBeginRun},
		{"BeginRunConcurrent", testBeginRunConcurrent},
		{"BeginRunInvalid", testBeginRunInvalid},
		{"GetRunNotFound", testGetRunNotFound},
		{"ListRuns", testListRuns},
		{"FinishRun", testFinishRun},
		{"PutAttempt", testPutAttempt},
		{"PutAttemptKeepsStoredFields", testPutAttemptKeeps},
		{"PutAttemptInvalid", testPutAttemptInvalid},
		{"RecordRunID", testRecordRunID},
		{"RunState", testRunState},
		{"UpdateHealth", testUpdateHealth},
		{"UpdateHealthRollsBack", testUpdateHealthRollsBack},
		{"UpdateHealthConcurrent", testUpdateHealthConcurrent},
		{"ResetHealth", testResetHealth},
		{"HealthEvents", testHealthEvents},
		{"Reservations", testReservations},
		{"SubnetCache", testSubnetCache},
		{"Lease", testLease},
		{"LeaseTakeover", testLeaseTakeover},
		{"LeaseRelease", testLeaseRelease},
		{"LeaseConcurrent", testLeaseConcurrent},
		{"LeaseInvalid", testLeaseInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// RunShared runs the tests that need several handles on one database.
func RunShared(t *testing.T, open SharedOpener) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s []store.Store)
	}{
		{"BeginRun", testSharedBeginRun},
		{"RecordRunIDVisible", testSharedRecordRunID},
		{"UpdateHealth", testSharedUpdateHealth},
		{"Lease", testSharedLease},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t, 2))
		})
	}
}

// Helpers.

func ctxOf(t *testing.T) context.Context { return t.Context() }

// at is the time as a store returns it.
func at(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

// checkTime fails unless got is want as a store should return it: equal
// after truncation to the microsecond, and in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(at(want)) {
		t.Errorf("%s = %v, want %v", what, got, at(want))
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, got.Location())
	}
}

func jsonEqual(t *testing.T, what string, got, want json.RawMessage) {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Errorf("%s = %q, want %q", what, got, want)
		return
	}
	if want == nil {
		return
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s is not JSON: %v (%q)", what, err, got)
		return
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: bad test JSON: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func checkRun(t *testing.T, got, want store.Run) {
	t.Helper()
	jsonEqual(t, "run inputs", got.Inputs, want.Inputs)
	checkTime(t, "run created", got.CreatedAt, want.CreatedAt)
	checkTime(t, "run updated", got.UpdatedAt, want.UpdatedAt)
	checkTime(t, "run finished", got.FinishedAt, want.FinishedAt)
	if got.Key != want.Key || got.Job != want.Job || got.Status != want.Status || got.Outcome != want.Outcome {
		t.Errorf("run = {key %q job %q status %q outcome %q}, want {key %q job %q status %q outcome %q}",
			got.Key, got.Job, got.Status, got.Outcome, want.Key, want.Job, want.Status, want.Outcome)
	}
}

func checkAttempt(t *testing.T, got, want store.Attempt) {
	t.Helper()
	jsonEqual(t, fmt.Sprintf("attempt %d plan", want.Number), got.Plan, want.Plan)
	checkTime(t, "attempt started", got.StartedAt, want.StartedAt)
	checkTime(t, "attempt ended", got.EndedAt, want.EndedAt)
	if len(got.States) != len(want.States) {
		t.Errorf("attempt %d states = %v, want %v", want.Number, got.States, want.States)
	} else {
		for i := range want.States {
			if got.States[i].State != want.States[i].State {
				t.Errorf("attempt %d state %d = %q, want %q", want.Number, i, got.States[i].State, want.States[i].State)
			}
			checkTime(t, fmt.Sprintf("attempt %d state %d time", want.Number, i), got.States[i].At, want.States[i].At)
		}
	}
	g, w := got, want
	g.Plan, w.Plan = nil, nil
	g.States, w.States = nil, nil
	g.StartedAt, w.StartedAt = time.Time{}, time.Time{}
	g.EndedAt, w.EndedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("attempt = %+v\nwant      %+v", g, w)
	}
}

func checkHealth(t *testing.T, got, want []gluenet.HealthRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("health = %+v, want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		checkTime(t, w.Key+" ejected until", g.EjectedUntil, w.EjectedUntil)
		checkTime(t, w.Key+" last failure", g.LastFailure, w.LastFailure)
		checkTime(t, w.Key+" last success", g.LastSuccess, w.LastSuccess)
		g.EjectedUntil, g.LastFailure, g.LastSuccess = time.Time{}, time.Time{}, time.Time{}
		w.EjectedUntil, w.LastFailure, w.LastSuccess = time.Time{}, time.Time{}, time.Time{}
		if g != w {
			t.Errorf("health[%d] = %+v, want %+v", i, g, w)
		}
	}
}

func mustBegin(t *testing.T, s store.Store, key, job string, created time.Time) store.Run {
	t.Helper()
	r, _, err := s.BeginRun(ctxOf(t), store.Run{Key: key, Job: job, CreatedAt: created})
	if err != nil {
		t.Fatalf("BeginRun(%q): %v", key, err)
	}
	return r
}

// together runs fn(i) for i in [0, n) on n goroutines released at once, and
// returns their errors.
func together(n int, fn func(i int) error) []error {
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func noErrors(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}
