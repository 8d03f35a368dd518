package awsclient

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"golang.org/x/sync/errgroup"

	"github.com/gluenet/gluenet"
)

// maxFilterValues is the most values EC2 accepts in one DescribeSubnets
// filter; more subnets are asked in several calls.
const maxFilterValues = 200

// DiscoverStats counts the work one discovery did: the API calls it made
// (the measure of issue 7) and how the subnet cache served it.
type DiscoverStats struct {
	GetConnectionCalls int `json:"get_connection_calls"`
	// GetConnectionsCalls counts the pages of connections listed.
	GetConnectionsCalls  int `json:"get_connections_calls,omitempty"`
	DescribeSubnetsCalls int `json:"describe_subnets_calls"`
	// CacheHits counts connections whose subnet came from the cache.
	CacheHits int `json:"cache_hits"`
	// CacheInvalidations counts cached subnets EC2 no longer knew.
	CacheInvalidations int `json:"cache_invalidations"`
}

// Calls is the number of API calls made.
func (s DiscoverStats) Calls() int {
	return s.GetConnectionCalls + s.GetConnectionsCalls + s.DescribeSubnetsCalls
}

// connInfo is what discovery learned about one connection.
type connInfo struct {
	subnetID string
	az       string // the connection's own AZ, a fallback for the subnet's
	problem  string // why the connection cannot be checked, "" if it may be
	missing  bool   // Glue says the connection does not exist
	cached   bool   // subnetID came from the cache
}

// Discover learns, for each named Glue connection, its subnet, the subnet's
// Availability Zone and its free IPs. It looks the connections up
// concurrently (at most Concurrency at a time, none that the cache knows),
// then asks EC2 about all their subnets at once with a subnet-id filter, so a
// cold discovery costs len(names) GetConnection calls and one DescribeSubnets
// call in about two round trips, and a warm one a single DescribeSubnets.
//
// A connection Glue says does not exist (EntityNotFoundException) comes
// back unchecked with Missing set, for the caller to refuse
// (gluenet.MissingConnections). Nothing else about a single connection is
// fatal: a failed lookup, a connection
// without a subnet, a subnet EC2 does not know, or a failed DescribeSubnets
// all leave the candidates concerned unchecked with Problem set, and are
// logged as warnings. The candidates come back in the order of names. The
// error is non-nil only when ctx ends.
func (c *Client) Discover(ctx context.Context, names []string) ([]gluenet.Candidate, DiscoverStats, error) {
	var st DiscoverStats
	distinct := distinctNames(names)
	info := make(map[string]*connInfo, len(distinct))

	var cached map[string]string
	if c.Cache != nil {
		cached = c.Cache.GetMany(ctx, distinct)
	}
	var misses []string
	for _, n := range distinct {
		if id := cached[n]; id != "" {
			info[n] = &connInfo{subnetID: id, cached: true}
			st.CacheHits++
			continue
		}
		misses = append(misses, n)
	}
	if err := c.lookupConnections(ctx, misses, info, &st); err != nil {
		return nil, st, err
	}

	asked := subnetIDsOf(distinct, info, nil)
	subnets, err := c.describeSubnets(ctx, asked, &st)
	if err != nil {
		if ctx.Err() != nil {
			return nil, st, fmt.Errorf("discover: %w", ctx.Err())
		}
		c.describeFailed(ctx, err, asked, distinct, info)
	} else {
		// A cached subnet that EC2 no longer knows was deleted, or the
		// connection was moved: ask Glue again before calling it unchecked.
		var stale []string
		for _, n := range distinct {
			ci := info[n]
			if _, ok := subnets[ci.subnetID]; ci.cached && !ok {
				c.Cache.Invalidate(ctx, n)
				st.CacheInvalidations++
				stale = append(stale, n)
			}
		}
		if len(stale) > 0 {
			if err := c.lookupConnections(ctx, stale, info, &st); err != nil {
				return nil, st, err
			}
			if ids := subnetIDsOf(stale, info, asked); len(ids) > 0 {
				more, err := c.describeSubnets(ctx, ids, &st)
				if err != nil {
					if ctx.Err() != nil {
						return nil, st, fmt.Errorf("discover: %w", ctx.Err())
					}
					c.describeFailed(ctx, err, ids, stale, info)
				}
				for id, s := range more {
					subnets[id] = s
				}
			}
		}
		if c.Cache != nil {
			// Only mappings EC2 confirmed, so that a connection to a
			// deleted subnet costs a lookup every time rather than a
			// lookup plus an invalidation. One write per decision: on
			// a database, one transaction however many were learned.
			learned := map[string]string{}
			for _, n := range distinct {
				ci := info[n]
				if _, ok := subnets[ci.subnetID]; ok && !ci.cached && ci.problem == "" {
					learned[n] = ci.subnetID
				}
			}
			if len(learned) > 0 {
				c.Cache.PutMany(ctx, learned)
			}
		}
	}

	out := make([]gluenet.Candidate, len(names))
	for i, n := range names {
		out[i] = c.candidate(ctx, n, info[n], subnets)
	}
	return out, st, nil
}

