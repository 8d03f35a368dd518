// Package reserve keeps track of IPs held by runs that have started but
// whose network interfaces EC2 does not count yet, the way Karpenter
// subtracts in-flight launches from a subnet's free IPs. Without it,
// launches close together all read the same stale AvailableIpAddressCount
// and herd into the subnet that looked emptiest.
//
// The package is pure: reservations are plain gluenet.Reservation values
// kept by the state store (so launches from several processes or machines
// sharing a store see each other's), and time is passed in.
//
// # The heuristic
//
// A reservation records the subnet's free-IP count when its run started
// (BaselineFree) and the IPs the run needs. It is settled, and stops
// counting, when either:
//
//   - EC2 reports BaselineFree-IPs free IPs or fewer for the subnet: the
//     run's ENIs show in the count, so subtracting them again would count
//     them twice; or
//   - its TTL passes: the run's ENIs should have shown by then, or the run
//     never created them (it failed early, or started elsewhere).
//
// When several reservations in one subnet are pending, the drop in the
// count is attributed to the oldest first: two runs that both started
// from 100 free IPs and need 10 each are settled one at a time, as the
// count falls to 90 and then to 80, not both at 90.
//
// Limits. EC2's count moves for other reasons too: other workloads in the
// subnet take IPs (which settles a reservation early, when its own ENIs
// have not shown) or release them (which keeps one past the moment its
// ENIs showed), and a run may start under capacity with fewer ENIs than
// reserved (kept until the TTL). The error is bounded: a reservation never
// outlives its TTL, and while it lives it misstates the subnet by at most
// its own IPs.
package reserve

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/gluenet/gluenet"
)

// DefaultTTL bounds how long a reservation counts. Glue creates a run's
// ENIs while the run is STARTING, which for Glue 2.0 and later usually
// takes well under a minute, and EC2's AvailableIpAddressCount reflects
// them within seconds. Ten minutes covers slow starts with a wide margin,
// yet lets a reservation whose run never created its ENIs (a failed start,
// a crashed gluenet) stop hiding the subnet's IPs soon.
const DefaultTTL = 10 * time.Minute

// New makes the reservation for a run of job that starts in subnetID (in
// az) and needs ips IPs, taken when EC2 reported baselineFree free IPs for
// the subnet. It expires at now+ttl; ttl <= 0 means DefaultTTL.
//
// The ID is job/runID, so that recording the same run twice replaces the
// reservation instead of doubling it. When the run ID is not known yet
// (gluenet reserves before StartJobRun returns, so that a launch racing
// ours already sees the reservation), the ID is job/subnetID/now in
// nanoseconds; reserve again with the run ID and release the first one, or
// let it settle.
func New(subnetID, az, job, runID string, ips, baselineFree int, now time.Time, ttl time.Duration) gluenet.Reservation {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	id := job + "/" + runID
	if runID == "" {
		id = fmt.Sprintf("%s/%s/%d", job, subnetID, now.UnixNano())
	}
	return gluenet.Reservation{
		ID:           id,
		SubnetID:     subnetID,
		AZ:           az,
		IPs:          ips,
		Job:          job,
		RunID:        runID,
		BaselineFree: baselineFree,
		CreatedAt:    now,
		ExpiresAt:    now.Add(ttl),
	}
}

// Apply checks the reservations against the free IPs discovery just read
// (cands) and returns the IPs still reserved per subnet ID, for
// strategy.Input.Reserved, and the IDs of the reservations that are
// settled (their ENIs show, or their TTL passed), which the caller may
// release from the store. A reservation for a subnet that no checked
// candidate reports keeps counting until its TTL: there is nothing to
// compare it with.
func Apply(res []gluenet.Reservation, cands []gluenet.Candidate, now time.Time) (reserved map[string]int, settled []string) {
	reserved = map[string]int{}
	free := map[string]int{}
	for _, c := range cands {
		if _, seen := free[c.SubnetID]; c.Checked && c.SubnetID != "" && !seen {
			free[c.SubnetID] = c.FreeIPs
		}
	}

	// Oldest first, so that a drop in the count is attributed to the runs
	// that started first.
	order := slices.Clone(res)
	// sort.SliceStable, not slices.SortStableFunc (compiled again for each
	// struct type): binary size.
	sort.SliceStable(order, func(i, j int) bool { return order[i].CreatedAt.Before(order[j].CreatedAt) })

	// shown holds, per subnet, the reservations found to show in the
	// count during this pass.
	shown := map[string][]gluenet.Reservation{}
	for _, r := range order {
		if !now.Before(r.ExpiresAt) {
			settled = append(settled, r.ID)
			continue
		}
		f, known := free[r.SubnetID]
		if !known {
			reserved[r.SubnetID] += r.IPs
			continue
		}
		// The count fell by drop since r started. Part of that drop
		// belongs to older runs whose ENIs had not shown yet when r read
		// its baseline (their own baseline minus their IPs was still
		// below r's baseline): take it out before crediting r.
		drop := r.BaselineFree - f
		for _, o := range shown[r.SubnetID] {
			if o.BaselineFree-o.IPs < r.BaselineFree {
				drop -= min(o.IPs, r.BaselineFree-(o.BaselineFree-o.IPs))
			}
		}
		if drop >= r.IPs {
			settled = append(settled, r.ID)
			shown[r.SubnetID] = append(shown[r.SubnetID], r)
			continue
		}
		reserved[r.SubnetID] += r.IPs
	}
	return reserved, settled
}

// InFlightByAZ counts the reservations still in flight per Availability
// Zone (those not settled), for strategies that spread runs across zones.
func InFlightByAZ(res []gluenet.Reservation, settled []string) map[string]int {
	out := map[string]int{}
	for _, x := range res {
		if !slices.Contains(settled, x.ID) {
			out[x.AZ]++
		}
	}
	return out
}
