package awsclient

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/smithy-go"

	"github.com/gluenet/gluenet"
	"maps"
	"strconv"
)

// discoverNetwork is the VPC of the discovery tests: "a" (us-east-1a, /24,
// where 3 ENIs are added), "b" (us-east-1b, /26) and "gone" (deleted).
var discoverNetwork = network{vpcCIDR: "10.20.0.0/16", subnets: []subnetFixture{
	{role: "a", cidr: "10.20.1.0/24", az: "us-east-1a"},
	{role: "b", cidr: "10.20.2.0/26", az: "us-east-1b"},
	{role: "gone", cidr: "10.20.3.0/24", az: "us-east-1c", deleted: true},
}}

// discoverFixture is what setupDiscover made on a backend.
type discoverFixture struct {
	// subnets by role: "a", "b", "gone" (no longer exists).
	subnet map[string]string
	// connections by role: "a", "b", "gone", "nosubnet", and "unknown",
	// which does not exist.
	conn map[string]string
}

// setupDiscover creates, through the API, the ENIs and connections the
// discovery tests use on a backend built with discoverNetwork.
func setupDiscover(t *testing.T, b *testBackend) discoverFixture {
	t.Helper()
	r := discoverFixture{subnet: map[string]string{}, conn: map[string]string{}}
	for _, role := range []string{"a", "b", "gone"} {
		r.subnet[role] = b.subnetID(role)
	}
	// ENIs take IPs: EC2 should count 256-5-3 = 248 free in subnet a.
	b.createENIs(t, r.subnet["a"], 3)

	for _, c := range []struct{ role, az string }{
		{"a", "us-east-1a"},
		{"b", "us-east-1b"},
		{"gone", "us-east-1c"},
	} {
		name := uniqueName(t, c.role)
		b.createNetworkConnection(t, name, r.subnet[c.role], c.az)
		r.conn[c.role] = name
	}
	r.conn["nosubnet"] = uniqueName(t, "nosubnet")
	b.createConnection(t, &gluetypes.ConnectionInput{
		Name:                 aws.String(r.conn["nosubnet"]),
		ConnectionType:       gluetypes.ConnectionTypeCustom,
		ConnectionProperties: map[string]string{},
	})
	r.conn["unknown"] = uniqueName(t, "unknown")
	return r
}

func TestDiscover(t *testing.T) {
	forEachBackend(t, discoverNetwork, testDiscover)
}

func testDiscover(t *testing.T, b *testBackend) {
	r := setupDiscover(t, b)
	counter := b.counter
	cfg := b.cfg
	counter.take()

	c := New(cfg)
	logs := &logCapture{}
	c.Logger = slog.New(logs)
	names := []string{r.conn["a"], r.conn["unknown"], r.conn["b"], r.conn["gone"], r.conn["nosubnet"]}
	got, st, err := c.Discover(t.Context(), names)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}

	want := []struct {
		cand    gluenet.Candidate
		problem string // substring of Problem
	}{
		{cand: gluenet.Candidate{Connection: r.conn["a"], SubnetID: r.subnet["a"], AZ: "us-east-1a", FreeIPs: 248, Checked: true, UsableIPs: 251}}, // a /24
		{cand: gluenet.Candidate{Connection: r.conn["unknown"], Missing: true}, problem: "get connection: EntityNotFoundException"},
		{cand: gluenet.Candidate{Connection: r.conn["b"], SubnetID: r.subnet["b"], AZ: "us-east-1b", FreeIPs: 59, Checked: true, UsableIPs: 59}}, // a /26
		{cand: gluenet.Candidate{Connection: r.conn["gone"], SubnetID: r.subnet["gone"], AZ: "us-east-1c"},
			problem: "subnet " + r.subnet["gone"] + " not found"},
		{cand: gluenet.Candidate{Connection: r.conn["nosubnet"]}, problem: "connection has no subnet"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d candidates, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		t.Run(w.cand.Connection, func(t *testing.T) {
			g := got[i]
			if !strings.Contains(g.Problem, w.problem) || (w.problem == "") != (g.Problem == "") {
				t.Errorf("Problem = %q, want it to contain %q", g.Problem, w.problem)
			}
			g.Problem = ""
			if g != w.cand {
				t.Errorf("candidate = %+v, want %+v", g, w.cand)
			}
		})
	}

	// One debug record per unchecked connection, naming it (the executor
	// warns about them with its plan), and no warning.
	if w := logs.warnings(); len(w) != 0 {
		t.Errorf("warnings %q, want none: discovery leaves warning to its caller", w)
	}
	records := logs.at(slog.LevelDebug)
	for _, role := range []string{"unknown", "gone", "nosubnet"} {
		n := 0
		for _, w := range records {
			if strings.Contains(w, "connection="+r.conn[role]+" ") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d debug records about connection %s, want 1; all: %q", n, role, records)
		}
	}
	if len(records) != 3 {
		t.Errorf("got %d debug records, want 3: %q", len(records), records)
	}

	wantStats := DiscoverStats{GetConnectionCalls: 5, DescribeSubnetsCalls: 1}
	if st != wantStats {
		t.Errorf("stats = %+v, want %+v", st, wantStats)
	}
	if calls := counter.take(); calls["GetConnection"] != 5 || calls["DescribeSubnets"] != 1 || len(calls) != 2 {
		t.Errorf("API calls = %v, want 5 GetConnection and 1 DescribeSubnets", calls)
	}
	if b.isSim() {
		// The region served exactly what the SDK sent, no more.
		stats := b.region.Stats()
		if n := stats.Calls("glue", "GetConnection"); n != 5 {
			t.Errorf("the sim served %d GetConnection calls, want 5", n)
		}
	}
}

