// Package admit decides when a run may start: capacity-aware admission.
//
// Ranking decides where a run goes; admission decides when. Under IP
// pressure the subnet a run would go to often has room for only part of
// the run (Glue then starts it with fewer workers than asked), while room
// for the whole run appears minutes later: runs that ended a moment ago
// still hold their ENIs (the linger), and runs in flight end. Admission
// waits for that room, for a bounded time, before an attempt starts; when
// the wait runs out it starts the run short or fails, as configured.
//
// The package is pure: the plan to judge, the time and the forecast come
// in; nothing here reads a clock or calls AWS.
package admit

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gluenet/gluenet"
)

// WhenShort says what an attempt does when its wait for room runs out.
type WhenShort string

// The choices.
const (
	// StartShort starts the run on the best usable subnet, with fewer IPs
	// than it needs (Glue starts it under capacity): gluenet's behaviour
	// without admission.
	StartShort WhenShort = "start"
	// FailShort ends the run without starting it (exit code 3).
	FailShort WhenShort = "fail"
)

// Defaults chosen from the lab's trade-off curve (docs/lab.md "The
// defaults, chosen from the curve").
const (
	// DefaultWait bounds the wait for room of one attempt. An hour: under
	// sustained IP pressure (the lab's ip-pressure, 10 seeds) it starts
	// 94.7% of the bound's runs at full capacity against 83.7% with 10
	// minutes, and the runs end no later (p95 81 minutes after they would
	// have at once and at full capacity, against 106, ±50 over seeds): a
	// run started short holds its IPs for longer and runs slower. Where room
	// comes back within minutes (herd, az-degraded) nothing changes. A
	// run no candidate subnet can ever hold does not wait (NeverRoom).
	DefaultWait = time.Hour
	// DefaultWhenShort starts a run short when the wait runs out.
	DefaultWhenShort = StartShort
)

// Config is the admission settings of a run (part of its spec, kept in the
// run's record so that a resumed run keeps them).
type Config struct {
	// Wait bounds how long one attempt waits for room before it starts;
	// 0 turns admission off (start at once, as without admission).
	Wait time.Duration
	// WhenShort is what happens when the wait runs out ("" means start).
	WhenShort WhenShort
	// Predict bounds the wait by when room is expected, from the runs in
	// flight and each job's recent durations: a run waits until then plus
	// a margin, and not at all when no run's end is expected to make room
	// within Wait. Without it a run waits up to Wait whenever there is no
	// room.
	Predict bool
}

// DefaultConfig is gluenet's default admission.
func DefaultConfig() Config { return Config{Wait: DefaultWait, WhenShort: DefaultWhenShort} }

// Enabled reports whether the run waits for room at all.
func (c Config) Enabled() bool { return c.Wait > 0 }

// Validate says what is wrong with the settings, in words for the user.
func (c Config) Validate() error {
	if c.Wait < 0 {
		return fmt.Errorf("admit wait must not be negative, got %s (0 turns waiting for room off)", c.Wait)
	}
	switch c.WhenShort {
	case "", StartShort, FailShort:
	default:
		return fmt.Errorf("when-short must be %q or %q, got %q", StartShort, FailShort, c.WhenShort)
	}
	return nil
}

// ParseWhenShort parses a --when-short value.
func ParseWhenShort(s string) (WhenShort, error) {
	w := WhenShort(strings.ToLower(strings.TrimSpace(s)))
	if err := (Config{WhenShort: w}).Validate(); err != nil {
		return "", err
	}
	if w == "" {
		w = DefaultWhenShort
	}
	return w, nil
}

type configJSON struct {
	Wait      string    `json:"wait"`
	WhenShort WhenShort `json:"when_short,omitempty"`
	Predict   bool      `json:"predict,omitempty"`
}

