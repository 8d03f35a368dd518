// Package fleet is the read model and the HTTP server of `gluenet serve`:
// a fleet view of subnets, zones and runs over the state store that
// `gluenet run` processes write, as JSON (/api/v1), Prometheus metrics
// (/metrics) and HTML pages with server-drawn SVG charts.
//
// The server only reads: it holds a Reader, which has no method that
// changes a run, a job or health memory, and it never talks to Glue. The
// optional Sampler (--watch) is the one writer: it asks EC2 for the free
// IPs of watched subnets and appends samples to the store.
//
// Pages are built with strings.Builder and html.EscapeString, not
// html/template: executing a template makes the linker keep every exported
// method of every type in the binary, the whole AWS SDK included. For the
// same reason (issue 12's size limit) slices of structs are sorted with
// sort.Slice, whose code every element type shares, not slices.SortFunc,
// which the compiler copies for each struct type (about 12 KB of code each).
package fleet

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/store"
)

// RunReader reads the runs and their attempts.
type RunReader interface {
	GetRun(ctx context.Context, key string) (store.Run, error)
	ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error)
	Attempts(ctx context.Context, key string) ([]store.Attempt, error)
	AttemptsOf(ctx context.Context, keys []string) (map[string][]store.Attempt, error)
}

// HealthReader reads health memory and its history.
type HealthReader interface {
	Health(ctx context.Context) ([]gluenet.HealthRecord, error)
	HealthEvents(ctx context.Context, limit int) ([]store.HealthEvent, error)
}

// CapacityReader reads what was known of the subnets' free IPs: the
// reservations and the sampler's history.
type CapacityReader interface {
	Reservations(ctx context.Context, now time.Time) ([]gluenet.Reservation, error)
	SubnetSamples(ctx context.Context, since time.Time) ([]store.SubnetSample, error)
}

// Reader is the part of the state store the fleet view reads.
type Reader interface {
	RunReader
	HealthReader
	CapacityReader
}

// Source says where a free-IP observation comes from.
const (
	SourceSample = "sample" // the --watch sampler's DescribeSubnets
	SourceRun    = "run"    // the discovery of a run's attempt (its plan)
)

// Observation is one subnet's free IPs at a time.
type Observation struct {
	At       time.Time `json:"at"`
	SubnetID string    `json:"subnet_id"`
	AZ       string    `json:"availability_zone"`
	// FreeIPs is EC2's AvailableIpAddressCount.
	FreeIPs int `json:"free_ips"`
	// ReservedIPs is what reservations held in the subnet then.
	ReservedIPs int `json:"reserved_ips"`
	// FreeAfterReservations is FreeIPs - ReservedIPs, at least 0: what a
	// ranking uses.
	FreeAfterReservations int    `json:"free_after_reservations"`
	Source                string `json:"source"`
	// RunKey names the run whose discovery observed it (source run).
	RunKey string `json:"run_key,omitempty"`
}

// Subnet is the current view of one subnet.
type Subnet struct {
	SubnetID string `json:"subnet_id"`
	AZ       string `json:"availability_zone"`
	// Connections are the Glue connections seen using the subnet.
	Connections []string `json:"connections"`
	// FreeIPs is EC2's count at the last observation.
	FreeIPs int `json:"free_ips"`
	// ReservedIPs is what unexpired reservations hold now.
	ReservedIPs           int       `json:"reserved_ips"`
	FreeAfterReservations int       `json:"free_after_reservations"`
	ObservedAt            time.Time `json:"observed_at"`
	Source                string    `json:"source"`
	Ejected               bool      `json:"ejected"`
	EjectedUntil          time.Time `json:"ejected_until,omitzero"`
	// ZoneEjected is true when the subnet's AZ is ejected.
	ZoneEjected bool `json:"zone_ejected"`
	// Stale is true when the last observation is older than the window:
	// FreeIPs is old news.
	Stale bool `json:"stale"`
}

// Zone is the current view of one Availability Zone.
type Zone struct {
	AZ           string    `json:"availability_zone"`
	Subnets      []string  `json:"subnets"`
	FreeIPs      int       `json:"free_ips"`
	ReservedIPs  int       `json:"reserved_ips"`
	Ejected      bool      `json:"ejected"`
	EjectedUntil time.Time `json:"ejected_until,omitzero"`
}

