package strategy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"pgregory.net/rapid"
)

func TestPreferAZOrders(t *testing.T) {
	t.Parallel()
	need := gluenet.Need{IPs: 10, MinIPs: 2}
	cands := []gluenet.Candidate{
		inAZ("a40", "az-a", 40), inAZ("b90", "az-b", 90), inAZ("c20", "az-c", 20),
		inAZ("a60", "az-a", 60), inAZ("c-usable", "az-c", 5), {Connection: "u", AZ: "az-c", Problem: "lookup failed"},
	}
	tests := []struct {
		name   string
		prefer []string
		health []gluenet.HealthRecord
		want   []string
	}{
		{"preference order, then most free IPs; usable in a preferred zone after good elsewhere",
			[]string{"az-c", "az-a"}, nil, []string{"c20", "a60", "a40", "b90", "c-usable", "u"}},
		{"no preference: most free IPs first",
			nil, nil, []string{"b90", "a60", "a40", "c20", "c-usable", "u"}},
		{"an unknown preferred zone changes nothing",
			[]string{"az-z"}, nil, []string{"b90", "a60", "a40", "c20", "c-usable", "u"}},
		{"an ejected preferred zone goes after the healthy ones",
			[]string{"az-c", "az-a"},
			[]gluenet.HealthRecord{{Scope: gluenet.ScopeAZ, Key: "az-c", EjectedUntil: tNow.Add(time.Minute)}},
			[]string{"a60", "a40", "b90", "c20", "c-usable", "u"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := planWith(t, "prefer-az", Input{Candidates: cands, Need: need, Now: tNow, PreferAZ: tt.prefer, Health: tt.health})
			if got := p.Order(); !slices.Equal(got, tt.want) {
				t.Fatalf("order = %v, want %v", got, tt.want)
			}
			for _, pl := range p.Placements {
				if want := slices.Contains(tt.prefer, pl.AZ); pl.Preferred != want {
					t.Errorf("%s: preferred %v, want %v", pl.Connection, pl.Preferred, want)
				}
				if pl.Preferred && startable(pl) && !strings.Contains(pl.Reason, "preferred AZ") {
					t.Errorf("%s: reason %q does not mention the preference", pl.Connection, pl.Reason)
				}
			}
		})
	}
}

// Property: within each tier, preferred zones come in preference order,
// before every other zone.
func TestPreferAZProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		p := planWith(t, "prefer-az", in)
		rank := func(az string) int {
			if i := slices.Index(in.PreferAZ, az); i >= 0 && az != "" {
				return i
			}
			return len(in.PreferAZ)
		}
		for i := 1; i < len(p.Placements); i++ {
			prev, cur := p.Placements[i-1], p.Placements[i]
			if tierOf(prev) != tierOf(cur) || tierOf(cur) == 3 {
				continue
			}
			if rank(prev.AZ) > rank(cur.AZ) {
				t.Fatalf("%s (%q) before %s (%q) with preference %v", prev.Connection, prev.AZ, cur.Connection, cur.AZ, in.PreferAZ)
			}
			if rank(prev.AZ) == rank(cur.AZ) && FreeOf(prev) < FreeOf(cur) {
				t.Fatalf("%s (%d free) before %s (%d free) in the same preference", prev.Connection, FreeOf(prev), cur.Connection, FreeOf(cur))
			}
		}
	})
}

// TestPreferAZWarning: a warning only when zones are preferred, some
// connection's zone is known, and none of the known zones is preferred.
func TestPreferAZWarning(t *testing.T) {
	t.Parallel()
	ps := []gluenet.Placement{{Candidate: gluenet.Candidate{Connection: "a", AZ: "az-b"}}, {Candidate: gluenet.Candidate{Connection: "b", AZ: "az-a"}}, {Candidate: gluenet.Candidate{Connection: "c"}}, {Candidate: gluenet.Candidate{Connection: "d", AZ: "az-b"}}}
	tests := []struct {
		name   string
		prefer []string
		ps     []gluenet.Placement
		want   string
	}{
		{"no preference", nil, ps, ""},
		{"a preferred zone is used", []string{"az-x", "az-a"}, ps, ""},
		{"no zone known", []string{"az-x"}, []gluenet.Placement{{Candidate: gluenet.Candidate{Connection: "c"}}}, ""},
		{"none matches", []string{"az-x", "az-y"}, ps,
			"none of the connections is in the preferred zone(s) az-x, az-y, so --prefer-az changes nothing; the connections are in az-a, az-b"},
	}
	for _, tt := range tests {
		if got := PreferAZWarning(tt.prefer, tt.ps); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
