package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
)

// SampleStore is where the sampler keeps its history.
type SampleStore interface {
	AddSubnetSamples(ctx context.Context, samples []store.SubnetSample) error
	PruneSubnetSamples(ctx context.Context, before time.Time) (int, error)
	Reservations(ctx context.Context, now time.Time) ([]gluenet.Reservation, error)
}

// Defaults of the sampler.
const (
	DefaultInterval  = time.Minute
	DefaultRetention = 7 * 24 * time.Hour
)

// Sampler records the free IPs of the subnets behind watched connections
// every Interval, with one discovery (one DescribeSubnets call for all the
// subnets once their connections are known), and prunes samples older than
// Retention.
type Sampler struct {
	// Discover learns the connections' subnets and free IPs;
	// (*awsclient.Client).Discover with a subnet cache does it.
	Discover    func(ctx context.Context, names []string) ([]gluenet.Candidate, error)
	Store       SampleStore
	Connections []string
	Interval    time.Duration
	Retention   time.Duration
	Now         func() time.Time
	Log         *slog.Logger

	// What /metrics tells of the samples: taken, failed, and when the
	// last one was stored (Unix milliseconds).
	ok, failed atomic.Uint64
	lastOK     atomic.Int64
}

func (s *Sampler) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// SampleOnce takes one sample of every watched subnet and prunes the
// history. It returns the number of subnets sampled.
func (s *Sampler) SampleOnce(ctx context.Context) (int, error) {
	n, err := s.sampleOnce(ctx)
	if err != nil {
		s.failed.Add(1)
		return n, err
	}
	s.ok.Add(1)
	s.lastOK.Store(s.Now().UnixMilli())
	return n, nil
}

func (s *Sampler) sampleOnce(ctx context.Context) (int, error) {
	cands, err := s.Discover(ctx, s.Connections)
	if err != nil {
		return 0, fmt.Errorf("sample subnets: %w", err)
	}
	now := s.Now()
	res, err := s.Store.Reservations(ctx, now)
	if err != nil {
		return 0, fmt.Errorf("sample subnets: %w", err)
	}
	reserved := map[string]int{}
	for _, r := range res {
		reserved[r.SubnetID] += r.IPs
	}
	seen := map[string]bool{}
	var (
		samples  []store.SubnetSample
		problems []string
	)
	for _, c := range cands {
		if !c.Checked || c.SubnetID == "" || seen[c.SubnetID] {
			if !c.Checked {
				s.log().Warn("could not sample a connection's subnet", "connection", c.Connection, "problem", c.Problem)
				problems = append(problems, c.Connection+": "+c.Problem)
			}
			continue
		}
		seen[c.SubnetID] = true
		samples = append(samples, store.SubnetSample{At: now, SubnetID: c.SubnetID, AZ: c.AZ, FreeIPs: c.FreeIPs, ReservedIPs: reserved[c.SubnetID]})
	}
	if len(samples) == 0 {
		return 0, fmt.Errorf("sample subnets: no subnet could be sampled (%s)", strings.Join(problems, "; "))
	}
	if err := s.Store.AddSubnetSamples(ctx, samples); err != nil {
		return 0, err
	}
	retention := s.Retention
	if retention <= 0 {
		retention = DefaultRetention
	}
	if n, err := s.Store.PruneSubnetSamples(ctx, now.Add(-retention)); err != nil {
		s.log().Warn("could not prune old subnet samples", "err", err)
	} else if n > 0 {
		s.log().Debug("pruned old subnet samples", "deleted", n)
	}
	return len(samples), nil
}

// Run samples every Interval until ctx ends (the caller takes the first
// sample with SampleOnce). A failed sample is logged and the next one is
// tried on time.
func (s *Sampler) Run(ctx context.Context) {
	every := s.Interval
	if every <= 0 {
		every = DefaultInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := s.SampleOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log().Warn("free-IP sample failed; trying again at the next interval", "err", err)
		} else {
			s.log().Debug("sampled subnets", "subnets", n)
		}
	}
}
