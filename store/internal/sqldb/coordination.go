package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/internal/sqlrows"
)

// Health.

// healthWhere is the condition on health rows of the scope and key ("":
// any).
func healthWhere(scope gluenet.Scope, key string) (string, []any) {
	where, args := "WHERE 1 = 1", []any{}
	if scope != "" {
		where += " AND scope = ?"
		args = append(args, string(scope))
	}
	if key != "" {
		where += " AND key = ?"
		args = append(args, key)
	}
	return where, args
}

func (s *Store) readHealth(ctx context.Context, q sqlrows.Querier, scope gluenet.Scope, key string) ([]gluenet.HealthRecord, error) {
	where, args := healthWhere(scope, key)
	return sqlrows.All(ctx, q, func(row sqlrows.Scanner) (gluenet.HealthRecord, error) {
		var (
			r  gluenet.HealthRecord
			sc string
		)
		err := row.Scan(&sc, &r.Key, &r.ConsecutiveFailures, &r.Ejections, Time{&r.EjectedUntil}, Time{&r.LastFailure},
			Time{&r.LastSuccess}, &r.LastClass)
		r.Scope = gluenet.Scope(sc)
		return r, err
	}, s.q(`SELECT scope, key, consecutive_failures, ejections, ejected_until, last_failure, last_success, last_class
		FROM health `+where+` ORDER BY scope, key`), args...)
}

// Health implements store.Store.
func (s *Store) Health(ctx context.Context) ([]gluenet.HealthRecord, error) {
	recs, err := s.readHealth(ctx, s.db, "", "")
	if err != nil {
		return nil, fmt.Errorf("read health: %w", err)
	}
	return recs, nil
}

// lockHealth serializes health read-modify-write transactions where Begin
// does not: the second waits here until the first commits, then reads
// what it wrote.
func (s *Store) lockHealth(ctx context.Context, tx *sql.Tx) error {
	if s.d.LockHealth == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.d.LockHealth); err != nil {
		return fmt.Errorf("lock health: %w", err)
	}
	return nil
}

// UpdateHealth implements store.Store.
func (s *Store) UpdateHealth(ctx context.Context, fn func([]gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error)) error {
	var latest time.Time // the newest event: the time of this write
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockHealth(ctx, tx); err != nil {
			return err
		}
		recs, err := s.readHealth(ctx, tx, "", "")
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		next, events, err := fn(recs)
		if err != nil {
			return err
		}
		if err := store.ValidateHealth(next); err != nil {
			return err
		}
		for _, e := range events {
			if err := e.Validate(); err != nil {
				return err
			}
			if e.At.After(latest) {
				latest = e.At
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM health`); err != nil {
			return err
		}
		if len(next) > 0 {
			rows := make([][]any, len(next))
			for i, r := range next {
				rows[i] = []any{string(r.Scope), r.Key, r.ConsecutiveFailures, r.Ejections,
					s.d.Time(r.EjectedUntil), s.d.Time(r.LastFailure), s.d.Time(r.LastSuccess), r.LastClass}
			}
			if err := s.d.InsertRows(ctx, tx, "health", []string{"scope", "key", "consecutive_failures", "ejections",
				"ejected_until", "last_failure", "last_success", "last_class"}, rows); err != nil {
				return fmt.Errorf("write records: %w", err)
			}
		}
		return s.insertEvents(ctx, tx, events)
	})
	if err != nil {
		return fmt.Errorf("update health: %w", err)
	}
	s.maybePrune(ctx, latest)
	return nil
}

func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, events []store.HealthEvent) error {
	for _, e := range events {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO health_events (at, scope, key, kind, class, detail) VALUES (?, ?, ?, ?, ?, ?)`),
			s.d.Time(e.At), string(e.Scope), e.Key, string(e.Kind), e.Class, e.Detail); err != nil {
			return fmt.Errorf("append health event: %w", err)
		}
	}
	return nil
}

