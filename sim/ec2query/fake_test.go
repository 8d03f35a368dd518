package ec2query

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// fakeBackend is a small in-memory region for the tests: enough of the
// model to answer every operation, record what the handler passed in, and
// fail on demand.
type fakeBackend struct {
	mu      sync.Mutex
	subnets []Subnet
	vpcs    []Vpc
	zones   []AvailabilityZone
	enis    []NetworkInterface
	nextENI int

	// calls records each call as "Op" plus what the handler passed.
	calls []call
	// fail, when set for an operation name, is returned instead of an answer.
	fail map[string]error
}

type call struct {
	op      string
	ids     []string
	filters []Filter
	create  CreateNetworkInterfaceInput
}

// newFake returns a region with one VPC, two AZs, and n subnets alternating
// between the AZs (10.192.N.0/24), like the post's setup but with more
// subnets so that pagination has something to cut.
func newFake(n int) *fakeBackend {
	f := &fakeBackend{
		vpcs: []Vpc{{VpcID: "vpc-0a1b2c3d4e5f60718", CidrBlock: "10.192.0.0/16", State: "available", Tags: map[string]string{"Name": "MWAA-Glue-Blog"}}},
		zones: []AvailabilityZone{
			{ZoneName: "us-east-1a", ZoneID: "use1-az1", State: "available", RegionName: "us-east-1"},
			{ZoneName: "us-east-1b", ZoneID: "use1-az2", State: "available", RegionName: "us-east-1"},
		},
	}
	for i := range n {
		z := f.zones[i%2]
		f.subnets = append(f.subnets, Subnet{
			SubnetID:                fmt.Sprintf("subnet-%017d", i+1),
			VpcID:                   f.vpcs[0].VpcID,
			AvailabilityZone:        z.ZoneName,
			AvailabilityZoneID:      z.ZoneID,
			CidrBlock:               fmt.Sprintf("10.192.%d.0/24", 20+i),
			State:                   "available",
			AvailableIPAddressCount: 251,
			Tags:                    map[string]string{"Name": fmt.Sprintf("private-%d", i+1)},
		})
	}
	return f
}

func (f *fakeBackend) record(c call) error {
	f.calls = append(f.calls, c)
	return f.fail[c.op]
}

// lastCall returns the most recent call to op.
func (f *fakeBackend) lastCall(op string) (call, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.calls) - 1; i >= 0; i-- {
		if f.calls[i].op == op {
			return f.calls[i], true
		}
	}
	return call{}, false
}

// snapshot copies the fake's resources under its lock. Tests must read them
// this way once the server runs: the handler goroutines write them, and the
// socket between those goroutines and the test gives the race detector no
// happens-before edge.
func (f *fakeBackend) snapshot() (subnets []Subnet, vpcs []Vpc, enis []NetworkInterface) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.subnets), slices.Clone(f.vpcs), slices.Clone(f.enis)
}

// count returns how many times op was called.
func (f *fakeBackend) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.op == op {
			n++
		}
	}
	return n
}

// selectItems applies ids and filters the way EC2 does: ids must all exist,
// a filter matches when the attribute has any of its values, filters AND.
func selectItems[T any](items []T, ids []string, filters []Filter, id func(T) string, attr func(T, string) ([]string, bool), notFound func(string) error) ([]T, error) {
	for _, want := range ids {
		if !slices.ContainsFunc(items, func(it T) bool { return id(it) == want }) {
			return nil, notFound(want)
		}
	}
	var out []T
	for _, it := range items {
		if len(ids) > 0 && !slices.Contains(ids, id(it)) {
			continue
		}
		ok := true
		for _, flt := range filters {
			have, known := attr(it, flt.Name)
			if !known {
				return nil, fmt.Errorf("fake backend: filter %q not implemented", flt.Name)
			}
			if !slices.ContainsFunc(flt.Values, func(v string) bool { return slices.Contains(have, v) }) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, it)
		}
	}
	return out, nil
}

func tagAttr(tags map[string]string, name string) ([]string, bool) {
	if key, ok := strings.CutPrefix(name, "tag:"); ok {
		if v, ok := tags[key]; ok {
			return []string{v}, true
		}
		return nil, true
	}
	return nil, false
}

func (f *fakeBackend) DescribeSubnets(_ context.Context, ids []string, filters []Filter) ([]Subnet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(call{op: "DescribeSubnets", ids: ids, filters: filters}); err != nil {
		return nil, err
	}
	return selectItems(f.subnets, ids, filters, func(s Subnet) string { return s.SubnetID },
		func(s Subnet, name string) ([]string, bool) {
			switch name {
			case "vpc-id":
				return []string{s.VpcID}, true
			case "availability-zone":
				return []string{s.AvailabilityZone}, true
			case "subnet-id":
				return []string{s.SubnetID}, true
			case "cidr-block":
				return []string{s.CidrBlock}, true
			case "state":
				return []string{s.State}, true
			}
			return tagAttr(s.Tags, name)
		},
		func(id string) error {
			return &Error{Code: "InvalidSubnetID.NotFound", Message: "The subnet ID '" + id + "' does not exist"}
		})
}

