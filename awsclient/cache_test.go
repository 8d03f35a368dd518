package awsclient

import (
	"testing"
	"time"
)

func TestMemoryCache(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	type step struct {
		at     time.Duration // since start
		op     string        // get, put, invalidate
		conn   string
		subnet string // put: the value; get: the wanted value
		ok     bool   // get: wanted
	}
	tests := []struct {
		name  string
		ttl   time.Duration
		steps []step
	}{
		{name: "miss when empty", ttl: time.Minute, steps: []step{
			{op: "get", conn: "a"},
		}},
		{name: "hit until the TTL, miss from it on", ttl: time.Minute, steps: []step{
			{op: "put", conn: "a", subnet: "subnet-1"},
			{at: 59 * time.Second, op: "get", conn: "a", subnet: "subnet-1", ok: true},
			{at: time.Minute, op: "get", conn: "a"},
		}},
		{name: "a hit does not extend the TTL", ttl: time.Minute, steps: []step{
			{op: "put", conn: "a", subnet: "subnet-1"},
			{at: 30 * time.Second, op: "get", conn: "a", subnet: "subnet-1", ok: true},
			{at: 61 * time.Second, op: "get", conn: "a"},
		}},
		{name: "put replaces and restarts the TTL", ttl: time.Minute, steps: []step{
			{op: "put", conn: "a", subnet: "subnet-1"},
			{at: 50 * time.Second, op: "put", conn: "a", subnet: "subnet-2"},
			{at: 100 * time.Second, op: "get", conn: "a", subnet: "subnet-2", ok: true},
		}},
		{name: "invalidate forgets one connection", ttl: time.Minute, steps: []step{
			{op: "put", conn: "a", subnet: "subnet-1"},
			{op: "put", conn: "b", subnet: "subnet-2"},
			{op: "invalidate", conn: "a"},
			{op: "get", conn: "a"},
			{op: "get", conn: "b", subnet: "subnet-2", ok: true},
		}},
		{name: "zero TTL means the default", ttl: 0, steps: []step{
			{op: "put", conn: "a", subnet: "subnet-1"},
			{at: DefaultCacheTTL - time.Second, op: "get", conn: "a", subnet: "subnet-1", ok: true},
			{at: DefaultCacheTTL, op: "get", conn: "a"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			now := start
			c := NewMemoryCache(tt.ttl, func() time.Time { return now })
			ctx := t.Context()
			for i, s := range tt.steps {
				now = start.Add(s.at)
				switch s.op {
				case "put":
					c.Put(ctx, s.conn, s.subnet)
				case "invalidate":
					c.Invalidate(ctx, s.conn)
				case "get":
					got, ok := c.Get(ctx, s.conn)
					if got != s.subnet || ok != s.ok {
						t.Errorf("step %d: Get(%q) at +%v = %q, %v; want %q, %v", i, s.conn, s.at, got, ok, s.subnet, s.ok)
					}
				}
			}
		})
	}
}
