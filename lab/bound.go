package lab

import (
	"container/heap"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/gluenet/gluenet/sim"
)

// The upper bound.
//
// An oracle knows the whole future of a seed: when every run arrives, how
// long each lasts (the engine names every fleet run to the region, which
// gives all its attempts the same length under every strategy:
// sim.RunIDArgument), the background ENIs, and when zones go down or
// degrade. The question is: at most how many runs of the fleet can succeed
// at full capacity? No strategy can do better, so each strategy's
// full-capacity count divided by this bound says how much of the
// achievable it reaches.
//
// Model. A run i of size n_i (its workers) that succeeds at full capacity
// in subnet s holds n_i IPs of s from its start until its IPs come back,
// L_i = startup + its duration + ENI linger later. A
// subnet can hold C_s = usable addresses − background ENIs at once
// (exhaust faults only lower this further; ignoring them keeps the bound
// valid). A run can succeed in s only if Glue can place it there (its zone
// is not down at the start) and the zone stays healthy long enough: a run
// in a zone that is or becomes degraded or down fails degraded_failure_after
// later, unless it has ended by then.
//
// Start times. A strategy may start a run later than its arrival (a retry
// after a failed attempt, or a wait for room). To bound every compared
// strategy, run i may start anywhere in [a_i, a_i + D_i], where D_i is the
// larger of the longest admission wait among the compared strategies (the
// oracle may wait for room as long as any of them may) and the latest
// start of its deciding attempt among the compared strategies in which it
// ended at full capacity. Whatever the start in that window, the run
// holds its IPs during the core interval [a_i + D_i, a_i + L_i): the
// relaxation charges only the core, so every schedule that a compared
// strategy produced is feasible in it.
//
// Relaxation. Maximize Σ x_is subject to Σ_s x_is ≤ 1 for each run, and
// for each subnet and time, Σ of n_i x_is over the runs whose core covers
// that time ≤ C_s, with x_is in [0, 1] and x_is = 0 where run i cannot
// succeed in s. Every integral schedule is a solution, so the optimum of
// this linear program bounds the integral optimum from above. We bound the
// LP itself through its Lagrangian dual: dualizing the one-subnet-per-run
// constraints with multipliers λ_i ≥ 0 leaves one independent problem per
// subnet,
//
//	L(λ) = Σ_i λ_i + Σ_s max { Σ_i (1 − λ_i) x_is : subnet s's capacity },
//
// and by weak duality L(λ) ≥ the LP optimum for every λ ≥ 0. Each
// subnet's problem is an interval packing LP, solved exactly as a
// min-cost flow on the time line (successive shortest paths): C_s units
// flow from the first instant to the last; a unit that takes run i's arc
// instead of the time line uses one of its IPs during its core and earns
// (1 − λ_i)/n_i. Subgradient steps on λ tighten the bound; every iterate
// is valid, and the smallest is kept. The count is then rounded down (an
// integer count cannot exceed a fractional bound) and capped by the
// number of runs that can succeed anywhere.
//
// With long start windows the core is short and this bound loose; the
// time-indexed bound (bound_time.go) lets the oracle choose each start
// instead, and Bound keeps the smaller of the two.

// BoundResult is the oracle's bound for one seed.
type BoundResult struct {
	Seed int64 `json:"seed"`
	Runs int   `json:"runs"`
	// Count is the most runs that can succeed at full capacity; Rate is
	// Count/Runs.
	Count int     `json:"full_runs"`
	Rate  float64 `json:"full_rate"`
	// Eligible counts the runs that could succeed at full capacity in at
	// least one subnet, ignoring the other runs.
	Eligible int `json:"eligible_runs"`
	// Best is the best full-capacity count among the compared strategies:
	// the bound is at least that.
	Best int `json:"best_strategy_full_runs"`
	// Dual is the Lagrangian dual value before rounding.
	Dual float64 `json:"dual"`
}

type bsubnet struct {
	id, az string
	cap    int
}

