package lab

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/health"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/reserve"
	"github.com/gluenet/gluenet/sim"
	"github.com/gluenet/gluenet/strategy"
)

// epoch is the simulated time at which every lab region starts. A fixed
// instant keeps reports identical from one day to the next.
var epoch = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)

// proc is one run of the fleet as the executor sees it: the policy's state
// and where the process stands.
type proc struct {
	arrival  arrival
	job      string
	s        policy.State
	sleeping bool // an event wakes it from a Sleep action
	done     bool
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

// engine is one simulation: one variant, one seed, one region.
type engine struct {
	sc     *Scenario
	v      Variant
	strat  strategy.Strategy
	pol    policy.Policy
	region *sim.Region
	clock  *sim.ManualClock
	cloud  Cloud
	conns  []string
	rng    *rand.Rand
	poll   time.Duration

	// The in-process memory of this simulation: what the state store
	// holds for `gluenet run` (one store shared by every run).
	health []gluenet.HealthRecord
	res    []gluenet.Reservation

	q     evHeap
	seq   uint64
	procs []proc
}

// newEngine builds the region and the fleet of a simulation.
func newEngine(sc *Scenario, region *sim.Scenario, v Variant, seed int64, sdk bool) (*engine, error) {
	strat, err := strategy.Lookup(v.Strategy)
	if err != nil {
		return nil, err
	}
	if err := v.Retry.Validate(); err != nil {
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
	e := &engine{
		sc: sc, v: v, strat: strat, region: r, clock: clock, rng: rng,
		pol:   policy.Policy{Config: v.Retry, Rand: rng.Float64},
		conns: sc.candidates(region), poll: sc.pollInterval(),
	}
	e.cloud = NewDirect(r)
	if sdk {
		e.cloud = NewSDK(r)
	}
	arr := fleet(sc, seed)
	e.procs = make([]proc, len(arr))
	e.q = make(evHeap, 0, len(arr))
	for i, a := range arr {
		e.procs[i] = proc{arrival: a, job: sc.Jobs[a.Job].Name, s: policy.New()}
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

// step drives one run's policy from the current virtual time until it has
// to wait (poll interval or backoff) or is over: the loop of
// runner.RunFrom, with the clock's sleeps turned into events.
func (e *engine) step(ctx context.Context, i int) error {
	p := &e.procs[i]
	if p.sleeping {
		p.s = e.pol.Apply(p.s, policy.Slept{})
		p.sleeping = false
	}
	fail := func(err error) {
		p.s = e.pol.Apply(p.s, policy.Failed{Verdict: awsclient.Classify(err), Err: err.Error()})
	}
	for {
		a := e.pol.Next(p.s)
		switch a.Kind {
		case policy.Discover:
			plan, err := e.discover(ctx, p)
			if err != nil {
				fail(err)
				continue
			}
			p.s = e.pol.Apply(p.s, policy.Discovered{Plan: plan})
		case policy.Start:
			if err := e.start(ctx, p, a); err != nil {
				fail(err)
			}
		case policy.Wait:
			if !e.wait(ctx, p, a) {
				e.schedule(e.now().Sub(epoch)+e.poll, i)
				return nil
			}
		case policy.Stop:
			// The lab never interrupts a run; the policy cannot ask.
			return fmt.Errorf("run %d: unexpected stop", i)
		case policy.Sleep:
			p.sleeping = true
			e.schedule(e.now().Sub(epoch)+a.Delay, i)
			return nil
		case policy.Finish, policy.GiveUp:
			p.done = true
			return nil
		}
	}
}

// discover is runner.discover: the job's needs, the candidates' free IPs,
// the ranking with memory.
func (e *engine) discover(ctx context.Context, p *proc) (gluenet.Plan, error) {
	ips, err := e.cloud.JobNeeds(ctx, p.job)
	if err != nil {
		return gluenet.Plan{}, err
	}
	cands, err := e.cloud.Discover(ctx, e.conns)
	if err != nil {
		return gluenet.Plan{}, err
	}
	return e.rank(cands, gluenet.Need{IPs: ips, MinIPs: gluenet.DefaultMinIPs})
}

// rank is runner.rank on the in-process memory.
func (e *engine) rank(cands []gluenet.Candidate, need gluenet.Need) (gluenet.Plan, error) {
	now := e.now()
	in := strategy.Input{Candidates: cands, Need: need, Now: now, Rand: e.rng, PreferAZ: e.sc.PreferAZ}
	if e.v.Memory {
		in.Health = e.health
		live := e.reservations(now)
		reserved, settled := reserve.Apply(live, cands, now)
		in.Reserved = reserved
		in.InFlightByAZ = reserve.InFlightByAZ(live, settled)
		e.release(settled...)
	}
	return strategy.Plan(in, e.strat)
}

// reservations is the store's Reservations: those alive at now, oldest
// first. Expired ones are dropped, as a store's Prune would.
func (e *engine) reservations(now time.Time) []gluenet.Reservation {
	e.res = slices.DeleteFunc(e.res, func(r gluenet.Reservation) bool { return !now.Before(r.ExpiresAt) })
	return slices.Clone(e.res)
}

func (e *engine) reserve(r gluenet.Reservation) {
	e.release(r.ID) // same ID replaces, as the store's upsert does
	e.res = append(e.res, r)
	slices.SortStableFunc(e.res, func(a, b gluenet.Reservation) int { return a.CreatedAt.Compare(b.CreatedAt) })
}

func (e *engine) release(ids ...string) {
	if len(ids) == 0 {
		return
	}
	e.res = slices.DeleteFunc(e.res, func(r gluenet.Reservation) bool { return slices.Contains(ids, r.ID) })
}

// start is runner.start: re-rank with the reservations of launches that
// went first, apply the order, start, reserve the IPs the run will take.
// Everything at one virtual instant happens in one step, so the job lock
// the runner takes is implicit.
func (e *engine) start(ctx context.Context, p *proc, a policy.Action) error {
	if e.v.Memory {
		plan, err := e.rank(a.Plan.Candidates(e.conns), a.Plan.Need)
		if err != nil {
			return err
		}
		p.s = e.pol.Apply(p.s, policy.Discovered{Plan: plan})
		a.Plan = p.s.Current().Plan
	}
	if err := e.cloud.ApplyOrder(ctx, p.job, e.conns, a.Plan.Order()); err != nil {
		return err
	}
	runID, err := e.cloud.StartRun(ctx, p.job)
	if err != nil {
		return err
	}
	if first := a.Plan.First(); e.v.Memory && first != nil {
		ips := a.Plan.Need.IPs
		if first.Free != nil && *first.Free < ips {
			ips = *first.Free
		}
		e.reserve(reserve.New(first.SubnetID, first.AZ, p.job, runID, ips, first.FreeIPs, e.now(), e.v.ReservationTTL))
	}
	p.s = e.pol.Apply(p.s, policy.Started{RunID: runID})
	return nil
}

// wait is one poll of runner.wait. It returns false when the run goes on
// (poll again after the interval).
func (e *engine) wait(ctx context.Context, p *proc, a policy.Action) bool {
	cur := p.s.Current()
	state, msg, err := e.cloud.GetRun(ctx, p.job, a.RunID)
	switch {
	case err != nil:
		v := awsclient.Classify(err)
		if v.Fatal {
			p.s = e.pol.Apply(p.s, policy.Failed{Verdict: v, Err: err.Error()})
			return true
		}
		return false
	case classify.Terminal(state):
		v := classify.RunOutcome(state, msg)
		if e.v.Memory && cur.Plan != nil {
			if f := cur.Plan.First(); f != nil {
				e.health, _ = health.Observe(e.health, e.now(), f.SubnetID, f.AZ, v, e.v.Health)
			}
			e.release(p.job + "/" + a.RunID)
		}
		p.s = e.pol.Apply(p.s, policy.Ended{State: state, ErrorMessage: msg, Verdict: v})
		return true
	case state != cur.State:
		p.s = e.pol.Apply(p.s, policy.StateChanged{State: state})
	}
	return false
}
