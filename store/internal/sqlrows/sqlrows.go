// Package sqlrows is the database/sql plumbing the SQLite and Postgres
// stores share: reading every row of a query into a slice or a map.
package sqlrows

import (
	"context"
	"database/sql"
)

// Querier is what *sql.DB, *sql.Conn and *sql.Tx share.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Scanner is a *sql.Row or *sql.Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// All runs a query and scans each row with scan. No row is an empty,
// non-nil slice.
func All[T any](ctx context.Context, q Querier, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// One scans a row of one column.
func One[T any](row Scanner) (T, error) {
	var v T
	err := row.Scan(&v)
	return v, err
}

// Pairs runs a query of two string columns and returns the first mapped to
// the second.
func Pairs(ctx context.Context, q Querier, query string, args ...any) (map[string]string, error) {
	type pair struct{ k, v string }
	got, err := All(ctx, q, func(row Scanner) (pair, error) {
		var p pair
		err := row.Scan(&p.k, &p.v)
		return p, err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(got))
	for _, p := range got {
		m[p.k] = p.v
	}
	return m, nil
}