// Survey reads what ranking a run needs: the job (JobNeeds) and its
// candidate connections (Discover). Neither depends on the other, so both
// go at the same time, unless Concurrency is 1: then the job is read first
// and the connections only when that succeeded, one call at a time in a
// fixed order (the lab relies on it to repeat a seed). An error reading the
// job wins over one discovering the connections.
func (c *Client) Survey(ctx context.Context, job string, overrideIPs int, connections []string) (gluenet.Job, []gluenet.Candidate, error) {
	if c.Concurrency == 1 {
		j, err := c.JobNeeds(ctx, job, overrideIPs)
		if err != nil {
			return j, nil, err
		}
		cands, _, err := c.Discover(ctx, connections)
		return j, cands, err
	}
	var (
		j    gluenet.Job
		jerr error
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		j, jerr = c.JobNeeds(ctx, job, overrideIPs)
	}()
	cands, _, err := c.Discover(ctx, connections)
	<-done
	if jerr != nil {
		return j, nil, jerr
	}
	return j, cands, err
}

// candidate turns what discovery learned about one connection into a
// Candidate, warning about the ones that cannot be checked.
func (c *Client) candidate(ctx context.Context, name string, ci *connInfo, subnets map[string]ec2types.Subnet) gluenet.Candidate {
	cand := gluenet.Candidate{Connection: name, SubnetID: ci.subnetID, AZ: ci.az, Problem: ci.problem, Missing: ci.missing}
	if cand.Problem != "" {
		return cand
	}
	s, ok := subnets[ci.subnetID]
	switch {
	case !ok:
		cand.Problem = fmt.Sprintf("subnet %s not found", ci.subnetID)
	case s.AvailableIpAddressCount == nil:
		cand.Problem = fmt.Sprintf("subnet %s reports no free IP count", ci.subnetID)
	default:
		cand.FreeIPs = int(*s.AvailableIpAddressCount)
		cand.Checked = true
		cand.UsableIPs = gluenet.SubnetUsableIPs(aws.ToString(s.CidrBlock))
	}
	if az := aws.ToString(s.AvailabilityZone); az != "" {
		cand.AZ = az
	}
	if !cand.Checked {
		c.logger().DebugContext(ctx, "connection unchecked", "connection", name, "subnet", ci.subnetID, "problem", cand.Problem)
	}
	return cand
}

// listPageSize is the most connections one GetConnections page returns.
const listPageSize = 1000

// lookupConnections learns the subnet of each named connection and records
// it in info. Up to ListAbove names (the concurrency by default), it calls
// GetConnection for each, all at once: one round trip that fetches exactly
// what is needed. Above that, N GetConnection calls would take several
// waves of round trips, so it first lists the account's NETWORK connections
// with GetConnections (one round trip per 1000 connections of the catalog,
// and never more pages than the waves they replace), then looks up
// one by one what the listing did not show: connections of other types, a
// catalog larger than the pages read, or a listing that failed (a policy
// that allows only GetConnection, for instance).
func (c *Client) lookupConnections(ctx context.Context, names []string, info map[string]*connInfo, st *DiscoverStats) error {
	if c.ListAbove >= 0 && len(names) > c.listAbove() {
		names = c.listConnections(ctx, names, info, st)
	}
	results := make([]*connInfo, len(names))
	var g errgroup.Group
	g.SetLimit(c.concurrency())
	for i, n := range names {
		if ctx.Err() != nil {
			break
		}
		st.GetConnectionCalls++
		g.Go(func() error {
			results[i] = c.lookupConnection(ctx, n)
			return nil
		})
	}
	_ = g.Wait() // the goroutines record failures instead of returning them
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("discover: %w", err)
	}
	for i, n := range names {
		info[n] = results[i]
	}
	return nil
}

// listConnections reads GetConnections pages until every name is found, the
// pages run out, or reading another page would cost more round trips than
// looking the rest up one by one. It records the connections found in info
// and returns the names still to look up, in order.
func (c *Client) listConnections(ctx context.Context, names []string, info map[string]*connInfo, st *DiscoverStats) []string {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	found := make(map[string]*connInfo, len(names))
	waves := (len(names) + c.concurrency() - 1) / c.concurrency()
	var token *string
	for page := 0; page < max(1, waves-1) && len(found) < len(want); page++ {
		st.GetConnectionsCalls++
		out, err := c.Glue.GetConnections(ctx, &glue.GetConnectionsInput{
			Filter:       &gluetypes.GetConnectionsFilter{ConnectionType: gluetypes.ConnectionTypeNetwork},
			HidePassword: true,
			MaxResults:   aws.Int32(listPageSize),
			NextToken:    token,
		})
		if err != nil {
			if ctx.Err() == nil {
				c.logger().WarnContext(ctx, "listing connections failed; looking them up one by one", "error", err)
			}
			break
		}
		for i := range out.ConnectionList {
			conn := &out.ConnectionList[i]
			if n := aws.ToString(conn.Name); want[n] && found[n] == nil {
				found[n] = connInfoOf(ctx, c, n, conn)
			}
		}
		if aws.ToString(out.NextToken) == "" || aws.ToString(out.NextToken) == aws.ToString(token) {
			break
		}
		token = out.NextToken
	}
	var rest []string
	for _, n := range names {
		if ci := found[n]; ci != nil {
			info[n] = ci
		} else {
			rest = append(rest, n)
		}
	}
	return rest
}

