package executor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/gluenet/gluenet/store"
)

// lease is a held lock.
type lease struct {
	e *Executor
	l store.Lease
}

func (e *Executor) lockTTL() time.Duration {
	if e.LockTTL > 0 {
		return e.LockTTL
	}
	return DefaultLockTTL
}

// NewHolder names this process in leases: host/pid/random, unique per
// holder even within one process.
func NewHolder() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%08x", host, os.Getpid(), rand.Uint32())
}

func (e *Executor) holder() string {
	if e.Holder != "" {
		return e.Holder
	}
	return "gluenet"
}

// lock takes the named lease, waiting for another holder at most the lock
// timeout. Cancelling ctx ends the wait (ctx's error); the journal calls
// use io, so they are never cut in half.
func (e *Executor) lock(ctx, io context.Context, name string) (*lease, error) {
	timeout := e.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	deadline := e.now().Add(timeout)
	delay := 50 * time.Millisecond
	logged := false
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l, ok, err := e.Journal.AcquireLease(io, name, e.holder(), e.lockTTL(), e.now())
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		if ok {
			return &lease{e: e, l: l}, nil
		}
		left := deadline.Sub(e.now())
		if left <= 0 {
			return nil, fmt.Errorf("%w: %s is held by %s; gave up after %s (--lock-timeout)", ErrLockTimeout, name, l.Holder, timeout)
		}
		if !logged {
			logged = true
			e.log().Info("waiting for the lock held by another gluenet", "lock", name, "holder", l.Holder, "timeout", timeout.String())
		}
		if err := e.Clock.Sleep(ctx, min(delay, left)); err != nil {
			return nil, err
		}
		if delay < time.Second {
			delay *= 2
		}
	}
}

// confirm renews the lease and so proves it is still ours: another holder
// may have taken it over if this one stalled past its TTL.
func (l *lease) confirm(ctx context.Context) error {
	n, err := l.e.Journal.RenewLease(ctx, l.l, l.e.lockTTL(), l.e.now())
	if err != nil {
		return fmt.Errorf("lock %s lost before starting the run: %w", l.l.Name, err)
	}
	l.l = n
	return nil
}

func (l *lease) release(ctx context.Context) {
	if err := l.e.Journal.ReleaseLease(ctx, l.l); err != nil {
		l.e.log().Warn("could not release the lock; it expires by itself", "lock", l.l.Name, "err", err)
	}
}
