// Package strategy ranks the candidate connections of a Glue job: it decides
// the order in which Glue will try them.
//
// Plan is the one entry point. It turns what discovery learned (free IPs per
// subnet), what is in flight (IPs reserved by runs that EC2 does not count
// yet) and what health memory says (ejected subnets and zones) into a ranked
// gluenet.Plan, and asks a Strategy to order the candidates. Everything here
// is pure: the clock and the random source come in through Input.
package strategy

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gluenet/gluenet"
)

// Strategy orders placements. Rank receives every placement, in the
// configured order, with Group, Free, Reserved, EjectedUntil and Preferred
// already set, and returns the same placements in the order Glue should try
// them. It must return a permutation of its input; Plan checks that.
//
// Most strategies keep the post's grouping (good before usable before the
// rest) and only order within groups: Split helps with that.
type Strategy interface {
	// Name is the name users give on the command line.
	Name() string
	// Describe says in a few words how the strategy orders, for reasons
	// and help texts ("most free IPs first").
	Describe() string
	// Rank returns the placements in ranked order.
	Rank(in *Input, ps []gluenet.Placement) []gluenet.Placement
}

// Input is everything a ranking may depend on.
type Input struct {
	// Candidates in the configured order.
	Candidates []gluenet.Candidate
	// Need is what one run asks of a subnet.
	Need gluenet.Need
	// Now is the time at which ejections are judged.
	Now time.Time
	// Rand is the random source of random strategies. Plan panics if a
	// strategy needs it and it is nil.
	Rand *rand.Rand
	// Reserved is the number of IPs held per subnet ID by runs in flight
	// that EC2's free count may not show yet.
	Reserved map[string]int
	// Health is the health memory: subnets and AZs, some ejected.
	Health []gluenet.HealthRecord
	// InFlightByAZ counts our runs in flight per AZ (for spread).
	InFlightByAZ map[string]int
	// PreferAZ lists preferred Availability Zones, most preferred first
	// (for prefer-az).
	PreferAZ []string
}

// Plan ranks the candidates with the strategy.
func Plan(in Input, s Strategy) (gluenet.Plan, error) {
	if s == nil {
		return gluenet.Plan{}, fmt.Errorf("no strategy")
	}
	if err := in.Need.Validate(); err != nil {
		return gluenet.Plan{}, err
	}
	plan := gluenet.Plan{Strategy: s.Name(), Need: in.Need}
	ps := placements(&in)

	// Health: an ejected candidate is demoted behind every healthy one that
	// can start a run. If that would leave no healthy candidate able to
	// start, ejections are ignored (Envoy's max ejection percent): better
	// to try a suspect subnet than not to run at all.
	healthy, ejected := 0, 0
	for _, p := range ps {
		if startable(p) {
			if p.EjectedUntil != nil {
				ejected++
			} else {
				healthy++
			}
		}
	}
	if ejected > 0 && healthy == 0 {
		names := []string{}
		for i := range ps {
			if ps[i].EjectedUntil != nil {
				names = append(names, ps[i].Connection)
				ps[i].EjectedUntil = nil
			}
		}
		plan.Notes = append(plan.Notes, fmt.Sprintf(
			"every candidate that can start a run is ejected (%s); ignoring health memory and using all of them",
			strings.Join(names, ", ")))
	}

	out := s.Rank(&in, append([]gluenet.Placement(nil), ps...))
	if err := checkPermutation(ps, out); err != nil {
		return gluenet.Plan{}, fmt.Errorf("strategy %q: %w", s.Name(), err)
	}
	lastHealthy, lastStartable := -1, -1
	for i, p := range out {
		if startable(p) {
			lastStartable = i
			if p.EjectedUntil == nil {
				lastHealthy = i
			}
		}
	}
	for i := range out {
		out[i].Rank = i + 1
		// Say "after" only where it is true: a strategy such as ordered
		// keeps the configured order whatever the groups.
		out[i].Reason = reason(&in, s, out[i], i > lastHealthy, i > lastStartable)
	}
	plan.Placements = out
	return plan, nil
}

// placements computes each candidate's effective free IPs, group, ejection
// and preference.
func placements(in *Input) []gluenet.Placement {
	azEject := map[string]time.Time{}
	subnetEject := map[string]time.Time{}
	for _, h := range in.Health {
		if !h.Ejected(in.Now) {
			continue
		}
		switch h.Scope {
		case gluenet.ScopeAZ:
			azEject[h.Key] = h.EjectedUntil
		case gluenet.ScopeSubnet:
			subnetEject[h.Key] = h.EjectedUntil
		}
	}
	preferred := map[string]bool{}
	for _, az := range in.PreferAZ {
		preferred[az] = true
	}
	ps := make([]gluenet.Placement, len(in.Candidates))
	for i, c := range in.Candidates {
		p := gluenet.Placement{Candidate: c, Group: gluenet.GroupUnchecked}
		if c.Checked {
			reserved := in.Reserved[c.SubnetID]
			free := c.FreeIPs - reserved
			if free < 0 {
				free = 0
			}
			p.Free = &free
			p.Reserved = reserved
			p.Group = in.Need.GroupOf(free)
		}
		until := subnetEject[c.SubnetID]
		if t, ok := azEject[c.AZ]; ok && t.After(until) {
			until = t
		}
		if c.SubnetID != "" && !until.IsZero() {
			u := until
			p.EjectedUntil = &u
		}
		p.Preferred = c.AZ != "" && preferred[c.AZ]
		ps[i] = p
	}
	return ps
}

