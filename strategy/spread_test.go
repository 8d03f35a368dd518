package strategy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"pgregory.net/rapid"
)

func TestSpreadOrders(t *testing.T) {
	t.Parallel()
	need := gluenet.Need{IPs: 10, MinIPs: 2}
	tests := []struct {
		name     string
		cands    []gluenet.Candidate
		inFlight map[string]int
		health   []gluenet.HealthRecord
		want     []string
	}{
		{"idle zone first, then most free IPs",
			[]gluenet.Candidate{inAZ("a100", "az-a", 100), inAZ("b20", "az-b", 20), inAZ("c50", "az-c", 50), inAZ("b30", "az-b", 30)},
			map[string]int{"az-a": 2, "az-c": 1},
			nil, []string{"b30", "b20", "c50", "a100"}},
		{"no runs in flight: most free IPs first, ties in configured order",
			[]gluenet.Candidate{inAZ("x", "az-a", 20), inAZ("y", "az-b", 40), inAZ("z", "az-c", 20)},
			nil, nil, []string{"y", "x", "z"}},
		{"good in a busy zone before usable in an idle one",
			[]gluenet.Candidate{inAZ("idle-usable", "az-b", 5), inAZ("busy-good", "az-a", 50), {Connection: "u", Problem: "lookup failed"}},
			map[string]int{"az-a": 5}, nil, []string{"busy-good", "idle-usable", "u"}},
		{"an ejected idle zone after the healthy busy one",
			[]gluenet.Candidate{inAZ("idle", "az-b", 50), inAZ("busy", "az-a", 50)},
			map[string]int{"az-a": 3},
			[]gluenet.HealthRecord{{Scope: gluenet.ScopeAZ, Key: "az-b", EjectedUntil: tNow.Add(time.Minute)}},
			[]string{"busy", "idle"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := planWith(t, "spread", Input{Candidates: tt.cands, Need: need, Now: tNow, InFlightByAZ: tt.inFlight, Health: tt.health})
			if got := p.Order(); !slices.Equal(got, tt.want) {
				t.Fatalf("order = %v, want %v", got, tt.want)
			}
			if f := p.First(); f != nil && !strings.Contains(f.Reason, "fewest of our runs") {
				t.Errorf("reason %q does not describe spread", f.Reason)
			}
		})
	}
}

// Property: the first choice is in a least-loaded AZ among the candidates
// of the best non-empty tier, and has the most free IPs among those.
func TestSpreadFirstChoiceProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		in := genInput(t)
		p := planWith(t, "spread", in)
		first := p.First()
		if first == nil {
			return
		}
		top := tierOf(*first)
		least, most := int(^uint(0)>>1), 0
		for _, pl := range p.Placements {
			if tierOf(pl) == top {
				least = min(least, in.InFlightByAZ[pl.AZ])
			}
		}
		for _, pl := range p.Placements {
			if tierOf(pl) == top && in.InFlightByAZ[pl.AZ] == least {
				most = max(most, FreeOf(pl))
			}
		}
		if got := in.InFlightByAZ[first.AZ]; got != least {
			t.Fatalf("first choice %s in %q with %d runs in flight; a startable candidate's AZ has %d (%v)", first.Connection, first.AZ, got, least, p.Order())
		}
		if FreeOf(*first) != most {
			t.Fatalf("first choice %s has %d free IPs; another in a least-loaded AZ has %d", first.Connection, FreeOf(*first), most)
		}
	})
}
