package store

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeStore is a Store whose GetRun and PutAttempt run the test's funcs;
// its other methods are never called (the nil Store panics).
type fakeStore struct {
	Store
	getRun     func(ctx context.Context) (Run, error)
	putAttempt func(ctx context.Context) error
}

func (f *fakeStore) GetRun(ctx context.Context, _ string) (Run, error) { return f.getRun(ctx) }
func (f *fakeStore) PutAttempt(ctx context.Context, _ Attempt) error   { return f.putAttempt(ctx) }

var (
	errBusy = errors.New("database is locked (SQLITE_BUSY)")
	errFull = errors.New("database or disk is full")
)

func classify(err error) Fault {
	switch {
	case errors.Is(err, errBusy):
		return FaultRetry
	case errors.Is(err, errFull):
		return FaultFull
	}
	return FaultNone
}

func guardOpts(o GuardOptions) GuardOptions {
	o.Name = "sqlite /tmp/state.db"
	o.Classify = classify
	o.Backoff = func(int) time.Duration { return time.Millisecond }
	if o.Timeout == 0 {
		o.Timeout = time.Hour // a test that hangs fails by the test timeout, not by a timed assertion
	}
	return o
}

// TestGuardRetriesWhatMayPass: busy errors are retried until the write
// goes through; errors of the domain and a full disk are not retried.
func TestGuardRetriesWhatMayPass(t *testing.T) {
	tests := []struct {
		name      string
		errs      []error // returned by successive calls; nil after them
		wantCalls int
		wantErr   func(error) bool
	}{
		{"busy three times", []error{errBusy, errBusy, errBusy}, 4, func(err error) bool { return err == nil }},
		{"not found", []error{ErrNotFound}, 1, func(err error) bool { return errors.Is(err, ErrNotFound) && !isUnavailable(err) }},
		{"full", []error{errFull}, 1, func(err error) bool {
			var ue *UnavailableError
			return errors.As(err, &ue) && ue.Full && strings.Contains(err.Error(), "sqlite /tmp/state.db") && strings.Contains(err.Error(), "disk is full")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			f := &fakeStore{putAttempt: func(context.Context) error {
				n := int(calls.Add(1))
				if n <= len(tt.errs) {
					return tt.errs[n-1]
				}
				return nil
			}}
			err := Guard(f, guardOpts(GuardOptions{})).PutAttempt(t.Context(), Attempt{})
			if !tt.wantErr(err) {
				t.Errorf("err = %v", err)
			}
			if got := int(calls.Load()); got != tt.wantCalls {
				t.Errorf("%d calls, want %d", got, tt.wantCalls)
			}
		})
	}
}

func isUnavailable(err error) bool {
	var ue *UnavailableError
	return errors.As(err, &ue)
}

// TestGuardGivesUpOnABusyStore: a store that stays busy is given up on
// with an UnavailableError naming the store and the last error.
func TestGuardGivesUpOnABusyStore(t *testing.T) {
	t.Parallel()
	f := &fakeStore{putAttempt: func(context.Context) error { return errBusy }}
	err := Guard(f, guardOpts(GuardOptions{Timeout: 20 * time.Millisecond})).PutAttempt(t.Context(), Attempt{})
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Op != "put attempt" || !errors.Is(err, errBusy) || !strings.Contains(err.Error(), "state store sqlite /tmp/state.db") {
		t.Fatalf("err = %v, want an UnavailableError naming the store, wrapping the busy error", err)
	}
}

// hang blocks until the test ends: a store that never answers, whatever
// its context says (a driver stuck in a read).
func hang(t *testing.T) func(context.Context) (Run, error) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return func(context.Context) (Run, error) {
		<-release
		return Run{}, nil
	}
}

