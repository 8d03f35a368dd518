package lab

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/health"
	"github.com/gluenet/gluenet/sim"
	"github.com/gluenet/gluenet/strategy"
)

// epoch is the simulated time at which every lab region starts. A fixed
// instant keeps reports identical from one day to the next.
var epoch = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

// proc is one run of the fleet: its run key and, once done, the
// executor's last status.
type proc struct {
	arrival arrival
	job     string
	key     string
	life    time.Duration // at full capacity (fullLife)
	begun   bool
	st      executor.Status
	done    bool
}

// event wakes a proc at a virtual time.
type event struct {
	at  time.Duration // since epoch
	seq uint64
	p   int32
}

// evHeap is a binary min-heap of events by time, then by scheduling order,
// so that simultaneous events run in a fixed order.
type evHeap []event

func (h evHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h *evHeap) push(e event) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *evHeap) pop() event {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s.less(l, m) {
			m = l
		}
		if r < n && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// engine is one simulation: one variant, one seed, one region. It drives
// every run of the fleet through the executor (package executor), the same
// one `gluenet run` uses, on virtual time: each Step's wait becomes an
// event.
type engine struct {
	sc     *Scenario
	v      Variant
	region *sim.Region
	clock  *sim.ManualClock
	ex     *executor.Executor
	conns  []string
	poll   time.Duration

	q     evHeap
	seq   uint64
	procs []proc
}

// virtualClock is the executor's clock in the lab. The executor sleeps
// only while a lock is held by another run, which cannot happen here: each
// step runs to its end before the next event.
type virtualClock struct{ c *sim.ManualClock }

func (v virtualClock) Now() time.Time { return v.c.Now() }
func (v virtualClock) Sleep(ctx context.Context, d time.Duration) error {
	return fmt.Errorf("lab: a lock was contended (virtual time does not move within a step)")
}

// newEngine builds the region and the fleet of a simulation.
func newEngine(sc *Scenario, region *sim.Scenario, v Variant, seed int64, sdk bool) (*engine, error) {
	if _, err := strategy.Lookup(v.Strategy); err != nil {
		return nil, err
	}
	spec := executor.Spec{Job: "lab", Connections: sc.candidates(region), Strategy: v.Strategy, MinIPs: gluenet.DefaultMinIPs,
		PreferAZ: sc.PreferAZ, Policy: v.Retry, PollInterval: sc.pollInterval(), Admission: v.Admission}
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("variant %s: %w", v.Name, err)
	}
	clock := sim.NewManualClock(epoch)
	r, err := sim.New(region, sim.WithClock(clock), sim.WithSeed(seed))
	if err != nil {
		return nil, err
	}
	// The executor's random stream (strategy draws, jitter) is separate
	// from the fleet's and the region's, and seeded from the seed alone.
	rng := rand.New(rand.NewPCG(uint64(seed), 0x65786563))
	e := &engine{sc: sc, v: v, region: r, clock: clock, conns: sc.candidates(region), poll: sc.pollInterval()}
	var cloud executor.Cloud = NewDirect(r)
	if sdk {
		cloud = NewSDK(r)
	}
	e.ex = &executor.Executor{Cloud: cloud, Journal: executor.NewMemJournal(), Clock: virtualClock{clock}, Rand: rng,
		Log: slog.New(slog.DiscardHandler), Holder: "lab", ReservationTTL: v.ReservationTTL}
	if v.Memory {
		e.ex.Memory = &labMemory{cfg: v.Health}
	}
	arr := fleet(sc, seed)
	def := r.Scenario()
	e.procs = make([]proc, len(arr))
	e.q = make(evHeap, 0, len(arr))
	for i, a := range arr {
		job := sc.Jobs[a.Job].Name
		e.procs[i] = proc{arrival: a, job: job, key: fmt.Sprintf("lab-%d", i), life: fullLife(&def, job, i)}
		e.schedule(a.At, i)
	}
	return e, nil
}

func (e *engine) schedule(at time.Duration, p int) {
	e.seq++
	e.q.push(event{at: at, seq: e.seq, p: int32(p)})
}

func (e *engine) now() time.Time { return e.clock.Now() }

// run processes events until every run of the fleet has finished.
func (e *engine) run(ctx context.Context) error {
	for n := 0; len(e.q) > 0; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		ev := e.q.pop()
		e.clock.Set(epoch.Add(ev.at))
		if err := e.step(ctx, int(ev.p)); err != nil {
			return err
		}
	}
	return nil
}

// step is one executor Step of one run; its wait becomes the run's next
// event.
func (e *engine) step(ctx context.Context, i int) error {
	p := &e.procs[i]
	if !p.begun {
		p.begun = true
		spec := executor.Spec{Job: p.job, Connections: e.conns, Strategy: e.v.Strategy, MinIPs: gluenet.DefaultMinIPs,
			PreferAZ: e.sc.PreferAZ, Policy: e.v.Retry, PollInterval: e.poll, Admission: e.v.Admission,
			// Every attempt of fleet run i does the same work: the region
			// gives it the same length under every strategy, and the bound
			// knows it (bound.go).
			Start: gluenet.StartInput{Arguments: map[string]string{sim.RunIDArgument: runID(i)}}}
		if _, err := e.ex.Begin(ctx, p.key, spec); err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
	}
	st, err := e.ex.Step(ctx, p.key)
	if err != nil {
		return fmt.Errorf("run %d: %w", i, err)
	}
	if st.Done {
		p.st, p.done = st, true
		e.ex.Forget(p.key)
		return nil
	}
	at := st.Wait.At().Sub(epoch)
	if now := e.now().Sub(epoch); at <= now {
		at = now + time.Millisecond // never loop at one instant
	}
	e.schedule(at, i)
	return nil
}

// labMemory is the state store's health memory and reservations, in
// process: one per simulation, shared by every run of the fleet.
type labMemory struct {
	cfg    health.Config
	health []gluenet.HealthRecord
	res    []gluenet.Reservation
}

func (m *labMemory) HealthRecords(context.Context) ([]gluenet.HealthRecord, error) {
	return slices.Clone(m.health), nil
}

func (m *labMemory) Observe(_ context.Context, now time.Time, subnet, az string, v classify.Verdict) error {
	m.health, _ = health.Observe(m.health, now, subnet, az, v, m.cfg)
	return nil
}

// Reservations is the store's: those alive at now, oldest first.
func (m *labMemory) Reservations(_ context.Context, now time.Time) ([]gluenet.Reservation, error) {
	m.res = slices.DeleteFunc(m.res, func(r gluenet.Reservation) bool { return !now.Before(r.ExpiresAt) })
	return slices.Clone(m.res), nil
}

func (m *labMemory) Reserve(_ context.Context, r gluenet.Reservation) error {
	m.res = slices.DeleteFunc(m.res, func(o gluenet.Reservation) bool { return o.ID == r.ID }) // same ID replaces
	m.res = append(m.res, r)
	// sort.SliceStable, not slices.SortStableFunc (compiled again for each
	// struct type): binary size.
	sort.SliceStable(m.res, func(i, j int) bool { return m.res[i].CreatedAt.Before(m.res[j].CreatedAt) })
	return nil
}

func (m *labMemory) Release(_ context.Context, ids []string) error {
	m.res = slices.DeleteFunc(m.res, func(r gluenet.Reservation) bool { return slices.Contains(ids, r.ID) })
	return nil
}

// runID names fleet run i for the region (sim.RunIDArgument).
func runID(i int) string { return strconv.Itoa(i) }
