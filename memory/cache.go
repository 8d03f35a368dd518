package memory

import (
	"context"
	"log/slog"
	"time"

	"github.com/gluenet/gluenet/store"
)

// SubnetCache keeps the connection -> subnet mapping in the state store, so
// that discovery is warm (one DescribeSubnets call) across invocations of
// the command and, on Postgres, across machines. It satisfies
// awsclient.SubnetCache. A store failure is a cache miss, logged: the cache
// must never fail a discovery.
type SubnetCache struct {
	Store store.SubnetCacheStore
	TTL   time.Duration
	Now   func() time.Time
	Log   *slog.Logger
}

// Get implements awsclient.SubnetCache.
func (c *SubnetCache) Get(ctx context.Context, connection string) (string, bool) {
	id, ok, err := c.Store.CachedSubnet(ctx, connection, c.Now())
	if err != nil {
		c.warn("read", connection, err)
		return "", false
	}
	return id, ok
}

// Put implements awsclient.SubnetCache.
func (c *SubnetCache) Put(ctx context.Context, connection, subnetID string) {
	if err := c.Store.PutCachedSubnet(ctx, connection, subnetID, c.Now().Add(c.TTL)); err != nil {
		c.warn("write", connection, err)
	}
}

// Invalidate implements awsclient.SubnetCache.
func (c *SubnetCache) Invalidate(ctx context.Context, connection string) {
	if err := c.Store.InvalidateCachedSubnet(ctx, connection); err != nil {
		c.warn("invalidate", connection, err)
	}
}

func (c *SubnetCache) warn(op, connection string, err error) {
	if c.Log != nil {
		c.Log.Warn("subnet cache "+op+" failed", "connection", connection, "err", err)
	}
}
