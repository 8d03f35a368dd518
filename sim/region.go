package sim

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Option configures a Region.
type Option func(*options)

type options struct {
	clock Clock
	seed  *int64
	log   *slog.Logger
	sleep func(ctx context.Context, d time.Duration) error
}

// WithClock sets the clock the region reads. The default is a scaled wall
// clock starting now, at the scenario's time_scale.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithSeed overrides the scenario's seed.
func WithSeed(seed int64) Option { return func(o *options) { o.seed = &seed } }

// WithLogger sets the logger for requests, faults and run transitions. The
// default discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithSleep sets how injected API latency waits. The default sleeps on the
// wall clock and returns early with the context's error.
func WithSleep(f func(ctx context.Context, d time.Duration) error) Option {
	return func(o *options) { o.sleep = f }
}

func realSleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Region is a simulated AWS Region: one VPC, its subnets and ENIs, Glue
// connections, jobs and runs, and their CloudWatch logs. All state sits
// behind one mutex; every entry point first applies the scheduled events up
// to the clock's time (see advanceLocked), so the model is lazy and works
// the same on a wall clock and a virtual one.
type Region struct {
	mu    sync.Mutex
	sc    *Scenario
	clock Clock
	sleep func(ctx context.Context, d time.Duration) error
	log   *slog.Logger
	start time.Time
	// now is the time of the last applied event or request. It never goes
	// back, even if the clock does.
	now time.Time

	vpc         *vpc
	azs         map[string]*zone
	azOrder     []string
	subnets     map[string]*subnet
	subnetOrder []string
	enis        map[string]*eni

	conns    map[string]*connection
	jobs     map[string]*job
	runs     map[string]*run
	runOrder []*run
	profiles map[string]RunProfile

	logGroups map[string]*logGroup

	events eventHeap
	seq    uint64

	// queue holds the runs Glue's job run queuing keeps WAITING, in
	// submission order; queueDirty says room may have appeared since it
	// was last looked at (queue.go).
	queue      []*run
	queueDirty bool

	faults faultState
	stats  map[string]*ServiceStats

	// Separate random streams, so that for instance a throttled call does
	// not change the durations of later runs.
	rngFault *rand.Rand
	rngModel *rand.Rand
	rngID    *rand.Rand
	rngReq   *rand.Rand

	ec2 http.Handler
}

// New builds a region from a scenario. The scenario is validated and copied;
// the region starts at the clock's current time.
func New(sc *Scenario, opts ...Option) (*Region, error) {
	if sc == nil {
		return nil, fmt.Errorf("new region: nil scenario")
	}
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("new region: %w", err)
	}
	o := options{log: slog.New(slog.DiscardHandler), sleep: realSleep}
	for _, opt := range opts {
		opt(&o)
	}
	s := sc.withDefaults()
	if o.seed != nil {
		s.Seed = *o.seed
	}
	if o.clock == nil {
		o.clock = NewScaledClock(time.Now(), s.TimeScale, time.Now)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.sleep == nil {
		o.sleep = realSleep
	}
	seed := uint64(s.Seed)
	r := &Region{
		sc:        s,
		clock:     o.clock,
		sleep:     o.sleep,
		log:       o.log,
		azs:       map[string]*zone{},
		subnets:   map[string]*subnet{},
		enis:      map[string]*eni{},
		conns:     map[string]*connection{},
		jobs:      map[string]*job{},
		runs:      map[string]*run{},
		profiles:  map[string]RunProfile{},
		logGroups: map[string]*logGroup{},
		faults:    newFaultState(),
		stats:     map[string]*ServiceStats{},
		rngFault:  rand.New(rand.NewPCG(seed, 0x6661756c74)),
		rngModel:  rand.New(rand.NewPCG(seed, 0x6d6f64656c)),
		rngID:     rand.New(rand.NewPCG(seed, 0x6964)),
		rngReq:    rand.New(rand.NewPCG(seed, 0x726571)),
	}
	r.start = r.clock.Now()
	r.now = r.start
	if err := r.build(); err != nil {
		return nil, fmt.Errorf("new region: %w", err)
	}
	r.ec2 = newEC2Handler(r)
	return r, nil
}

// build creates the scenario's initial state and schedules its faults.
func (r *Region) build() error {
	s := r.sc
	if err := r.buildNetwork(); err != nil {
		return err
	}
	for _, lg := range []string{outputLogGroup, errorLogGroup} {
		r.logGroups[lg] = &logGroup{name: lg, created: r.now, streams: map[string]*logStream{}}
	}
	for _, c := range s.Connections {
		def := map[string]any{
			"Name":                 c.Name,
			"ConnectionType":       "NETWORK",
			"ConnectionProperties": map[string]any{},
			"PhysicalConnectionRequirements": map[string]any{
				"SubnetId":            c.Subnet,
				"SecurityGroupIdList": stringsToAny(c.SecurityGroups),
			},
		}
		if sub, ok := r.subnets[c.Subnet]; ok {
			def["PhysicalConnectionRequirements"].(map[string]any)["AvailabilityZone"] = sub.az
		}
		if c.Description != "" {
			def["Description"] = c.Description
		}
		if _, err := r.putConnection(def); err != nil {
			return fmt.Errorf("connection %s: %w", c.Name, err)
		}
	}
	for _, j := range s.Jobs {
		def := map[string]any{
			"Role": j.Role,
			"Command": map[string]any{
				"Name":           "glueetl",
				"ScriptLocation": "s3://aws-glue-assets-" + s.AccountID + "-" + s.Region + "/scripts/" + j.Name + ".py",
				"PythonVersion":  "3",
			},
			"WorkerType":        j.WorkerType,
			"NumberOfWorkers":   j.Workers,
			"Timeout":           j.TimeoutMinutes,
			"ExecutionProperty": map[string]any{"MaxConcurrentRuns": j.MaxConcurrentRuns},
			"Connections":       map[string]any{"Connections": stringsToAny(j.Connections)},
		}
		if j.GlueVersion != "" {
			def["GlueVersion"] = j.GlueVersion
		}
		if err := r.putJob(j.Name, def, true); err != nil {
			return fmt.Errorf("job %s: %w", j.Name, err)
		}
		r.profiles[j.Name] = j.RunProfile
	}
	for _, f := range s.Faults {
		r.schedule(r.start.Add(f.At.D()), func() { r.applyFault(f) })
	}
	return nil
}

