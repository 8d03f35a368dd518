// Package gluenet holds the domain types shared by every part of gluenet: the
// connections a Glue job may use, what discovery learned about their subnets,
// how many IPs a run needs, the ranked plan that decides the order in which
// Glue tries the connections, and what the cloud says about jobs and runs
// (Job, JobRun, StartInput, AppliedOrder, LogLine), in the terms the
// executor and awsclient share.
//
// The package is pure: no AWS SDK, no I/O, no clock. Adapters (awsclient,
// store), executors (runner, lab) and the command (cmd/gluenet) depend on it;
// it depends on none of them.
package gluenet

import (
	"fmt"
	"net/netip"
	"time"
)

// DefaultMinIPs is the number of free IPs a subnet needs for Glue to start a
// run in it at all (a driver and one executor). Glue skips a connection whose
// subnet has fewer.
const DefaultMinIPs = 2

// Group says how well a candidate's subnet can hold a run.
type Group int

// The groups, best first. The order of the constants is the ranking order.
const (
	// GroupGood: the subnet has at least the IPs the run needs.
	GroupGood Group = iota
	// GroupUsable: enough IPs to start, but fewer than needed: the run would
	// start under capacity.
	GroupUsable
	// GroupInsufficient: too few IPs for Glue to start a run.
	GroupInsufficient
	// GroupUnchecked: discovery could not learn the subnet's free IPs.
	GroupUnchecked
)

var groupNames = [...]string{"good", "usable", "insufficient", "unchecked"}

func (g Group) String() string {
	if g < 0 || int(g) >= len(groupNames) {
		return fmt.Sprintf("group(%d)", int(g))
	}
	return groupNames[g]
}

// MarshalText makes a Group a JSON string.
func (g Group) MarshalText() ([]byte, error) { return []byte(g.String()), nil }

// UnmarshalText parses a Group from its name.
func (g *Group) UnmarshalText(b []byte) error {
	for i, n := range groupNames {
		if n == string(b) {
			*g = Group(i)
			return nil
		}
	}
	return fmt.Errorf("unknown group %q", b)
}

// Candidate is one Glue connection that a job may use, with what discovery
// learned about the subnet behind it.
type Candidate struct {
	// Connection is the Glue connection name.
	Connection string `json:"name"`
	// SubnetID is the connection's subnet, "" when the lookup failed.
	SubnetID string `json:"subnet_id"`
	// AZ is the subnet's Availability Zone, "" when unknown.
	AZ string `json:"availability_zone"`
	// FreeIPs is the subnet's AvailableIpAddressCount as EC2 reported it.
	// Meaningful only when Checked.
	FreeIPs int `json:"-"`
	// Checked is false when discovery could not learn FreeIPs.
	Checked bool `json:"-"`
	// UsableIPs is the most IPs the subnet can ever have free: its IPv4
	// CIDR block's addresses less the five AWS reserves in every subnet
	// (SubnetUsableIPs); 0 when unknown.
	UsableIPs int `json:"usable_ips,omitempty"`
	// Problem says why the candidate is unchecked.
	Problem string `json:"problem,omitempty"`
	// Missing says Glue reported the connection as not existing
	// (EntityNotFoundException): unlike a connection that could not be
	// checked, it must stop the run before anything changes (see
	// MissingConnections).
	Missing bool `json:"missing,omitempty"`
}

// SubnetUsableIPs is how many addresses of an IPv4 subnet's CIDR block
// ("10.0.1.0/24") ENIs can have: all but the five AWS reserves in every
// subnet (the network address, the VPC router, DNS, one for future use and
// the broadcast address), 251 for a /24. It returns 0 for anything else
// (an IPv6 block, a malformed string): unknown.
func SubnetUsableIPs(cidr string) int {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() || p.Bits() > 28 {
		return 0
	}
	return 1<<(32-p.Bits()) - 5
}

// Need is what one run of the job asks of a subnet.
type Need struct {
	// IPs is the number of IPs the run needs at full capacity: one per
	// worker (the driver is a worker in Glue's count).
	IPs int `json:"ips"`
	// MinIPs is the fewest free IPs with which Glue starts a run at all.
	MinIPs int `json:"min_ips"`
}

// Validate reports whether the need is coherent.
func (n Need) Validate() error {
	if n.MinIPs < 1 {
		return fmt.Errorf("minimum IPs must be at least 1, got %d", n.MinIPs)
	}
	if n.IPs < 1 {
		return fmt.Errorf("needed IPs must be at least 1, got %d", n.IPs)
	}
	return nil
}

// GroupOf places a number of free IPs in its group for the need.
func (n Need) GroupOf(free int) Group {
	switch {
	case free >= n.IPs && free >= n.MinIPs:
		return GroupGood
	case free >= n.MinIPs:
		return GroupUsable
	default:
		return GroupInsufficient
	}
}

// Placement is a candidate at its place in a ranked plan.
type Placement struct {
	Candidate
	// Free is the free IPs the ranking used: what EC2 reported minus IPs
	// reserved by runs that started but do not show in EC2's count yet.
	// Nil when unchecked.
	Free *int `json:"free_ips"`
	// Reserved is the number of IPs subtracted for in-flight runs.
	Reserved int `json:"reserved_ips,omitempty"`
	// Group is the candidate's group.
	Group Group `json:"group"`
	// Rank is the 1-based position in the order.
	Rank int `json:"rank"`
	// EjectedUntil is set when health memory has ejected the subnet or its AZ.
	EjectedUntil *time.Time `json:"ejected_until,omitempty"`
	// Preferred is true when the candidate's AZ is a preferred one.
	Preferred bool `json:"preferred_az,omitempty"`
	// Reason says in words why the candidate stands where it does.
	Reason string `json:"reason"`
}