// Ejection is a period during which a subnet or zone was ejected.
type Ejection struct {
	Scope gluenet.Scope `json:"scope"`
	Key   string        `json:"key"`
	From  time.Time     `json:"from"`
	Until time.Time     `json:"until"`
	// Why is the event's detail.
	Why string `json:"why"`
}

// HealthEntry is a health record with whether it is ejected now.
type HealthEntry struct {
	gluenet.HealthRecord
	EjectedNow bool `json:"ejected_now"`
}

// Health is health memory with its evidence.
type Health struct {
	Records []HealthEntry       `json:"records"`
	Events  []store.HealthEvent `json:"events"`
	// Ejections are the ejection periods the events record.
	Ejections []Ejection `json:"ejections"`
}

// RunSummary is one run in a list.
type RunSummary struct {
	Key        string          `json:"key"`
	Job        string          `json:"job"`
	Status     store.RunStatus `json:"status"`
	Outcome    string          `json:"outcome"`
	CreatedAt  time.Time       `json:"created_at"`
	FinishedAt time.Time       `json:"finished_at,omitzero"`
	Attempts   int             `json:"attempts"`
	// Class, Subnet and AZ are the last attempt's.
	Class     string `json:"class"`
	Subnet    string `json:"subnet"`
	AZ        string `json:"availability_zone"`
	GlueRunID string `json:"glue_run_id"`
	// Strategy is the last plan's strategy.
	Strategy string `json:"strategy"`
	// Error is the last error message an attempt recorded (Glue's, or
	// gluenet's when the run got no Glue run).
	Error string `json:"error,omitempty"`
	// UnderCapacity counts the attempts started with fewer free IPs than
	// the run needed (the plan's under_capacity).
	UnderCapacity int `json:"under_capacity,omitempty"`
}

// RunFilter selects runs in the view.
type RunFilter struct {
	Job    string
	Status store.RunStatus
	Since  time.Time
	Limit  int
	// Cursor, when set, lists the runs after it (the last run of the
	// previous page).
	Cursor *Cursor
}

// Cursor is a place in the runs list, newest first: the creation time and
// key of the last run a page listed.
type Cursor struct {
	At  time.Time
	Key string
}

// String encodes the cursor for a URL: opaque to clients.
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.UnixMicro(), 10) + "/" + c.Key))
}

// parseCursor decodes what Cursor.String encoded.
func parseCursor(v string) (Cursor, error) {
	bad := &badRequest{fmt.Sprintf("cursor %q: not a cursor this server gave; pass the next_cursor of the previous page as it is", v)}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return Cursor{}, bad
	}
	us, key, ok := strings.Cut(string(b), "/")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || key == "" {
		return Cursor{}, bad
	}
	return Cursor{At: time.UnixMicro(n).UTC(), Key: key}, nil
}

// RunPage is one page of the runs list.
type RunPage struct {
	Runs []RunSummary
	// Next is the cursor of the next page; empty on the last.
	Next string
}

// View reads the store for the server; every method reads afresh.
type View struct {
	R   Reader
	Now func() time.Time
	Log *slog.Logger
	// Window bounds the history: runs created and samples taken within it.
	Window time.Duration
	// CacheTTL lets requests and scrapes that come within it of a store
	// read share that read (0: every request reads). Concurrent requests
	// wait for one read instead of each reading: a busy dashboard costs
	// the store at most one read per CacheTTL, and leaves the runners'
	// writes the CPU and the locks they need.
	CacheTTL time.Duration

	mu    sync.Mutex
	memos map[string]memo
	tally *tally // under mu
}

// memo is a result read from the store at a time.
type memo struct {
	at time.Time
	v  any
}

// memoize returns what fn read within CacheTTL for the same key, or calls
// it. Reads are serialized: concurrent requests wait for one read.
func (v *View) memoize(key string, fn func(now time.Time) (any, error)) (any, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	fresh := func(m memo) bool { return v.CacheTTL > 0 && !now.Before(m.at) && now.Sub(m.at) < v.CacheTTL }
	if m, ok := v.memos[key]; ok && fresh(m) {
		return m.v, nil
	}
	x, err := fn(now)
	if err != nil {
		return nil, err
	}
	if v.CacheTTL > 0 {
		if v.memos == nil {
			v.memos = map[string]memo{}
		}
		for k, m := range v.memos { // forget the stale ones: filters vary
			if !fresh(m) {
				delete(v.memos, k)
			}
		}
		v.memos[key] = memo{at: now, v: x}
	}
	return x, nil
}