// ResetHealth implements store.Store.
func (s *Store) ResetHealth(ctx context.Context, scope gluenet.Scope, key string) error {
	if err := store.ValidateScope(scope); err != nil {
		return fmt.Errorf("reset health: %w", err)
	}
	if scope == "" && key != "" {
		return fmt.Errorf("reset health: key %q needs a scope", key)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockHealth(ctx, tx); err != nil {
			return err
		}
		recs, err := s.readHealth(ctx, tx, scope, key)
		if err != nil {
			return err
		}
		where, args := healthWhere(scope, key)
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM health `+where), args...); err != nil {
			return err
		}
		return s.insertEvents(ctx, tx, store.ResetEvents(recs, s.c.Now()))
	})
	if err != nil {
		return fmt.Errorf("reset health: %w", err)
	}
	return nil
}

// HealthEvents implements store.Store.
func (s *Store) HealthEvents(ctx context.Context, limit int) ([]store.HealthEvent, error) {
	var lim any = limit
	if limit <= 0 {
		lim = s.d.NoLimit
	}
	out, err := sqlrows.All(ctx, s.db, func(row sqlrows.Scanner) (store.HealthEvent, error) {
		var (
			e           store.HealthEvent
			scope, kind string
		)
		err := row.Scan(Time{&e.At}, &scope, &e.Key, &kind, &e.Class, &e.Detail)
		e.Scope, e.Kind = gluenet.Scope(scope), store.HealthEventKind(kind)
		return e, err
	}, s.q(`SELECT at, scope, key, kind, class, detail FROM health_events ORDER BY at DESC, id DESC LIMIT ?`), lim)
	if err != nil {
		return nil, fmt.Errorf("health events: %w", err)
	}
	return out, nil
}

// Reservations.

// AddReservation implements store.Store.
func (s *Store) AddReservation(ctx context.Context, r gluenet.Reservation) error {
	if err := store.ValidateReservation(r); err != nil {
		return fmt.Errorf("add reservation: %w", err)
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO reservations (id, subnet_id, az, ips, job, run_id, baseline_free,
			created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET subnet_id = excluded.subnet_id, az = excluded.az, ips = excluded.ips,
			job = excluded.job, run_id = excluded.run_id, baseline_free = excluded.baseline_free,
			created_at = excluded.created_at, expires_at = excluded.expires_at`),
		r.ID, r.SubnetID, r.AZ, r.IPs, r.Job, r.RunID, r.BaselineFree, s.d.Time(r.CreatedAt), s.d.Time(r.ExpiresAt))
	if err != nil {
		return fmt.Errorf("add reservation %q: %w", r.ID, err)
	}
	s.maybePrune(ctx, r.CreatedAt)
	return nil
}

// Reservations implements store.Store.
func (s *Store) Reservations(ctx context.Context, now time.Time) ([]gluenet.Reservation, error) {
	out, err := sqlrows.All(ctx, s.db, func(row sqlrows.Scanner) (gluenet.Reservation, error) {
		var r gluenet.Reservation
		err := row.Scan(&r.ID, &r.SubnetID, &r.AZ, &r.IPs, &r.Job, &r.RunID, &r.BaselineFree, Time{&r.CreatedAt}, Time{&r.ExpiresAt})
		return r, err
	}, s.q(`SELECT id, subnet_id, az, ips, job, run_id, baseline_free, created_at, expires_at
		FROM reservations WHERE expires_at > ? ORDER BY created_at NULLS FIRST, id`), s.d.Time(now))
	if err != nil {
		return nil, fmt.Errorf("reservations: %w", err)
	}
	return out, nil
}