type bitem struct {
	idx        int
	start, end time.Duration // core interval; empty when end <= start
	n          int
}

// azTimeline is a zone's health over time: states[k] holds from at[k].
type azTimeline struct {
	at     []time.Duration
	states []sim.AZState
}

func (t azTimeline) stateAt(x time.Duration) sim.AZState {
	st := sim.AZHealthy
	for k, at := range t.at {
		if at > x {
			break
		}
		st = t.states[k]
	}
	return st
}

// healthyThrough reports whether the zone is healthy at every instant of
// [from, to).
func (t azTimeline) healthyThrough(from, to time.Duration) bool {
	if t.stateAt(from) != sim.AZHealthy {
		return false
	}
	for k, at := range t.at {
		if at > from && at < to && t.states[k] != sim.AZHealthy {
			return false
		}
	}
	return true
}

// Bound computes the oracle's bound for one seed, given the simulations
// of the compared strategies on that seed (for the start windows D_i).
func Bound(sc *Scenario, seed int64, sims []*Simulation) (BoundResult, error) {
	regionSc, err := sc.RegionScenario()
	if err != nil {
		return BoundResult{}, err
	}
	// The region fills in the defaults (startup, linger, delays) exactly
	// as the simulations saw them.
	r, err := sim.New(regionSc, sim.WithClock(sim.NewManualClock(epoch)), sim.WithSeed(seed))
	if err != nil {
		return BoundResult{}, err
	}
	def := r.Scenario()
	arr := fleet(sc, seed)
	res := BoundResult{Seed: seed, Runs: len(arr)}
	for _, s := range sims {
		if len(s.Outcomes) != len(arr) {
			return res, fmt.Errorf("bound: simulation %s has %d runs, the fleet %d", s.Variant, len(s.Outcomes), len(arr))
		}
		res.Best = max(res.Best, s.Metrics.FullCount)
	}

	subnets := boundSubnets(sc, &def)
	zones := map[string]azTimeline{}
	faults := slices.Clone(def.Faults)
	sort.SliceStable(faults, func(i, j int) bool { return faults[i].At < faults[j].At })
	for _, f := range faults {
		if f.AZ == "" {
			continue
		}
		z := zones[f.AZ]
		z.at = append(z.at, f.At.D())
		z.states = append(z.states, f.State)
		zones[f.AZ] = z
	}
	jobs := map[string]sim.JobSpec{}
	for _, j := range def.Jobs {
		jobs[j.Name] = j
	}
	failAfter := def.DegradedFailureAfter.D()
	linger := def.ENI.Linger.D()

	perSubnet := make([][]bitem, len(subnets))
	eligible := make([]bool, len(arr))
	runs := make([]brun, len(arr))
	for i, a := range arr {
		j := jobs[sc.Jobs[a.Job].Name]
		// Every attempt of run i lasts the same at full capacity.
		life := fullLife(&def, j.Name, i)
		// The oracle may wait as long as the longest admission wait of
		// the compared strategies before starting any run, not only where
		// a strategy did.
		var d time.Duration
		for _, s := range sims {
			d = max(d, s.AdmitWait)
			if o := s.Outcomes[i]; o.Category == Full {
				d = max(d, o.FinalStart-a.At)
			}
		}
		item := bitem{idx: i, start: a.At + d, end: a.At + life + linger, n: j.Workers}
		survive := life - failAfter
		runs[i] = brun{at: a.At, wait: d, hold: life + linger, n: j.Workers, ok: func(k int, from, to time.Duration) bool {
			return canSucceed(zones[subnets[k].az], from, to, survive)
		}}
		for k, s := range subnets {
			if j.Workers > s.cap || !canSucceed(zones[s.az], a.At, a.At+d, life-failAfter) {
				continue
			}
			eligible[i] = true
			perSubnet[k] = append(perSubnet[k], item)
		}
	}
	for _, e := range eligible {
		if e {
			res.Eligible++
		}
	}
	res.Dual = timeIndexed(runs, subnets, float64(res.Best))
	if intervalAffordable(perSubnet) {
		res.Dual = min(res.Dual, lagrangian(len(arr), subnets, perSubnet, float64(res.Best)))
	}
	res.Count = min(int(math.Floor(res.Dual+1e-6)), res.Eligible)
	// The dual bounds the LP, which bounds every compared schedule: a
	// count below the best strategy would mean a bug, not a finding.
	if res.Count < res.Best {
		return res, fmt.Errorf("bound: %d full runs is below the %d a strategy reached (dual %.3f): the bound is wrong", res.Count, res.Best, res.Dual)
	}
	if res.Runs > 0 {
		res.Rate = float64(res.Count) / float64(res.Runs)
	}
	return res, nil
}

