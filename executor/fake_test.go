package executor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/reserve"
)

// fakeCloud is a small Cloud for the executor's own tests: connections
// "a", "b", ... on subnets "subnet-a", ... in zones "az-a", ...; their free
// IPs are set by the test. Runs end in the state the test sets (SUCCEEDED
// by default). It counts every call that changes AWS.
type fakeCloud struct {
	// usable is every subnet's Candidate.UsableIPs (0: unknown).
	usable  int
	mu      sync.Mutex
	need    int
	free    map[string]int
	order   []string
	starts  []gluenet.StartInput
	updates int
	stops   []string
	runs    map[string]gluenet.JobRun
	// discoveries counts the connections' discoveries (Survey).
	discoveries int
	// onStart, when set, is called with every StartJobRun (under the
	// fake's lock); started says whether the run was created all the same
	// (a response lost on the way back).
	onStart func(in gluenet.StartInput) (started bool, err error)
	// fail makes the named call ("JobNeeds" and "Discover", the two halves
	// of Survey, "ApplyOrder", "RestoreOrder", "GetRun", "StopRun",
	// "FindRun") fail with the error for its next n calls (n < 0: always).
	fail map[string]failure
	// calls counts the calls by name.
	calls map[string]int
	// ends, when set, says how the n-th run started (from 1) ends: the
	// first GetRun after its start reads that state and message.
	ends func(n int) (state, msg string)
}

type failure struct {
	err error
	n   int
}

// failing returns the injected error of the call, if any, and counts it.
// The caller holds f.mu.
func (f *fakeCloud) failing(name string) error {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[name]++
	fl, ok := f.fail[name]
	if !ok || fl.n == 0 {
		return nil
	}
	if fl.n > 0 {
		fl.n--
		f.fail[name] = fl
	}
	return fl.err
}

func (f *fakeCloud) failNext(name string, err error, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail = map[string]failure{}
	}
	f.fail[name] = failure{err: err, n: n}
}

func (f *fakeCloud) called(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

// verdictErr is an error that says how the fake cloud classifies it.
type verdictErr struct{ v classify.Verdict }

func (e verdictErr) Error() string { return "injected " + string(e.v.Class) + " error" }

func newFakeCloud(need int, free map[string]int) *fakeCloud {
	return &fakeCloud{need: need, free: free, runs: map[string]gluenet.JobRun{}}
}

// Survey reads the job, then (when that worked) the connections.
func (f *fakeCloud) Survey(ctx context.Context, job string, override int, conns []string) (gluenet.Job, []gluenet.Candidate, error) {
	j, err := f.jobNeeds(job, override)
	if err != nil {
		return j, nil, err
	}
	cands, err := f.discover(conns)
	return j, cands, err
}

func (f *fakeCloud) jobNeeds(job string, override int) (gluenet.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("JobNeeds"); err != nil {
		return gluenet.Job{}, err
	}
	n := f.need
	if override > 0 {
		n = override
	}
	return gluenet.Job{Name: job, Need: gluenet.Need{IPs: n, MinIPs: gluenet.DefaultMinIPs}, Connections: slices.Clone(f.order)}, nil
}

func (f *fakeCloud) discover(conns []string) ([]gluenet.Candidate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.discoveries++
	if err := f.failing("Discover"); err != nil {
		return nil, err
	}
	out := make([]gluenet.Candidate, 0, len(conns))
	for _, c := range conns {
		out = append(out, gluenet.Candidate{Connection: c, SubnetID: "subnet-" + c, AZ: "az-" + c, FreeIPs: f.free[c], Checked: true, UsableIPs: f.usable})
	}
	return out, nil
}

func (f *fakeCloud) setFree(conn string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.free[conn] = n
}

func (f *fakeCloud) ApplyOrder(_ context.Context, job string, candidates, ranked []string) (gluenet.AppliedOrder, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("ApplyOrder"); err != nil {
		return gluenet.AppliedOrder{}, err
	}
	before := slices.Clone(f.order)
	f.order = gluenet.JobOrder(ranked, candidates, f.order)
	f.updates++
	return gluenet.AppliedOrder{Before: before, After: slices.Clone(f.order), Updated: true}, nil
}

func (f *fakeCloud) RestoreOrder(_ context.Context, job string, before []string) (gluenet.AppliedOrder, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("RestoreOrder"); err != nil {
		return gluenet.AppliedOrder{}, err
	}
	res := gluenet.AppliedOrder{Before: f.order, After: slices.Clone(before), Updated: true}
	f.order = slices.Clone(before)
	f.updates++
	return res, nil
}

func (f *fakeCloud) StartRun(_ context.Context, job string, in gluenet.StartInput) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failing("StartRun")
	var err error
	started := true
	if f.onStart != nil {
		started, err = f.onStart(in)
	}
	if !started {
		return "", err
	}
	f.starts = append(f.starts, in)
	id := fmt.Sprintf("jr_%d", len(f.starts))
	f.runs[id] = gluenet.JobRun{State: "RUNNING", Arguments: in.Arguments}
	if err != nil {
		return "", err
	}
	return id, nil
}