func TestDiscoverCache(t *testing.T) {
	forEachBackend(t, discoverNetwork, testDiscoverCache)
}

func testDiscoverCache(t *testing.T, b *testBackend) {
	r := setupDiscover(t, b)
	counter := b.counter
	cfg := b.cfg

	tests := []struct {
		name string
		// seed is put in the cache before the discoveries: role -> subnet role.
		seed  map[string]string
		names []string // connection roles
		// per discovery, in order
		stats []DiscoverStats
		// what the cache holds afterwards: role -> subnet role, "" = absent
		after map[string]string
	}{
		{
			name:  "cold then warm",
			names: []string{"a", "b"},
			stats: []DiscoverStats{
				{GetConnectionCalls: 2, DescribeSubnetsCalls: 1},
				{DescribeSubnetsCalls: 1, CacheHits: 2},
			},
			after: map[string]string{"a": "a", "b": "b"},
		},
		{
			name:  "failures are not cached",
			names: []string{"a", "unknown", "gone", "nosubnet"},
			stats: []DiscoverStats{
				{GetConnectionCalls: 4, DescribeSubnetsCalls: 1},
				{GetConnectionCalls: 3, DescribeSubnetsCalls: 1, CacheHits: 1},
			},
			after: map[string]string{"a": "a", "unknown": "", "gone": "", "nosubnet": ""},
		},
		{
			name:  "connection moved off a deleted subnet",
			seed:  map[string]string{"a": "gone", "b": "b"},
			names: []string{"a", "b"},
			stats: []DiscoverStats{
				// describe {gone, b}; gone is missing: invalidate a, look it
				// up again, describe its new subnet.
				{GetConnectionCalls: 1, DescribeSubnetsCalls: 2, CacheHits: 2, CacheInvalidations: 1},
				{DescribeSubnetsCalls: 1, CacheHits: 2},
			},
			after: map[string]string{"a": "a", "b": "b"},
		},
		{
			name:  "connection still on a deleted subnet",
			seed:  map[string]string{"gone": "gone"},
			names: []string{"gone"},
			stats: []DiscoverStats{
				// the lookup finds the same deleted subnet: no second describe
				{GetConnectionCalls: 1, DescribeSubnetsCalls: 1, CacheHits: 1, CacheInvalidations: 1},
				{GetConnectionCalls: 1, DescribeSubnetsCalls: 1},
			},
			after: map[string]string{"gone": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			cache := NewMemoryCache(time.Hour, nil)
			for role, subnetRole := range tt.seed {
				cache.Put(ctx, r.conn[role], r.subnet[subnetRole])
			}
			c := New(cfg)
			c.Cache = cache
			var names []string
			for _, role := range tt.names {
				names = append(names, r.conn[role])
			}
			counter.take()
			for i, want := range tt.stats {
				cands, st, err := c.Discover(ctx, names)
				if err != nil {
					t.Fatalf("discovery %d: %v", i+1, err)
				}
				if st != want {
					t.Errorf("discovery %d: stats = %+v, want %+v", i+1, st, want)
				}
				calls := counter.take()
				if calls["GetConnection"] != want.GetConnectionCalls || calls["DescribeSubnets"] != want.DescribeSubnetsCalls {
					t.Errorf("discovery %d: API calls = %v, stats say %+v", i+1, calls, want)
				}
				for _, cand := range cands {
					if cand.Connection == r.conn["a"] && (!cand.Checked || cand.SubnetID != r.subnet["a"]) {
						t.Errorf("discovery %d: connection a = %+v, want checked in subnet a", i+1, cand)
					}
				}
			}
			for role, subnetRole := range tt.after {
				id, ok := cache.Get(ctx, r.conn[role])
				if want := r.subnet[subnetRole]; id != want || ok != (subnetRole != "") {
					t.Errorf("cache[%s] = %q, %v; want %q", role, id, ok, want)
				}
			}
		})
	}
}

