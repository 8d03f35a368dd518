package executor

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gluenet/gluenet/store"
)

// MemJournal is a Journal in process memory, for one process that drives
// many runs (the strategy lab) and for tests. It keeps what the executor
// reads back (runs, attempt run ids, state records, leases); attempt rows
// other than run ids are not kept.
type MemJournal struct {
	mu     sync.Mutex
	runs   map[string]store.Run
	ids    map[string]map[int]store.Attempt
	states map[string]store.RunState
	leases map[string]store.Lease
	token  int64
}

// NewMemJournal returns an empty MemJournal.
func NewMemJournal() *MemJournal {
	return &MemJournal{runs: map[string]store.Run{}, ids: map[string]map[int]store.Attempt{}, states: map[string]store.RunState{}, leases: map[string]store.Lease{}}
}

// BeginRun implements Journal.
func (m *MemJournal) BeginRun(_ context.Context, r store.Run) (store.Run, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if got, ok := m.runs[r.Key]; ok {
		return got, false, nil
	}
	m.runs[r.Key] = r
	return r, true, nil
}

// GetRun implements Journal.
func (m *MemJournal) GetRun(_ context.Context, key string) (store.Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[key]
	if !ok {
		return store.Run{}, fmt.Errorf("run %q: %w", key, store.ErrNotFound)
	}
	return r, nil
}

// SetRunStatus implements Journal.
func (m *MemJournal) SetRunStatus(_ context.Context, key string, status store.RunStatus, at time.Time) error {
	return m.update(key, func(r *store.Run) { r.Status, r.UpdatedAt, r.FinishedAt, r.Outcome = status, at, time.Time{}, "" })
}

// FinishRun implements Journal.
func (m *MemJournal) FinishRun(_ context.Context, key string, status store.RunStatus, outcome string, at time.Time) error {
	return m.update(key, func(r *store.Run) { r.Status, r.UpdatedAt, r.FinishedAt, r.Outcome = status, at, at, outcome })
}

func (m *MemJournal) update(key string, fn func(*store.Run)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.runs[key]
	if !ok {
		return fmt.Errorf("run %q: %w", key, store.ErrNotFound)
	}
	fn(&r)
	m.runs[key] = r
	return nil
}

// PutAttempt implements Journal: the lab does not keep attempt rows.
func (m *MemJournal) PutAttempt(context.Context, store.Attempt) error { return nil }

// Attempts implements Journal: the attempts with a recorded run id.
func (m *MemJournal) Attempts(_ context.Context, key string) ([]store.Attempt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Attempt
	for _, a := range m.ids[key] {
		out = append(out, a)
	}
	// sort.Slice: one copy of its code serves every element type, where
	// slices.SortFunc is compiled again for each struct type (binary size).
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

// RecordRunID implements Journal.
func (m *MemJournal) RecordRunID(_ context.Context, key string, number int, runID string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.runs[key]; !ok {
		return fmt.Errorf("run %q: %w", key, store.ErrNotFound)
	}
	if m.ids[key] == nil {
		m.ids[key] = map[int]store.Attempt{}
	}
	if a, ok := m.ids[key][number]; ok {
		if a.GlueRunID != runID {
			return fmt.Errorf("attempt %d of %q has run %s: %w", number, key, a.GlueRunID, store.ErrConflict)
		}
		return nil // the same id again: a no-op, its start kept (as the stores do)
	}
	m.ids[key][number] = store.Attempt{RunKey: key, Number: number, GlueRunID: runID, StartedAt: at}
	return nil
}

// RunState implements Journal.
func (m *MemJournal) RunState(_ context.Context, key string) (store.RunState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rs, ok := m.states[key]
	if !ok {
		return store.RunState{}, fmt.Errorf("state of run %q: %w", key, store.ErrNotFound)
	}
	return rs, nil
}

// PutRunState implements Journal.
func (m *MemJournal) PutRunState(_ context.Context, rs store.RunState) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.runs[rs.Key]; !ok {
		return 0, fmt.Errorf("run %q: %w", rs.Key, store.ErrNotFound)
	}
	if m.states[rs.Key].Revision != rs.Revision {
		return 0, fmt.Errorf("state of run %q: %w", rs.Key, store.ErrConflict)
	}
	rs.Revision++
	rs.Data = slices.Clone(rs.Data)
	m.states[rs.Key] = rs
	return rs.Revision, nil
}

// AcquireLease implements Journal.
func (m *MemJournal) AcquireLease(_ context.Context, name, holder string, ttl time.Duration, now time.Time) (store.Lease, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[name]; ok && now.Before(l.ExpiresAt) {
		return l, false, nil
	}
	m.token++
	l := store.Lease{Name: name, Holder: holder, Token: m.token, ExpiresAt: now.Add(ttl)}
	m.leases[name] = l
	return l, true, nil
}

// RenewLease implements Journal.
func (m *MemJournal) RenewLease(_ context.Context, l store.Lease, ttl time.Duration, now time.Time) (store.Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.leases[l.Name]
	if !ok || cur.Token != l.Token {
		return store.Lease{}, fmt.Errorf("lease %s: %w", l.Name, store.ErrLeaseLost)
	}
	cur.ExpiresAt = now.Add(ttl)
	m.leases[l.Name] = cur
	return cur, nil
}

// ReleaseLease implements Journal.
func (m *MemJournal) ReleaseLease(_ context.Context, l store.Lease) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.leases[l.Name]; ok && cur.Token == l.Token {
		delete(m.leases, l.Name)
	}
	return nil
}

// ListRuns returns the runs f selects, newest first (by CreatedAt, then
// key), as the stores do; admission's prediction reads it.
func (m *MemJournal) ListRuns(_ context.Context, f store.RunFilter) ([]store.Run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.Run
	for _, r := range m.runs {
		if f.Job != "" && r.Job != f.Job || f.Status != "" && r.Status != f.Status ||
			!f.Since.IsZero() && r.CreatedAt.Before(f.Since) || !f.Before.IsZero() && !r.CreatedAt.Before(f.Before) {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].Key > out[j].Key
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}
