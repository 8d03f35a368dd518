package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DefaultTimeout is how long one store operation may take, its retries
// included, unless GuardOptions.Timeout says otherwise: long enough to ride
// out a database restart or a burst of lock contention, short enough that a
// store that went away ends the command with a message instead of a hang.
const DefaultTimeout = 30 * time.Second

// DefaultSlowAfter is how long a store operation may wait before the guard
// logs a warning naming the store.
const DefaultSlowAfter = 3 * time.Second

// DefaultGrace bounds a store operation once GuardOptions.Stop is closed
// (the first SIGINT or SIGTERM): time enough for the last journal writes
// on a healthy store, which take milliseconds, and no more.
const DefaultGrace = 2 * time.Second

// Fault is what a driver says a failed operation's error means.
type Fault int

const (
	// FaultNone: not a fault of the store's availability (a domain error
	// such as ErrNotFound, a bug, a constraint): returned as it is.
	FaultNone Fault = iota
	// FaultRetry: the operation did not take effect and may succeed when
	// tried again: a busy database, a serialization failure or deadlock,
	// a connection refused or reset, a server shutting down or starting.
	FaultRetry
	// FaultFull: the store's disk is full. Retrying does not help.
	FaultFull
)

// UnavailableError is the error of a store operation that did not succeed
// within its deadline: the store did not answer, kept failing with errors
// that may pass, or its disk is full. Nothing about the run is lost that
// the next gluenet on the same key cannot recover (see docs/state.md).
type UnavailableError struct {
	Store  string        // the store, such as "postgres db.example:5432/gluenet" (never a password)
	Op     string        // the operation, such as "put attempt"
	Waited time.Duration // how long the operation waited
	Full   bool          // the store's disk is full
	Err    error         // the last error
}

