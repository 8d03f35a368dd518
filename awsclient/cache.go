package awsclient

import (
	"context"
	"sync"
	"time"
)

// DefaultCacheTTL is how long a connection's subnet is trusted without
// asking Glue again. A connection moved to another subnet that still exists
// is only noticed when its entry expires (a deleted subnet is noticed at
// once: discovery then looks the connection up again), so the TTL bounds how
// long gluenet may rank a connection by the wrong subnet. Five minutes keeps
// retries and the burst of jobs at the top of the hour warm.
const DefaultCacheTTL = 5 * time.Minute

// SubnetCache remembers the subnet behind each Glue connection so that a warm
// discovery costs a single DescribeSubnets call. Implementations must be
// safe for concurrent use. A discovery reads the cache once (GetMany) and
// writes it at most once (PutMany), so that a cache kept in a database costs
// one query and one transaction per decision, whatever the number of
// connections. GetMany leaves unknown and expired entries out. A cache
// failure must not fail discovery, so the methods return no error: an
// implementation that cannot answer reports misses.
type SubnetCache interface {
	GetMany(ctx context.Context, connections []string) map[string]string
	PutMany(ctx context.Context, subnets map[string]string)
	Invalidate(ctx context.Context, connection string)
}

// MemoryCache is a SubnetCache held in process memory, for the life of one
// gluenet invocation (its retries) or a long-running executor.
type MemoryCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	subnetID string
	expires  time.Time
}

var _ SubnetCache = (*MemoryCache)(nil)

// NewMemoryCache returns an empty cache whose entries live ttl (DefaultCacheTTL
// when ttl <= 0), measured with now (time.Now when nil).
func NewMemoryCache(ttl time.Duration, now func() time.Time) *MemoryCache {
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryCache{ttl: ttl, now: now, entries: make(map[string]cacheEntry)}
}

// Get returns the connection's subnet if it was put less than the TTL ago.
func (m *MemoryCache) Get(_ context.Context, connection string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[connection]
	if !ok {
		return "", false
	}
	if !m.now().Before(e.expires) {
		delete(m.entries, connection)
		return "", false
	}
	return e.subnetID, true
}

// Put remembers the connection's subnet for the TTL from now.
func (m *MemoryCache) Put(_ context.Context, connection, subnetID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[connection] = cacheEntry{subnetID: subnetID, expires: m.now().Add(m.ttl)}
}

// GetMany implements SubnetCache.
func (m *MemoryCache) GetMany(ctx context.Context, connections []string) map[string]string {
	found := make(map[string]string, len(connections))
	for _, c := range connections {
		if id, ok := m.Get(ctx, c); ok {
			found[c] = id
		}
	}
	return found
}

// PutMany implements SubnetCache.
func (m *MemoryCache) PutMany(_ context.Context, subnets map[string]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	expires := m.now().Add(m.ttl)
	for c, id := range subnets {
		m.entries[c] = cacheEntry{subnetID: id, expires: expires}
	}
}

// Invalidate forgets the connection.
func (m *MemoryCache) Invalidate(_ context.Context, connection string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, connection)
}

// ForgetSubnet drops the connection's cached subnet, if a cache is set: the
// next discovery asks Glue again. The runner calls it after a placement
// failure, in case the connection now points at another subnet.
func (c *Client) ForgetSubnet(ctx context.Context, connection string) {
	if c.Cache != nil {
		c.Cache.Invalidate(ctx, connection)
	}
}