// DefaultWindow is how far back the history and the metrics look.
const DefaultWindow = 24 * time.Hour

func (v *View) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *View) log() *slog.Logger {
	if v.Log != nil {
		return v.Log
	}
	return slog.Default()
}

func (v *View) window() time.Duration {
	if v.Window > 0 {
		return v.Window
	}
	return DefaultWindow
}

// Since is the start of the view's window.
func (v *View) Since() time.Time { return v.now().Add(-v.window()) }

// Runs lists runs, newest first, with their attempts summed up.
func (v *View) Runs(ctx context.Context, f RunFilter) ([]RunSummary, error) {
	p, err := v.RunsPage(ctx, f)
	return p.Runs, err
}

// RunsPage lists a page of runs, newest first, and the cursor of the next
// page when there is one.
func (v *View) RunsPage(ctx context.Context, f RunFilter) (RunPage, error) {
	cursor := ""
	if f.Cursor != nil {
		cursor = f.Cursor.String()
	}
	x, err := v.memoize(fmt.Sprintf("runs %q %q %d %d %q", f.Job, f.Status, f.Since.UnixMicro(), f.Limit, cursor), func(time.Time) (any, error) {
		return v.runs(ctx, f)
	})
	if err != nil {
		return RunPage{}, err
	}
	return x.(RunPage), nil
}

func (v *View) runs(ctx context.Context, f RunFilter) (RunPage, error) {
	runs, err := v.listAfter(ctx, f)
	if err != nil {
		return RunPage{}, err
	}
	var p RunPage
	if f.Limit > 0 && len(runs) > f.Limit {
		runs = runs[:f.Limit]
		last := runs[len(runs)-1]
		p.Next = Cursor{At: last.CreatedAt, Key: last.Key}.String()
	}
	attempts, err := v.R.AttemptsOf(ctx, keysOf(runs))
	if err != nil {
		return RunPage{}, err
	}
	p.Runs = make([]RunSummary, 0, len(runs))
	for _, r := range runs {
		p.Runs = append(p.Runs, summarize(r, attempts[r.Key]))
	}
	return p, nil
}

// listAfter lists up to f.Limit+1 runs after f.Cursor in the store's order
// (created_at, then key, both descending): the store pages by time only,
// so the runs created at the cursor's very time are read again and those
// the previous page had (key at or above the cursor's) dropped.
func (v *View) listAfter(ctx context.Context, f RunFilter) ([]store.Run, error) {
	sf := store.RunFilter{Job: f.Job, Status: f.Status, Since: f.Since}
	want := 0
	if f.Limit > 0 {
		want = f.Limit + 1
	}
	if f.Cursor == nil {
		sf.Limit = want
		return v.R.ListRuns(ctx, sf)
	}
	sf.Before = f.Cursor.At.Add(time.Microsecond)
	for extra := 8; ; extra *= 4 {
		if want > 0 {
			sf.Limit = want + extra
		}
		got, err := v.R.ListRuns(ctx, sf)
		if err != nil {
			return nil, err
		}
		out := got[:0:0]
		for _, r := range got {
			if r.CreatedAt.Equal(f.Cursor.At) && r.Key >= f.Cursor.Key {
				continue
			}
			out = append(out, r)
		}
		if want == 0 || len(out) >= want || len(got) < sf.Limit {
			if want > 0 && len(out) > want {
				out = out[:want]
			}
			return out, nil
		}
	}
}

func keysOf(runs []store.Run) []string {
	keys := make([]string, len(runs))
	for i, r := range runs {
		keys[i] = r.Key
	}
	return keys
}