func (c *Client) lookupConnection(ctx context.Context, name string) *connInfo {
	out, err := c.Glue.GetConnection(ctx, &glue.GetConnectionInput{
		Name: aws.String(name),
		// gluenet needs only the network settings; hiding the password
		// also spares the caller kms:Decrypt on encrypted connections.
		HidePassword: true,
	})
	if err != nil {
		err = fmt.Errorf("get connection %q: %w", name, err)
		if ctx.Err() == nil {
			// At debug level, like every unchecked connection here: the
			// candidate carries the problem, and the caller warns about it
			// once it knows the decision goes on (a GetJob failing at the
			// same time would otherwise print one AWS error per connection).
			c.logger().DebugContext(ctx, "connection lookup failed", "connection", name, "error", err)
		}
		// Glue says the name does not exist: a run of a job listing it
		// would fail, so the caller must refuse it (gluenet.Candidate.Missing).
		return &connInfo{problem: "get connection: " + problemText(err), missing: ErrorCode(err) == "EntityNotFoundException"}
	}
	return connInfoOf(ctx, c, name, out.Connection)
}

// connInfoOf reads a connection's subnet and zone.
func connInfoOf(ctx context.Context, c *Client, name string, conn *gluetypes.Connection) *connInfo {
	var ci connInfo
	if conn != nil && conn.PhysicalConnectionRequirements != nil {
		pcr := conn.PhysicalConnectionRequirements
		ci.subnetID = aws.ToString(pcr.SubnetId)
		ci.az = aws.ToString(pcr.AvailabilityZone)
	}
	if ci.subnetID == "" {
		ci.problem = "connection has no subnet"
		c.logger().DebugContext(ctx, "connection unchecked", "connection", name, "problem", ci.problem)
	}
	return &ci
}

// describeSubnets asks EC2 about the subnets with a subnet-id filter, which,
// unlike SubnetIds, returns the subnets that exist instead of failing the
// whole call when one is unknown.
func (c *Client) describeSubnets(ctx context.Context, ids []string, st *DiscoverStats) (map[string]ec2types.Subnet, error) {
	found := make(map[string]ec2types.Subnet, len(ids))
	for start := 0; start < len(ids); start += maxFilterValues {
		chunk := ids[start:min(start+maxFilterValues, len(ids))]
		var token *string
		for {
			st.DescribeSubnetsCalls++
			page, err := c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{
				Filters:   []ec2types.Filter{{Name: aws.String("subnet-id"), Values: chunk}},
				NextToken: token,
			})
			if err != nil {
				return nil, fmt.Errorf("describe subnets: %w", err)
			}
			for _, s := range page.Subnets {
				found[aws.ToString(s.SubnetId)] = s
			}
			next := aws.ToString(page.NextToken)
			if next == "" || next == aws.ToString(token) {
				break
			}
			token = page.NextToken
		}
	}
	return found, nil
}

// describeFailed leaves unchecked every named connection whose subnet was
// among those asked about.
func (c *Client) describeFailed(ctx context.Context, err error, asked, names []string, info map[string]*connInfo) {
	c.logger().WarnContext(ctx, "subnet lookup failed; their connections are unchecked", "subnets", asked, "error", err)
	problem := "describe subnets: " + problemText(errors.Unwrap(err))
	inAsked := make(map[string]bool, len(asked))
	for _, id := range asked {
		inAsked[id] = true
	}
	for _, n := range names {
		if ci := info[n]; ci.problem == "" && inAsked[ci.subnetID] {
			ci.problem = problem
		}
	}
}

func distinctNames(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := make([]string, 0, len(names))
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// subnetIDsOf lists the distinct subnets of the named connections, in
// order, leaving out those already in skip.
func subnetIDsOf(names []string, info map[string]*connInfo, skip []string) []string {
	seen := make(map[string]bool, len(names)+len(skip))
	for _, id := range skip {
		seen[id] = true
	}
	var ids []string
	for _, n := range names {
		ci := info[n]
		if ci.subnetID == "" || ci.problem != "" || seen[ci.subnetID] {
			continue
		}
		seen[ci.subnetID] = true
		ids = append(ids, ci.subnetID)
	}
	return ids
}