func startable(p gluenet.Placement) bool {
	return p.Group == gluenet.GroupGood || p.Group == gluenet.GroupUsable
}

// Tiers is the post's grouping of placements, with health on top.
type Tiers struct {
	// Good and Usable are healthy candidates that can start a run.
	Good, Usable []gluenet.Placement
	// Ejected can start a run but health memory ejected them.
	Ejected []gluenet.Placement
	// Rest cannot start a run (too few IPs) or are unchecked, in input order.
	Rest []gluenet.Placement
}

// Split sorts placements into tiers, keeping their relative order.
func Split(ps []gluenet.Placement) Tiers {
	var t Tiers
	for _, p := range ps {
		switch {
		case !startable(p):
			t.Rest = append(t.Rest, p)
		case p.EjectedUntil != nil:
			t.Ejected = append(t.Ejected, p)
		case p.Group == gluenet.GroupGood:
			t.Good = append(t.Good, p)
		default:
			t.Usable = append(t.Usable, p)
		}
	}
	return t
}

// Grouped builds the usual ranking from a function that orders one tier:
// good, then usable, then ejected, each ordered by order; then the rest in
// input order.
func Grouped(in *Input, ps []gluenet.Placement, order func(in *Input, tier []gluenet.Placement)) []gluenet.Placement {
	t := Split(ps)
	out := make([]gluenet.Placement, 0, len(ps))
	for _, tier := range [][]gluenet.Placement{t.Good, t.Usable, t.Ejected} {
		order(in, tier)
		out = append(out, tier...)
	}
	return append(out, t.Rest...)
}

// FreeOf is a placement's effective free IPs, 0 when unknown.
func FreeOf(p gluenet.Placement) int {
	if p.Free == nil {
		return 0
	}
	return *p.Free
}

func checkPermutation(in, out []gluenet.Placement) error {
	if len(in) != len(out) {
		return fmt.Errorf("returned %d placements for %d candidates", len(out), len(in))
	}
	seen := make(map[string]int, len(in))
	for _, p := range in {
		seen[p.Connection]++
	}
	for _, p := range out {
		seen[p.Connection]--
		if seen[p.Connection] < 0 {
			return fmt.Errorf("returned connection %q more often than it was given", p.Connection)
		}
	}
	return nil
}

func reason(in *Input, s Strategy, p gluenet.Placement, afterHealthy, afterStartable bool) string {
	var b strings.Builder
	switch p.Group {
	case gluenet.GroupUnchecked:
		b.WriteString("unchecked")
		if p.Problem != "" {
			b.WriteString(" (" + p.Problem + ")")
		}
		if afterStartable {
			b.WriteString(": kept after the startable ones, in configured order")
		} else {
			b.WriteString(": free IPs unknown; " + s.Describe())
		}
		return b.String()
	case gluenet.GroupInsufficient:
		fmt.Fprintf(&b, "insufficient: %s, Glue needs at least %d to start", freeIPs(FreeOf(p)), in.Need.MinIPs)
	case gluenet.GroupGood:
		fmt.Fprintf(&b, "good: %s >= %d needed", freeIPs(FreeOf(p)), in.Need.IPs)
	case gluenet.GroupUsable:
		fmt.Fprintf(&b, "usable: %s < %d needed, would start under capacity", freeIPs(FreeOf(p)), in.Need.IPs)
	}
	if p.Reserved > 0 {
		fmt.Fprintf(&b, " (EC2 reports %d, %d reserved by runs in flight)", p.FreeIPs, p.Reserved)
	}
	if p.EjectedUntil != nil {
		fmt.Fprintf(&b, "; ejected until %s after placement failures", p.EjectedUntil.UTC().Format(time.RFC3339))
		if afterHealthy {
			b.WriteString(", tried after healthy candidates")
		}
	}
	if p.Preferred {
		b.WriteString("; in a preferred AZ")
	}
	if startable(p) || !afterStartable {
		b.WriteString("; " + s.Describe())
	} else {
		b.WriteString("; kept after the startable ones")
	}
	return b.String()
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Strategy{}
)

// Register makes a strategy available by name to Lookup, for custom
// strategies. It returns an error if the name is taken or empty.
func Register(s Strategy) error {
	registryMu.Lock()
	defer registryMu.Unlock()
	name := s.Name()
	if name == "" {
		return fmt.Errorf("register strategy: empty name")
	}
	if _, ok := registry[name]; ok {
		return fmt.Errorf("register strategy: %q is already registered", name)
	}
	registry[name] = s
	return nil
}

func mustRegister(s Strategy) {
	if err := Register(s); err != nil {
		panic(err)
	}
}

// Lookup finds a registered strategy by name.
func Lookup(name string) (Strategy, error) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	if s, ok := registry[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("unknown strategy %q: choose one of %s", name, strings.Join(namesLocked(), ", "))
}

// Names lists the registered strategies, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// freeIPs says "1 free IP" or "n free IPs".
func freeIPs(n int) string {
	if n == 1 {
		return "1 free IP"
	}
	return fmt.Sprintf("%d free IPs", n)
}
