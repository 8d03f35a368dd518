package strategy

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gluenet/gluenet"
)

func init() { mustRegister(PreferAZ{}) }

// PreferAZ is for locality: candidates in the preferred Availability Zones
// (Input.PreferAZ, most preferred first; for instance the zone the data
// lives in) come first, in that order of preference, then the others;
// within each zone, most free IPs after reservations first; remaining
// ties keep the configured order.
//
// Preference applies within each tier (good, usable, ejected), never
// across: a preferred zone where the run would start under capacity comes
// after a good subnet elsewhere. Cross-zone traffic costs a little per
// gigabyte; a run short of workers is slow from start to end, and may time
// out.
type PreferAZ struct{}

// Name implements Strategy.
func (PreferAZ) Name() string { return "prefer-az" }

// Describe implements Strategy.
func (PreferAZ) Describe() string { return "preferred AZs first, then most free IPs" }

// Rank implements Strategy.
func (PreferAZ) Rank(in *Input, ps []gluenet.Placement) []gluenet.Placement {
	rank := make(map[string]int, len(in.PreferAZ))
	for i, az := range in.PreferAZ {
		if _, dup := rank[az]; !dup {
			rank[az] = i
		}
	}
	pref := func(p gluenet.Placement) int {
		if r, ok := rank[p.AZ]; ok && p.AZ != "" {
			return r
		}
		return len(in.PreferAZ)
	}
	return Grouped(in, ps, func(in *Input, tier []gluenet.Placement) {
		sort.SliceStable(tier, func(i, j int) bool {
			pi, pj := pref(tier[i]), pref(tier[j])
			if pi != pj {
				return pi < pj
			}
			return FreeOf(tier[i]) > FreeOf(tier[j])
		})
	})
}

// PreferAZWarning says so when --prefer-az names zones none of the
// connections is in (a typo, or another region): the preference then
// changes nothing. Zones of unchecked connections are unknown and do not
// count against it.
func PreferAZWarning(prefer []string, ps []gluenet.Placement) string {
	if len(prefer) == 0 {
		return ""
	}
	var zones []string
	for _, p := range ps {
		if p.AZ == "" {
			continue
		}
		if slices.Contains(prefer, p.AZ) {
			return ""
		}
		if !slices.Contains(zones, p.AZ) {
			zones = append(zones, p.AZ)
		}
	}
	if len(zones) == 0 {
		return ""
	}
	slices.Sort(zones)
	return fmt.Sprintf("none of the connections is in the preferred zone(s) %s, so --prefer-az changes nothing; the connections are in %s",
		strings.Join(prefer, ", "), strings.Join(zones, ", "))
}