// Plan is the ranked order for one attempt.
type Plan struct {
	Strategy   string      `json:"strategy"`
	Need       Need        `json:"need"`
	Placements []Placement `json:"connections"`
	// Notes are remarks about the plan as a whole, such as "every candidate
	// is ejected; using all of them".
	Notes []string `json:"notes,omitempty"`
	// Others are the job's connections that are not candidates, in the
	// job's order: they keep their place after the ranked ones.
	Others []string `json:"other_connections,omitempty"`
	// UnderCapacity is set when the run was started although no healthy
	// candidate had free IPs for its whole need (see UnderCapacity).
	UnderCapacity *UnderCapacity `json:"under_capacity,omitempty"`
}

// UnderCapacity records a run started with fewer free IPs than it needs:
// Glue then starts it with fewer workers than asked, or not at all.
type UnderCapacity struct {
	// Needed is the IPs the run needs at full capacity.
	Needed int `json:"needed"`
	// FreeAtStart is the free IPs (EC2's count minus reservations) of
	// Subnet, the first connection's subnet, when the run was started.
	FreeAtStart int    `json:"free_at_start"`
	Subnet      string `json:"subnet"`
}

// FullOrder is the whole connection list as it is written into the job:
// the ranked candidates, then the job's other connections.
func (p Plan) FullOrder() []string {
	return append(p.Order(), p.Others...)
}

// JobOrder is the connection list to write into a job whose connections
// are existing: the ranked candidates, then the existing connections that
// are not candidates, in their existing order.
func JobOrder(ranked, candidates, existing []string) []string {
	managed := make(map[string]bool, len(candidates)+len(ranked))
	for _, n := range candidates {
		managed[n] = true
	}
	for _, n := range ranked {
		managed[n] = true
	}
	out := append([]string{}, ranked...)
	for _, n := range existing {
		if !managed[n] {
			out = append(out, n)
		}
	}
	return out
}

// Order is the connection names in ranked order.
func (p Plan) Order() []string {
	out := make([]string, len(p.Placements))
	for i, pl := range p.Placements {
		out[i] = pl.Connection
	}
	return out
}

// First is the placement Glue is expected to use: the first one in a group
// that can start a run, or nil when none can.
func (p Plan) First() *Placement {
	for i := range p.Placements {
		if g := p.Placements[i].Group; g == GroupGood || g == GroupUsable {
			return &p.Placements[i]
		}
	}
	return nil
}

// Scope is what a health record or an ejection is about.
type Scope string

// The scopes of health memory.
const (
	ScopeSubnet Scope = "subnet"
	ScopeAZ     Scope = "az"
)

// HealthRecord is what gluenet remembers about one subnet or one
// Availability Zone. It is kept in the state store between invocations and
// updated by the health package, which owns the rules.
type HealthRecord struct {
	Scope Scope  `json:"scope"`
	Key   string `json:"key"` // subnet ID or AZ name
	// ConsecutiveFailures counts placement failures since the last success.
	ConsecutiveFailures int `json:"consecutive_failures"`
	// Ejections counts how many times the key was ejected; the next
	// ejection lasts base time × (Ejections+1).
	Ejections int `json:"ejections"`
	// EjectedUntil is the end of the current ejection; zero when not ejected.
	// Unset times are left out of JSON (omitzero), not 0001-01-01.
	EjectedUntil time.Time `json:"ejected_until,omitzero"`
	LastFailure  time.Time `json:"last_failure,omitzero"`
	LastSuccess  time.Time `json:"last_success,omitzero"`
	// LastClass is the failure class of the last failure.
	LastClass string `json:"last_class,omitempty"`
}

// Ejected reports whether the record is ejected at now.
func (r HealthRecord) Ejected(now time.Time) bool { return now.Before(r.EjectedUntil) }

// Reservation holds IPs of a subnet for a run that has started but whose
// ENIs EC2 may not count yet, so that launches close together do not all
// see the same stale free-IP count.
type Reservation struct {
	ID       string `json:"id"`
	SubnetID string `json:"subnet_id"`
	AZ       string `json:"availability_zone"`
	IPs      int    `json:"ips"`
	Job      string `json:"job"`
	RunID    string `json:"run_id,omitempty"`
	// BaselineFree is the free-IP count EC2 reported when the run started;
	// once EC2 reports BaselineFree-IPs or fewer, the ENIs show and the
	// reservation is no longer needed.
	BaselineFree int       `json:"baseline_free"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// Candidates recovers the discovered candidates of the plan in the given
// (configured) order, so that a plan can be ranked again with fresher
// memory without asking AWS again. Names the plan does not hold are
// skipped.
func (p Plan) Candidates(configured []string) []Candidate {
	by := make(map[string]Candidate, len(p.Placements))
	for _, pl := range p.Placements {
		by[pl.Connection] = pl.Candidate
	}
	out := make([]Candidate, 0, len(configured))
	for _, name := range configured {
		if c, ok := by[name]; ok {
			out = append(out, c)
		}
	}
	return out
}
