package sim

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/gluenet/gluenet/sim/ec2query"
)

func ec2CreateInput(subnetID string) ec2query.CreateNetworkInterfaceInput {
	return ec2query.CreateNetworkInterfaceInput{SubnetID: subnetID, Description: "made-by-test"}
}

func filter(name string, values ...string) ec2types.Filter {
	return ec2types.Filter{Name: aws.String(name), Values: values}
}

func TestDescribeSubnets(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	tests := []struct {
		name    string
		in      *ec2.DescribeSubnetsInput
		want    []string
		wantErr string
	}{
		{"all", &ec2.DescribeSubnetsInput{}, []string{sub1, sub2}, ""},
		{"by id", &ec2.DescribeSubnetsInput{SubnetIds: []string{sub2}}, []string{sub2}, ""},
		{"unknown id fails the call", &ec2.DescribeSubnetsInput{SubnetIds: []string{sub1, "subnet-0000000000000beef"}}, nil, "InvalidSubnetID.NotFound"},
		{"vpc-id", &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("vpc-id", "vpc-0c3f1b2a9d8e7f601")}}, []string{sub1, sub2}, ""},
		{"other vpc", &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("vpc-id", "vpc-other")}}, nil, ""},
		{"availability-zone", &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("availability-zone", "us-east-1b")}}, []string{sub2}, ""},
		{"subnet-id filter", &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("subnet-id", sub1)}}, []string{sub1}, ""},
		{"state", &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("state", "available")}}, []string{sub1, sub2}, ""},
		{"Name tag", &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("tag:Name", "PrivateSubnet1")}}, []string{sub1}, ""},
		{"wildcard", &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("cidr-block", "10.192.21.*")}}, []string{sub2}, ""},
		{"two filters are ANDed", &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
			filter("availability-zone", "us-east-1a", "us-east-1b"), filter("tag:Name", "PrivateSubnet2")}}, []string{sub2}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := e.ec2.DescribeSubnets(ctx, tt.in)
			if errorCode(err) != tt.wantErr {
				t.Fatalf("error %v, want code %q", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			var got []string
			for _, s := range out.Subnets {
				got = append(got, *s.SubnetId)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("subnets = %q, want %q", got, tt.want)
			}
		})
	}
	out, err := e.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{sub1}})
	mustOK(t, err)
	s := out.Subnets[0]
	if aws.ToString(s.CidrBlock) != "10.192.20.0/24" || aws.ToString(s.AvailabilityZone) != "us-east-1a" ||
		aws.ToString(s.AvailabilityZoneId) != "use1-az1" || aws.ToInt32(s.AvailableIpAddressCount) != 251 {
		t.Errorf("subnet = cidr %s az %s (%s) free %d", aws.ToString(s.CidrBlock), aws.ToString(s.AvailabilityZone),
			aws.ToString(s.AvailabilityZoneId), aws.ToInt32(s.AvailableIpAddressCount))
	}
}

func TestDescribeVpcsAndZones(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	vpcs, err := e.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-0c3f1b2a9d8e7f601"}})
	mustOK(t, err)
	if len(vpcs.Vpcs) != 1 || aws.ToString(vpcs.Vpcs[0].CidrBlock) != "10.192.0.0/16" {
		t.Errorf("vpcs = %+v", vpcs.Vpcs)
	}
	if _, err := e.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{"vpc-nope"}}); errorCode(err) != "InvalidVpcID.NotFound" {
		t.Errorf("unknown VPC: %v", err)
	}
	vpcs, err = e.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{filter("is-default", "true")}})
	mustOK(t, err)
	if len(vpcs.Vpcs) != 0 {
		t.Errorf("is-default=true matched the scenario's VPC")
	}

	mustOK(t, e.r.SetAZState("us-east-1a", AZDown))
	zones, err := e.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	mustOK(t, err)
	var got []string
	for _, z := range zones.AvailabilityZones {
		got = append(got, aws.ToString(z.ZoneName)+"/"+aws.ToString(z.ZoneId)+"/"+string(z.State))
	}
	want := []string{"us-east-1a/use1-az1/available", "us-east-1b/use1-az2/available", "us-east-1c/use1-az3/available"}
	if !slices.Equal(got, want) {
		t.Errorf("zones = %q, want %q (EC2 does not report Glue's AZ health)", got, want)
	}
	if _, err := e.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{"us-east-1z"}}); errorCode(err) != "InvalidParameterValue" {
		t.Errorf("unknown zone: %v", err)
	}
}