func (e *UnavailableError) Error() string {
	if e.Full {
		return fmt.Sprintf("state store %s: %s: the disk is full: %v", e.Store, e.Op, e.Err)
	}
	return fmt.Sprintf("state store %s did not answer in %s: %s: %v", e.Store, e.Waited.Round(time.Millisecond), e.Op, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// ErrStopped is the cause (in an UnavailableError) of an operation cut
// short by GuardOptions.Stop.
var ErrStopped = errors.New("interrupted: gave up waiting for the state store")

// GuardOptions configures Guard.
type GuardOptions struct {
	// Name names the store in messages and logs (never with a password).
	Name string
	// Classify says what a failed operation's error means (the driver's
	// Classify function). Nil: every error is FaultNone.
	Classify func(error) Fault
	// Timeout bounds each operation, retries included (DefaultTimeout
	// when zero).
	Timeout time.Duration
	// SlowAfter is when a waiting operation is logged (DefaultSlowAfter
	// when zero).
	SlowAfter time.Duration
	// Stop, once closed, bounds every operation in flight or to come to
	// Grace (DefaultGrace when zero) from then: a signal ends a hung store
	// call even where the caller's context is never cancelled (the
	// executor's journal writes, which must outlive the first signal).
	Stop  <-chan struct{}
	Grace time.Duration
	// Log receives the slow-store warnings (slog.Default() when nil).
	Log *slog.Logger
	// Backoff is the wait before retry n (1, 2, ...); nil: 50ms doubling
	// up to 1s.
	Backoff func(n int) time.Duration
}

func (o *GuardOptions) defaults() {
	if o.Classify == nil {
		o.Classify = func(error) Fault { return FaultNone }
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.SlowAfter <= 0 {
		o.SlowAfter = DefaultSlowAfter
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Backoff == nil {
		o.Backoff = func(n int) time.Duration { return min(50*time.Millisecond<<min(n-1, 5), time.Second) }
	}
}

// Guarded is a Store whose every operation is bounded in time and retried
// while it meets errors that may pass (see Guard).
type Guarded struct {
	s Store
	o GuardOptions
}

// Guard wraps s so that every operation
//   - is retried with backoff while it fails with an error Classify calls
//     FaultRetry (a busy database, a serialization failure, a restarting
//     server), so that no record is dropped for contention;
//   - ends within Timeout, retries included, with an *UnavailableError
//     naming the store when it did not succeed by then (a store that
//     accepts connections and never answers included: the caller gets the
//     error at the deadline even when the driver does not give up);
//   - is logged at WARN, naming the store, when it waits longer than
//     SlowAfter;
//   - ends within Grace once Stop is closed.
//
// An operation that hangs uses its whole budget and is not retried, so a
// write is never in flight twice.
func Guard(s Store, o GuardOptions) *Guarded {
	o.defaults()
	return &Guarded{s: s, o: o}
}

var _ Store = (*Guarded)(nil)

// Open runs open, a driver's Open, under the same deadline, Stop and
// logging as a guarded operation (without retries: a driver's open reports
// its own errors) and guards the store it returns.
func Open(ctx context.Context, o GuardOptions, open func(ctx context.Context) (Store, error)) (*Guarded, error) {
	o.defaults()
	g := &Guarded{o: o}
	var warned bool
	st, err := attempt(ctx, g, "open", time.Now(), nil, &warned, open)
	if err != nil {
		return nil, err
	}
	g.s = st
	return g, nil
}

// do runs fn under the guard (see Guard).
func do[T any](ctx context.Context, g *Guarded, op string, fn func(ctx context.Context) (T, error)) (T, error) {
	start := time.Now()
	var (
		last   error // the previous attempt's error, retried
		warned bool  // the wait was logged
	)
	for n := 1; ; n++ {
		v, err := attempt(ctx, g, op, start, last, &warned, fn)
		if err == nil || g.o.Classify(err) != FaultRetry {
			return v, err
		}
		last = err
		wait := g.o.Backoff(n)
		if time.Since(start)+wait >= g.o.Timeout {
			return v, &UnavailableError{Store: g.o.Name, Op: op, Waited: time.Since(start), Err: err}
		}
		if !warned && time.Since(start) >= g.o.SlowAfter {
			warned = true
			g.warnSlow(ctx, op, start, err)
		}
		g.o.Log.DebugContext(ctx, "state store busy or away; retrying", "store", g.o.Name, "op", op, "attempt", n, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return v, err
		case <-g.o.Stop:
			t.Stop()
			return v, &UnavailableError{Store: g.o.Name, Op: op, Waited: time.Since(start), Err: fmt.Errorf("%w (last error: %w)", ErrStopped, err)}
		}
	}
}

// attempt runs fn once, in its own goroutine, and returns what it returns,
// or an *UnavailableError at the operation's deadline (start+Timeout, or
// Grace after Stop) if it has not returned by then, wrapping last, the
// error of the attempt before; fn's context is then cancelled and fn left
// to end on its own. The first attempt of an operation to wait past
// SlowAfter logs it, and sets *warned.
func attempt[T any](ctx context.Context, g *Guarded, op string, start time.Time, last error, warned *bool,
	fn func(ctx context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		v, err := fn(actx)
		done <- result{v, err}
	}()
	deadline := time.NewTimer(g.o.Timeout - time.Since(start))
	defer deadline.Stop()
	var slowC <-chan time.Time
	if !*warned {
		slow := time.NewTimer(g.o.SlowAfter - time.Since(start))
		defer slow.Stop()
		slowC = slow.C
	}
	stop := g.o.Stop
	var zero T
	for {
		select {
		case r := <-done:
			if r.err != nil && g.o.Classify(r.err) == FaultFull {
				return r.v, &UnavailableError{Store: g.o.Name, Op: op, Waited: time.Since(start), Full: true, Err: r.err}
			}
			if *warned && r.err == nil {
				g.o.Log.InfoContext(ctx, "the state store answered", "store", g.o.Name, "op", op, "waited", time.Since(start).Round(time.Millisecond))
			}
			return r.v, r.err
		case <-slowC:
			*warned, slowC = true, nil
			g.warnSlow(ctx, op, start, last)
		case <-stop:
			stop = nil
			if g.o.Grace < g.o.Timeout-time.Since(start) {
				deadline.Reset(g.o.Grace)
			}
		case <-deadline.C:
			err := fmt.Errorf("no answer (%w)", context.DeadlineExceeded)
			if g.o.Stop != nil && stop == nil {
				err = ErrStopped
			}
			if last != nil {
				err = fmt.Errorf("%w; before that: %w", err, last)
			}
			return zero, &UnavailableError{Store: g.o.Name, Op: op, Waited: time.Since(start), Err: err}
		}
	}
}

// warnSlow logs that op has waited for the store since start; err is its
// last error, if any.
func (g *Guarded) warnSlow(ctx context.Context, op string, start time.Time, err error) {
	attrs := []any{"store", g.o.Name, "op", op, "waited", time.Since(start).Round(time.Millisecond), "gives_up_after", g.o.Timeout}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	g.o.Log.WarnContext(ctx, "waiting for the state store", attrs...)
}

// none is the value of operations that return only an error.
type none struct{}

func do0(ctx context.Context, g *Guarded, op string, fn func(ctx context.Context) error) error {
	_, err := do(ctx, g, op, func(ctx context.Context) (none, error) { return none{}, fn(ctx) })
	return err
}

// pair carries the two values of operations that return two.
type pair[A, B any] struct {
	a A
	b B
}

func do2[A, B any](ctx context.Context, g *Guarded, op string, fn func(ctx context.Context) (A, B, error)) (A, B, error) {
	p, err := do(ctx, g, op, func(ctx context.Context) (pair[A, B], error) {
		a, b, err := fn(ctx)
		return pair[A, B]{a, b}, err
	})
	return p.a, p.b, err
}