// ReleaseReservation implements store.Store.
func (s *Store) ReleaseReservation(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM reservations WHERE id = ?`), id); err != nil {
		return fmt.Errorf("release reservation %q: %w", id, err)
	}
	return nil
}

// Retention.

// maybePrune prunes after a write made at now, when the schedule says so
// (see store.Retention). The write's own time is the caller's clock, the
// clock every other time in the store comes from; a write without a time
// does not prune.
func (s *Store) maybePrune(ctx context.Context, now time.Time) {
	if now.IsZero() {
		return
	}
	s.prune.Maybe(ctx, s.c.Retention, now, s.claimPrune, s.Prune, s.c.Log, s.d.Name)
}

// claimPrune moves the last prune's time to now unless a prune ran within
// every: one conditional UPDATE of one row, so that of the processes that
// try together one wins (the others wait for its lock, then see the new
// time and match nothing).
func (s *Store) claimPrune(ctx context.Context, now time.Time, every time.Duration) (bool, error) {
	n, err := affected(s.db.ExecContext(ctx, s.q(`UPDATE maintenance SET done_at = ? WHERE name = 'prune' AND done_at <= ?`),
		s.d.Time(now), s.d.Time(now.Add(-every))))
	if err != nil {
		return false, fmt.Errorf("claim prune: %w", err)
	}
	return n == 1, nil
}

// Prune implements store.Store.
func (s *Store) Prune(ctx context.Context, o store.PruneOptions) (store.Pruned, error) {
	if err := o.Validate(); err != nil {
		return store.Pruned{}, err
	}
	limit := s.d.NoLimit
	if o.Limit > 0 {
		limit = o.Limit
	}
	var p store.Pruned
	// count runs the SELECT COUNT on a dry run, else the DELETE, and
	// stores how many rows it counted or deleted.
	count := func(tx *sql.Tx, n *int, countSQL, deleteSQL string, args ...any) error {
		if o.DryRun {
			return tx.QueryRowContext(ctx, s.q(countSQL), args...).Scan(n)
		}
		deleted, err := affected(tx.ExecContext(ctx, s.q(deleteSQL), args...))
		*n = int(deleted)
		return err
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if !o.RunsFinishedBefore.IsZero() {
			// SkipLocked (Postgres): a run resumed meanwhile (SetRunStatus
			// clears finished_at) waits for this transaction, and a run
			// another prune holds is left to it.
			keys, err := sqlrows.All(ctx, tx, sqlrows.One[string], s.q(`SELECT key FROM runs
				WHERE finished_at IS NOT NULL AND finished_at < ? AND status IN (?, ?, ?)
				ORDER BY finished_at, key LIMIT ?`+s.d.SkipLocked),
				s.d.Time(o.RunsFinishedBefore), string(store.RunSucceeded), string(store.RunFailed), string(store.RunInterrupted), limit)
			if err != nil {
				return fmt.Errorf("select runs: %w", err)
			}
			if len(keys) > 0 {
				p.Runs = len(keys)
				in, arg := s.d.In("run_key", keys)
				if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM attempts WHERE `+in), arg).Scan(&p.Attempts); err != nil {
					return fmt.Errorf("count attempts: %w", err)
				}
				if !o.DryRun {
					// Attempts and their states go with the run (ON DELETE CASCADE).
					in, arg := s.d.In("key", keys)
					if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM runs WHERE `+in), arg); err != nil {
						return fmt.Errorf("delete runs: %w", err)
					}
				}
			}
		}
		if !o.HealthEventsBefore.IsZero() {
			doomed := `SELECT id FROM health_events WHERE at < ? ORDER BY at, id LIMIT ?`
			if err := count(tx, &p.HealthEvents, `SELECT count(*) FROM (`+doomed+`) d`,
				`DELETE FROM health_events WHERE id IN (`+doomed+`)`, s.d.Time(o.HealthEventsBefore), limit); err != nil {
				return fmt.Errorf("prune health events: %w", err)
			}
		}
		if !o.Now.IsZero() {
			for _, t := range []struct {
				table string
				n     *int
			}{{"reservations", &p.Reservations}, {"subnet_cache", &p.CachedSubnets}} {
				if err := count(tx, t.n, `SELECT count(*) FROM `+t.table+` WHERE expires_at <= ?`,
					`DELETE FROM `+t.table+` WHERE expires_at <= ?`, s.d.Time(o.Now)); err != nil {
					return fmt.Errorf("prune expired %s: %w", t.table, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return store.Pruned{}, fmt.Errorf("prune: %w", err)
	}
	return p, nil
}

// Subnet cache. (PutCachedSubnets is the drivers' own.)

// CachedSubnet implements store.Store.
func (s *Store) CachedSubnet(ctx context.Context, connection string, now time.Time) (string, bool, error) {
	var subnet string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT subnet_id FROM subnet_cache WHERE connection = ? AND expires_at > ?`),
		connection, s.d.Time(now)).Scan(&subnet)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("cached subnet of %q: %w", connection, err)
	}
	return subnet, true, nil
}

// PutCachedSubnet implements store.Store.
func (s *Store) PutCachedSubnet(ctx context.Context, connection, subnetID string, expires time.Time) error {
	if connection == "" || subnetID == "" || expires.IsZero() {
		return fmt.Errorf("cache subnet: need a connection, a subnet and an expiry (got %q, %q, %v)", connection, subnetID, expires)
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO subnet_cache (connection, subnet_id, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (connection) DO UPDATE SET subnet_id = excluded.subnet_id, expires_at = excluded.expires_at`),
		connection, subnetID, s.d.Time(expires))
	if err != nil {
		return fmt.Errorf("cache subnet of %q: %w", connection, err)
	}
	return nil
}

// CachedSubnets implements store.Store: the names go in as one list
// parameter, so that any number of them makes one statement.
func (s *Store) CachedSubnets(ctx context.Context, connections []string, now time.Time) (map[string]string, error) {
	if len(connections) == 0 {
		return map[string]string{}, nil
	}
	in, arg := s.d.In("connection", connections)
	found, err := sqlrows.Pairs(ctx, s.db, s.q(`SELECT connection, subnet_id FROM subnet_cache
		WHERE `+in+` AND expires_at > ?`), arg, s.d.Time(now))
	if err != nil {
		return nil, fmt.Errorf("cached subnets: %w", err)
	}
	return found, nil
}

// InvalidateCachedSubnet implements store.Store.
func (s *Store) InvalidateCachedSubnet(ctx context.Context, connection string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM subnet_cache WHERE connection = ?`), connection); err != nil {
		return fmt.Errorf("invalidate cached subnet of %q: %w", connection, err)
	}
	return nil
}

// Leases.