func summarize(r store.Run, as []store.Attempt) RunSummary {
	s := RunSummary{Key: r.Key, Job: r.Job, Status: r.Status, Outcome: r.Outcome, CreatedAt: r.CreatedAt,
		FinishedAt: r.FinishedAt, Attempts: len(as)}
	for _, a := range as {
		if a.Class != "" {
			s.Class = a.Class
		}
		if a.GlueRunID != "" {
			s.GlueRunID = a.GlueRunID
		}
		if a.ErrorMessage != "" {
			s.Error = a.ErrorMessage
		}
		if p, ok := decodePlan(a.Plan); ok && p.UnderCapacity != nil {
			s.UnderCapacity++
		}
	}
	if len(as) == 0 {
		return s
	}
	// Where the last attempt landed; while it is going, where its plan
	// sends it; when it failed with a text that names a subnet or a zone,
	// that place (classify.Verdict.Blame, as health memory blames it).
	last := as[len(as)-1]
	s.Subnet, s.AZ = last.Subnet, last.AZ
	p, ok := decodePlan(last.Plan)
	if ok {
		s.Strategy = p.Strategy
		if f := p.First(); s.Subnet == "" && f != nil {
			s.Subnet, s.AZ = f.SubnetID, f.AZ
		}
	}
	if last.ErrorMessage != "" && last.FinalState != "" {
		if v := classify.RunOutcome(last.FinalState, last.ErrorMessage); v.Subnet != "" || v.AZ != "" {
			s.Subnet, s.AZ = v.Blame(s.Subnet, s.AZ, p.Placements)
		}
	}
	return s
}

func decodePlan(b json.RawMessage) (gluenet.Plan, bool) {
	var p gluenet.Plan
	if len(b) == 0 || json.Unmarshal(b, &p) != nil {
		return gluenet.Plan{}, false
	}
	return p, true
}

// RunDetail is one run with its attempts, as `gluenet runs show` gives it.
type RunDetail struct {
	Run      store.Run       `json:"run"`
	Attempts []store.Attempt `json:"attempts"`
}

// Run returns one run; store.ErrNotFound when it does not exist.
func (v *View) Run(ctx context.Context, key string) (RunDetail, error) {
	r, err := v.R.GetRun(ctx, key)
	if err != nil {
		return RunDetail{}, err
	}
	as, err := v.R.Attempts(ctx, key)
	if err != nil {
		return RunDetail{}, err
	}
	if as == nil {
		as = []store.Attempt{}
	}
	// Runs recorded by earlier builds carry their inputs in Go's field
	// names: show them in today's shape, as `runs show` does.
	r.Inputs = executor.CurrentInputs(r.Inputs)
	return RunDetail{Run: r, Attempts: as}, nil
}

// snapshot is what one request reads from the store: the runs of the
// window with their attempts, the samples, reservations and health.
type snapshot struct {
	now          time.Time
	runs         []store.Run
	attempts     map[string][]store.Attempt
	samples      []store.SubnetSample
	reservations []gluenet.Reservation
	health       []gluenet.HealthRecord
	// since is the window's start; counts the tally's counts then.
	since  time.Time
	counts *counts
}

// load returns the store's state now, or the one read within CacheTTL.
func (v *View) load(ctx context.Context) (*snapshot, error) {
	x, err := v.memoize("snapshot", func(now time.Time) (any, error) { return v.read(ctx, now) })
	if err != nil {
		return nil, err
	}
	return x.(*snapshot), nil
}

// read reads a snapshot from the store. The snapshot is not changed after,
// so requests may share it.
func (v *View) read(ctx context.Context, now time.Time) (*snapshot, error) {
	sn := &snapshot{now: now}
	since := sn.now.Add(-v.window())
	var err error
	if sn.samples, err = v.R.SubnetSamples(ctx, since); err != nil {
		return nil, err
	}
	if sn.runs, err = v.R.ListRuns(ctx, store.RunFilter{Since: since}); err != nil {
		return nil, err
	}
	if sn.attempts, err = v.R.AttemptsOf(ctx, keysOf(sn.runs)); err != nil {
		return nil, err
	}
	if sn.reservations, err = v.R.Reservations(ctx, sn.now); err != nil {
		return nil, err
	}
	if sn.health, err = v.R.Health(ctx); err != nil {
		return nil, err
	}
	sn.since = since
	if v.tally == nil {
		v.tally = newTally()
	}
	if err := v.tally.update(ctx, v.R, sn, since); err != nil {
		return nil, err
	}
	sn.counts = v.tally.counts()
	return sn, nil
}

// Prime reads the store once: it seeds the counters of /metrics with the
// store's whole history (gluenet serve calls it at start, so that the
// first scrape does not pay for it and a broken store stops serve).
func (v *View) Prime(ctx context.Context) error {
	_, err := v.load(ctx)
	return err
}

