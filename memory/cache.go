package memory

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// SubnetCache keeps the connection -> subnet mapping in the state store, so
// that discovery is warm (one DescribeSubnets call) across invocations of
// the command and, on Postgres, across machines. It satisfies
// awsclient.SubnetCache. A store failure is a cache miss, logged: the cache
// must never fail a discovery.
type SubnetCache struct {
	Store CacheRecords
	TTL   time.Duration
	Now   func() time.Time
	Log   *slog.Logger
}

// CacheRecords is the connection -> subnet cache SubnetCache keeps in the
// state store.
type CacheRecords interface {
	CachedSubnets(ctx context.Context, connections []string, now time.Time) (map[string]string, error)
	PutCachedSubnets(ctx context.Context, subnets map[string]string, expires time.Time) error
	InvalidateCachedSubnet(ctx context.Context, connection string) error
}

// GetMany implements awsclient.SubnetCache with one store query.
func (c *SubnetCache) GetMany(ctx context.Context, connections []string) map[string]string {
	found, err := c.Store.CachedSubnets(ctx, connections, c.Now())
	if err != nil {
		c.warn("read", connections, err)
		return nil
	}
	return found
}

// PutMany implements awsclient.SubnetCache with one store transaction.
func (c *SubnetCache) PutMany(ctx context.Context, subnets map[string]string) {
	if err := c.Store.PutCachedSubnets(ctx, subnets, c.Now().Add(c.TTL)); err != nil {
		c.warn("write", slices.Sorted(maps.Keys(subnets)), err)
	}
}

// Invalidate implements awsclient.SubnetCache.
func (c *SubnetCache) Invalidate(ctx context.Context, connection string) {
	if err := c.Store.InvalidateCachedSubnet(ctx, connection); err != nil {
		c.warn("invalidate", []string{connection}, err)
	}
}

func (c *SubnetCache) warn(op string, connections []string, err error) {
	if c.Log != nil {
		c.Log.Warn("subnet cache "+op+" failed", "connections", connections, "err", err)
	}
}
