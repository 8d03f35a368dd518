package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
)

func testReservations(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	res := func(id string, created, ttl time.Duration) gluenet.Reservation {
		return gluenet.Reservation{
			ID: id, SubnetID: "subnet-" + id, AZ: "us-east-1a", IPs: 10, Job: "etl", RunID: "jr_" + id,
			BaselineFree: 100, CreatedAt: t0.Add(created), ExpiresAt: t0.Add(created + ttl),
		}
	}
	// r2 is added first but created later: Reservations orders by creation.
	r1, r2, r3 := res("r1", 0, 10*time.Minute), res("r2", time.Minute, 2*time.Minute), res("r3", 2*time.Minute, 30*time.Minute)
	for _, r := range []gluenet.Reservation{r2, r1, r3} {
		if err := s.AddReservation(ctx, r); err != nil {
			t.Fatalf("AddReservation(%s): %v", r.ID, err)
		}
	}
	check := func(t *testing.T, now time.Time, want ...gluenet.Reservation) {
		t.Helper()
		got, err := s.Reservations(ctx, now)
		if err != nil {
			t.Fatalf("Reservations: %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("Reservations(%v) = %+v, want %+v", now, got, want)
		}
		for i := range want {
			g, w := got[i], want[i]
			checkTime(t, w.ID+" created", g.CreatedAt, w.CreatedAt)
			checkTime(t, w.ID+" expires", g.ExpiresAt, w.ExpiresAt)
			g.CreatedAt, g.ExpiresAt, w.CreatedAt, w.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if g != w {
				t.Errorf("reservation %d = %+v, want %+v", i, g, w)
			}
		}
	}
	check(t, t0.Add(time.Minute), r1, r2, r3)
	// A reservation is expired at its ExpiresAt.
	check(t, r2.ExpiresAt.Add(-time.Microsecond), r1, r2, r3)
	check(t, r2.ExpiresAt, r1, r3)
	check(t, t0.Add(time.Hour))

	// Adding with the same ID replaces, for example to add the run id.
	r1b := r1
	r1b.RunID, r1b.IPs = "jr_r1_real", 12
	if err := s.AddReservation(ctx, r1b); err != nil {
		t.Fatalf("AddReservation(replace): %v", err)
	}
	check(t, t0, r1b, r2, r3)

	if err := s.ReleaseReservation(ctx, "r3"); err != nil {
		t.Fatalf("ReleaseReservation: %v", err)
	}
	if err := s.ReleaseReservation(ctx, "r3"); err != nil {
		t.Errorf("ReleaseReservation of a released reservation: %v", err)
	}
	check(t, t0, r1b, r2)

	// Pruning deletes only what expired at now: r2, not r1.
	p, err := s.Prune(ctx, store.PruneOptions{Now: r2.ExpiresAt})
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if p != (store.Pruned{Reservations: 1}) {
		t.Errorf("Prune = %+v, want 1 reservation pruned", p)
	}
	check(t, t0, r1b) // r2 is gone, even when asked about a time before its expiry
	if p, err := s.Prune(ctx, store.PruneOptions{Now: r2.ExpiresAt}); err != nil || p != (store.Pruned{}) {
		t.Errorf("second Prune = %+v, %v; want nothing", p, err)
	}

	for _, bad := range []gluenet.Reservation{
		{SubnetID: "s", IPs: 1, ExpiresAt: t0},
		{ID: "x", IPs: 1, ExpiresAt: t0},
		{ID: "x", SubnetID: "s", IPs: -1, ExpiresAt: t0},
		{ID: "x", SubnetID: "s", IPs: 1},
	} {
		if err := s.AddReservation(ctx, bad); err == nil {
			t.Errorf("AddReservation(%+v) succeeded, want an error", bad)
		}
	}
}

func testSubnetCache(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	lookup := func(t *testing.T, conn string, now time.Time, want string, wantOK bool) {
		t.Helper()
		got, ok, err := s.CachedSubnet(ctx, conn, now)
		if err != nil {
			t.Fatalf("CachedSubnet: %v", err)
		}
		if got != want || ok != wantOK {
			t.Errorf("CachedSubnet(%q, %v) = %q, %v; want %q, %v", conn, now, got, ok, want, wantOK)
		}
	}
	lookup(t, "conn-a", t0, "", false)
	expires := t0.Add(15 * time.Minute)
	if err := s.PutCachedSubnet(ctx, "conn-a", "subnet-1", expires); err != nil {
		t.Fatalf("PutCachedSubnet: %v", err)
	}
	if err := s.PutCachedSubnet(ctx, "conn-b", "subnet-2", expires); err != nil {
		t.Fatalf("PutCachedSubnet: %v", err)
	}
	lookup(t, "conn-a", t0, "subnet-1", true)
	lookup(t, "conn-a", expires.Add(-time.Microsecond), "subnet-1", true)
	lookup(t, "conn-a", expires, "", false) // expired at its expiry time

	// Putting again replaces the subnet and the expiry.
	if err := s.PutCachedSubnet(ctx, "conn-a", "subnet-9", expires.Add(time.Hour)); err != nil {
		t.Fatalf("PutCachedSubnet: %v", err)
	}
	lookup(t, "conn-a", expires, "subnet-9", true)

	if err := s.InvalidateCachedSubnet(ctx, "conn-a"); err != nil {
		t.Fatalf("InvalidateCachedSubnet: %v", err)
	}
	lookup(t, "conn-a", t0, "", false)
	lookup(t, "conn-b", t0, "subnet-2", true) // untouched
	if err := s.InvalidateCachedSubnet(ctx, "conn-never"); err != nil {
		t.Errorf("InvalidateCachedSubnet of a missing entry: %v", err)
	}
	if err := s.PutCachedSubnet(ctx, "conn-c", "", expires); err == nil {
		t.Error("PutCachedSubnet with no subnet succeeded, want an error")
	}
}

func testSubnetCacheBatch(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	expires := t0.Add(15 * time.Minute)
	got, err := s.CachedSubnets(ctx, nil, t0)
	if err != nil || len(got) != 0 {
		t.Fatalf("CachedSubnets(nil) = %v, %v; want an empty map", got, err)
	}
	if err := s.PutCachedSubnets(ctx, nil, expires); err != nil {
		t.Errorf("PutCachedSubnets of nothing: %v", err)
	}
	// Many entries, one call; names that need quoting work too.
	want := map[string]string{}
	var names []string
	for i := range 300 {
		n := fmt.Sprintf("batch-%03d 'x\"y", i)
		want[n] = fmt.Sprintf("subnet-%03d", i)
		names = append(names, n)
	}
	if err := s.PutCachedSubnets(ctx, want, expires); err != nil {
		t.Fatalf("PutCachedSubnets: %v", err)
	}
	got, err = s.CachedSubnets(ctx, append(names, "batch-never"), t0)
	if err != nil {
		t.Fatalf("CachedSubnets: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CachedSubnets returned %d entries, want the %d put (missing names absent)", len(got), len(want))
	}
	// The batch and the single-entry API see the same entries.
	if id, ok, err := s.CachedSubnet(ctx, names[7], t0); err != nil || !ok || id != "subnet-007" {
		t.Errorf("CachedSubnet(%q) = %q, %v, %v; want subnet-007", names[7], id, ok, err)
	}
	if got, err := s.CachedSubnets(ctx, names[:3], expires); err != nil || len(got) != 0 {
		t.Errorf("CachedSubnets at the expiry = %v, %v; want nothing (expired)", got, err)
	}
	// Putting again replaces the subnet and the expiry of those named only.
	if err := s.PutCachedSubnets(ctx, map[string]string{names[0]: "subnet-new"}, expires.Add(time.Hour)); err != nil {
		t.Fatalf("PutCachedSubnets: %v", err)
	}
	got, err = s.CachedSubnets(ctx, names[:2], expires)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, map[string]string{names[0]: "subnet-new"}) {
		t.Errorf("after a re-put, CachedSubnets at the old expiry = %v; want only the re-put entry", got)
	}
	// A bad entry writes nothing at all.
	bad := map[string]string{"batch-good": "subnet-good", "batch-bad": ""}
	if err := s.PutCachedSubnets(ctx, bad, expires); err == nil {
		t.Error("PutCachedSubnets with an empty subnet succeeded, want an error")
	}
	if err := s.PutCachedSubnets(ctx, map[string]string{"batch-good": "subnet-good"}, time.Time{}); err == nil {
		t.Error("PutCachedSubnets with no expiry succeeded, want an error")
	}
	if got, err := s.CachedSubnets(ctx, []string{"batch-good"}, t0); err != nil || len(got) != 0 {
		t.Errorf("a rejected batch left %v (%v); want nothing written", got, err)
	}
}