// maxIntervalItems is the most runs a subnet may have for the interval
// bound to be computed: its flows grow faster than linearly with the runs
// of one overloaded stretch (0.5 s for a 250-run seed of ip-pressure, 3 s
// for 1,000 runs, minutes for 2,000: BenchmarkBound). Above it the
// time-indexed bound stands alone; it is valid by itself and within one
// 30-second step per run of the interval bound where windows are short.
const maxIntervalItems = 1200

// intervalAffordable reports whether the interval bound is computed.
func intervalAffordable(perSubnet [][]bitem) bool {
	for _, items := range perSubnet {
		if len(items) > maxIntervalItems {
			return false
		}
	}
	return true
}

// canSucceed reports whether some start in [from, to] lets a run survive
// in the zone: the zone is not down at the start, and healthy throughout
// the first survive of the run's life (a run in a degraded zone fails
// degraded_failure_after later, so only a run that ends before that
// survives it). The earliest start of each healthy stretch is the best, so
// only from and the zone's changes within the window need checking.
func canSucceed(z azTimeline, from, to, survive time.Duration) bool {
	starts := []time.Duration{from}
	for _, at := range z.at {
		if at > from && at <= to {
			starts = append(starts, at)
		}
	}
	for _, s := range starts {
		if z.stateAt(s) == sim.AZDown {
			continue
		}
		if survive <= 0 || z.healthyThrough(s, s+survive) {
			return true
		}
	}
	return false
}

// boundSubnets is the distinct existing subnets of the candidate
// connections, with what they can hold besides the background ENIs.
func boundSubnets(sc *Scenario, def *sim.Scenario) []bsubnet {
	bg := map[string]int{}
	for _, b := range def.Background {
		bg[b.Subnet] += b.ENIs
	}
	byConn := map[string]string{}
	for _, c := range def.Connections {
		byConn[c.Name] = c.Subnet
	}
	var out []bsubnet
	seen := map[string]bool{}
	for _, name := range sc.candidates(def) {
		id := byConn[name]
		if seen[id] {
			continue
		}
		seen[id] = true
		for _, s := range def.Subnets {
			if s.ID != id {
				continue
			}
			p, err := netip.ParsePrefix(s.CIDR)
			if err != nil {
				continue // validated by the region already
			}
			out = append(out, bsubnet{id: s.ID, az: s.AZ, cap: max(0, 1<<(32-p.Bits())-5-bg[s.ID])})
		}
	}
	return out
}

// lagrangian minimizes L(λ) by subgradient steps (Polyak's step towards
// the target lower, a value the LP is known to reach) and returns the
// smallest value seen.
func lagrangian(n int, subnets []bsubnet, items [][]bitem, lower float64) float64 {
	lambda := make([]float64, n)
	xsum := make([]float64, n)
	sg := polyak{best: math.Inf(1), theta: 2, patience: 8, minTheta: 1e-4, lower: lower}
	const maxIter = 150
	for it := 0; it < maxIter; it++ {
		clear(xsum)
		val := 0.0
		for _, l := range lambda {
			val += l
		}
		for k, s := range subnets {
			val += pathLP(items[k], s.cap, lambda, xsum)
		}
		if sg.done(val) {
			break
		}
		norm := 0.0
		for i := range lambda {
			g := 1 - xsum[i]
			norm += g * g
		}
		if norm < 1e-12 {
			break // a subgradient of zero: λ is optimal
		}
		step := sg.step(val, norm)
		for i := range lambda {
			lambda[i] = math.Max(0, lambda[i]-step*(1-xsum[i]))
		}
	}
	return sg.best
}

