// Package health is gluenet's memory of which subnets and Availability
// Zones failed to place runs: outlier detection in the manner of Envoy's,
// applied to Glue runs instead of HTTP requests. It is pure: the records
// come in, updated records and events go out, and the time is passed in,
// so that the state store can apply an update inside one transaction
// (store.UpdateHealth) and the strategy lab can replay it on a virtual
// clock.
//
// # Rules
//
// Only placement failures count: a verdict from the classify package with
// BlameSubnet or BlameAZ. A failure of the job's own code, a timeout, a
// stop or an API error changes nothing.
//
// Subnet. Each placement failure in a subnet adds one to its consecutive
// failures; a success resets them. When they reach
// Config.ConsecutiveFailures, the subnet is ejected. While the streak
// lasts, every further failure ejects it again (it was tried, because every
// other candidate was ejected too, and failed once more).
//
// Zone. Subnets of one AZ share its fate (power, network, Glue's capacity
// there), so a placement failure also counts against the AZ, as evidence:
//
//   - a failure that points at the zone itself (BlameAZ: "Could not find
//     subnet for AZ", lost workers, network unreachable) is one piece of
//     evidence;
//   - a subnet of the zone that starts a failure streak is one piece of
//     evidence; further failures of the same subnet are not, because one
//     subnet failing again and again (out of IPs, say) says nothing about
//     its neighbours.
//
// The AZ's ConsecutiveFailures holds this evidence. The AZ is ejected when
// it reaches Config.AZFailingSubnets (several of its subnets failing), or,
// when the failure points at the zone, Config.ConsecutiveFailures if that
// is lower: the zone named as the cause is as strong a signal about the
// zone as a subnet failure is about its subnet. A success anywhere in the
// AZ clears its evidence.
//
// Ejection. The n-th ejection of a key lasts Config.BaseEjection × n,
// capped at Config.MaxEjection (Envoy's base_ejection_time and
// max_ejection_time). An ejection never shortens one already running.
// An ejected key comes back by itself when its time is up: records are
// judged by time comparison only (gluenet.HealthRecord.Ejected), and no
// sweep is needed. strategy.Plan demotes ejected candidates behind healthy
// ones and, when every candidate that could start a run is ejected, uses
// them all and says so (Envoy's max ejection percent): ejection demotes, it
// never excludes.
//
// Success. A successful run proves the subnet and its zone can host a run
// now: it clears their consecutive failures, ends a running ejection early,
// and lowers the ejection count by one, so that a key that recovered earns
// back shorter ejections (as Envoy decrements its ejection multiplier while
// a host stays healthy).
//
// # Defaults
//
// ConsecutiveFailures is 1, not Envoy's 5: Envoy counts requests, which are
// many and cheap; a Glue run that fails on placement has cost minutes, and
// the next attempt comes soon. One placement failure is enough evidence to
// demote a subnet for five minutes, and demoting is cheap because an
// ejected subnet is still used when nothing better is left. AZFailingSubnets
// is 2: two subnets of one zone failing is what distinguishes a zone
// problem from a subnet problem.
package health

import (
	"fmt"
	"slices"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
)

// Config holds the outlier detection thresholds. A zero field takes its
// default (see DefaultConfig).
type Config struct {
	// ConsecutiveFailures is the number of placement failures in a row
	// after which a subnet is ejected (and an AZ, for failures that point
	// at the zone). Default 1.
	ConsecutiveFailures int `json:"consecutive_failures" yaml:"consecutive_failures"`
	// AZFailingSubnets is the evidence after which a whole AZ is ejected:
	// the number of its subnets that started failing, plus the failures
	// that pointed at the zone. Default 2.
	AZFailingSubnets int `json:"az_failing_subnets" yaml:"az_failing_subnets"`
	// BaseEjection is the length of a first ejection; the n-th lasts n
	// times as long. Default 5 minutes.
	BaseEjection time.Duration `json:"base_ejection" yaml:"base_ejection"`
	// MaxEjection caps the length of an ejection. Default 1 hour.
	MaxEjection time.Duration `json:"max_ejection" yaml:"max_ejection"`
}