// History returns the free-IP observations within the window, oldest
// first: the sampler's samples and what runs' discoveries saw.
func (v *View) History(ctx context.Context) ([]Observation, error) {
	sn, err := v.load(ctx)
	if err != nil {
		return nil, err
	}
	return sn.history(), nil
}

func (sn *snapshot) history() []Observation {
	out := make([]Observation, 0, len(sn.samples))
	for _, s := range sn.samples {
		out = append(out, observation(s.At, s.SubnetID, s.AZ, s.FreeIPs, s.ReservedIPs, SourceSample, ""))
	}
	for _, r := range sn.runs {
		for _, a := range sn.attempts[r.Key] {
			p, ok := decodePlan(a.Plan)
			if !ok {
				continue
			}
			at := a.StartedAt
			if at.IsZero() {
				at = r.CreatedAt
			}
			for _, pl := range p.Placements {
				if pl.Free == nil || pl.SubnetID == "" {
					continue
				}
				// The plan keeps the free IPs after reservations and the
				// reserved IPs; EC2's count is their sum.
				out = append(out, observation(at, pl.SubnetID, pl.AZ, *pl.Free+pl.Reserved, pl.Reserved, SourceRun, r.Key))
			}
		}
	}
	// sort.SliceStable, not slices.SortStableFunc: see the package comment.
	sort.SliceStable(out, func(i, j int) bool {
		return cmp.Or(out[i].At.Compare(out[j].At), cmp.Compare(out[i].SubnetID, out[j].SubnetID)) < 0
	})
	return out
}

func observation(at time.Time, subnet, az string, free, reserved int, source, run string) Observation {
	return Observation{At: at, SubnetID: subnet, AZ: az, FreeIPs: free, ReservedIPs: reserved,
		FreeAfterReservations: max(0, free-reserved), Source: source, RunKey: run}
}