// fakeGlue and fakeEC2 are hand-written stand-ins for the cases a server
// cannot easily produce: EC2 failing, hundreds of subnets, concurrency.
type fakeGlue struct {
	GlueAPI       // nil: calling anything not set panics
	getConnection func(ctx context.Context, name string) (*gluetypes.Connection, error)
	// getConnections answers GetConnections; nil denies it, as a policy
	// that allows only GetConnection would.
	getConnections func(ctx context.Context, in *glue.GetConnectionsInput) (*glue.GetConnectionsOutput, error)
}

func (f fakeGlue) GetConnection(ctx context.Context, in *glue.GetConnectionInput, _ ...func(*glue.Options)) (*glue.GetConnectionOutput, error) {
	conn, err := f.getConnection(ctx, aws.ToString(in.Name))
	if err != nil {
		return nil, err
	}
	return &glue.GetConnectionOutput{Connection: conn}, nil
}

type fakeEC2 func(ctx context.Context, in *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error)

func (f fakeEC2) DescribeSubnets(ctx context.Context, in *ec2.DescribeSubnetsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error) {
	return f(ctx, in)
}

// connectionTo is a connection in subnet "subnet-<name>".
func connectionTo(_ context.Context, name string) (*gluetypes.Connection, error) {
	if strings.HasPrefix(name, "missing") {
		return nil, &smithy.GenericAPIError{Code: "EntityNotFoundException", Message: "Connection " + name + " not found"}
	}
	return &gluetypes.Connection{Name: aws.String(name), PhysicalConnectionRequirements: &gluetypes.PhysicalConnectionRequirements{
		SubnetId: aws.String("subnet-" + name), AvailabilityZone: aws.String("az-of-connection"),
	}}, nil
}