// polyak keeps the books of a subgradient method with Polyak's step
// towards a target lower (a value the LP is known to reach): the smallest
// value seen (every iterate bounds the LP from above), and a step factor
// halved after patience iterations without a new smallest value.
type polyak struct {
	best, theta, minTheta, lower float64
	stall, patience              int
}

// done records the value of an iterate and reports whether to stop: the
// bound rounds down to the target already, or the steps became too small.
func (p *polyak) done(val float64) bool {
	if val < p.best-1e-9 {
		p.best, p.stall = val, 0
	} else if p.stall++; p.stall >= p.patience {
		p.theta, p.stall = p.theta/2, 0
	}
	return math.Floor(p.best+1e-6) <= p.lower || p.theta < p.minTheta
}

// step is the step length for a subgradient of squared norm norm.
func (p *polyak) step(val, norm float64) float64 {
	return p.theta * math.Max(val-p.lower, 1e-3) / norm
}

// pathLP solves one subnet's problem: maximize Σ w_i x_i, w_i = 1 − λ_i,
// over the runs' cores on a time line of capacity c. It adds each run's
// x_i to xsum and returns the optimum. Runs with an empty core take no
// capacity (x = 1); stretches of time where the cores never overload the
// subnet take every run whole; only overloaded stretches need the flow.
func pathLP(items []bitem, c int, lambda, xsum []float64) float64 {
	total := 0.0
	var live []bitem
	for _, it := range items {
		w := 1 - lambda[it.idx]
		if w <= 0 {
			continue
		}
		if it.end <= it.start {
			total += w
			xsum[it.idx]++
			continue
		}
		live = append(live, it)
	}
	sort.Slice(live, func(a, b int) bool {
		if live[a].start != live[b].start {
			return live[a].start < live[b].start
		}
		return live[a].idx < live[b].idx
	})
	// Components: maximal groups of cores chained by overlap.
	for lo := 0; lo < len(live); {
		hi, end := lo+1, live[lo].end
		for hi < len(live) && live[hi].start < end {
			end = max(end, live[hi].end)
			hi++
		}
		comp := live[lo:hi]
		if peak(comp) <= c {
			for _, it := range comp {
				total += 1 - lambda[it.idx]
				xsum[it.idx]++
			}
		} else {
			total += flowLP(comp, c, lambda, xsum)
		}
		lo = hi
	}
	return total
}

// peak is the most IPs the cores hold at once.
func peak(items []bitem) int {
	type ev struct {
		at time.Duration
		d  int
	}
	evs := make([]ev, 0, 2*len(items))
	for _, it := range items {
		evs = append(evs, ev{it.start, it.n}, ev{it.end, -it.n})
	}
	// Ends before starts at the same instant: [start, end) intervals.
	sort.Slice(evs, func(a, b int) bool {
		if evs[a].at != evs[b].at {
			return evs[a].at < evs[b].at
		}
		return evs[a].d < evs[b].d
	})
	cur, top := 0, 0
	for _, e := range evs {
		cur += e.d
		top = max(top, cur)
	}
	return top
}

type arc struct {
	to, rev int
	cap     int
	cost    float64
	item    int // index into the component, -1 for the time line
}

