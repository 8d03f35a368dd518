package reserve

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/strategy"
)

var t0 = time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		runID       string
		ttl         time.Duration
		wantID      string
		wantExpires time.Time
	}{
		{"with run id", "jr_abc", time.Minute, "etl/jr_abc", t0.Add(time.Minute)},
		{"default ttl", "jr_abc", 0, "etl/jr_abc", t0.Add(DefaultTTL)},
		{"before the run id is known", "", -time.Second, "etl/subnet-1/" + "1772348400000000000", t0.Add(DefaultTTL)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := New("subnet-1", "us-east-1a", "etl", tt.runID, 10, 100, t0, tt.ttl)
			want := gluenet.Reservation{ID: tt.wantID, SubnetID: "subnet-1", AZ: "us-east-1a", IPs: 10, Job: "etl", RunID: tt.runID,
				BaselineFree: 100, CreatedAt: t0, ExpiresAt: tt.wantExpires}
			if r != want {
				t.Fatalf("got %+v\nwant %+v", r, want)
			}
		})
	}
}

func res(id, subnet string, ips, baseline int, created time.Duration) gluenet.Reservation {
	return gluenet.Reservation{ID: id, SubnetID: subnet, IPs: ips, BaselineFree: baseline,
		CreatedAt: t0.Add(created), ExpiresAt: t0.Add(created + DefaultTTL)}
}

func cand(subnet string, free int) gluenet.Candidate {
	return gluenet.Candidate{Connection: "conn-" + subnet, SubnetID: subnet, FreeIPs: free, Checked: true}
}

func TestApply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		res          []gluenet.Reservation
		cands        []gluenet.Candidate
		now          time.Time
		wantReserved map[string]int
		wantSettled  []string
	}{
		{"ENIs not shown yet: still reserved",
			[]gluenet.Reservation{res("r1", "s1", 10, 100, 0)}, []gluenet.Candidate{cand("s1", 100)}, t0.Add(time.Minute),
			map[string]int{"s1": 10}, nil},
		{"partly shown: still reserved",
			[]gluenet.Reservation{res("r1", "s1", 10, 100, 0)}, []gluenet.Candidate{cand("s1", 95)}, t0.Add(time.Minute),
			map[string]int{"s1": 10}, nil},
		{"ENIs show: settled",
			[]gluenet.Reservation{res("r1", "s1", 10, 100, 0)}, []gluenet.Candidate{cand("s1", 90)}, t0.Add(time.Minute),
			map[string]int{}, []string{"r1"}},
		{"others took IPs too: settled (early, a known limit)",
			[]gluenet.Reservation{res("r1", "s1", 10, 100, 0)}, []gluenet.Candidate{cand("s1", 40)}, t0.Add(time.Minute),
			map[string]int{}, []string{"r1"}},
		{"TTL passed: settled though never shown",
			[]gluenet.Reservation{res("r1", "s1", 10, 100, 0)}, []gluenet.Candidate{cand("s1", 100)}, t0.Add(DefaultTTL),
			map[string]int{}, []string{"r1"}},
		{"TTL almost passed: still reserved",
			[]gluenet.Reservation{res("r1", "s1", 10, 100, 0)}, []gluenet.Candidate{cand("s1", 100)}, t0.Add(DefaultTTL - time.Nanosecond),
			map[string]int{"s1": 10}, nil},
		{"subnet not discovered: keeps counting",
			[]gluenet.Reservation{res("r1", "s9", 10, 100, 0)}, []gluenet.Candidate{cand("s1", 0)}, t0.Add(time.Minute),
			map[string]int{"s9": 10}, nil},
		{"subnet unchecked: keeps counting",
			[]gluenet.Reservation{res("r1", "s1", 10, 100, 0)}, []gluenet.Candidate{{Connection: "c", SubnetID: "s1"}}, t0.Add(time.Minute),
			map[string]int{"s1": 10}, nil},
		{"two runs from the same baseline, none shown",
			[]gluenet.Reservation{res("r1", "s1", 10, 100, 0), res("r2", "s1", 10, 100, time.Second)}, []gluenet.Candidate{cand("s1", 100)}, t0.Add(time.Minute),
			map[string]int{"s1": 20}, nil},
		{"two runs from the same baseline, one shown: the older settles, not both",
			[]gluenet.Reservation{res("r2", "s1", 10, 100, time.Second), res("r1", "s1", 10, 100, 0)}, []gluenet.Candidate{cand("s1", 90)}, t0.Add(time.Minute),
			map[string]int{"s1": 10}, []string{"r1"}},
		{"two runs from the same baseline, both shown",
			[]gluenet.Reservation{res("r1", "s1", 10, 100, 0), res("r2", "s1", 10, 100, time.Second)}, []gluenet.Candidate{cand("s1", 80)}, t0.Add(time.Minute),
			map[string]int{}, []string{"r1", "r2"}},
		{"the second run started after the first showed: judged from its own baseline",
			[]gluenet.Reservation{res("r1", "s1", 10, 100, 0), res("r2", "s1", 10, 90, time.Minute)}, []gluenet.Candidate{cand("s1", 80)}, t0.Add(2 * time.Minute),
			map[string]int{}, []string{"r1", "r2"}},
		{"the second run started after the first showed and has not shown",
			[]gluenet.Reservation{res("r1", "s1", 10, 100, 0), res("r2", "s1", 10, 90, time.Minute)}, []gluenet.Candidate{cand("s1", 90)}, t0.Add(2 * time.Minute),
			map[string]int{"s1": 10}, []string{"r1"}},
		{"subnets are independent; the first checked candidate of a subnet counts",
			[]gluenet.Reservation{res("r1", "s1", 10, 100, 0), res("r2", "s2", 5, 20, 0)},
			[]gluenet.Candidate{cand("s1", 90), {Connection: "x", SubnetID: "s2"}, cand("s2", 20), cand("s2", 0)}, t0.Add(time.Minute),
			map[string]int{"s2": 5}, []string{"r1"}},
		{"nothing reserved", nil, []gluenet.Candidate{cand("s1", 3)}, t0, map[string]int{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keep := slices.Clone(tt.res)
			reserved, settled := Apply(tt.res, tt.cands, tt.now)
			if !maps.Equal(reserved, tt.wantReserved) {
				t.Errorf("reserved = %v, want %v", reserved, tt.wantReserved)
			}
			if !slices.Equal(settled, tt.wantSettled) {
				t.Errorf("settled = %v, want %v", settled, tt.wantSettled)
			}
			if !slices.Equal(tt.res, keep) {
				t.Errorf("input reordered or modified")
			}
		})
	}
}

