package strategy

import (
	"math"
	"sort"

	"github.com/gluenet/gluenet"
)

func init() { mustRegister(Weighted{}) }

// Weighted orders each tier (good, usable, ejected) at random, weighted by
// free IPs after reservations: a subnet with twice the free IPs is twice as
// likely to come first. Launches from many places then spread across the
// subnets in proportion to their room, where capacity would send them all
// to the emptiest one until its count moved.
//
// It samples without replacement by Efraimidis and Spirakis' method: each
// candidate draws u uniform in (0,1] and gets the key ln(u)/w (the log of
// u^(1/w)); sorting by key, largest first, gives every position the right
// weighted probability, and the first place goes to candidate i with
// probability w_i / Σw exactly.
type Weighted struct{}

// Name implements Strategy.
func (Weighted) Name() string { return "weighted" }

// Describe implements Strategy.
func (Weighted) Describe() string { return "random within its group, weighted by free IPs" }

// Rank implements Strategy.
func (Weighted) Rank(in *Input, ps []gluenet.Placement) []gluenet.Placement {
	return Grouped(in, ps, func(in *Input, tier []gluenet.Placement) {
		keys := make([]float64, len(tier))
		for i, p := range tier {
			// Startable candidates have at least MinIPs >= 1 free; the
			// guard keeps a zero weight from dividing by zero.
			w := math.Max(float64(FreeOf(p)), 1e-9)
			u := 1 - in.Rand.Float64() // (0,1]: ln(0) would be -Inf for everyone
			keys[i] = math.Log(u) / w
		}
		sort.Stable(byKey{tier, keys})
	})
}

// byKey sorts placements by their keys, largest first.
type byKey struct {
	ps   []gluenet.Placement
	keys []float64
}

func (b byKey) Len() int           { return len(b.ps) }
func (b byKey) Less(i, j int) bool { return b.keys[i] > b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.ps[i], b.ps[j] = b.ps[j], b.ps[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}