// flowLP is the min-cost flow of one overloaded component.
func flowLP(items []bitem, c int, lambda, xsum []float64) float64 {
	times := make([]time.Duration, 0, 2*len(items))
	for _, it := range items {
		times = append(times, it.start, it.end)
	}
	slices.Sort(times)
	times = slices.Compact(times)
	node := func(t time.Duration) int {
		k, _ := slices.BinarySearch(times, t)
		return k
	}
	m := len(times)
	g := make([][]arc, m)
	add := func(u, v, capacity int, cost float64, item int) {
		g[u] = append(g[u], arc{to: v, rev: len(g[v]), cap: capacity, cost: cost, item: item})
		g[v] = append(g[v], arc{to: u, rev: len(g[u]) - 1, cap: 0, cost: -cost, item: -1})
	}
	for j := 0; j+1 < m; j++ {
		add(j, j+1, c, 0, -1)
	}
	for k, it := range items {
		add(node(it.start), node(it.end), it.n, -(1-lambda[it.idx])/float64(it.n), k)
	}

	// Potentials: shortest distances on the initial graph, a DAG whose
	// arcs all go forward in time.
	pot := make([]float64, m)
	for j := 1; j < m; j++ {
		pot[j] = math.Inf(1)
	}
	for u := 0; u < m; u++ {
		for _, a := range g[u] {
			if a.cap > 0 && pot[u]+a.cost < pot[a.to] {
				pot[a.to] = pot[u] + a.cost
			}
		}
	}
	dist := make([]float64, m)
	done := make([]bool, m)
	prevNode := make([]int, m)
	prevArc := make([]int, m)
	flow, sink := 0, m-1
	for flow < c {
		for j := range dist {
			dist[j] = math.Inf(1)
		}
		clear(done)
		dist[0] = 0
		pq := &fheap{{0, 0}}
		for pq.Len() > 0 {
			top := heap.Pop(pq).(fitem)
			if done[top.v] {
				continue
			}
			// A node is settled once: rounding can make an arc and its
			// reverse sum to a hair below zero, and a settled node
			// updated again could then make the path back to the source
			// a cycle (a 400-run scenario looped for ever that way).
			done[top.v] = true
			for k, a := range g[top.v] {
				if a.cap <= 0 || done[a.to] {
					continue
				}
				nd := top.d + a.cost + pot[top.v] - pot[a.to]
				if nd < dist[a.to]-1e-15 {
					dist[a.to] = nd
					prevNode[a.to], prevArc[a.to] = top.v, k
					heap.Push(pq, fitem{nd, a.to})
				}
			}
		}
		if math.IsInf(dist[sink], 1) {
			break
		}
		// min(dist, dist[sink]), not dist alone: a node this search did
		// not reach (or reached only beyond the sink) must move too, or a
		// later search meets negative reduced costs there, which a search
		// that settles each node once would get wrong. With the minimum
		// every residual arc keeps a reduced cost >= 0.
		for j := range pot {
			pot[j] += min(dist[j], dist[sink])
		}
		// The path's true cost: stop once it no longer earns anything,
		// the time line alone carries the rest at no cost.
		if pot[sink]-pot[0] >= -1e-12 {
			break
		}
		push := c - flow
		for v := sink; v != 0; v = prevNode[v] {
			push = min(push, g[prevNode[v]][prevArc[v]].cap)
		}
		for v := sink; v != 0; v = prevNode[v] {
			a := &g[prevNode[v]][prevArc[v]]
			a.cap -= push
			g[v][a.rev].cap += push
		}
		flow += push
	}
	total := 0.0
	for u := range g {
		for _, a := range g[u] {
			if a.item < 0 {
				continue
			}
			it := items[a.item]
			used := it.n - a.cap
			x := float64(used) / float64(it.n)
			total += x * (1 - lambda[it.idx])
			xsum[it.idx] += x
		}
	}
	return total
}

type fitem struct {
	d float64
	v int
}

type fheap []fitem

func (h fheap) Len() int           { return len(h) }
func (h fheap) Less(i, j int) bool { return h[i].d < h[j].d }
func (h fheap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *fheap) Push(x any)        { *h = append(*h, x.(fitem)) }
func (h *fheap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