// Ten launches close together, before any ENI shows in EC2's count: without
// reservations every launch sees the same counts and picks the same subnet;
// with them, capacity ranking fills the subnets like water, so that they
// end with about the same free IPs left.
func TestReservationsPreventHerding(t *testing.T) {
	t.Parallel()
	need := gluenet.Need{IPs: 10, MinIPs: gluenet.DefaultMinIPs}
	cands := []gluenet.Candidate{
		{Connection: "big", SubnetID: "subnet-big", AZ: "a", FreeIPs: 100, Checked: true},
		{Connection: "small", SubnetID: "subnet-small", AZ: "b", FreeIPs: 50, Checked: true},
	}
	capacity, err := strategy.Lookup("capacity")
	if err != nil {
		t.Fatal(err)
	}
	launch := func(useReservations bool) map[string]int {
		var held []gluenet.Reservation
		counts := map[string]int{}
		for i := 0; i < 10; i++ {
			now := t0.Add(time.Duration(i) * 5 * time.Second)
			in := strategy.Input{Candidates: cands, Need: need, Now: now}
			if useReservations {
				in.Reserved, _ = Apply(held, cands, now)
			}
			p, err := strategy.Plan(in, capacity)
			if err != nil {
				t.Fatal(err)
			}
			first := p.First()
			counts[first.Connection]++
			held = append(held, New(first.SubnetID, first.AZ, "etl", "jr_"+strings.Repeat("x", i+1), need.IPs, first.FreeIPs, now, 0))
		}
		return counts
	}
	if got := launch(false); got["big"] != 10 {
		t.Fatalf("without reservations: %v, want all 10 in the big subnet (the herd)", got)
	}
	got := launch(true)
	leftBig, leftSmall := 100-10*got["big"], 50-10*got["small"]
	if got["big"]+got["small"] != 10 || got["small"] < 2 || leftBig-leftSmall > 10 || leftSmall-leftBig > 10 {
		t.Fatalf("with reservations: %v leaves %d and %d free IPs, want them within one run (10 IPs) of each other", got, leftBig, leftSmall)
	}
}
