package sim

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/gluenet/gluenet/sim/ec2query"
)

// ec2Backend implements ec2query.Backend on the region's model. EC2 shows
// the reported view: ENIs of a run count only once the ENI lag has passed.
type ec2Backend struct{ r *Region }

var _ ec2query.Backend = ec2Backend{}

// EC2 returns the region's EC2 operations as the backend the EC2 query
// handler calls: a direct, non-HTTP entry for in-process callers.
func (r *Region) EC2() ec2query.Backend { return ec2Backend{r} }

func newEC2Handler(r *Region) http.Handler {
	return ec2query.NewHandler(ec2Backend{r},
		ec2query.WithRequestID(r.requestID),
		ec2query.WithLogger(r.log),
		ec2query.WithAccountID(r.sc.AccountID),
		ec2query.WithRegion(r.sc.Region))
}

func (e *ec2Error) api() *ec2query.Error {
	return &ec2query.Error{Code: e.code, Message: e.msg, Status: e.status}
}

// attrs are a resource's values per filter name; a filter matches when any
// value matches any of its patterns. A name the resource lacks matches
// nothing, as in EC2.
type attrs map[string][]string

func (a attrs) match(filters []ec2query.Filter, tags map[string]string) bool {
	for _, f := range filters {
		var vals []string
		switch {
		case strings.HasPrefix(f.Name, "tag:"):
			if v, ok := tags[strings.TrimPrefix(f.Name, "tag:")]; ok {
				vals = []string{v}
			}
		case f.Name == "tag-key":
			vals = slices.Collect(maps.Keys(tags))
		case f.Name == "tag-value":
			vals = slices.Collect(maps.Values(tags))
		default:
			vals = a[f.Name]
		}
		if !anyMatch(f.Values, vals) {
			return false
		}
	}
	return true
}

func anyMatch(patterns, vals []string) bool {
	for _, p := range patterns {
		for _, v := range vals {
			if globMatch(p, v) {
				return true
			}
		}
	}
	return false
}

