package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/internal/sqlrows"
)

// AttemptsOf implements store.Fleet.
func (s *Store) AttemptsOf(ctx context.Context, keys []string) (map[string][]store.Attempt, error) {
	out := make(map[string][]store.Attempt)
	if len(keys) == 0 {
		return out, nil
	}
	// REPEATABLE READ: the attempts and their states from one snapshot.
	err := s.inTx(ctx, readOnly, func(tx *sql.Tx) error {
		for start := 0; start < len(keys); start += store.AttemptKeysChunk {
			if err := attemptsOf(ctx, tx, keys[start:min(start+store.AttemptKeysChunk, len(keys))], out); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("attempts of %d runs: %w", len(keys), err)
	}
	return out, nil
}

// attemptsOf adds the attempts of the runs keys, with their states, to out.
func attemptsOf(ctx context.Context, q querier, keys []string, out map[string][]store.Attempt) error {
	got, err := sqlrows.All(ctx, q, func(row rowScanner) (store.Attempt, error) {
		var (
			a              store.Attempt
			plan           *string
			started, ended *time.Time
		)
		if err := row.Scan(&a.RunKey, &a.Number, &plan, pq.Array(&a.OrderApplied), &a.GlueRunID, &a.Phase, &a.FinalState,
			&a.ErrorMessage, &a.Class, &started, &ended, &a.Subnet, &a.AZ); err != nil {
			return a, err
		}
		if plan != nil {
			a.Plan = json.RawMessage(*plan)
		}
		a.StartedAt, a.EndedAt = fromNull(started), fromNull(ended)
		return a, nil
	}, `SELECT run_key, number, plan::text, order_applied, COALESCE(glue_run_id, ''),
			COALESCE(phase, ''), COALESCE(final_state, ''), COALESCE(error_message, ''), COALESCE(class, ''),
			started_at, ended_at, COALESCE(subnet, ''), COALESCE(az, '')
		FROM attempts WHERE run_key = ANY($1) ORDER BY run_key, number`, pq.Array(keys))
	if err != nil {
		return err
	}
	type pos struct {
		key    string
		number int
	}
	index := make(map[pos]int, len(got))
	for _, a := range got {
		index[pos{a.RunKey, a.Number}] = len(out[a.RunKey])
		out[a.RunKey] = append(out[a.RunKey], a)
	}
	rows, err := q.QueryContext(ctx, `SELECT run_key, number, state, at FROM attempt_states WHERE run_key = ANY($1)
		ORDER BY run_key, number, at, seq`, pq.Array(keys))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			p  pos
			sc store.StateChange
		)
		if err := rows.Scan(&p.key, &p.number, &sc.State, &sc.At); err != nil {
			return err
		}
		i, ok := index[p]
		if !ok {
			return fmt.Errorf("state %s for unknown attempt %d of run %q", sc.State, p.number, p.key)
		}
		out[p.key][i].States = append(out[p.key][i].States, store.StateChange{State: sc.State, At: utc(sc.At)})
	}
	return rows.Err()
}

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
	err := s.inTx(ctx, nil, func(tx *sql.Tx) error {
		return copyIn(ctx, tx, `COPY subnet_samples (at, subnet_id, az, free_ips, reserved_ips) FROM STDIN`, len(samples), func(i int) []any {
			x := samples[i]
			return []any{ts(x.At), x.SubnetID, x.AZ, x.FreeIPs, x.ReservedIPs}
		})
	})
	if err != nil {
		return fmt.Errorf("add subnet samples: %w", err)
	}
	return nil
}

// SubnetSamples implements store.Fleet.
func (s *Store) SubnetSamples(ctx context.Context, since time.Time) ([]store.SubnetSample, error) {
	out, err := sqlrows.All(ctx, s.db, func(row rowScanner) (store.SubnetSample, error) {
		var x store.SubnetSample
		err := row.Scan(&x.At, &x.SubnetID, &x.AZ, &x.FreeIPs, &x.ReservedIPs)
		x.At = utc(x.At)
		return x, err
	}, `SELECT at, subnet_id, az, free_ips, reserved_ips FROM subnet_samples
		WHERE at >= $1 ORDER BY at, subnet_id, id`, at(since))
	if err != nil {
		return nil, fmt.Errorf("subnet samples: %w", err)
	}
	return out, nil
}

// PruneSubnetSamples implements store.Fleet.
func (s *Store) PruneSubnetSamples(ctx context.Context, before time.Time) (int, error) {
	n, err := affected(s.db.ExecContext(ctx, `DELETE FROM subnet_samples WHERE at < $1`, at(before)))
	if err != nil {
		return 0, fmt.Errorf("prune subnet samples: %w", err)
	}
	return int(n), nil
}
