package store

import (
	"fmt"
	"time"
)

// Retention says how long a store keeps what is over, and how often it
// prunes on its own.
//
// Pruning needs no daemon: a store prunes opportunistically after some of
// its writes (a new run, a finished run, a health update, a reservation), at
// most once per Every across every process sharing the database, by
// claiming the prune in one conditional UPDATE of one row. A write never
// fails because its prune did; the prune is logged and tried again at the
// next interval. Each such prune deletes at most PruneBatch runs and
// PruneBatch health events, so that a write that happens to prune stays
// quick even on a store that grew for years before it had retention;
// `gluenet runs prune` deletes everything due at once.
type Retention struct {
	// Runs keeps a finished run (succeeded, failed or interrupted), with
	// its attempts, for this long after it finished. 0 keeps finished runs
	// forever. Runs that have not finished are never pruned.
	Runs time.Duration
	// HealthEvents keeps health events for this long. 0 keeps them
	// forever. Health records themselves (the current standing of a subnet
	// or zone) are never pruned: health.Observe forgets them itself.
	HealthEvents time.Duration
	// Every is the least time between two opportunistic prunes; 0 turns
	// pruning on write off.
	Every time.Duration
}

// Defaults for Retention: long enough to explain last month's incidents,
// short enough that the state stays small (a busy deployment starting
// 10,000 runs a day keeps about 300,000 runs).
const (
	DefaultRunRetention         = 30 * 24 * time.Hour
	DefaultHealthEventRetention = 30 * 24 * time.Hour
	DefaultPruneEvery           = time.Hour
	// PruneBatch bounds what one opportunistic prune deletes.
	PruneBatch = 1000
)

// DefaultRetention is what a store does unless told otherwise.
func DefaultRetention() Retention {
	return Retention{Runs: DefaultRunRetention, HealthEvents: DefaultHealthEventRetention, Every: DefaultPruneEvery}
}

// Validate reports a negative duration.
func (r Retention) Validate() error {
	switch {
	case r.Runs < 0:
		return fmt.Errorf("run retention must not be negative, got %s", r.Runs)
	case r.HealthEvents < 0:
		return fmt.Errorf("health event retention must not be negative, got %s", r.HealthEvents)
	case r.Every < 0:
		return fmt.Errorf("prune interval must not be negative, got %s", r.Every)
	}
	return nil
}

// Options returns the prune that r calls for at now.
func (r Retention) Options(now time.Time) PruneOptions {
	o := PruneOptions{Now: now}
	if r.Runs > 0 {
		o.RunsFinishedBefore = now.Add(-r.Runs)
	}
	if r.HealthEvents > 0 {
		o.HealthEventsBefore = now.Add(-r.HealthEvents)
	}
	return o
}

// PruneOptions select what Prune deletes.
type PruneOptions struct {
	// Now is when reservations and subnet cache entries are judged
	// expired (expiring at or before Now). The zero time prunes none.
	Now time.Time
	// RunsFinishedBefore deletes the runs that finished before it, with
	// their attempts. The zero time deletes none.
	RunsFinishedBefore time.Time
	// HealthEventsBefore deletes the health events before it. The zero
	// time deletes none.
	HealthEventsBefore time.Time
	// Limit bounds the runs, and separately the health events, deleted
	// by one call (oldest first); 0 means no bound.
	Limit int
	// DryRun counts what would be deleted and deletes nothing.
	DryRun bool
}

// Validate reports a negative limit.
func (o PruneOptions) Validate() error {
	if o.Limit < 0 {
		return fmt.Errorf("prune: the limit must not be negative, got %d", o.Limit)
	}
	return nil
}

// Pruned counts what Prune deleted, or would delete on a dry run.
type Pruned struct {
	Runs          int `json:"runs"`
	Attempts      int `json:"attempts"`
	HealthEvents  int `json:"health_events"`
	Reservations  int `json:"reservations"`
	CachedSubnets int `json:"cached_subnets"`
}

// Total is the number of rows counted, attempts included.
func (p Pruned) Total() int {
	return p.Runs + p.Attempts + p.HealthEvents + p.Reservations + p.CachedSubnets
}
