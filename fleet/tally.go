package fleet

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/store"
)

// tally is what serve counts from the start of the store's history: the
// Prometheus counters and cumulative histograms of /metrics, and the last
// free-IP observation of every subnet ever seen. It is seeded from the
// whole history at the first read, then every read of the window adds
// what is new: a run counts as started once, as finished once (when its
// status becomes final), an attempt's placement failure, under-capacity
// start and time to RUNNING once each. The counts only grow; a run pruned
// from the store keeps its counts.
//
// It remembers the runs of the window and the older ones not finished yet
// (stragglers, read one by one): a run forgotten is one that is finished
// and older than the window, which the window's reads no longer return.
type tally struct {
	seeded bool
	runs   map[string]*runSeen

	started       map[string]float64 // by job
	finished      map[finishKey]float64
	underCapacity map[string]float64 // attempts, by job
	placement     map[placeKey]float64
	attempts      *hist // attempts per finished run
	decision      *hist
	running       *hist

	// subnets is the last observation of every subnet seen, in or out of
	// the window: a subnet nothing observes any more stays visible, stale.
	subnets map[string]Observation
}

type finishKey struct{ job, status, class string }

type placeKey struct{ subnet, az string }

// runSeen is what the tally has counted of one run.
type runSeen struct {
	job       string
	created   time.Time
	finished  bool
	decision  bool
	attempts  map[int]*attemptSeen
	straggler bool
}

type attemptSeen struct{ underCapacity, placement, running bool }

func newTally() *tally {
	return &tally{
		runs:          map[string]*runSeen{},
		started:       map[string]float64{},
		finished:      map[finishKey]float64{},
		underCapacity: map[string]float64{},
		placement:     map[placeKey]float64{},
		attempts:      newHist(attemptBuckets),
		decision:      newHist(decisionBuckets),
		running:       newHist(runningBuckets),
		subnets:       map[string]Observation{},
	}
}

// MaxStragglers bounds the runs older than the window, not finished when
// last seen, that one read looks up one by one.
const MaxStragglers = 100

// update counts what the snapshot adds. At the first call it reads the
// whole history first (seed); then the stragglers, up to MaxStragglers.
func (t *tally) update(ctx context.Context, r Reader, sn *snapshot, since time.Time) error {
	if !t.seeded {
		runs, err := r.ListRuns(ctx, store.RunFilter{Before: since})
		if err != nil {
			return err
		}
		as, err := r.AttemptsOf(ctx, keysOf(runs))
		if err != nil {
			return err
		}
		samples, err := r.SubnetSamples(ctx, time.Time{})
		if err != nil {
			return err
		}
		old := &snapshot{now: sn.now, runs: runs, attempts: as, samples: samples}
		// Oldest first, as they happened.
		for i := len(runs) - 1; i >= 0; i-- {
			t.add(runs[i], as[runs[i].Key])
		}
		for _, o := range old.history() {
			t.observe(o)
		}
		t.seeded = true
	}
	inWindow := make(map[string]bool, len(sn.runs))
	for i := len(sn.runs) - 1; i >= 0; i-- {
		run := sn.runs[i]
		inWindow[run.Key] = true
		t.add(run, sn.attempts[run.Key])
	}
	for _, o := range sn.history() {
		t.observe(o)
	}
	// Runs that left the window: forget the finished ones, look up the
	// others (oldest first).
	var stragglers []*runSeen
	keys := map[*runSeen]string{}
	for k, rs := range t.runs {
		if inWindow[k] || !rs.created.Before(since) {
			continue
		}
		if rs.finished {
			delete(t.runs, k)
			continue
		}
		rs.straggler = true
		stragglers = append(stragglers, rs)
		keys[rs] = k
	}
	sort.Slice(stragglers, func(i, j int) bool { return stragglers[i].created.Before(stragglers[j].created) })
	for i, rs := range stragglers {
		if i == MaxStragglers {
			break
		}
		k := keys[rs]
		run, err := r.GetRun(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			delete(t.runs, k) // pruned before it finished
			continue
		}
		if err != nil {
			return err
		}
		as, err := r.Attempts(ctx, k)
		if err != nil {
			return err
		}
		t.add(run, as)
	}
	return nil
}

// add counts what is new in one run.
func (t *tally) add(run store.Run, as []store.Attempt) {
	rs := t.runs[run.Key]
	if rs == nil {
		rs = &runSeen{job: run.Job, created: run.CreatedAt, attempts: map[int]*attemptSeen{}}
		t.runs[run.Key] = rs
		t.started[run.Job]++
	}
	for _, a := range as {
		seen := rs.attempts[a.Number]
		if seen == nil {
			seen = &attemptSeen{}
			rs.attempts[a.Number] = seen
		}
		if !seen.underCapacity {
			if p, ok := decodePlan(a.Plan); ok && p.UnderCapacity != nil {
				seen.underCapacity = true
				t.underCapacity[run.Job]++
			}
		}
		if !seen.placement && a.Class == string(classify.Placement) {
			seen.placement = true
			t.placement[placeKey{a.Subnet, a.AZ}]++
		}
		if !seen.running && !a.StartedAt.IsZero() {
			for _, st := range a.States {
				if st.State == "RUNNING" {
					seen.running = true
					if !st.At.Before(a.StartedAt) {
						t.running.observe(st.At.Sub(a.StartedAt).Seconds())
					}
					break
				}
			}
		}
	}
	if !rs.decision && len(as) > 0 && !as[0].StartedAt.IsZero() {
		rs.decision = true
		if !as[0].StartedAt.Before(run.CreatedAt) {
			t.decision.observe(as[0].StartedAt.Sub(run.CreatedAt).Seconds())
		}
	}
	if !rs.finished && run.Status.Terminal() {
		rs.finished = true
		s := summarize(run, as)
		t.finished[finishKey{run.Job, string(run.Status), classLabel(s.Class)}]++
		t.attempts.observe(float64(len(as)))
	}
}

// observe keeps the newest observation of each subnet.
func (t *tally) observe(o Observation) {
	if last, ok := t.subnets[o.SubnetID]; !ok || !o.At.Before(last.At) {
		t.subnets[o.SubnetID] = o
	}
}

// clone copies the histograms and counts for a scrape, which reads them
// while later reads add to the tally.
func (h *hist) clone() *hist {
	c := &hist{bounds: h.bounds, counts: make(map[float64]uint64, len(h.counts)), n: h.n, sum: h.sum}
	for k, v := range h.counts {
		c.counts[k] = v
	}
	return c
}

// counts is a copy of the tally's counters, taken with the snapshot.
type counts struct {
	started, underCapacity      map[string]float64
	finished                    map[finishKey]float64
	placement                   map[placeKey]float64
	attempts, decision, running *hist
	subnets                     map[string]Observation
}

func (t *tally) counts() *counts {
	c := &counts{started: map[string]float64{}, underCapacity: map[string]float64{}, finished: map[finishKey]float64{},
		placement: map[placeKey]float64{}, attempts: t.attempts.clone(), decision: t.decision.clone(), running: t.running.clone(),
		subnets: make(map[string]Observation, len(t.subnets))}
	for k, v := range t.started {
		c.started[k] = v
	}
	for k, v := range t.underCapacity {
		c.underCapacity[k] = v
	}
	for k, v := range t.finished {
		c.finished[k] = v
	}
	for k, v := range t.placement {
		c.placement[k] = v
	}
	for k, v := range t.subnets {
		c.subnets[k] = v
	}
	return c
}