// AcquireLease implements store.Store.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (store.Lease, bool, error) {
	if err := store.ValidateLease(name, holder, ttl, now); err != nil {
		return store.Lease{}, false, fmt.Errorf("acquire lease: %w", err)
	}
	expires := now.Add(ttl)
	var (
		l  store.Lease
		ok bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The WHERE makes the takeover conditional in the same statement
		// that takes it (a free, released or expired lease, or one the
		// holder already has), evaluated on the row's latest committed
		// version: of several racing for an expired lease, one takes it.
		var token int64
		err := tx.QueryRowContext(ctx, s.q(`INSERT INTO leases (name, holder, token, expires_at) VALUES (?, ?, 1, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = leases.token + 1,
				expires_at = excluded.expires_at
			WHERE leases.holder = '' OR leases.expires_at IS NULL OR leases.expires_at <= ? OR leases.holder = excluded.holder
			RETURNING token`), name, holder, s.d.Time(expires), s.d.Time(now)).Scan(&token)
		switch {
		case err == nil:
			ok = true
			l = store.Lease{Name: name, Holder: holder, Token: token, ExpiresAt: at(expires)}
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		l.Name = name
		if err := tx.QueryRowContext(ctx, s.q(`SELECT holder, token, expires_at FROM leases WHERE name = ?`), name).
			Scan(&l.Holder, &l.Token, Time{&l.ExpiresAt}); err != nil {
			return fmt.Errorf("read the holder: %w", err)
		}
		return nil
	})
	if err != nil {
		return store.Lease{}, false, fmt.Errorf("acquire lease %q for %q: %w", name, holder, err)
	}
	return l, ok, nil
}

// RenewLease implements store.Store.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration, now time.Time) (store.Lease, error) {
	if err := store.ValidateLease(l.Name, l.Holder, ttl, now); err != nil {
		return store.Lease{}, fmt.Errorf("renew lease: %w", err)
	}
	expires := now.Add(ttl)
	n, err := affected(s.db.ExecContext(ctx, s.q(`UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ? AND token = ?`),
		s.d.Time(expires), l.Name, l.Holder, l.Token))
	if err != nil {
		return store.Lease{}, fmt.Errorf("renew lease %q (token %d): %w", l.Name, l.Token, err)
	}
	if n == 0 {
		return store.Lease{}, fmt.Errorf("renew lease %q (token %d): %w", l.Name, l.Token, store.ErrLeaseLost)
	}
	l.ExpiresAt = at(expires)
	return l, nil
}

// ReleaseLease implements store.Store.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE leases SET holder = '', expires_at = NULL WHERE name = ? AND holder = ? AND token = ?`),
		l.Name, l.Holder, l.Token); err != nil {
		return fmt.Errorf("release lease %q (token %d): %w", l.Name, l.Token, err)
	}
	return nil
}

// Subnet samples (store.Fleet).

// AddSubnetSamples implements store.Fleet.
func (s *Store) AddSubnetSamples(ctx context.Context, samples []store.SubnetSample) error {
	for _, x := range samples {
		if err := x.Validate(); err != nil {
			return fmt.Errorf("add subnet samples: %w", err)
		}
	}
	if len(samples) == 0 {
		return nil
	}
	rows := make([][]any, len(samples))
	for i, x := range samples {
		rows[i] = []any{s.d.Time(x.At), x.SubnetID, x.AZ, x.FreeIPs, x.ReservedIPs}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		return s.d.InsertRows(ctx, tx, "subnet_samples", []string{"at", "subnet_id", "az", "free_ips", "reserved_ips"}, rows)
	})
	if err != nil {
		return fmt.Errorf("add subnet samples: %w", err)
	}
	return nil
}

// SubnetSamples implements store.Fleet.
func (s *Store) SubnetSamples(ctx context.Context, since time.Time) ([]store.SubnetSample, error) {
	where, args := "", []any{}
	if !since.IsZero() { // the zero time is NULL: no bound
		where, args = "WHERE at >= ?", []any{s.d.Time(since)}
	}
	out, err := sqlrows.All(ctx, s.db, func(row sqlrows.Scanner) (store.SubnetSample, error) {
		var x store.SubnetSample
		err := row.Scan(Time{&x.At}, &x.SubnetID, &x.AZ, &x.FreeIPs, &x.ReservedIPs)
		return x, err
	}, s.q(`SELECT at, subnet_id, az, free_ips, reserved_ips FROM subnet_samples
		`+where+` ORDER BY at, subnet_id, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("subnet samples: %w", err)
	}
	return out, nil
}

// PruneSubnetSamples implements store.Fleet.
func (s *Store) PruneSubnetSamples(ctx context.Context, before time.Time) (int, error) {
	n, err := affected(s.db.ExecContext(ctx, s.q(`DELETE FROM subnet_samples WHERE at < ?`), s.d.Time(before)))
	if err != nil {
		return 0, fmt.Errorf("prune subnet samples: %w", err)
	}
	return int(n), nil
}
