package store

import (
	"context"
	"fmt"
	"time"
)

// Fleet is what `gluenet serve` reads and its free-IP sampler writes,
// beyond the per-run methods: the attempts of many runs at once, and a
// sampled history of the subnets' free IPs. Every Store has it.
type Fleet interface {
	// AttemptsOf returns the attempts of the runs with the given keys,
	// each run's by number with its full state history, keyed by run key.
	// Keys of runs that do not exist, or have no attempt, are absent.
	AttemptsOf(ctx context.Context, keys []string) (map[string][]Attempt, error)

	// AddSubnetSamples stores free-IP samples.
	AddSubnetSamples(ctx context.Context, samples []SubnetSample) error
	// SubnetSamples returns the samples taken at or after since, oldest
	// first (by At, then subnet).
	SubnetSamples(ctx context.Context, since time.Time) ([]SubnetSample, error)
	// PruneSubnetSamples deletes the samples taken before before and
	// returns how many it deleted: the history's retention.
	PruneSubnetSamples(ctx context.Context, before time.Time) (int, error)
}

// SubnetSample is one subnet's free IPs as EC2 reported them at a time,
// with the IPs reservations held then.
type SubnetSample struct {
	At       time.Time `json:"at"`
	SubnetID string    `json:"subnet_id"`
	AZ       string    `json:"availability_zone,omitempty"`
	// FreeIPs is EC2's AvailableIpAddressCount.
	FreeIPs int `json:"free_ips"`
	// ReservedIPs is what unexpired reservations held in the subnet.
	ReservedIPs int `json:"reserved_ips"`
}

// AttemptKeysChunk bounds the keys one AttemptsOf query binds; drivers
// split longer lists.
const AttemptKeysChunk = 500

// Validate reports whether the sample can be stored.
func (x SubnetSample) Validate() error {
	switch {
	case x.At.IsZero():
		return fmt.Errorf("sample of %q: the time is zero", x.SubnetID)
	case x.SubnetID == "":
		return fmt.Errorf("sample at %s: no subnet id", x.At.Format(time.RFC3339))
	case x.FreeIPs < 0 || x.ReservedIPs < 0:
		return fmt.Errorf("sample of %s: negative IP count (free %d, reserved %d)", x.SubnetID, x.FreeIPs, x.ReservedIPs)
	}
	return nil
}
