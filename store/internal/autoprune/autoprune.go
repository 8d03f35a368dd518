// Package autoprune is the prune-on-write schedule both store drivers
// share: after some writes, a store prunes what is over, at most once per
// interval across every process on the database, without a daemon.
//
// Two gates keep it cheap. In the process, a write looks at one time under
// a mutex and does nothing until the interval has passed since this
// process last tried. Across processes, the driver's claim is one
// conditional UPDATE of one row (the time of the last prune): of all the
// processes that try in one interval, one wins and prunes.
package autoprune

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gluenet/gluenet/store"
)

// Schedule is one store handle's side of the schedule.
type Schedule struct {
	mu   sync.Mutex
	next time.Time
}

// due reports whether a write at now should try to claim a prune, and if
// so puts this process's next try one interval on.
func (s *Schedule) due(now time.Time, every time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.next) {
		return false
	}
	s.next = now.Add(every)
	return true
}

// Claim records, in the database, that a prune happens at now, unless one
// happened within every before now; it reports whether this caller won.
type Claim func(ctx context.Context, now time.Time, every time.Duration) (bool, error)

// Prune is the driver's store.Pruner.Prune.
type Prune func(ctx context.Context, o store.PruneOptions) (store.Pruned, error)

// Maybe prunes what r says is over at now, when the schedule says it is
// time and the claim is won. It never fails: a write must not fail because
// its prune did. Problems are logged; the next interval tries again.
func (s *Schedule) Maybe(ctx context.Context, r store.Retention, now time.Time, claim Claim, prune Prune, log *slog.Logger, driver string) {
	if r.Every <= 0 || !s.due(now, r.Every) {
		return
	}
	won, err := claim(ctx, now, r.Every)
	if err != nil {
		log.WarnContext(ctx, "could not claim the state store's prune; will try again later", "store", driver, "err", err)
		return
	}
	if !won {
		return
	}
	o := r.Options(now)
	o.Limit = store.PruneBatch
	p, err := prune(ctx, o)
	if err != nil {
		log.WarnContext(ctx, "could not prune the state store; will try again later", "store", driver, "err", err)
		return
	}
	if p.Total() > 0 {
		log.DebugContext(ctx, "pruned the state store", "store", driver, "runs", p.Runs, "attempts", p.Attempts,
			"health_events", p.HealthEvents, "reservations", p.Reservations, "cached_subnets", p.CachedSubnets)
	}
}
