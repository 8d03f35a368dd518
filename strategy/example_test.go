package strategy_test

import (
	"fmt"
	"sort"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/strategy"
)

// cheapestAZ is a custom strategy: the subnets of the cheapest zones first
// (say, the zones with the data, where no cross-zone transfer is billed),
// keeping gluenet's grouping so that a run never starts under capacity when
// a good subnet exists, and so that health memory still demotes ejected
// subnets.
type cheapestAZ struct {
	costPerGB map[string]float64
}

func (cheapestAZ) Name() string     { return "cheapest-az" }
func (cheapestAZ) Describe() string { return "cheapest AZ first" }

func (s cheapestAZ) Rank(in *strategy.Input, ps []gluenet.Placement) []gluenet.Placement {
	// Grouped orders each tier (good, usable, ejected) with the function
	// and leaves the rest in configured order.
	return strategy.Grouped(in, ps, func(_ *strategy.Input, tier []gluenet.Placement) {
		sort.SliceStable(tier, func(i, j int) bool {
			return s.costPerGB[tier[i].AZ] < s.costPerGB[tier[j].AZ]
		})
	})
}

func init() {
	// Register once at start-up; from then on Lookup, and so --strategy
	// and the config file, find the strategy by name.
	err := strategy.Register(cheapestAZ{costPerGB: map[string]float64{
		"us-east-1a": 0.00, "us-east-1b": 0.01, "us-east-1c": 0.02,
	}})
	if err != nil {
		panic(err)
	}
}

func Example_customStrategy() {
	s, err := strategy.Lookup("cheapest-az")
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)
	plan, err := strategy.Plan(strategy.Input{
		Candidates: []gluenet.Candidate{
			{Connection: "conn-c", SubnetID: "subnet-c", AZ: "us-east-1c", FreeIPs: 200, Checked: true},
			{Connection: "conn-b", SubnetID: "subnet-b", AZ: "us-east-1b", FreeIPs: 40, Checked: true},
			{Connection: "conn-a", SubnetID: "subnet-a", AZ: "us-east-1a", FreeIPs: 90, Checked: true},
			{Connection: "conn-a2", SubnetID: "subnet-a2", AZ: "us-east-1a", FreeIPs: 6, Checked: true},
		},
		Need: gluenet.Need{IPs: 10, MinIPs: gluenet.DefaultMinIPs},
		Now:  now,
		// Health memory ejected subnet-a after a placement failure: Plan
		// marks it, and strategy.Grouped (used by Rank above) tries it
		// after the healthy ones.
		Health: []gluenet.HealthRecord{
			{Scope: gluenet.ScopeSubnet, Key: "subnet-a", EjectedUntil: now.Add(5 * time.Minute)},
		},
	}, s)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range plan.Placements {
		fmt.Printf("%d %-7s %s: %s\n", p.Rank, p.Connection, p.AZ, p.Reason)
	}
	// Output:
	// 1 conn-b  us-east-1b: good: 40 free IPs >= 10 needed; cheapest AZ first
	// 2 conn-c  us-east-1c: good: 200 free IPs >= 10 needed; cheapest AZ first
	// 3 conn-a2 us-east-1a: usable: 6 free IPs < 10 needed, would start under capacity; cheapest AZ first
	// 4 conn-a  us-east-1a: good: 90 free IPs >= 10 needed; ejected until 2026-03-01T07:05:00Z after placement failures, tried after healthy candidates; cheapest AZ first
}