func TestNetworkInterfaces(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	created, err := e.ec2.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId: aws.String(sub1), Description: aws.String("made-by-test"), SecondaryPrivateIpAddressCount: aws.Int32(2),
	})
	mustOK(t, err)
	ni := created.NetworkInterface
	id := aws.ToString(ni.NetworkInterfaceId)
	ip, err := netip.ParseAddr(aws.ToString(ni.PrivateIpAddress))
	if err != nil || !netip.MustParsePrefix("10.192.20.0/24").Contains(ip) || ip.As4()[3] < 4 || ip.As4()[3] == 255 {
		t.Errorf("ENI address %q is not a usable address of the subnet", aws.ToString(ni.PrivateIpAddress))
	}
	// Not attached: available (EC2's model has no "pending" ENI status).
	if !strings.HasPrefix(id, "eni-") || ni.Status != ec2types.NetworkInterfaceStatusAvailable {
		t.Errorf("ENI %q status %s, want available", id, ni.Status)
	}
	if mac := aws.ToString(ni.MacAddress); !regexp.MustCompile(`^02(:[0-9a-f]{2}){5}$`).MatchString(mac) {
		t.Errorf("MAC address %q", mac)
	}
	if len(ni.Groups) != 1 || aws.ToString(ni.Groups[0].GroupName) != "default" || !strings.HasPrefix(aws.ToString(ni.Groups[0].GroupId), "sg-") {
		t.Errorf("an ENI created without groups is in the VPC's default group, got %+v", ni.Groups)
	}
	withSG, err := e.ec2.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(sub1), Groups: []string{"sg-0123456789abcdef0"}})
	mustOK(t, err)
	if g := withSG.NetworkInterface.Groups; len(g) != 1 || aws.ToString(g[0].GroupId) != "sg-0123456789abcdef0" {
		t.Errorf("groups given are kept, got %+v", g)
	}
	_, err = e.ec2.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: withSG.NetworkInterface.NetworkInterfaceId})
	mustOK(t, err)
	if got := e.reportedFree(t, sub1); got != 248 {
		t.Errorf("free after an ENI with 3 addresses = %d, want 248", got)
	}

	desc, err := e.ec2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []ec2types.Filter{filter("description", "made-by-*"), filter("subnet-id", sub1)}})
	mustOK(t, err)
	if len(desc.NetworkInterfaces) != 1 || aws.ToString(desc.NetworkInterfaces[0].NetworkInterfaceId) != id {
		t.Errorf("described %+v, want %s", desc.NetworkInterfaces, id)
	}

	t.Run("chosen address", func(t *testing.T) {
		tests := []struct{ ip, wantErr string }{
			{"10.192.21.10", ""},
			{"10.192.21.10", "InvalidIPAddress.InUse"},
			{"10.192.21.1", "InvalidParameterValue"},
			{"10.192.21.255", "InvalidParameterValue"},
			{"10.192.20.10", "InvalidParameterValue"},
			{"not-an-ip", "InvalidParameterValue"},
		}
		for _, tt := range tests {
			_, err := e.ec2.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(sub2), PrivateIpAddress: aws.String(tt.ip)})
			if errorCode(err) != tt.wantErr {
				t.Errorf("address %s: %v, want %q", tt.ip, err, tt.wantErr)
			}
		}
	})

	_, err = e.ec2.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(id)})
	mustOK(t, err)
	if got := e.reportedFree(t, sub1); got != 251 {
		t.Errorf("free after the delete = %d, want 251", got)
	}
	if _, err := e.ec2.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(id)}); errorCode(err) != "InvalidNetworkInterfaceID.NotFound" {
		t.Errorf("second delete: %v", err)
	}
	if _, err := e.ec2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{id}}); errorCode(err) != "InvalidNetworkInterfaceID.NotFound" {
		t.Errorf("describe a deleted ENI: %v", err)
	}

	t.Run("full subnet", func(t *testing.T) {
		mustOK(t, e.r.Exhaust(sub1, 0))
		_, err := e.ec2.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(sub1)})
		if errorCode(err) != "InsufficientFreeAddressesInSubnet" {
			t.Errorf("ENI in a full subnet: %v", err)
		}
		mustOK(t, e.r.Exhaust(sub1, 251))
	})
	t.Run("unknown subnet", func(t *testing.T) {
		_, err := e.ec2.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String("subnet-0000000000000beef")})
		if errorCode(err) != "InvalidSubnetID.NotFound" {
			t.Errorf("ENI in an unknown subnet: %v", err)
		}
	})
}