// TestGuardEndsAHungCall: a call that never returns ends at the deadline,
// or once Stop is closed (a signal), with an UnavailableError.
func TestGuardEndsAHungCall(t *testing.T) {
	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		g := Guard(&fakeStore{getRun: hang(t)}, guardOpts(GuardOptions{Timeout: 20 * time.Millisecond}))
		_, err := g.GetRun(t.Context(), "k")
		if !isUnavailable(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want an UnavailableError for the deadline", err)
		}
	})
	t.Run("stop", func(t *testing.T) {
		t.Parallel()
		stop := make(chan struct{})
		g := Guard(&fakeStore{getRun: hang(t)}, guardOpts(GuardOptions{Stop: stop, Grace: time.Millisecond}))
		done := make(chan error, 1)
		go func() {
			// WithoutCancel: the executor's journal context, which no
			// signal cancels.
			_, err := g.GetRun(context.WithoutCancel(t.Context()), "k")
			done <- err
		}()
		close(stop)
		if err := <-done; !isUnavailable(err) || !errors.Is(err, ErrStopped) {
			t.Fatalf("err = %v, want an UnavailableError for the stop", err)
		}
	})
}

// TestGuardAnswersAfterStop: once Stop is closed, a store that answers
// still gets its writes (the last journal writes of an interrupted run).
func TestGuardAnswersAfterStop(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	close(stop)
	f := &fakeStore{putAttempt: func(context.Context) error { return nil }}
	if err := Guard(f, guardOpts(GuardOptions{Stop: stop})).PutAttempt(t.Context(), Attempt{}); err != nil {
		t.Fatal(err)
	}
}

// warnings is a slog handler that passes each WARN record's message to a
// channel.
type warnings chan string

func (w warnings) Enabled(context.Context, slog.Level) bool { return true }
func (w warnings) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn {
		var store string
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "store" {
				store = a.Value.String()
			}
			return true
		})
		w <- r.Message + " " + store
	}
	return nil
}
func (w warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w warnings) WithGroup(string) slog.Handler      { return w }

// TestGuardLogsASlowStore: a call that waits past SlowAfter is logged at
// WARN naming the store, while it still waits.
func TestGuardLogsASlowStore(t *testing.T) {
	t.Parallel()
	warned := make(warnings, 1)
	f := &fakeStore{getRun: func(ctx context.Context) (Run, error) {
		// Answer once the warning is out: the call was slow.
		select {
		case w := <-warned:
			return Run{Key: w}, nil
		case <-ctx.Done():
			return Run{}, ctx.Err()
		}
	}}
	g := Guard(f, guardOpts(GuardOptions{SlowAfter: time.Millisecond, Log: slog.New(warned)}))
	r, err := g.GetRun(t.Context(), "k")
	if err != nil {
		t.Fatal(err)
	}
	if want := "waiting for the state store sqlite /tmp/state.db"; r.Key != want {
		t.Errorf("warning %q, want %q", r.Key, want)
	}
}

// TestGuardOpen: an open that never returns ends at the deadline.
func TestGuardOpen(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	_, err := Open(t.Context(), guardOpts(GuardOptions{Timeout: 10 * time.Millisecond}), func(context.Context) (Store, error) {
		<-release
		return nil, nil
	})
	var ue *UnavailableError
	if !errors.As(err, &ue) || ue.Op != "open" {
		t.Fatalf("err = %v, want an UnavailableError for open", err)
	}
}

// TestGuardWarnsOnceWhileRetrying: a store that keeps failing at once is
// logged once per operation, naming the store and the last error, not
// once per retry.
func TestGuardWarnsOnceWhileRetrying(t *testing.T) {
	t.Parallel()
	warned := make(warnings, 1000)
	f := &fakeStore{putAttempt: func(context.Context) error { return errBusy }}
	g := Guard(f, guardOpts(GuardOptions{Timeout: 50 * time.Millisecond, SlowAfter: time.Millisecond, Log: slog.New(warned)}))
	if err := g.PutAttempt(t.Context(), Attempt{}); !isUnavailable(err) {
		t.Fatalf("err = %v, want an UnavailableError", err)
	}
	close(warned)
	var got []string
	for w := range warned {
		got = append(got, w)
	}
	if want := []string{"waiting for the state store sqlite /tmp/state.db"}; !reflect.DeepEqual(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
}