// MarshalJSON writes the wait as a duration string ("10m0s").
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(configJSON{Wait: c.Wait.String(), WhenShort: c.WhenShort, Predict: c.Predict})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Config) UnmarshalJSON(b []byte) error {
	var j configJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	d, err := time.ParseDuration(j.Wait)
	if err != nil {
		return fmt.Errorf("admission wait: %w", err)
	}
	*c = Config{Wait: d, WhenShort: j.WhenShort, Predict: j.Predict}
	return nil
}

// Room returns the best healthy placement of the plan that has free IPs
// (EC2's count minus reservations) for the run's whole need, or nil. A
// plan whose every startable candidate is ejected counts them as healthy:
// the ranking ignores such ejections too.
func Room(p gluenet.Plan) *gluenet.Placement {
	for i := range p.Placements {
		pl := &p.Placements[i]
		if pl.Group == gluenet.GroupGood && pl.EjectedUntil == nil {
			return pl
		}
	}
	return nil
}

// NeverRoom reports whether no candidate's subnet can ever have room for
// the plan's whole need, because each one's CIDR block is smaller than the
// need (Candidate.UsableIPs): then waiting is pointless. It also returns
// the largest subnet's usable IPs. A candidate whose size is unknown, or
// that was not checked, might have room: NeverRoom is false then.
func NeverRoom(p gluenet.Plan) (largest int, never bool) {
	for _, pl := range p.Placements {
		if pl.Free == nil || pl.UsableIPs == 0 || pl.UsableIPs >= p.Need.IPs {
			return 0, false
		}
		largest = max(largest, pl.UsableIPs)
	}
	return largest, len(p.Placements) > 0
}

// Best is the healthy candidate with the most free IPs (the one closest to
// having room), or the plan's first startable one, or nil.
func Best(p gluenet.Plan) *gluenet.Placement {
	var best *gluenet.Placement
	for i := range p.Placements {
		pl := &p.Placements[i]
		if pl.Free == nil || pl.EjectedUntil != nil {
			continue
		}
		if best == nil || *pl.Free > *best.Free {
			best = pl
		}
	}
	if best == nil {
		return p.First()
	}
	return best
}

// Short returns the figures of a run that would start on the plan's first
// startable candidate with fewer free IPs than it needs, or nil when it
// would start at full capacity (or cannot start at all).
func Short(p gluenet.Plan) *gluenet.UnderCapacity {
	f := p.First()
	if f == nil || f.Free == nil || *f.Free >= p.Need.IPs {
		return nil
	}
	return &gluenet.UnderCapacity{Needed: p.Need.IPs, FreeAtStart: *f.Free, Subnet: f.SubnetID}
}

// Round rounds a wait for people: to the second, or to 10ms under 10s.
func Round(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// Margin is what a predicted wait adds to the time room is expected: the
// prediction's error, and the poll that sees the room.
func Margin(poll time.Duration) time.Duration { return max(time.Minute, 2*poll) }

// Waiting says, in words, why a run waits and until when at most:
// "waiting for room: needs 40 IPs, best healthy subnet subnet-1 has 31
// (9 reserved for runs starting), room expected ~12:40:00 UTC when 2
// runs in flight end, waiting until 12:45:00 UTC at most".
func Waiting(p gluenet.Plan, until time.Time, fc Forecast) string {
	var b strings.Builder
	fmt.Fprintf(&b, "waiting for room: needs %d IPs", p.Need.IPs)
	if best := Best(p); best != nil && best.Free != nil {
		fmt.Fprintf(&b, ", best healthy subnet %s has %d", best.SubnetID, *best.Free)
		if best.Reserved > 0 {
			fmt.Fprintf(&b, " (%d reserved for runs starting)", best.Reserved)
		}
	} else {
		b.WriteString(", no healthy subnet's free IPs are known")
	}
	if !fc.At.IsZero() {
		fmt.Fprintf(&b, ", room expected ~%s in %s when %d run(s) in flight end", fc.At.UTC().Format("15:04:05 MST"), fc.Subnet, fc.Flights)
	}
	fmt.Fprintf(&b, ", waiting until %s at most", until.UTC().Format("15:04:05 MST"))
	return b.String()
}