func acquire(t *testing.T, s store.Store, name, holder string, ttl time.Duration, now time.Time) (store.Lease, bool) {
	t.Helper()
	l, ok, err := s.AcquireLease(ctxOf(t), name, holder, ttl, now)
	if err != nil {
		t.Fatalf("AcquireLease(%q, %q): %v", name, holder, err)
	}
	return l, ok
}

func testLease(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	const ttl = time.Minute
	a, ok := acquire(t, s, "job/etl", "host-a:1", ttl, t0)
	if !ok {
		t.Fatal("AcquireLease of a free lease: not acquired")
	}
	if a.Name != "job/etl" || a.Holder != "host-a:1" || a.Token < 1 {
		t.Errorf("lease = %+v", a)
	}
	checkTime(t, "lease expiry", a.ExpiresAt, t0.Add(ttl))

	// Another holder is refused while it is live, and told who has it.
	cur, ok := acquire(t, s, "job/etl", "host-b:2", ttl, t0.Add(ttl-time.Microsecond))
	if ok {
		t.Fatal("a second holder acquired a live lease")
	}
	if cur.Holder != a.Holder || cur.Token != a.Token {
		t.Errorf("refused AcquireLease returned %+v, want the current lease %+v", cur, a)
	}

	// Another name is independent.
	if _, ok := acquire(t, s, "job/other", "host-b:2", ttl, t0); !ok {
		t.Error("AcquireLease of another name: not acquired")
	}

	// Renewing pushes the expiry, so the other holder is still refused
	// past the first expiry.
	renewed, err := s.RenewLease(ctx, a, ttl, t0.Add(50*time.Second))
	if err != nil {
		t.Fatalf("RenewLease: %v", err)
	}
	if renewed.Token != a.Token {
		t.Errorf("RenewLease changed the token from %d to %d", a.Token, renewed.Token)
	}
	checkTime(t, "renewed expiry", renewed.ExpiresAt, t0.Add(50*time.Second+ttl))
	if _, ok := acquire(t, s, "job/etl", "host-b:2", ttl, t0.Add(ttl+time.Second)); ok {
		t.Error("a second holder acquired a renewed lease before its new expiry")
	}

	// A lease that expired but that nobody took over can still be renewed.
	late, err := s.RenewLease(ctx, renewed, ttl, t0.Add(time.Hour))
	if err != nil {
		t.Fatalf("RenewLease after expiry, not taken over: %v", err)
	}
	checkTime(t, "late renewal expiry", late.ExpiresAt, t0.Add(time.Hour+ttl))

	// The holder acquiring again gets a new token; its old Lease is lost.
	again, ok := acquire(t, s, "job/etl", "host-a:1", ttl, t0.Add(time.Hour))
	if !ok || again.Token <= a.Token {
		t.Fatalf("re-acquire by the holder = %+v, %v; want acquired with a token above %d", again, ok, a.Token)
	}
	if _, err := s.RenewLease(ctx, late, ttl, t0.Add(time.Hour)); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("RenewLease of the superseded lease: err = %v, want ErrLeaseLost", err)
	}
}