func (f *fakeCloud) end(id, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.runs[id]
	r.State = state
	f.runs[id] = r
}

func (f *fakeCloud) GetRun(_ context.Context, job, runID string) (gluenet.JobRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("GetRun"); err != nil {
		return gluenet.JobRun{}, err
	}
	r, ok := f.runs[runID]
	if !ok {
		return gluenet.JobRun{}, verdictErr{classify.Verdict{Class: classify.NotFound, Fatal: true}}
	}
	if f.ends != nil && r.State == "RUNNING" {
		var n int
		fmt.Sscanf(runID, "jr_%d", &n)
		r.State, r.ErrorMessage = f.ends(n)
		f.runs[runID] = r
	}
	return r, nil
}

func (f *fakeCloud) StopRun(_ context.Context, job, runID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("StopRun"); err != nil {
		return err
	}
	f.stops = append(f.stops, runID)
	return nil
}

func (f *fakeCloud) FindRun(_ context.Context, job, arg, value string, since time.Time) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failing("FindRun"); err != nil {
		return "", err
	}
	for id, r := range f.runs {
		if r.Arguments[arg] == value {
			return id, nil
		}
	}
	return "", nil
}

func (f *fakeCloud) ForgetSubnet(context.Context, string) {}

func (f *fakeCloud) Classify(err error) classify.Verdict {
	var v verdictErr
	if errors.As(err, &v) {
		return v.v
	}
	return classify.Verdict{Class: classify.Unknown, Fatal: true, Reason: err.Error()}
}

// counts returns the starts and job updates so far.
func (f *fakeCloud) counts() (starts, updates int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.starts), f.updates
}

// fakeClock is a manual clock; Sleep moves it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Set(c.Now().Add(d))
	return nil
}

// fakeMemory keeps reservations in process, without health.
type fakeMemory struct {
	mu  sync.Mutex
	res []gluenet.Reservation
}

func (m *fakeMemory) HealthRecords(context.Context) ([]gluenet.HealthRecord, error) { return nil, nil }
func (m *fakeMemory) Observe(context.Context, time.Time, string, string, classify.Verdict) error {
	return nil
}

func (m *fakeMemory) Reservations(_ context.Context, now time.Time) ([]gluenet.Reservation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(m.res), func(r gluenet.Reservation) bool { return !now.Before(r.ExpiresAt) }), nil
}

func (m *fakeMemory) Reserve(_ context.Context, r gluenet.Reservation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.res = slices.DeleteFunc(m.res, func(o gluenet.Reservation) bool { return o.ID == r.ID })
	m.res = append(m.res, r)
	return nil
}

func (m *fakeMemory) Release(_ context.Context, ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.res = slices.DeleteFunc(m.res, func(r gluenet.Reservation) bool { return slices.Contains(ids, r.ID) })
	return nil
}

var testEpoch = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// newTestExecutor is an executor on the fake cloud, a fresh journal and a
// manual clock at testEpoch.
func newTestExecutor(c *fakeCloud, j Journal, clock *fakeClock, mem Memory) *Executor {
	return &Executor{Cloud: c, Journal: j, Memory: mem, Clock: clock, Rand: rand.New(rand.NewPCG(1, 2)), Holder: "test",
		ReservationTTL: reserve.DefaultTTL}
}