// Glue's ENIs show in EC2's describe calls only after the lag, as
// requester-managed interfaces described after the job's role.
func TestGlueENIsInEC2(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	e.setConnections(t, conn1)
	id := e.start(t, blogJob)
	managed := func() []ec2types.NetworkInterface {
		out, err := e.ec2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
			Filters: []ec2types.Filter{filter("requester-managed", "true"), filter("subnet-id", sub1)}})
		mustOK(t, err)
		return out.NetworkInterfaces
	}
	if got := managed(); len(got) != 0 {
		t.Errorf("%d Glue ENIs visible before the lag", len(got))
	}
	e.at(time.Minute)
	got := managed()
	if len(got) != 2 {
		t.Fatalf("%d Glue ENIs after the lag, want 2", len(got))
	}
	wantDesc := "Attached to Glue using role: arn:aws:iam::123456789012:role/service-role/AWSGlueServiceRole-Blog (job run " + id + ")"
	for _, ni := range got {
		if aws.ToString(ni.Description) != wantDesc || ni.Status != ec2types.NetworkInterfaceStatusInUse || ni.InterfaceType != ec2types.NetworkInterfaceTypeInterface {
			t.Errorf("Glue ENI = %q %s %s", aws.ToString(ni.Description), ni.Status, ni.InterfaceType)
		}
	}
	_, err := e.ec2.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: got[0].NetworkInterfaceId})
	if errorCode(err) != "InvalidNetworkInterface.InUse" {
		t.Errorf("deleting a Glue ENI: %v", err)
	}
}

// TestVPCAndSubnetMembers: the members AWS returns for every VPC and subnet
// and that clients read (issue 11).
func TestVPCAndSubnetMembers(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	vpcs, err := e.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	mustOK(t, err)
	v := vpcs.Vpcs[0]
	if len(v.CidrBlockAssociationSet) != 1 || aws.ToString(v.CidrBlockAssociationSet[0].CidrBlock) != aws.ToString(v.CidrBlock) ||
		v.CidrBlockAssociationSet[0].CidrBlockState == nil || v.CidrBlockAssociationSet[0].CidrBlockState.State != "associated" ||
		!strings.HasPrefix(aws.ToString(v.CidrBlockAssociationSet[0].AssociationId), "vpc-cidr-assoc-") {
		t.Errorf("CidrBlockAssociationSet = %+v", v.CidrBlockAssociationSet)
	}
	if !strings.HasPrefix(aws.ToString(v.DhcpOptionsId), "dopt-") {
		t.Errorf("DhcpOptionsId = %q", aws.ToString(v.DhcpOptionsId))
	}
	byDhcp, err := e.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("dhcp-options-id"), Values: []string{aws.ToString(v.DhcpOptionsId)}}}})
	mustOK(t, err)
	if len(byDhcp.Vpcs) != 1 {
		t.Errorf("the dhcp-options-id filter does not find the VPC by its DhcpOptionsId")
	}
	subnets, err := e.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	mustOK(t, err)
	for _, s := range subnets.Subnets {
		if s.Ipv6Native == nil || *s.Ipv6Native || s.PrivateDnsNameOptionsOnLaunch == nil ||
			s.PrivateDnsNameOptionsOnLaunch.HostnameType != "ip-name" {
			t.Errorf("subnet %s: Ipv6Native %v, PrivateDnsNameOptionsOnLaunch %+v", aws.ToString(s.SubnetId), s.Ipv6Native, s.PrivateDnsNameOptionsOnLaunch)
		}
	}
}
