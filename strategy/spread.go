package strategy

import (
	"sort"

	"github.com/gluenet/gluenet"
)

func init() { mustRegister(Spread{}) }

// Spread orders each tier (good, usable, ejected) by the number of our
// runs in flight in the candidate's AZ (Input.InFlightByAZ), fewest first,
// then by free IPs after reservations, most first; remaining ties keep the
// configured order. Runs then land in different zones, so that one zone
// going down takes as few of them as possible.
//
// The tiers stay: a subnet in an idle zone where the run would start under
// capacity still comes after a good subnet in a busy zone, because a run
// short of workers is slow for its whole life, while sharing a zone is
// only a risk.
type Spread struct{}

// Name implements Strategy.
func (Spread) Name() string { return "spread" }

// Describe implements Strategy.
func (Spread) Describe() string {
	return "AZ with the fewest of our runs in flight first, then most free IPs"
}

// Rank implements Strategy.
func (Spread) Rank(in *Input, ps []gluenet.Placement) []gluenet.Placement {
	return Grouped(in, ps, func(in *Input, tier []gluenet.Placement) {
		sort.SliceStable(tier, func(i, j int) bool {
			li, lj := in.InFlightByAZ[tier[i].AZ], in.InFlightByAZ[tier[j].AZ]
			if li != lj {
				return li < lj
			}
			return FreeOf(tier[i]) > FreeOf(tier[j])
		})
	})
}
