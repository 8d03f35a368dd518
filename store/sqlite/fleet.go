package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gluenet/gluenet/store"
)

// AttemptsOf implements store.Fleet.
func (s *Store) AttemptsOf(ctx context.Context, keys []string) (map[string][]store.Attempt, error) {
	out := make(map[string][]store.Attempt)
	if len(keys) == 0 {
		return out, nil
	}
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(keys); start += store.AttemptKeysChunk {
			chunk := keys[start:min(start+store.AttemptKeysChunk, len(keys))]
			if err := attemptsOf(ctx, tx, chunk, out); err != nil {
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

func attemptsOf(ctx context.Context, tx *sql.Tx, keys []string, out map[string][]store.Attempt) error {
	in := strings.TrimSuffix(strings.Repeat("?,", len(keys)), ",")
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	rows, err := tx.QueryContext(ctx, `SELECT run_key, number, plan, order_applied, COALESCE(glue_run_id, ''),
			COALESCE(phase, ''), COALESCE(final_state, ''), COALESCE(error_message, ''), COALESCE(class, ''),
			started_at, ended_at, COALESCE(subnet, ''), COALESCE(az, '')
		FROM attempts WHERE run_key IN (`+in+`) ORDER BY run_key, number`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	type pos struct {
		key    string
		number int
	}
	index := map[pos]int{}
	for rows.Next() {
		var (
			a              store.Attempt
			plan, order    sql.NullString
			started, ended sql.NullInt64
		)
		if err := rows.Scan(&a.RunKey, &a.Number, &plan, &order, &a.GlueRunID, &a.Phase, &a.FinalState, &a.ErrorMessage,
			&a.Class, &started, &ended, &a.Subnet, &a.AZ); err != nil {
			return err
		}
		if plan.Valid {
			a.Plan = json.RawMessage(plan.String)
		}
		if order.Valid {
			if err := json.Unmarshal([]byte(order.String), &a.OrderApplied); err != nil {
				return fmt.Errorf("decode order of run %q attempt %d: %w", a.RunKey, a.Number, err)
			}
		}
		a.StartedAt = fromNullMicros(started)
		a.EndedAt = fromNullMicros(ended)
		index[pos{a.RunKey, a.Number}] = len(out[a.RunKey])
		out[a.RunKey] = append(out[a.RunKey], a)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	srows, err := tx.QueryContext(ctx, `SELECT run_key, number, state, at FROM attempt_states
		WHERE run_key IN (`+in+`) ORDER BY run_key, number, at, seq`, args...)
	if err != nil {
		return err
	}
	defer srows.Close()
	for srows.Next() {
		var (
			p  pos
			sc store.StateChange
			at int64
		)
		if err := srows.Scan(&p.key, &p.number, &sc.State, &at); err != nil {
			return err
		}
		sc.At = fromMicros(at)
		i, ok := index[p]
		if !ok {
			return fmt.Errorf("state %s for unknown attempt %d of run %q", sc.State, p.number, p.key)
		}
		out[p.key][i].States = append(out[p.key][i].States, sc)
	}
	return srows.Err()
}

// AddSubnetSamples implements store.Fleet.
func (s *Store) AddSubnetSamples(ctx context.Context, samples []store.SubnetSample) error {
	for _, x := range samples {
		if err := x.Validate(); err != nil {
			return fmt.Errorf("add subnet samples: %w", err)
		}
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, x := range samples {
			if _, err := tx.ExecContext(ctx, `INSERT INTO subnet_samples (at, subnet_id, az, free_ips, reserved_ips)
				VALUES (?, ?, ?, ?, ?)`, x.At.UnixMicro(), x.SubnetID, x.AZ, x.FreeIPs, x.ReservedIPs); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add subnet samples: %w", err)
	}
	return nil
}

// SubnetSamples implements store.Fleet.
func (s *Store) SubnetSamples(ctx context.Context, since time.Time) ([]store.SubnetSample, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT at, subnet_id, az, free_ips, reserved_ips FROM subnet_samples
		WHERE at >= ? ORDER BY at, subnet_id, id`, since.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("subnet samples: %w", err)
	}
	defer rows.Close()
	var out []store.SubnetSample
	for rows.Next() {
		var (
			x  store.SubnetSample
			at int64
		)
		if err := rows.Scan(&at, &x.SubnetID, &x.AZ, &x.FreeIPs, &x.ReservedIPs); err != nil {
			return nil, fmt.Errorf("subnet samples: %w", err)
		}
		x.At = fromMicros(at)
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("subnet samples: %w", err)
	}
	return out, nil
}

// PruneSubnetSamples implements store.Fleet.
func (s *Store) PruneSubnetSamples(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM subnet_samples WHERE at < ?`, before.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("prune subnet samples: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune subnet samples: %w", err)
	}
	return int(n), nil
}