// applyFault sets one entry of the scenario's fault timeline.
func (r *Region) applyFault(f FaultSpec) {
	var err error
	switch {
	case f.AZ != "":
		st, _ := ParseAZState(string(f.State))
		err = r.setAZStateLocked(f.AZ, st)
	case f.Throttle != nil:
		err = r.faults.set(r.faults.throttle, f.Throttle.Service, f.Throttle.Rate)
	case f.Errors != nil:
		err = r.faults.set(r.faults.errors, f.Errors.Service, f.Errors.Rate)
	case f.Latency != nil:
		err = r.faults.setLatency(f.Latency.Service, f.Latency.Latency.D())
	case f.Exhaust != nil:
		err = r.exhaustLocked(f.Exhaust.Subnet, f.Exhaust.LeaveFree)
	}
	if err != nil {
		r.log.Warn("scenario fault not applied", "at", f.At.D(), "err", err)
		return
	}
	r.log.Info("scenario fault applied", "at", f.At.D(), "az", f.AZ, "state", f.State,
		"throttle", f.Throttle != nil, "errors", f.Errors != nil, "latency", f.Latency != nil, "exhaust", f.Exhaust != nil)
}

// Now returns the region's simulated time, after applying due events.
func (r *Region) Now() time.Time {
	defer r.lock()()
	return r.now
}

// Start returns the simulated time at which the region started; scenario
// fault times are relative to it.
func (r *Region) Start() time.Time { return r.start }

// Scenario returns a copy of the scenario the region runs, with defaults.
func (r *Region) Scenario() Scenario { return *r.sc }

// lock takes the region's mutex and applies every event due by the clock's
// time. Use as: defer r.lock()().
//
// Before it releases the mutex, the returned function starts the queued
// runs that what the caller changed made room for (a deleted ENI, an
// UpdateJob): at the time of the change, not at the next call.
func (r *Region) lock() func() {
	r.mu.Lock()
	r.advanceLocked()
	return r.unlock
}

func (r *Region) unlock() {
	if r.queueDirty && len(r.queue) > 0 {
		r.drainQueue()
	}
	r.mu.Unlock()
}

// advanceLocked applies all scheduled events up to the clock's time, in time
// order (ties in scheduling order). An event runs with r.now set to its own
// time, so what it records carries the simulated time it happened at, and
// it may schedule further events, which run in this same pass when due.
func (r *Region) advanceLocked() {
	target := r.clock.Now()
	for len(r.events) > 0 && !r.events[0].at.After(target) {
		ev := heap.Pop(&r.events).(*event)
		if ev.at.After(r.now) {
			r.now = ev.at
		}
		ev.fn()
		if r.queueDirty && len(r.queue) > 0 {
			r.drainQueue()
		}
	}
	if target.After(r.now) {
		r.now = target
	}
}

// schedule runs fn at time at (simulated). An event due now or in the past
// runs at the next advance.
func (r *Region) schedule(at time.Time, fn func()) {
	r.seq++
	heap.Push(&r.events, &event{at: at, seq: r.seq, fn: fn})
}

type event struct {
	at  time.Time
	seq uint64
	fn  func()
}

type eventHeap []*event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(*event)) }
func (h *eventHeap) Pop() any {
	old := *h
	n := len(old)
	ev := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return ev
}

// hexID returns n random lower-case hex digits from the ID stream.
func (r *Region) hexID(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[r.rngID.IntN(16)]
	}
	return string(b)
}

// runID returns a new Glue job run ID. The seed makes the region's IDs
// reproducible, but a run ID must never repeat across restarts of the
// region (gluenet's journal and Airflow key runs by it): so it also
// carries the instant the region started, XORed into its first 64 bits.
// The same seed and start give the same IDs; a restart, later, does not.
func (r *Region) runID() string {
	h := r.hexID(64)
	v, _ := strconv.ParseUint(h[:16], 16, 64) // cannot fail: 16 hex digits
	return fmt.Sprintf("jr_%016x%s", v^uint64(r.start.UnixNano()), h[16:])
}

// requestID returns a UUID-shaped request ID. It has its own random stream
// so that request IDs do not shift resource IDs.
func (r *Region) requestID() string {
	r.mu.Lock()
	a, b := r.rngReq.Uint64(), r.rngReq.Uint64()
	r.mu.Unlock()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x",
		uint32(a>>32), uint16(a>>16), uint16(a)&0xfff, uint16(b>>48)&0x3fff|0x8000, b&0xffffffffffff)
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