func TestDiscoverDescribeSubnetsFails(t *testing.T) {
	t.Parallel()
	c := &Client{
		Glue: fakeGlue{getConnection: connectionTo},
		EC2: fakeEC2(func(context.Context, *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error) {
			return nil, &smithy.GenericAPIError{Code: "UnauthorizedOperation", Message: "You are not authorized"}
		}),
	}
	got, st, err := c.Discover(t.Context(), []string{"x", "missing1", "y"})
	if err != nil {
		t.Fatalf("Discover returned an error; a failed DescribeSubnets must not be fatal: %v", err)
	}
	want := []gluenet.Candidate{
		{Connection: "x", SubnetID: "subnet-x", AZ: "az-of-connection", Problem: "describe subnets: UnauthorizedOperation: You are not authorized"},
		{Connection: "missing1", Problem: "get connection: EntityNotFoundException: Connection missing1 not found", Missing: true},
		{Connection: "y", SubnetID: "subnet-y", AZ: "az-of-connection", Problem: "describe subnets: UnauthorizedOperation: You are not authorized"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("candidate %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if want := (DiscoverStats{GetConnectionCalls: 3, DescribeSubnetsCalls: 1}); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
}

func TestDiscoverManySubnets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		connections int
		pageSize    int // subnets per DescribeSubnets page
		concurrency int
		wantCalls   int // DescribeSubnets
	}{
		{name: "one chunk", connections: 200, pageSize: 1000, concurrency: 8, wantCalls: 1},
		{name: "three chunks", connections: 450, pageSize: 1000, concurrency: 16, wantCalls: 3},
		{name: "paged", connections: 250, pageSize: 100, concurrency: 3, wantCalls: 2 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Hang guard only: a broken concurrency bound would otherwise
			// block the gate below forever.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()

			// The first `concurrency` lookups wait at the gate until that
			// many are in flight together: the bound is reached and, as
			// maxInFlight shows, never passed.
			var inFlight, maxInFlight atomic.Int64
			gate := make(chan struct{})
			var openGate sync.Once
			lookup := func(ctx context.Context, name string) (*gluetypes.Connection, error) {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				storeMax(&maxInFlight, n)
				if n == int64(tt.concurrency) {
					openGate.Do(func() { close(gate) })
				}
				select {
				case <-gate:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return connectionTo(ctx, name)
			}

			var mu sync.Mutex
			var values []int
			describe := func(_ context.Context, in *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error) {
				if len(in.Filters) != 1 || aws.ToString(in.Filters[0].Name) != "subnet-id" || len(in.SubnetIds) != 0 {
					return nil, fmt.Errorf("want exactly one subnet-id filter and no SubnetIds, got %+v", in)
				}
				ids := in.Filters[0].Values
				mu.Lock()
				values = append(values, len(ids))
				mu.Unlock()
				start := 0
				if in.NextToken != nil {
					fmt.Sscan(*in.NextToken, &start)
				}
				end := min(start+tt.pageSize, len(ids))
				out := &ec2.DescribeSubnetsOutput{}
				for i, id := range ids[start:end] {
					out.Subnets = append(out.Subnets, ec2types.Subnet{
						SubnetId: aws.String(id), AvailabilityZone: aws.String("az-1"), AvailableIpAddressCount: aws.Int32(int32(start + i)),
					})
				}
				if end < len(ids) {
					out.NextToken = aws.String(fmt.Sprint(end))
				}
				return out, nil
			}

			c := &Client{Glue: fakeGlue{getConnection: lookup}, EC2: fakeEC2(describe), Concurrency: tt.concurrency}
			names := make([]string, tt.connections)
			for i := range names {
				names[i] = fmt.Sprintf("c%03d", i)
			}
			got, st, err := c.Discover(ctx, names)
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			if st.DescribeSubnetsCalls != tt.wantCalls || st.GetConnectionCalls != tt.connections {
				t.Errorf("stats = %+v, want %d DescribeSubnets and %d GetConnection", st, tt.wantCalls, tt.connections)
			}
			if len(values) != tt.wantCalls {
				t.Errorf("DescribeSubnets was called %d times, stats say %d", len(values), tt.wantCalls)
			}
			for _, v := range values {
				if v > maxFilterValues {
					t.Errorf("a DescribeSubnets filter had %d values, more than %d", v, maxFilterValues)
				}
			}
			if m := maxInFlight.Load(); m != int64(tt.concurrency) {
				t.Errorf("at most %d lookups were in flight, want exactly the bound %d", m, tt.concurrency)
			}
			for i, cand := range got {
				if cand.Connection != names[i] || !cand.Checked || cand.SubnetID != "subnet-"+names[i] || cand.AZ != "az-1" {
					t.Fatalf("candidate %d = %+v, want %s checked in its subnet", i, cand, names[i])
				}
			}
		})
	}
}

func TestDiscoverKeepsInputOrderWithDuplicates(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	c := &Client{
		Glue: fakeGlue{getConnection: func(ctx context.Context, name string) (*gluetypes.Connection, error) {
			calls.Add(1)
			return connectionTo(ctx, name)
		}},
		EC2: fakeEC2(func(_ context.Context, in *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error) {
			out := &ec2.DescribeSubnetsOutput{}
			for _, id := range in.Filters[0].Values {
				out.Subnets = append(out.Subnets, ec2types.Subnet{SubnetId: aws.String(id), AvailableIpAddressCount: aws.Int32(7)})
			}
			return out, nil
		}),
	}
	got, _, err := c.Discover(t.Context(), []string{"b", "a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, cand := range got {
		order = append(order, cand.Connection)
	}
	if strings.Join(order, ",") != "b,a,b" {
		t.Errorf("order = %v, want [b a b]", order)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("GetConnection called %d times, want once per distinct name (2)", n)
	}
}

func TestDiscoverCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	c := &Client{
		Glue: fakeGlue{getConnection: func(ctx context.Context, name string) (*gluetypes.Connection, error) {
			cancel()
			return nil, ctx.Err()
		}},
		EC2: fakeEC2(func(context.Context, *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error) {
			t.Error("DescribeSubnets called after the context ended")
			return nil, context.Canceled
		}),
	}
	if _, _, err := c.Discover(ctx, []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("Discover after cancel = %v, want the context's error", err)
	}
}

func storeMax(m *atomic.Int64, n int64) {
	for {
		old := m.Load()
		if n <= old || m.CompareAndSwap(old, n) {
			return
		}
	}
}

func TestDiscoverNothing(t *testing.T) {
	t.Parallel()
	c := &Client{Glue: fakeGlue{}, EC2: fakeEC2(nil)} // any call would panic
	got, st, err := c.Discover(t.Context(), nil)
	if err != nil || len(got) != 0 || st != (DiscoverStats{}) {
		t.Errorf("Discover(nil) = %v, %+v, %v; want nothing and no calls", got, st, err)
	}
}

// TestDiscoverMissingOnlyWhenGlueSaysSo: only EntityNotFoundException marks
// a candidate Missing (which stops a run); a connection that could not be
// looked up for another reason stays merely unchecked.
func TestDiscoverMissingOnlyWhenGlueSaysSo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		code    string
		missing bool
	}{
		{"not found", "EntityNotFoundException", true},
		{"throttled", "ThrottlingException", false},
		{"access denied", "AccessDeniedException", false},
		{"internal error", "InternalServiceException", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Client{
				Glue: fakeGlue{getConnection: func(context.Context, string) (*gluetypes.Connection, error) {
					return nil, &smithy.GenericAPIError{Code: tt.code, Message: "m"}
				}},
				EC2: fakeEC2(func(context.Context, *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error) {
					return &ec2.DescribeSubnetsOutput{}, nil
				}),
			}
			got, _, err := c.Discover(t.Context(), []string{"c"})
			if err != nil {
				t.Fatalf("Discover: %v", err)
			}
			if got[0].Missing != tt.missing || got[0].Checked || got[0].Problem == "" {
				t.Fatalf("candidate = %+v, want unchecked with a problem, missing %v", got[0], tt.missing)
			}
			if err := gluenet.MissingConnections(got); (err != nil) != tt.missing {
				t.Fatalf("MissingConnections = %v, want an error: %v", err, tt.missing)
			}
		})
	}
}