func testLeaseTakeover(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	const ttl = time.Minute
	a, ok := acquire(t, s, "job", "dead-holder", ttl, t0)
	if !ok {
		t.Fatal("not acquired")
	}
	// The holder died: at its expiry another takes over, with a higher
	// fencing token.
	b, ok := acquire(t, s, "job", "live-holder", ttl, a.ExpiresAt)
	if !ok {
		t.Fatal("an expired lease was not taken over")
	}
	if b.Token <= a.Token {
		t.Errorf("takeover token %d, want above %d", b.Token, a.Token)
	}
	checkTime(t, "takeover expiry", b.ExpiresAt, a.ExpiresAt.Add(ttl))

	// The old holder wakes up: its renewal and release fail or do nothing.
	if _, err := s.RenewLease(ctx, a, ttl, a.ExpiresAt.Add(time.Second)); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("RenewLease after takeover: err = %v, want ErrLeaseLost", err)
	}
	if err := s.ReleaseLease(ctx, a); err != nil {
		t.Errorf("ReleaseLease of a lost lease: %v", err)
	}
	// ...and did not free the new holder's lease.
	if cur, ok := acquire(t, s, "job", "third", ttl, a.ExpiresAt.Add(time.Second)); ok {
		t.Errorf("the lost holder's release freed the lease: %+v", cur)
	} else if cur.Holder != "live-holder" || cur.Token != b.Token {
		t.Errorf("current lease = %+v, want %+v", cur, b)
	}
	if _, err := s.RenewLease(ctx, b, ttl, a.ExpiresAt.Add(2*time.Second)); err != nil {
		t.Errorf("RenewLease by the new holder: %v", err)
	}
}