// connections maps subnets to the connections runs' plans saw on them.
func (sn *snapshot) connections() map[string][]string {
	out := map[string][]string{}
	for _, as := range sn.attempts {
		for _, a := range as {
			p, ok := decodePlan(a.Plan)
			if !ok {
				continue
			}
			for _, pl := range p.Placements {
				if pl.SubnetID != "" && !slices.Contains(out[pl.SubnetID], pl.Connection) {
					out[pl.SubnetID] = append(out[pl.SubnetID], pl.Connection)
				}
			}
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// Fleet is the current state: subnets, zones and reservations.
type Fleet struct {
	At           time.Time             `json:"at"`
	Subnets      []Subnet              `json:"subnets"`
	Zones        []Zone                `json:"zones"`
	Reservations []gluenet.Reservation `json:"reservations"`
}

// Fleet returns the current view of subnets and zones: the last free-IP
// observation of each subnet in the window, the reservations held now, and
// health memory's ejections.
func (v *View) Fleet(ctx context.Context) (Fleet, error) {
	sn, err := v.load(ctx)
	if err != nil {
		return Fleet{}, err
	}
	return sn.fleet(), nil
}

func (sn *snapshot) fleet() Fleet {
	now, hist, res, recs, conns := sn.now, sn.history(), sn.reservations, sn.health, sn.connections()
	if res == nil {
		res = []gluenet.Reservation{}
	}
	reserved := map[string]int{}
	for _, r := range res {
		reserved[r.SubnetID] += r.IPs
	}
	ejected := map[gluenet.Scope]map[string]time.Time{gluenet.ScopeSubnet: {}, gluenet.ScopeAZ: {}}
	for _, r := range recs {
		if r.Ejected(now) {
			ejected[r.Scope][r.Key] = r.EjectedUntil
		}
	}
	last := map[string]Observation{}
	if sn.counts != nil {
		// Every subnet ever observed: one nothing observed within the
		// window stays, marked stale.
		for id, o := range sn.counts.subnets {
			last[id] = o
		}
	}
	for _, o := range hist { // oldest first: the last one wins
		last[o.SubnetID] = o
	}
	f := Fleet{At: now, Subnets: []Subnet{}, Zones: []Zone{}, Reservations: res}
	zones := map[string]*Zone{}
	for id, o := range last {
		s := Subnet{SubnetID: id, AZ: o.AZ, Connections: conns[id], FreeIPs: o.FreeIPs, ReservedIPs: reserved[id],
			ObservedAt: o.At, Source: o.Source, Stale: o.At.Before(sn.since)}
		if s.Connections == nil {
			s.Connections = []string{}
		}
		s.FreeAfterReservations = max(0, s.FreeIPs-s.ReservedIPs)
		s.EjectedUntil, s.Ejected = ejected[gluenet.ScopeSubnet][id]
		_, s.ZoneEjected = ejected[gluenet.ScopeAZ][o.AZ]
		f.Subnets = append(f.Subnets, s)
		z := zones[o.AZ]
		if z == nil {
			z = &Zone{AZ: o.AZ, Subnets: []string{}}
			z.EjectedUntil, z.Ejected = ejected[gluenet.ScopeAZ][o.AZ]
			zones[o.AZ] = z
		}
		z.Subnets = append(z.Subnets, id)
		z.FreeIPs += s.FreeIPs
		z.ReservedIPs += s.ReservedIPs
	}
	// A zone health memory knows of but no observation saw.
	for az, until := range ejected[gluenet.ScopeAZ] {
		if zones[az] == nil {
			zones[az] = &Zone{AZ: az, Subnets: []string{}, Ejected: true, EjectedUntil: until}
		}
	}
	// sort.Slice, not slices.SortFunc: see the package comment.
	sort.Slice(f.Subnets, func(i, j int) bool {
		a, b := &f.Subnets[i], &f.Subnets[j]
		return cmp.Or(cmp.Compare(a.AZ, b.AZ), cmp.Compare(a.SubnetID, b.SubnetID)) < 0
	})
	for _, z := range zones {
		slices.Sort(z.Subnets)
		f.Zones = append(f.Zones, *z)
	}
	sort.Slice(f.Zones, func(i, j int) bool { return f.Zones[i].AZ < f.Zones[j].AZ })
	return f
}

// MaxEvents is the most health events the view reads.
const MaxEvents = 500

// Health returns health memory, its recent events and the ejection periods
// they record.
func (v *View) Health(ctx context.Context) (Health, error) {
	x, err := v.memoize("health", func(now time.Time) (any, error) { return v.health(ctx, now) })
	if err != nil {
		return Health{}, err
	}
	return x.(Health), nil
}

func (v *View) health(ctx context.Context, now time.Time) (Health, error) {
	recs, err := v.R.Health(ctx)
	if err != nil {
		return Health{}, err
	}
	events, err := v.R.HealthEvents(ctx, MaxEvents)
	if err != nil {
		return Health{}, err
	}
	h := Health{Records: []HealthEntry{}, Events: events, Ejections: ejections(events, recs)}
	if h.Events == nil {
		h.Events = []store.HealthEvent{}
	}
	for _, r := range recs {
		h.Records = append(h.Records, HealthEntry{HealthRecord: r, EjectedNow: r.Ejected(now)})
	}
	return h, nil
}

var untilRE = regexp.MustCompile(`until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)`)

// ejections turns ejected events (newest first, as the store returns them)
// into periods: from the event to the end its detail names, cut short by a
// later success or reset of the same key.
func ejections(events []store.HealthEvent, recs []gluenet.HealthRecord) []Ejection {
	out := []Ejection{}
	for i, e := range events {
		if e.Kind != store.HealthEjected {
			continue
		}
		ej := Ejection{Scope: e.Scope, Key: e.Key, From: e.At, Why: e.Detail}
		if m := untilRE.FindStringSubmatch(e.Detail); m != nil {
			ej.Until, _ = time.Parse(time.RFC3339, m[1])
		}
		if ej.Until.IsZero() {
			for _, r := range recs {
				if r.Scope == e.Scope && r.Key == e.Key {
					ej.Until = r.EjectedUntil
				}
			}
		}
		// Later events come before i: the earliest later recovery ends it.
		for j := i - 1; j >= 0; j-- {
			l := events[j]
			if l.Scope == e.Scope && l.Key == e.Key && (l.Kind == store.HealthSuccess || l.Kind == store.HealthReset) {
				if l.At.Before(ej.Until) {
					ej.Until = l.At
				}
				break
			}
		}
		if ej.Until.Before(ej.From) {
			ej.Until = ej.From
		}
		out = append(out, ej)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })
	return out
}