func (f *fakeBackend) DescribeVpcs(_ context.Context, ids []string, filters []Filter) ([]Vpc, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(call{op: "DescribeVpcs", ids: ids, filters: filters}); err != nil {
		return nil, err
	}
	return selectItems(f.vpcs, ids, filters, func(v Vpc) string { return v.VpcID },
		func(v Vpc, name string) ([]string, bool) {
			switch name {
			case "vpc-id":
				return []string{v.VpcID}, true
			case "cidr":
				return []string{v.CidrBlock}, true
			case "is-default":
				return []string{strconv.FormatBool(v.IsDefault)}, true
			}
			return tagAttr(v.Tags, name)
		},
		func(id string) error {
			return &Error{Code: "InvalidVpcID.NotFound", Message: "The vpc ID '" + id + "' does not exist"}
		})
}

func (f *fakeBackend) DescribeAvailabilityZones(_ context.Context, names []string, filters []Filter) ([]AvailabilityZone, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(call{op: "DescribeAvailabilityZones", ids: names, filters: filters}); err != nil {
		return nil, err
	}
	return selectItems(f.zones, names, filters, func(z AvailabilityZone) string { return z.ZoneName },
		func(z AvailabilityZone, name string) ([]string, bool) {
			switch name {
			case "zone-name":
				return []string{z.ZoneName}, true
			case "zone-id":
				return []string{z.ZoneID}, true
			case "state":
				return []string{z.State}, true
			case "region-name":
				return []string{z.RegionName}, true
			}
			return nil, false
		},
		func(name string) error {
			return &Error{Code: "InvalidParameterValue", Message: "Invalid availability zone: [" + name + "]"}
		})
}

func (f *fakeBackend) CreateNetworkInterface(_ context.Context, in CreateNetworkInterfaceInput) (NetworkInterface, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(call{op: "CreateNetworkInterface", create: in}); err != nil {
		return NetworkInterface{}, err
	}
	i := slices.IndexFunc(f.subnets, func(s Subnet) bool { return s.SubnetID == in.SubnetID })
	if i < 0 {
		return NetworkInterface{}, &Error{Code: "InvalidSubnetID.NotFound", Message: "The subnet ID '" + in.SubnetID + "' does not exist"}
	}
	s := &f.subnets[i]
	s.AvailableIPAddressCount -= 1 + in.SecondaryPrivateIPAddressCount
	f.nextENI++
	ip := in.PrivateIPAddress
	if ip == "" {
		prefix, _, _ := strings.Cut(s.CidrBlock, ".0/")
		ip = fmt.Sprintf("%s.%d", prefix, 3+f.nextENI)
	}
	eni := NetworkInterface{
		NetworkInterfaceID: fmt.Sprintf("eni-%017x", f.nextENI),
		SubnetID:           s.SubnetID,
		VpcID:              s.VpcID,
		AvailabilityZone:   s.AvailabilityZone,
		Description:        in.Description,
		PrivateIPAddress:   ip,
		Status:             "available",
		InterfaceType:      "interface",
		Tags:               in.Tags,
	}
	f.enis = append(f.enis, eni)
	return eni, nil
}

func (f *fakeBackend) DeleteNetworkInterface(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(call{op: "DeleteNetworkInterface", ids: []string{id}}); err != nil {
		return err
	}
	i := slices.IndexFunc(f.enis, func(e NetworkInterface) bool { return e.NetworkInterfaceID == id })
	if i < 0 {
		return &Error{Code: "InvalidNetworkInterfaceID.NotFound", Message: "The networkInterface ID '" + id + "' does not exist"}
	}
	f.enis = slices.Delete(f.enis, i, i+1)
	return nil
}

func (f *fakeBackend) DescribeNetworkInterfaces(_ context.Context, ids []string, filters []Filter) ([]NetworkInterface, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.record(call{op: "DescribeNetworkInterfaces", ids: ids, filters: filters}); err != nil {
		return nil, err
	}
	return selectItems(f.enis, ids, filters, func(e NetworkInterface) string { return e.NetworkInterfaceID },
		func(e NetworkInterface, name string) ([]string, bool) {
			switch name {
			case "subnet-id":
				return []string{e.SubnetID}, true
			case "vpc-id":
				return []string{e.VpcID}, true
			case "network-interface-id":
				return []string{e.NetworkInterfaceID}, true
			case "status":
				return []string{e.Status}, true
			case "description":
				return []string{e.Description}, true
			}
			return tagAttr(e.Tags, name)
		},
		func(id string) error {
			return &Error{Code: "InvalidNetworkInterfaceID.NotFound", Message: "The networkInterface ID '" + id + "' does not exist"}
		})
}
