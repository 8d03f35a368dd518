package sim

import (
	"net/netip"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// Regressions found by the conformance tests in internal/conformance
// (boto3 and the AWS CLI against the region).

// An ENI created with secondary addresses lists all of them in
// privateIpAddressesSet, the primary first, as EC2 does; the region used to
// list only the primary, so boto3 and the CLI saw one address where the
// subnet had lost three.
func TestENIListsSecondaryAddresses(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	sub := e.r.State().Subnets[0]
	prefix := netip.MustParsePrefix(sub.CIDR)
	for _, secondary := range []int32{0, 2} {
		created, err := e.ec2.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
			SubnetId: aws.String(sub.ID), SecondaryPrivateIpAddressCount: aws.Int32(secondary),
		})
		if err != nil {
			t.Fatalf("CreateNetworkInterface(%d secondary): %v", secondary, err)
		}
		described, err := e.ec2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
			NetworkInterfaceIds: []string{aws.ToString(created.NetworkInterface.NetworkInterfaceId)},
		})
		if err != nil || len(described.NetworkInterfaces) != 1 {
			t.Fatalf("DescribeNetworkInterfaces: %v (%d ENIs)", err, len(described.NetworkInterfaces))
		}
		for _, v := range []struct {
			name string
			ni   *ec2types.NetworkInterface
		}{{"create", created.NetworkInterface}, {"describe", &described.NetworkInterfaces[0]}} {
			name, got := v.name, v.ni
			addrs := got.PrivateIpAddresses
			if len(addrs) != int(secondary)+1 {
				t.Fatalf("%s with %d secondary: %d addresses listed, want %d", name, secondary, len(addrs), secondary+1)
			}
			seen := map[string]bool{}
			for i, a := range addrs {
				ip := aws.ToString(a.PrivateIpAddress)
				primary := aws.ToBool(a.Primary)
				if primary != (i == 0) || (i == 0 && ip != aws.ToString(got.PrivateIpAddress)) {
					t.Errorf("%s: address %d %s primary=%v; want only the first, equal to PrivateIpAddress %s",
						name, i, ip, primary, aws.ToString(got.PrivateIpAddress))
				}
				if a, err := netip.ParseAddr(ip); err != nil || !prefix.Contains(a) || seen[ip] {
					t.Errorf("%s: address %s outside %s or listed twice", name, ip, sub.CIDR)
				}
				seen[ip] = true
			}
		}
	}
	if got := e.r.State().Subnets[0]; got.FreeIPs != sub.FreeIPs-4 {
		t.Errorf("free IPs %d, want %d after ENIs of 1 and 3 addresses", got.FreeIPs, sub.FreeIPs-4)
	}
}
