package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gluenet/gluenet/store"
)

// AttemptsOf implements store.Fleet.
func (s *Store) AttemptsOf(ctx context.Context, keys []string) (map[string][]store.Attempt, error) {
	out := make(map[string][]store.Attempt)
	if len(keys) == 0 {
		return out, nil
	}
	// REPEATABLE READ: the attempts and their states from one snapshot.
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
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

func attemptsOf(ctx context.Context, tx pgx.Tx, keys []string, out map[string][]store.Attempt) error {
	rows, _ := tx.Query(ctx, `SELECT run_key, number, plan::text, order_applied, COALESCE(glue_run_id, ''),
			COALESCE(phase, ''), COALESCE(final_state, ''), COALESCE(error_message, ''), COALESCE(class, ''),
			started_at, ended_at, COALESCE(subnet, ''), COALESCE(az, '')
		FROM attempts WHERE run_key = ANY($1) ORDER BY run_key, number`, keys)
	got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Attempt, error) {
		var (
			a              store.Attempt
			plan           *string
			started, ended *time.Time
		)
		if err := row.Scan(&a.RunKey, &a.Number, &plan, &a.OrderApplied, &a.GlueRunID, &a.Phase, &a.FinalState,
			&a.ErrorMessage, &a.Class, &started, &ended, &a.Subnet, &a.AZ); err != nil {
			return a, err
		}
		if plan != nil {
			a.Plan = json.RawMessage(*plan)
		}
		a.StartedAt, a.EndedAt = fromNull(started), fromNull(ended)
		return a, nil
	})
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
	rows, _ = tx.Query(ctx, `SELECT run_key, number, state, at FROM attempt_states WHERE run_key = ANY($1)
		ORDER BY run_key, number, at, seq`, keys)
	var (
		p  pos
		sc store.StateChange
	)
	_, err = pgx.ForEachRow(rows, []any{&p.key, &p.number, &sc.State, &sc.At}, func() error {
		i, ok := index[p]
		if !ok {
			return fmt.Errorf("state %s for unknown attempt %d of run %q", sc.State, p.number, p.key)
		}
		out[p.key][i].States = append(out[p.key][i].States, store.StateChange{State: sc.State, At: utc(sc.At)})
		return nil
	})
	return err
}

// AddSubnetSamples implements store.Fleet.
func (s *Store) AddSubnetSamples(ctx context.Context, samples []store.SubnetSample) error {
	for _, x := range samples {
		if err := x.Validate(); err != nil {
			return fmt.Errorf("add subnet samples: %w", err)
		}
	}
	rows := make([][]any, len(samples))
	for i, x := range samples {
		rows[i] = []any{ts(x.At), x.SubnetID, x.AZ, x.FreeIPs, x.ReservedIPs}
	}
	if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"subnet_samples"},
		[]string{"at", "subnet_id", "az", "free_ips", "reserved_ips"}, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("add subnet samples: %w", err)
	}
	return nil
}

// SubnetSamples implements store.Fleet.
func (s *Store) SubnetSamples(ctx context.Context, since time.Time) ([]store.SubnetSample, error) {
	rows, _ := s.pool.Query(ctx, `SELECT at, subnet_id, az, free_ips, reserved_ips FROM subnet_samples
		WHERE at >= $1 ORDER BY at, subnet_id, id`, at(since))
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.SubnetSample, error) {
		var x store.SubnetSample
		err := row.Scan(&x.At, &x.SubnetID, &x.AZ, &x.FreeIPs, &x.ReservedIPs)
		x.At = utc(x.At)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("subnet samples: %w", err)
	}
	return out, nil
}

// PruneSubnetSamples implements store.Fleet.
func (s *Store) PruneSubnetSamples(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM subnet_samples WHERE at < $1`, at(before))
	if err != nil {
		return 0, fmt.Errorf("prune subnet samples: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