// The defaults; see the package comment for why.
const (
	DefaultConsecutiveFailures = 1
	DefaultAZFailingSubnets    = 2
	DefaultBaseEjection        = 5 * time.Minute
	DefaultMaxEjection         = time.Hour
)

// DefaultConfig returns the default thresholds.
func DefaultConfig() Config {
	return Config{
		ConsecutiveFailures: DefaultConsecutiveFailures,
		AZFailingSubnets:    DefaultAZFailingSubnets,
		BaseEjection:        DefaultBaseEjection,
		MaxEjection:         DefaultMaxEjection,
	}
}

// Validate reports a negative threshold or duration, or a cap below the
// base; zero values are fine (they take the defaults).
func (c Config) Validate() error {
	switch {
	case c.ConsecutiveFailures < 0:
		return fmt.Errorf("health: consecutive failures must not be negative, got %d", c.ConsecutiveFailures)
	case c.AZFailingSubnets < 0:
		return fmt.Errorf("health: AZ failing subnets must not be negative, got %d", c.AZFailingSubnets)
	case c.BaseEjection < 0:
		return fmt.Errorf("health: base ejection must not be negative, got %s", c.BaseEjection)
	case c.MaxEjection < 0:
		return fmt.Errorf("health: max ejection must not be negative, got %s", c.MaxEjection)
	}
	if d := c.withDefaults(); d.MaxEjection < d.BaseEjection {
		return fmt.Errorf("health: max ejection %s is shorter than base ejection %s", d.MaxEjection, d.BaseEjection)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.ConsecutiveFailures <= 0 {
		c.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if c.AZFailingSubnets <= 0 {
		c.AZFailingSubnets = DefaultAZFailingSubnets
	}
	if c.BaseEjection <= 0 {
		c.BaseEjection = DefaultBaseEjection
	}
	if c.MaxEjection <= 0 {
		c.MaxEjection = DefaultMaxEjection
	}
	return c
}

// Ejection is how long the n-th ejection of a key lasts: BaseEjection × n,
// capped at MaxEjection. n below 1 counts as 1.
func (c Config) Ejection(n int) time.Duration {
	c = c.withDefaults()
	if n < 1 {
		n = 1
	}
	// Compare before multiplying: a large n must not overflow.
	if int64(n) > int64(c.MaxEjection/c.BaseEjection) {
		return c.MaxEjection
	}
	return min(c.BaseEjection*time.Duration(n), c.MaxEjection)
}

// The kinds of events.
const (
	KindFailure = "failure"
	KindSuccess = "success"
	KindEjected = "ejected"
)

// Event is one entry in the health history. Its fields are those the
// state store persists (store.HealthEvent).
type Event struct {
	At    time.Time     `json:"at"`
	Scope gluenet.Scope `json:"scope"`
	Key   string        `json:"key"`
	// Kind is KindFailure, KindSuccess or KindEjected.
	Kind string `json:"kind"`
	// Class is the failure class (classify.Class) of a failure or
	// ejection.
	Class  string `json:"class,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Observe records the outcome of a run that used subnet (in az) and
// returns the updated records and what happened. The input slice is not
// modified; records keep their order and new ones are appended. Either
// subnet or az may be empty when unknown.
//
// Observe has the shape the state store's transactional update needs:
//
//	st.UpdateHealth(ctx, func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
//		out, events := health.Observe(recs, now, subnet, az, verdict, cfg)
//		return out, convert(events), nil
//	})
func Observe(recs []gluenet.HealthRecord, now time.Time, subnet, az string, v classify.Verdict, cfg Config) ([]gluenet.HealthRecord, []Event) {
	cfg = cfg.withDefaults()
	u := updater{recs: slices.Clone(recs), now: now, cfg: cfg}
	switch {
	case v.Class == classify.Succeeded:
		u.success(gluenet.ScopeSubnet, subnet)
		u.success(gluenet.ScopeAZ, az)
	case v.BlameSubnet || v.BlameAZ:
		u.failure(subnet, az, v)
	}
	return u.recs, u.events
}

// Reset forgets the records of scope and key, as the state store's
// ResetHealth does: an empty key means every key of the scope, an empty
// scope every record. The input slice is not modified.
func Reset(recs []gluenet.HealthRecord, scope gluenet.Scope, key string) []gluenet.HealthRecord {
	out := make([]gluenet.HealthRecord, 0, len(recs))
	for _, r := range recs {
		if (scope == "" || r.Scope == scope) && (key == "" || r.Key == key) {
			continue
		}
		out = append(out, r)
	}
	return out
}

type updater struct {
	recs   []gluenet.HealthRecord
	events []Event
	now    time.Time
	cfg    Config
}

// record returns the record of scope and key, appending a new one if there
// is none.
func (u *updater) record(scope gluenet.Scope, key string) *gluenet.HealthRecord {
	for i := range u.recs {
		if u.recs[i].Scope == scope && u.recs[i].Key == key {
			return &u.recs[i]
		}
	}
	u.recs = append(u.recs, gluenet.HealthRecord{Scope: scope, Key: key})
	return &u.recs[len(u.recs)-1]
}

func (u *updater) emit(r *gluenet.HealthRecord, kind, class, detail string) {
	u.events = append(u.events, Event{At: u.now, Scope: r.Scope, Key: r.Key, Kind: kind, Class: class, Detail: detail})
}

func (u *updater) success(scope gluenet.Scope, key string) {
	if key == "" {
		return
	}
	r := u.record(scope, key)
	failures, ejected := r.ConsecutiveFailures, r.Ejected(u.now)
	r.ConsecutiveFailures = 0
	r.LastSuccess = u.now
	if r.Ejections > 0 {
		r.Ejections--
	}
	if ejected {
		r.EjectedUntil = time.Time{}
	}
	// A success that changes nothing is not news: the history records
	// recoveries, not every run.
	switch {
	case ejected:
		u.emit(r, KindSuccess, "", "a run succeeded: ejection ended early, "+count(failures, "consecutive failure", "consecutive failures")+" cleared")
	case failures > 0:
		u.emit(r, KindSuccess, "", "a run succeeded: "+count(failures, "consecutive failure", "consecutive failures")+" cleared")
	}
}

func (u *updater) failure(subnet, az string, v classify.Verdict) {
	class := string(v.Class)
	detail := v.Reason
	if detail == "" {
		detail = "placement failure"
	}
	startedStreak := false
	if subnet != "" && v.BlameSubnet {
		s := u.record(gluenet.ScopeSubnet, subnet)
		s.ConsecutiveFailures++
		s.LastFailure = u.now
		s.LastClass = class
		startedStreak = s.ConsecutiveFailures == 1
		u.emit(s, KindFailure, class, detail)
		if s.ConsecutiveFailures >= u.cfg.ConsecutiveFailures {
			u.eject(s, class, count(s.ConsecutiveFailures, "placement failure", "consecutive placement failures"))
		}
	}
	if az == "" || !(v.BlameAZ || startedStreak) {
		return
	}
	a := u.record(gluenet.ScopeAZ, az)
	a.ConsecutiveFailures++
	a.LastFailure = u.now
	a.LastClass = class
	why := "a placement failure pointing at the zone"
	if !v.BlameAZ {
		why = fmt.Sprintf("subnet %s started failing", subnet)
	}
	u.emit(a, KindFailure, class, why+": "+detail)
	threshold := u.cfg.AZFailingSubnets
	if v.BlameAZ {
		threshold = min(threshold, u.cfg.ConsecutiveFailures)
	}
	if a.ConsecutiveFailures >= threshold {
		u.eject(a, class, count(a.ConsecutiveFailures, "piece of evidence", "pieces of evidence")+" against the zone (failing subnets and failures pointing at it)")
	}
}

func (u *updater) eject(r *gluenet.HealthRecord, class, why string) {
	r.Ejections++
	d := u.cfg.Ejection(r.Ejections)
	if until := u.now.Add(d); until.After(r.EjectedUntil) {
		r.EjectedUntil = until
	}
	u.emit(r, KindEjected, class, fmt.Sprintf("ejected for %s (ejection %d) until %s after %s",
		d, r.Ejections, r.EjectedUntil.UTC().Format(time.RFC3339), why))
}

// count writes n with the singular or plural noun: "1 piece of evidence",
// "2 pieces of evidence".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