func testLeaseRelease(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	const ttl = time.Hour
	a, ok := acquire(t, s, "job", "a", ttl, t0)
	if !ok {
		t.Fatal("not acquired")
	}
	if err := s.ReleaseLease(ctx, a); err != nil {
		t.Fatalf("ReleaseLease: %v", err)
	}
	if err := s.ReleaseLease(ctx, a); err != nil {
		t.Errorf("second ReleaseLease: %v", err)
	}
	if _, err := s.RenewLease(ctx, a, ttl, t0.Add(time.Second)); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("RenewLease after release: err = %v, want ErrLeaseLost", err)
	}
	// Released: the next holder need not wait for the expiry, and its
	// token is still above every earlier one.
	b, ok := acquire(t, s, "job", "b", ttl, t0.Add(time.Second))
	if !ok {
		t.Fatal("a released lease was not acquired")
	}
	if b.Token <= a.Token {
		t.Errorf("token after release %d, want above %d", b.Token, a.Token)
	}
}

func testLeaseConcurrent(t *testing.T, s store.Store) {
	const n = 10
	ctx := ctxOf(t)
	leases := make([]store.Lease, n)
	won := make([]bool, n)
	noErrors(t, together(n, func(i int) error {
		var err error
		leases[i], won[i], err = s.AcquireLease(ctx, "job", fmt.Sprintf("holder-%d", i), time.Minute, t0)
		return err
	}))
	winner := -1
	for i := range won {
		if won[i] {
			if winner >= 0 {
				t.Fatalf("holders %d and %d both acquired the lease", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no concurrent acquirer got the free lease")
	}
	for i, l := range leases {
		if l.Holder != leases[winner].Holder || l.Token != leases[winner].Token {
			t.Errorf("acquirer %d sees %+v, the winner holds %+v", i, l, leases[winner])
		}
	}
}

func testLeaseInvalid(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	tests := []struct {
		name, lease, holder string
		ttl                 time.Duration
		now                 time.Time
	}{
		{"no name", "", "h", time.Minute, t0},
		{"no holder", "job", "", time.Minute, t0},
		{"zero TTL", "job", "h", 0, t0},
		{"negative TTL", "job", "h", -time.Minute, t0},
		{"zero now", "job", "h", time.Minute, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := s.AcquireLease(ctx, tt.lease, tt.holder, tt.ttl, tt.now); err == nil {
				t.Error("AcquireLease succeeded, want an error")
			}
			l := store.Lease{Name: tt.lease, Holder: tt.holder, Token: 1}
			if _, err := s.RenewLease(ctx, l, tt.ttl, tt.now); err == nil || errors.Is(err, store.ErrLeaseLost) {
				t.Errorf("RenewLease: err = %v, want a validation error", err)
			}
		})
	}
}