func (f fakeGlue) GetConnections(ctx context.Context, in *glue.GetConnectionsInput, _ ...func(*glue.Options)) (*glue.GetConnectionsOutput, error) {
	if f.getConnections == nil {
		return nil, &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform: glue:GetConnections"}
	}
	return f.getConnections(ctx, in)
}

// countingCache records how a discovery uses its cache.
type countingCache struct {
	*MemoryCache
	gets, puts int
	put        map[string]string
}

func (c *countingCache) GetMany(ctx context.Context, names []string) map[string]string {
	c.gets++
	return c.MemoryCache.GetMany(ctx, names)
}

func (c *countingCache) PutMany(ctx context.Context, subnets map[string]string) {
	c.puts++
	c.put = subnets
	c.MemoryCache.PutMany(ctx, subnets)
}

// TestDiscoverWritesTheCacheOncePerDecision: a cold decision over many
// connections reads the cache once and writes what it learned in one
// PutMany (one transaction on a database), not one write per connection;
// a warm one writes nothing.
func TestDiscoverWritesTheCacheOncePerDecision(t *testing.T) {
	t.Parallel()
	describe := func(_ context.Context, in *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error) {
		var out ec2.DescribeSubnetsOutput
		for _, id := range in.Filters[0].Values {
			out.Subnets = append(out.Subnets, ec2types.Subnet{SubnetId: aws.String(id), AvailableIpAddressCount: aws.Int32(10), AvailabilityZone: aws.String("az-1")})
		}
		return &out, nil
	}
	cache := &countingCache{MemoryCache: NewMemoryCache(time.Hour, nil)}
	c := &Client{Glue: fakeGlue{getConnection: connectionTo}, EC2: fakeEC2(describe), Cache: cache}
	names := []string{"a", "b", "missing1", "c", "d", "e"}
	tests := []struct {
		name       string
		gets, puts int
		hits       int
	}{
		{"cold", 1, 1, 0},
		{"warm", 2, 1, 5}, // counts are cumulative: no second write
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, st, err := c.Discover(t.Context(), names)
			if err != nil {
				t.Fatal(err)
			}
			if cache.gets != tt.gets || cache.puts != tt.puts || st.CacheHits != tt.hits {
				t.Errorf("GetMany %d, PutMany %d, hits %d; want %d, %d, %d", cache.gets, cache.puts, st.CacheHits, tt.gets, tt.puts, tt.hits)
			}
		})
	}
	if want := map[string]string{"a": "subnet-a", "b": "subnet-b", "c": "subnet-c", "d": "subnet-d", "e": "subnet-e"}; !maps.Equal(cache.put, want) {
		t.Errorf("PutMany(%v), want %v (the failed lookup left out)", cache.put, want)
	}
}

