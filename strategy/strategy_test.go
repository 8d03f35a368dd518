package strategy

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"pgregory.net/rapid"
)

func cand(name string, free int) gluenet.Candidate {
	return gluenet.Candidate{Connection: name, SubnetID: "subnet-" + name, AZ: "az-" + name, FreeIPs: free, Checked: true}
}

func unchecked(name string) gluenet.Candidate {
	return gluenet.Candidate{Connection: name, Problem: "lookup failed"}
}

func mustLookup(t *testing.T, name string) Strategy {
	t.Helper()
	s, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReasonCounts: one IP is "1 free IP", not "1 free IPs".
func TestReasonCounts(t *testing.T) {
	t.Parallel()
	p, err := Plan(Input{Candidates: []gluenet.Candidate{cand("one", 1), cand("many", 12)}, Need: gluenet.Need{IPs: 10, MinIPs: 2}}, mustLookup(t, "capacity"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"insufficient: 1 free IP, Glue needs at least 2", "good: 12 free IPs >= 10 needed"} {
		found := false
		for _, pl := range p.Placements {
			found = found || strings.HasPrefix(pl.Reason, want)
		}
		if !found {
			t.Errorf("no reason starts with %q: %+v", want, p.Placements)
		}
	}
}

func TestPlanOrders(t *testing.T) {
	t.Parallel()
	need := gluenet.Need{IPs: 10, MinIPs: 2}
	tests := []struct {
		name     string
		strategy string
		in       []gluenet.Candidate
		want     []string
	}{
		{"capacity sorts good and usable by free IPs", "capacity",
			[]gluenet.Candidate{cand("a", 5), cand("b", 50), unchecked("u"), cand("c", 1), cand("d", 20)},
			[]string{"b", "d", "a", "u", "c"}},
		{"capacity ties keep input order", "capacity",
			[]gluenet.Candidate{cand("a", 20), cand("b", 20), cand("c", 30)},
			[]string{"c", "a", "b"}},
		{"rest keeps input order", "capacity",
			[]gluenet.Candidate{unchecked("x"), cand("c", 1), unchecked("y"), cand("a", 12)},
			[]string{"a", "x", "c", "y"}},
		{"ordered is as given", "ordered",
			[]gluenet.Candidate{unchecked("x"), cand("c", 1), cand("a", 12)},
			[]string{"x", "c", "a"}},
		{"exactly need is good, exactly min is usable", "capacity",
			[]gluenet.Candidate{cand("min", 2), cand("need", 10), cand("below", 1)},
			[]string{"need", "min", "below"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Plan(Input{Candidates: tt.in, Need: need, Rand: rand.New(rand.NewPCG(1, 2))}, mustLookup(t, tt.strategy))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Order(); !slices.Equal(got, tt.want) {
				t.Fatalf("order = %v, want %v", got, tt.want)
			}
			for i, pl := range p.Placements {
				if pl.Rank != i+1 || pl.Reason == "" {
					t.Errorf("placement %d: rank %d reason %q", i, pl.Rank, pl.Reason)
				}
			}
		})
	}
}

func TestRandomKeepsGroupsAndShuffles(t *testing.T) {
	t.Parallel()
	need := gluenet.Need{IPs: 10, MinIPs: 2}
	in := []gluenet.Candidate{cand("g1", 11), cand("u1", 3), cand("g2", 40), cand("u2", 5), cand("g3", 10), unchecked("x")}
	firsts := map[string]bool{}
	for seed := uint64(0); seed < 50; seed++ {
		p, err := Plan(Input{Candidates: in, Need: need, Rand: rand.New(rand.NewPCG(seed, 0))}, Random{})
		if err != nil {
			t.Fatal(err)
		}
		o := p.Order()
		if !isGood(o[0]) || !isGood(o[1]) || !isGood(o[2]) || isGood(o[3]) || isGood(o[4]) || o[5] != "x" {
			t.Fatalf("seed %d: groups broken: %v", seed, o)
		}
		firsts[o[0]] = true
	}
	if len(firsts) != 3 {
		t.Fatalf("over 50 seeds the first place went to %v only; want all three good candidates", firsts)
	}
}

func isGood(n string) bool { return strings.HasPrefix(n, "g") }

func TestReservationsLowerFree(t *testing.T) {
	t.Parallel()
	need := gluenet.Need{IPs: 10, MinIPs: 2}
	in := []gluenet.Candidate{cand("a", 30), cand("b", 25)}
	p, err := Plan(Input{Candidates: in, Need: need, Reserved: map[string]int{"subnet-a": 20}}, Capacity{})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Order(); !slices.Equal(got, []string{"b", "a"}) {
		t.Fatalf("order = %v, want b first (a has 20 reserved)", got)
	}
	a := p.Placements[1]
	if *a.Free != 10 || a.Reserved != 20 || a.Group != gluenet.GroupGood {
		t.Fatalf("a = free %d reserved %d group %v", *a.Free, a.Reserved, a.Group)
	}
	if !strings.Contains(a.Reason, "20 reserved") {
		t.Errorf("reason %q does not mention the reservation", a.Reason)
	}
}

func TestEjectionDemotesAndCap(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	need := gluenet.Need{IPs: 10, MinIPs: 2}
	in := []gluenet.Candidate{cand("a", 100), cand("b", 20), cand("c", 1)}
	ejectA := []gluenet.HealthRecord{{Scope: gluenet.ScopeAZ, Key: "az-a", EjectedUntil: now.Add(time.Minute)}}

	p, err := Plan(Input{Candidates: in, Need: need, Now: now, Health: ejectA}, Capacity{})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Order(); !slices.Equal(got, []string{"b", "a", "c"}) {
		t.Fatalf("order = %v, want ejected a after b", got)
	}
	if p.Placements[1].EjectedUntil == nil || len(p.Notes) != 0 {
		t.Fatalf("a should be marked ejected without notes: %+v %v", p.Placements[1], p.Notes)
	}

	// Expired ejection: a comes back.
	p, _ = Plan(Input{Candidates: in, Need: need, Now: now.Add(2 * time.Minute), Health: ejectA}, Capacity{})
	if got := p.Order(); got[0] != "a" {
		t.Fatalf("after the ejection ends, order = %v, want a first", got)
	}

	// All startable ejected: ignore health, say so.
	all := append(ejectA, gluenet.HealthRecord{Scope: gluenet.ScopeSubnet, Key: "subnet-b", EjectedUntil: now.Add(time.Hour)})
	p, _ = Plan(Input{Candidates: in, Need: need, Now: now, Health: all}, Capacity{})
	if got := p.Order(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("order = %v, want health ignored", got)
	}
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "ignoring health") {
		t.Fatalf("notes = %v", p.Notes)
	}
}

func TestLookupUnknown(t *testing.T) {
	t.Parallel()
	_, err := Lookup("fastest")
	if err == nil || !strings.Contains(err.Error(), "capacity") {
		t.Fatalf("err = %v, want a list of valid names", err)
	}
}

type dropper struct{}

func (dropper) Name() string     { return "dropper" }
func (dropper) Describe() string { return "drops one" }
func (dropper) Rank(_ *Input, ps []gluenet.Placement) []gluenet.Placement {
	return ps[1:]
}

func TestPlanRejectsNonPermutation(t *testing.T) {
	t.Parallel()
	_, err := Plan(Input{Candidates: []gluenet.Candidate{cand("a", 5), cand("b", 5)}, Need: gluenet.Need{IPs: 2, MinIPs: 2}}, dropper{})
	if err == nil {
		t.Fatal("a strategy that drops a candidate must be an error")
	}
}

// Property tests: for every built-in strategy and any input, the output is a
// permutation of the input; grouped strategies keep good before usable
// before the rest; capacity never increases free IPs along the ranked part.
func TestPlanProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 12).Draw(t, "n")
		var in []gluenet.Candidate
		for i := 0; i < n; i++ {
			name := string(rune('a'+i)) + rapid.StringMatching(`[0-9]{0,2}`).Draw(t, "suffix")
			if rapid.Bool().Draw(t, "checked") {
				in = append(in, cand(name, rapid.IntRange(0, 300).Draw(t, "free")))
			} else {
				in = append(in, unchecked(name))
			}
		}
		need := gluenet.Need{IPs: rapid.IntRange(1, 200).Draw(t, "need"), MinIPs: rapid.IntRange(1, 3).Draw(t, "min")}
		reserved := map[string]int{}
		for _, c := range in {
			if rapid.Bool().Draw(t, "reserve") {
				reserved[c.SubnetID] = rapid.IntRange(0, 50).Draw(t, "reserved")
			}
		}
		seed := rapid.Uint64().Draw(t, "seed")
		for _, name := range []string{"ordered", "random", "capacity"} {
			s, _ := Lookup(name)
			p, err := Plan(Input{Candidates: in, Need: need, Reserved: reserved, Rand: rand.New(rand.NewPCG(seed, 1))}, s)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got := p.Order()
			want := make([]string, len(in))
			for i, c := range in {
				want[i] = c.Connection
			}
			if !slices.Equal(sorted(got), sorted(want)) {
				t.Fatalf("%s: %v is not a permutation of %v", name, got, want)
			}
			if name == "ordered" {
				if !slices.Equal(got, want) {
					t.Fatalf("ordered changed the order: %v", got)
				}
				continue
			}
			last := gluenet.GroupGood
			for _, pl := range p.Placements {
				g := pl.Group
				if g == gluenet.GroupUnchecked {
					g = gluenet.GroupInsufficient // the rest is one tier
				}
				if g < last {
					t.Fatalf("%s: group %v after %v in %v", name, pl.Group, last, got)
				}
				last = g
			}
			if name == "capacity" {
				prev := int(^uint(0) >> 1)
				for _, pl := range p.Placements {
					if !startable(pl) {
						break
					}
					if FreeOf(pl) > prev {
						t.Fatalf("capacity: free IPs increase along %v", got)
					}
					prev = FreeOf(pl)
				}
			}
		}
	})
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// TestReasonsSayOnlyWhatIsTrue: ordered keeps the configured order, so its
// reasons must not claim a demotion that did not happen.
func TestReasonsSayOnlyWhatIsTrue(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	in := Input{Candidates: []gluenet.Candidate{cand("low", 1), cand("bad", 50), cand("ok", 40)}, Need: gluenet.Need{IPs: 2, MinIPs: 2}, Now: now,
		Health: []gluenet.HealthRecord{{Scope: gluenet.ScopeSubnet, Key: "subnet-bad", EjectedUntil: now.Add(time.Hour)}}}
	for _, tt := range []struct {
		strategy string
		order    []string
		has      map[string]string
		hasNot   map[string]string
	}{
		{"ordered", []string{"low", "bad", "ok"},
			map[string]string{"low": "configured order", "bad": "ejected until"},
			map[string]string{"low": "kept after", "bad": "tried after healthy"}},
		{"capacity", []string{"ok", "bad", "low"},
			map[string]string{"low": "kept after the startable ones", "bad": "tried after healthy candidates"}, nil},
	} {
		p, err := Plan(in, mustLookup(t, tt.strategy))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Order(); !slices.Equal(got, tt.order) {
			t.Fatalf("%s: order %v, want %v", tt.strategy, got, tt.order)
		}
		for _, pl := range p.Placements {
			if w, ok := tt.has[pl.Connection]; ok && !strings.Contains(pl.Reason, w) {
				t.Errorf("%s: %s reason %q lacks %q", tt.strategy, pl.Connection, pl.Reason, w)
			}
			if w, ok := tt.hasNot[pl.Connection]; ok && strings.Contains(pl.Reason, w) {
				t.Errorf("%s: %s reason %q must not say %q", tt.strategy, pl.Connection, pl.Reason, w)
			}
		}
	}
}