// globMatch matches EC2 filter wildcards: * is any run of characters, ? any
// one character, and a backslash escapes the next character.
func globMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, `*?\`) {
		return pattern == s
	}
	p, v := []rune(pattern), []rune(s)
	var match func(i, j int) bool
	memo := map[[2]int]bool{}
	match = func(i, j int) bool {
		key := [2]int{i, j}
		if res, ok := memo[key]; ok {
			return res
		}
		var res bool
		switch {
		case i == len(p):
			res = j == len(v)
		case p[i] == '*':
			res = match(i+1, j) || (j < len(v) && match(i, j+1))
		case p[i] == '\\' && i+1 < len(p):
			res = j < len(v) && v[j] == p[i+1] && match(i+2, j+1)
		case p[i] == '?':
			res = j < len(v) && match(i+1, j+1)
		default:
			res = j < len(v) && v[j] == p[i] && match(i+1, j+1)
		}
		memo[key] = res
		return res
	}
	return match(0, 0)
}

func (r *Region) subnetAttrs(s *subnet) attrs {
	z := r.azs[s.az]
	return attrs{
		"availability-zone":          {s.az},
		"availability-zone-id":       {z.id},
		"available-ip-address-count": {strconv.Itoa(s.reportedFree())},
		"cidr-block":                 {s.prefix.String()},
		"default-for-az":             {"false"},
		"map-public-ip-on-launch":    {"false"},
		"owner-id":                   {r.sc.AccountID},
		"state":                      {"available"},
		"subnet-arn":                 {fmt.Sprintf("arn:aws:ec2:%s:%s:subnet/%s", r.sc.Region, r.sc.AccountID, s.id)},
		"subnet-id":                  {s.id},
		"vpc-id":                     {s.vpcID},
	}
}

func (b ec2Backend) DescribeSubnets(ctx context.Context, ids []string, filters []ec2query.Filter) ([]ec2query.Subnet, error) {
	r := b.r
	defer r.lock()()
	for _, id := range ids {
		if _, ok := r.subnets[id]; !ok {
			return nil, &ec2query.Error{Code: "InvalidSubnetID.NotFound",
				Message: fmt.Sprintf("The subnet ID '%s' does not exist", id), Status: 400}
		}
	}
	var out []ec2query.Subnet
	for _, id := range r.subnetOrder {
		s := r.subnets[id]
		if len(ids) > 0 && !slices.Contains(ids, id) {
			continue
		}
		if !r.subnetAttrs(s).match(filters, s.tags) {
			continue
		}
		out = append(out, ec2query.Subnet{
			SubnetID: s.id, VpcID: s.vpcID, AvailabilityZone: s.az,
			AvailabilityZoneID: r.azs[s.az].id, CidrBlock: s.prefix.String(), State: "available",
			AvailableIPAddressCount: s.reportedFree(), Tags: maps.Clone(s.tags),
		})
	}
	return out, nil
}

func (b ec2Backend) DescribeVpcs(ctx context.Context, ids []string, filters []ec2query.Filter) ([]ec2query.Vpc, error) {
	r := b.r
	defer r.lock()()
	for _, id := range ids {
		if id != r.vpc.id {
			return nil, &ec2query.Error{Code: "InvalidVpcID.NotFound",
				Message: fmt.Sprintf("The vpc ID '%s' does not exist", id), Status: 400}
		}
	}
	tags := map[string]string{}
	if r.vpc.name != "" {
		tags["Name"] = r.vpc.name
	}
	a := attrs{
		"cidr":                                  {r.vpc.prefix.String()},
		"cidr-block-association.cidr-block":     {r.vpc.prefix.String()},
		"cidr-block-association.state":          {"associated"},
		"is-default":                            {"false"},
		"owner-id":                              {r.sc.AccountID},
		"state":                                 {"available"},
		"vpc-id":                                {r.vpc.id},
		"dhcp-options-id":                       {r.vpc.dhcpOptionsID()},
		"cidr-block-association.association-id": {r.vpc.cidrAssociationID()},
	}
	if !a.match(filters, tags) {
		return nil, nil
	}
	return []ec2query.Vpc{{VpcID: r.vpc.id, CidrBlock: r.vpc.prefix.String(), State: "available", Tags: tags,
		DhcpOptionsID: r.vpc.dhcpOptionsID(), CidrAssociationID: r.vpc.cidrAssociationID()}}, nil
}

// DescribeAvailabilityZones reports every zone "available", whatever its
// simulated health: during real AZ incidents EC2 kept reporting zones as
// available, and gluenet must learn about outages from failed runs, not from
// this call.
func (b ec2Backend) DescribeAvailabilityZones(ctx context.Context, names []string, filters []ec2query.Filter) ([]ec2query.AvailabilityZone, error) {
	r := b.r
	defer r.lock()()
	for _, n := range names {
		if _, ok := r.azs[n]; !ok {
			return nil, &ec2query.Error{Code: "InvalidParameterValue",
				Message: fmt.Sprintf("Invalid availability zone: [%s]", n), Status: 400}
		}
	}
	var out []ec2query.AvailabilityZone
	for _, name := range r.azOrder {
		z := r.azs[name]
		if len(names) > 0 && !slices.Contains(names, name) {
			continue
		}
		a := attrs{
			"zone-name":     {z.name},
			"zone-id":       {z.id},
			"state":         {"available"},
			"region-name":   {r.sc.Region},
			"group-name":    {r.sc.Region},
			"opt-in-status": {"opt-in-not-required"},
			"zone-type":     {"availability-zone"},
		}
		if !a.match(filters, nil) {
			continue
		}
		out = append(out, ec2query.AvailabilityZone{ZoneName: z.name, ZoneID: z.id, State: "available", RegionName: r.sc.Region})
	}
	return out, nil
}

func (b ec2Backend) CreateNetworkInterface(ctx context.Context, in ec2query.CreateNetworkInterfaceInput) (ec2query.NetworkInterface, error) {
	r := b.r
	defer r.lock()()
	s, ok := r.subnets[in.SubnetID]
	if !ok {
		return ec2query.NetworkInterface{}, &ec2query.Error{Code: "InvalidSubnetID.NotFound",
			Message: fmt.Sprintf("The subnet ID '%s' does not exist", in.SubnetID), Status: 400}
	}
	var primary netip.Addr
	if in.PrivateIPAddress != "" {
		a, err := netip.ParseAddr(in.PrivateIPAddress)
		if err != nil {
			return ec2query.NetworkInterface{}, &ec2query.Error{Code: "InvalidParameterValue",
				Message: fmt.Sprintf("Invalid value '%s' for PrivateIpAddress", in.PrivateIPAddress), Status: 400}
		}
		primary = a
	}
	if in.SecondaryPrivateIPAddressCount < 0 {
		return ec2query.NetworkInterface{}, &ec2query.Error{Code: "InvalidParameterValue",
			Message: "SecondaryPrivateIpAddressCount must not be negative", Status: 400}
	}
	e, err := r.newENI(s, 1+in.SecondaryPrivateIPAddressCount, primary, true)
	if err != nil {
		return ec2query.NetworkInterface{}, err.api()
	}
	// An ENI made through the API is not attached to anything. (EC2's
	// model has no "pending" status for an ENI: available, associated,
	// attaching, in-use, detaching.)
	e.status = "available"
	e.description = in.Description
	if len(in.SecurityGroupIDs) > 0 {
		e.groups = slices.Clone(in.SecurityGroupIDs)
	}
	e.tags = maps.Clone(in.Tags)
	if e.tags == nil {
		e.tags = map[string]string{}
	}
	r.log.Debug("ENI created", "eni", e.id, "subnet", s.id, "ips", len(e.ips))
	return r.eniOut(e), nil
}

func (b ec2Backend) DeleteNetworkInterface(ctx context.Context, id string) error {
	r := b.r
	defer r.lock()()
	e, ok := r.enis[id]
	if !ok || !e.visible {
		return &ec2query.Error{Code: "InvalidNetworkInterfaceID.NotFound",
			Message: fmt.Sprintf("The networkInterface ID '%s' does not exist", id), Status: 400}
	}
	if e.status == "in-use" {
		return &ec2query.Error{Code: "InvalidNetworkInterface.InUse",
			Message: fmt.Sprintf("The network interface '%s' is currently in use.", id), Status: 400}
	}
	r.deleteENI(e)
	return nil
}

func (b ec2Backend) DescribeNetworkInterfaces(ctx context.Context, ids []string, filters []ec2query.Filter) ([]ec2query.NetworkInterface, error) {
	r := b.r
	defer r.lock()()
	for _, id := range ids {
		if e, ok := r.enis[id]; !ok || !e.visible {
			return nil, &ec2query.Error{Code: "InvalidNetworkInterfaceID.NotFound",
				Message: fmt.Sprintf("The networkInterface ID '%s' does not exist", id), Status: 400}
		}
	}
	var list []*eni
	for _, e := range r.enis {
		if e.visible && (len(ids) == 0 || slices.Contains(ids, e.id)) {
			list = append(list, e)
		}
	}
	slices.SortFunc(list, func(a, b *eni) int { return cmp.Compare(a.seq, b.seq) })
	var out []ec2query.NetworkInterface
	for _, e := range list {
		s := r.subnets[e.subnetID]
		ips := make([]string, len(e.ips))
		for i, ip := range e.ips {
			ips[i] = ip.String()
		}
		a := attrs{
			"availability-zone":            {s.az},
			"availability-zone-id":         {r.azs[s.az].id},
			"description":                  {e.description},
			"interface-type":               {e.interfaceType},
			"network-interface-id":         {e.id},
			"owner-id":                     {r.sc.AccountID},
			"private-ip-address":           ips,
			"addresses.private-ip-address": ips,
			"requester-managed":            {strconv.FormatBool(e.requesterManaged)},
			"source-dest-check":            {"true"},
			"status":                       {e.status},
			"subnet-id":                    {e.subnetID},
			"vpc-id":                       {s.vpcID},
		}
		if e.requesterManaged {
			a["requester-id"] = []string{"AROA" + strings.ToUpper(r.sc.AccountID)}
		}
		if !a.match(filters, e.tags) {
			continue
		}
		out = append(out, r.eniOut(e))
	}
	return out, nil
}

func (r *Region) eniOut(e *eni) ec2query.NetworkInterface {
	s := r.subnets[e.subnetID]
	var secondary []string
	for _, ip := range e.ips[1:] {
		secondary = append(secondary, ip.String())
	}
	var groups []ec2query.SecurityGroup
	for _, g := range e.groups {
		name := ""
		if g == r.vpc.defaultSG() {
			name = "default"
		}
		groups = append(groups, ec2query.SecurityGroup{ID: g, Name: name})
	}
	return ec2query.NetworkInterface{
		NetworkInterfaceID: e.id, SubnetID: e.subnetID, VpcID: s.vpcID, AvailabilityZone: s.az,
		Description: e.description, PrivateIPAddress: e.ips[0].String(), Status: e.status,
		InterfaceType: e.interfaceType, RequesterManaged: e.requesterManaged, Tags: maps.Clone(e.tags),
		SecondaryPrivateIPAddresses: secondary, MacAddress: e.macAddress(), Groups: groups,
	}
}