// catalogOf lists NETWORK connections "c000".."c<n-1>" in subnets
// "subnet-c000"..., pageSize per page, counting the pages asked.
func catalogOf(n, pageSize int, pages *int) func(context.Context, *glue.GetConnectionsInput) (*glue.GetConnectionsOutput, error) {
	return func(_ context.Context, in *glue.GetConnectionsInput) (*glue.GetConnectionsOutput, error) {
		*pages++
		if in.Filter == nil || in.Filter.ConnectionType != gluetypes.ConnectionTypeNetwork || !in.HidePassword {
			return nil, fmt.Errorf("want a NETWORK filter and HidePassword, got %+v", in)
		}
		start, _ := strconv.Atoi(aws.ToString(in.NextToken))
		var out glue.GetConnectionsOutput
		for i := start; i < min(n, start+pageSize); i++ {
			conn, _ := connectionTo(context.Background(), fmt.Sprintf("c%03d", i))
			out.ConnectionList = append(out.ConnectionList, *conn)
		}
		if start+pageSize < n {
			out.NextToken = aws.String(strconv.Itoa(start + pageSize))
		}
		return &out, nil
	}
}

// TestDiscoverListsManyConnections: above one wave of GetConnection calls,
// discovery lists the catalog instead, reads no more pages than the waves it
// replaces, and looks up one by one what the listing did not show.
func TestDiscoverListsManyConnections(t *testing.T) {
	t.Parallel()
	describe := func(_ context.Context, in *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error) {
		var out ec2.DescribeSubnetsOutput
		for _, id := range in.Filters[0].Values {
			out.Subnets = append(out.Subnets, ec2types.Subnet{SubnetId: aws.String(id), AvailableIpAddressCount: aws.Int32(10)})
		}
		return &out, nil
	}
	names := func(n int, extra ...string) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("c%03d", i))
		}
		return append(out, extra...)
	}
	tests := []struct {
		name      string
		names     []string
		catalog   int // NETWORK connections listed; -1: listing denied
		pageSize  int
		listAbove int
		want      DiscoverStats
	}{
		{name: "one wave: GetConnection only", names: names(16), catalog: 100, pageSize: 1000,
			want: DiscoverStats{GetConnectionCalls: 16, DescribeSubnetsCalls: 1}},
		{name: "more than one wave: one page", names: names(50), catalog: 300, pageSize: 1000,
			want: DiscoverStats{GetConnectionsCalls: 1, DescribeSubnetsCalls: 1}},
		{name: "not listed (another type): looked up", names: names(40, "jdbc-1", "missing-1"), catalog: 300, pageSize: 1000,
			want: DiscoverStats{GetConnectionsCalls: 1, GetConnectionCalls: 2, DescribeSubnetsCalls: 1}},
		{name: "big catalog: pages bounded by the waves", names: names(50), catalog: 5000, pageSize: 10,
			// 50 names = 4 waves of 16: at most 3 pages (30 found), then 20 lookups
			want: DiscoverStats{GetConnectionsCalls: 3, GetConnectionCalls: 20, DescribeSubnetsCalls: 1}},
		{name: "listing denied: one by one", names: names(20), catalog: -1, pageSize: 1000,
			want: DiscoverStats{GetConnectionsCalls: 1, GetConnectionCalls: 20, DescribeSubnetsCalls: 1}},
		{name: "listing turned off", names: names(20), catalog: 300, pageSize: 1000, listAbove: -1,
			want: DiscoverStats{GetConnectionCalls: 20, DescribeSubnetsCalls: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pages := 0
			g := fakeGlue{getConnection: connectionTo}
			if tt.catalog >= 0 {
				g.getConnections = catalogOf(tt.catalog, tt.pageSize, &pages)
			}
			c := &Client{Glue: g, EC2: fakeEC2(describe), ListAbove: tt.listAbove, Logger: slog.New(slog.DiscardHandler)}
			cands, st, err := c.Discover(t.Context(), tt.names)
			if err != nil {
				t.Fatal(err)
			}
			if st != tt.want {
				t.Errorf("stats = %+v, want %+v", st, tt.want)
			}
			for _, cand := range cands {
				wantChecked := !strings.HasPrefix(cand.Connection, "missing")
				if cand.Checked != wantChecked || (wantChecked && cand.SubnetID != "subnet-"+cand.Connection) {
					t.Errorf("candidate %+v: want checked=%v in subnet-%s", cand, wantChecked, cand.Connection)
				}
			}
		})
	}
}
