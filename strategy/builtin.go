package strategy

import (
	"sort"

	"github.com/gluenet/gluenet"
)

func init() {
	mustRegister(Ordered{})
	mustRegister(Random{})
	mustRegister(Capacity{})
}

// Ordered keeps the configured order: what Glue does on its own. It is the
// baseline the others are measured against.
type Ordered struct{}

// Name implements Strategy.
func (Ordered) Name() string { return "ordered" }

// Describe implements Strategy.
func (Ordered) Describe() string { return "configured order, as Glue does alone" }

// Rank implements Strategy.
func (Ordered) Rank(_ *Input, ps []gluenet.Placement) []gluenet.Placement { return ps }

// Random is the post's random strategy: good candidates shuffled, then
// usable ones shuffled, then the rest in configured order.
type Random struct{}

// Name implements Strategy.
func (Random) Name() string { return "random" }

// Describe implements Strategy.
func (Random) Describe() string { return "random order within its group" }

// Rank implements Strategy.
func (Random) Rank(in *Input, ps []gluenet.Placement) []gluenet.Placement {
	return Grouped(in, ps, func(in *Input, tier []gluenet.Placement) {
		in.Rand.Shuffle(len(tier), func(i, j int) { tier[i], tier[j] = tier[j], tier[i] })
	})
}

// Capacity is the post's capacity strategy: good and usable candidates
// together, most free IPs first (ties keep the configured order), then the
// rest in configured order. Ejected candidates, when health memory is used,
// come after the healthy ones, ordered the same way.
type Capacity struct{}

// Name implements Strategy.
func (Capacity) Name() string { return "capacity" }

// Describe implements Strategy.
func (Capacity) Describe() string { return "most free IPs first" }

// Rank implements Strategy.
func (Capacity) Rank(_ *Input, ps []gluenet.Placement) []gluenet.Placement {
	t := Split(ps)
	healthy := append(t.Good, t.Usable...)
	byFree := func(s []gluenet.Placement) {
		sort.SliceStable(s, func(i, j int) bool { return FreeOf(s[i]) > FreeOf(s[j]) })
	}
	byFree(healthy)
	byFree(t.Ejected)
	out := append(healthy, t.Ejected...)
	return append(out, t.Rest...)
}
