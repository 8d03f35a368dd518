package ec2query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// sequentialIDs returns request IDs req-1, req-2, ... so tests can check
// that the injected source reaches the wire.
func sequentialIDs() func() string {
	var n atomic.Int64
	return func() string { return fmt.Sprintf("req-%d", n.Add(1)) }
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// newSDKClient serves b over a local HTTP server and returns the real EC2
// client pointed at it. Retries are off: an error must reach the test as the
// server sent it, without the SDK's backoff sleeping.
func newSDKClient(t *testing.T, b Backend, opts ...Option) *ec2.Client {
	t.Helper()
	opts = append([]Option{WithLogger(quietLog)}, opts...)
	srv := httptest.NewServer(NewHandler(b, opts...))
	t.Cleanup(srv.Close)
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:  &http.Client{Transport: hideWriterTo{srv.Client().Transport}},
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}
	return ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(srv.URL) })
}

// hideWriterTo works around a client-side race between smithy-go and
// net/http that a loopback server hits often: after writing a request body
// of known length, net/http's writeLoop probes the body once more with
// io.Copy(io.Discard, body), which uses the body's WriteTo. The SDK closes
// the body as soon as the response headers arrive, and smithy-go's closed
// body then answers WriteTo with io.EOF, which io.Copy reports as an error;
// net/http takes it for a failed write and closes the connection while the
// SDK is still reading a response larger than one buffer ("use of closed
// network connection"). Hiding WriteTo makes the probe use Read, whose
// io.EOF means a clean end.
type hideWriterTo struct{ next http.RoundTripper }

type readCloserOnly struct{ io.ReadCloser }

func (t hideWriterTo) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r = r.Clone(r.Context())
		r.Body = readCloserOnly{r.Body}
	}
	return t.next.RoundTrip(r)
}

func subnetIDs(ss []types.Subnet) []string {
	var ids []string
	for _, s := range ss {
		ids = append(ids, aws.ToString(s.SubnetId))
	}
	return ids
}

func TestSDKDescribeSubnets(t *testing.T) {
	t.Parallel()
	fake := newFake(4)
	c := newSDKClient(t, fake)
	ctx := context.Background()

	t.Run("fields", func(t *testing.T) {
		out, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{fake.subnets[1].SubnetID}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Subnets) != 1 {
			t.Fatalf("got %d subnets, want 1", len(out.Subnets))
		}
		s := out.Subnets[0]
		want := fake.subnets[1]
		got := Subnet{
			SubnetID: aws.ToString(s.SubnetId), VpcID: aws.ToString(s.VpcId),
			AvailabilityZone: aws.ToString(s.AvailabilityZone), AvailabilityZoneID: aws.ToString(s.AvailabilityZoneId),
			CidrBlock: aws.ToString(s.CidrBlock), State: string(s.State),
			AvailableIPAddressCount: int(aws.ToInt32(s.AvailableIpAddressCount)),
			Tags:                    map[string]string{},
		}
		for _, tag := range s.Tags {
			got.Tags[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("subnet = %+v, want %+v", got, want)
		}
		if arn := aws.ToString(s.SubnetArn); arn != "arn:aws:ec2:us-east-1:123456789012:subnet/"+want.SubnetID {
			t.Errorf("SubnetArn = %q", arn)
		}
		if out.NextToken != nil {
			t.Errorf("NextToken = %q on the only page", *out.NextToken)
		}
	})

	t.Run("ids and filters reach the backend", func(t *testing.T) {
		filters := []types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{fake.vpcs[0].VpcID}},
			{Name: aws.String("availabilityZone"), Values: []string{"us-east-1b", "us-east-1c"}},
			{Name: aws.String("tag:Name"), Values: []string{"private-2", "private-4"}},
		}
		ids := []string{fake.subnets[0].SubnetID, fake.subnets[1].SubnetID, fake.subnets[3].SubnetID}
		out, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: ids, Filters: filters})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := fake.lastCall("DescribeSubnets")
		wantFilters := []Filter{
			{Name: "vpc-id", Values: []string{fake.vpcs[0].VpcID}},
			{Name: "availability-zone", Values: []string{"us-east-1b", "us-east-1c"}}, // alias made canonical
			{Name: "tag:Name", Values: []string{"private-2", "private-4"}},
		}
		if !reflect.DeepEqual(got.ids, ids) || !reflect.DeepEqual(got.filters, wantFilters) {
			t.Errorf("backend got ids %v filters %+v, want %v %+v", got.ids, got.filters, ids, wantFilters)
		}
		if want := []string{fake.subnets[1].SubnetID, fake.subnets[3].SubnetID}; !slices.Equal(subnetIDs(out.Subnets), want) {
			t.Errorf("subnets = %v, want %v", subnetIDs(out.Subnets), want)
		}
	})

	t.Run("no ids means nil", func(t *testing.T) {
		if _, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{}); err != nil {
			t.Fatal(err)
		}
		got, _ := fake.lastCall("DescribeSubnets")
		if got.ids != nil || got.filters != nil {
			t.Errorf("backend got ids %#v filters %#v, want nil, nil", got.ids, got.filters)
		}
	})
}

func TestSDKPagination(t *testing.T) {
	t.Parallel()
	const n = 12
	fake := newFake(n)
	for i := range n {
		fake.vpcs = append(fake.vpcs, Vpc{VpcID: fmt.Sprintf("vpc-%017d", i), CidrBlock: fmt.Sprintf("10.%d.0.0/16", i), State: "available"})
	}
	c := newSDKClient(t, fake)
	ctx := context.Background()
	for range n {
		if _, err := c.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(fake.subnets[0].SubnetID)}); err != nil {
			t.Fatal(err)
		}
	}

	subnets, vpcs, enis := fake.snapshot()

	t.Run("subnets", func(t *testing.T) {
		var got []string
		pages := 0
		p := ec2.NewDescribeSubnetsPaginator(c, &ec2.DescribeSubnetsInput{MaxResults: aws.Int32(5)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(out.Subnets) > 5 {
				t.Errorf("page %d has %d subnets, MaxResults is 5", pages, len(out.Subnets))
			}
			got = append(got, subnetIDs(out.Subnets)...)
		}
		var want []string
		for _, s := range subnets {
			want = append(want, s.SubnetID)
		}
		if !slices.Equal(got, want) || pages != 3 {
			t.Errorf("got %d pages %v, want 3 pages %v", pages, got, want)
		}
	})

	t.Run("subnets with a filter", func(t *testing.T) {
		var got []string
		p := ec2.NewDescribeSubnetsPaginator(c, &ec2.DescribeSubnetsInput{
			MaxResults: aws.Int32(5),
			Filters:    []types.Filter{{Name: aws.String("availability-zone"), Values: []string{"us-east-1a"}}},
		})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, subnetIDs(out.Subnets)...)
		}
		var want []string
		for _, s := range subnets {
			if s.AvailabilityZone == "us-east-1a" {
				want = append(want, s.SubnetID)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})

	t.Run("vpcs", func(t *testing.T) {
		var got []string
		p := ec2.NewDescribeVpcsPaginator(c, &ec2.DescribeVpcsInput{MaxResults: aws.Int32(5)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range out.Vpcs {
				got = append(got, aws.ToString(v.VpcId))
			}
		}
		var want []string
		for _, v := range vpcs {
			want = append(want, v.VpcID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})

	t.Run("network interfaces", func(t *testing.T) {
		var got []string
		p := ec2.NewDescribeNetworkInterfacesPaginator(c, &ec2.DescribeNetworkInterfacesInput{MaxResults: aws.Int32(5)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range out.NetworkInterfaces {
				got = append(got, aws.ToString(e.NetworkInterfaceId))
			}
		}
		var want []string
		for _, e := range enis {
			want = append(want, e.NetworkInterfaceID)
		}
		if len(want) != n || !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})

	t.Run("item deleted between pages", func(t *testing.T) {
		// The page boundary follows the last returned ENI, not a bare
		// offset, so deleting an ENI already seen skips nothing.
		first, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{MaxResults: aws.Int32(5)})
		if err != nil {
			t.Fatal(err)
		}
		seen := first.NetworkInterfaces
		if _, err := c.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: seen[0].NetworkInterfaceId}); err != nil {
			t.Fatal(err)
		}
		second, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{MaxResults: aws.Int32(5), NextToken: first.NextToken})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := aws.ToString(second.NetworkInterfaces[0].NetworkInterfaceId), enis[5].NetworkInterfaceID; got != want {
			t.Errorf("second page starts at %s, want %s", got, want)
		}
	})
}

func TestSDKDescribeVpcs(t *testing.T) {
	t.Parallel()
	fake := newFake(1)
	fake.vpcs = append(fake.vpcs, Vpc{VpcID: "vpc-default", CidrBlock: "172.31.0.0/16", State: "available", IsDefault: true})
	c := newSDKClient(t, fake)
	out, err := c.DescribeVpcs(context.Background(), &ec2.DescribeVpcsInput{
		Filters: []types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Vpcs) != 1 {
		t.Fatalf("got %d vpcs, want 1", len(out.Vpcs))
	}
	v := out.Vpcs[0]
	if aws.ToString(v.VpcId) != "vpc-default" || aws.ToString(v.CidrBlock) != "172.31.0.0/16" || !aws.ToBool(v.IsDefault) || v.State != types.VpcStateAvailable || aws.ToString(v.OwnerId) != "123456789012" {
		t.Errorf("vpc = %+v", v)
	}
	got, _ := fake.lastCall("DescribeVpcs")
	if want := []Filter{{Name: "is-default", Values: []string{"true"}}}; !reflect.DeepEqual(got.filters, want) {
		t.Errorf("backend filters = %+v, want %+v", got.filters, want)
	}
}

func TestSDKDescribeAvailabilityZones(t *testing.T) {
	t.Parallel()
	fake := newFake(0)
	fake.zones[1].State = "impaired"
	c := newSDKClient(t, fake)
	ctx := context.Background()

	out, err := c.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.AvailabilityZones) != 2 {
		t.Fatalf("got %d zones, want 2", len(out.AvailabilityZones))
	}
	z := out.AvailabilityZones[1]
	if aws.ToString(z.ZoneName) != "us-east-1b" || aws.ToString(z.ZoneId) != "use1-az2" || z.State != types.AvailabilityZoneStateImpaired || aws.ToString(z.RegionName) != "us-east-1" || aws.ToString(z.ZoneType) != "availability-zone" {
		t.Errorf("zone = %+v", z)
	}

	_, err = c.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{
		ZoneNames: []string{"us-east-1a", "us-east-1b"},
		ZoneIds:   []string{"use1-az2"},
		Filters:   []types.Filter{{Name: aws.String("state"), Values: []string{"available", "impaired"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := fake.lastCall("DescribeAvailabilityZones")
	wantFilters := []Filter{{Name: "state", Values: []string{"available", "impaired"}}, {Name: "zone-id", Values: []string{"use1-az2"}}}
	if !slices.Equal(got.ids, []string{"us-east-1a", "us-east-1b"}) || !reflect.DeepEqual(got.filters, wantFilters) {
		t.Errorf("backend got names %v filters %+v, want ZoneId as a zone-id filter", got.ids, got.filters)
	}
}

func TestSDKNetworkInterfaces(t *testing.T) {
	t.Parallel()
	fake := newFake(2)
	c := newSDKClient(t, fake)
	ctx := context.Background()
	subnets, _, _ := fake.snapshot()
	subnet := subnets[1]

	created, err := c.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId:                       aws.String(subnet.SubnetID),
		Description:                    aws.String("pressure <&> test"),
		PrivateIpAddress:               aws.String("10.192.21.50"),
		SecondaryPrivateIpAddressCount: aws.Int32(3),
		Groups:                         []string{"sg-01234567"},
		ClientToken:                    aws.String("tok-1"),
		TagSpecifications: []types.TagSpecification{{
			ResourceType: types.ResourceTypeNetworkInterface,
			Tags:         []types.Tag{{Key: aws.String("purpose"), Value: aws.String("ip-pressure")}, {Key: aws.String("Name"), Value: aws.String("hog")}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := fake.lastCall("CreateNetworkInterface")
	wantIn := CreateNetworkInterfaceInput{
		SubnetID: subnet.SubnetID, Description: "pressure <&> test", PrivateIPAddress: "10.192.21.50",
		SecondaryPrivateIPAddressCount: 3, Tags: map[string]string{"purpose": "ip-pressure", "Name": "hog"}, SecurityGroupIDs: []string{"sg-01234567"},
	}
	if !reflect.DeepEqual(got.create, wantIn) {
		t.Errorf("backend got %+v, want %+v", got.create, wantIn)
	}
	eni := created.NetworkInterface
	if eni == nil {
		t.Fatal("no NetworkInterface in the response")
	}
	id := aws.ToString(eni.NetworkInterfaceId)
	if id == "" || aws.ToString(eni.SubnetId) != subnet.SubnetID || aws.ToString(eni.VpcId) != subnet.VpcID ||
		aws.ToString(eni.AvailabilityZone) != subnet.AvailabilityZone || aws.ToString(eni.Description) != "pressure <&> test" ||
		aws.ToString(eni.PrivateIpAddress) != "10.192.21.50" || eni.Status != types.NetworkInterfaceStatusAvailable ||
		eni.InterfaceType != types.NetworkInterfaceTypeInterface || len(eni.TagSet) != 2 || aws.ToString(created.ClientToken) != "tok-1" {
		t.Errorf("created = %+v", eni)
	}
	if len(eni.PrivateIpAddresses) != 1 || !aws.ToBool(eni.PrivateIpAddresses[0].Primary) || aws.ToString(eni.PrivateDnsName) != "ip-10-192-21-50.ec2.internal" {
		t.Errorf("private addresses = %+v, dns %q", eni.PrivateIpAddresses, aws.ToString(eni.PrivateDnsName))
	}

	desc, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{
		Filters: []types.Filter{{Name: aws.String("subnet-id"), Values: []string{subnet.SubnetID}}, {Name: aws.String("tag:purpose"), Values: []string{"ip-pressure"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(desc.NetworkInterfaces) != 1 || aws.ToString(desc.NetworkInterfaces[0].NetworkInterfaceId) != id {
		t.Errorf("described %+v, want just %s", desc.NetworkInterfaces, id)
	}

	sub, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnet.SubnetID}})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToInt32(sub.Subnets[0].AvailableIpAddressCount); got != 251-4 {
		t.Errorf("free IPs after a 4-address ENI = %d, want %d", got, 251-4)
	}

	if _, err := c.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if d, _ := fake.lastCall("DeleteNetworkInterface"); !slices.Equal(d.ids, []string{id}) {
		t.Errorf("backend deleted %v, want %s", d.ids, id)
	}
	_, err = c.DeleteNetworkInterface(ctx, &ec2.DeleteNetworkInterfaceInput{NetworkInterfaceId: aws.String(id)})
	if code := apiCode(t, err); code != "InvalidNetworkInterfaceID.NotFound" {
		t.Errorf("second delete: code %q, want InvalidNetworkInterfaceID.NotFound", code)
	}
}

// apiCode returns the error code the SDK saw, failing the test when err is
// not an API error.
func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not a smithy.APIError", err, err)
	}
	return ae.ErrorCode()
}

func TestSDKErrors(t *testing.T) {
	t.Parallel()
	fake := newFake(2)
	fake.fail = map[string]error{
		"DescribeVpcs":              errors.New("database on fire"),
		"DescribeAvailabilityZones": &Error{Code: "RequestLimitExceeded", Message: "Request limit exceeded.", Status: 503},
	}
	c := newSDKClient(t, fake, WithRequestID(func() string { return "11111111-2222-4333-8444-555555555555" }))
	ctx := context.Background()

	tests := []struct {
		name    string
		call    func() error
		code    string
		message string
		status  int
	}{
		{
			name: "subnet not found",
			call: func() error {
				_, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-0123456789abcdef0"}})
				return err
			},
			code: "InvalidSubnetID.NotFound", message: "The subnet ID 'subnet-0123456789abcdef0' does not exist", status: 400,
		},
		{
			name: "backend internal error is hidden",
			call: func() error {
				_, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
				return err
			},
			code: "InternalError", message: "An internal error has occurred", status: 500,
		},
		{
			name: "backend status passes through",
			call: func() error {
				_, err := c.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
				return err
			},
			code: "RequestLimitExceeded", message: "Request limit exceeded.", status: 503,
		},
		{
			name: "dry run",
			call: func() error {
				_, err := c.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(fake.subnets[0].SubnetID), DryRun: aws.Bool(true)})
				return err
			},
			code: "DryRunOperation", message: "Request would have succeeded, but DryRun flag is set.", status: 412,
		},
		{
			name: "max results too small",
			call: func() error {
				_, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{MaxResults: aws.Int32(1)})
				return err
			},
			code: "InvalidParameterValue", message: "Value ( 1 ) for parameter maxResults is invalid. Expecting a value greater than 5.", status: 400,
		},
		{
			name: "max results too large",
			call: func() error {
				_, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{MaxResults: aws.Int32(1001)})
				return err
			},
			code: "InvalidParameterValue", status: 400,
		},
		{
			name: "eni ids with max results",
			call: func() error {
				_, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: []string{"eni-00000001"}, MaxResults: aws.Int32(5)})
				return err
			},
			code: "InvalidParameterCombination", message: "The parameter networkInterfaceIdSet cannot be used with the parameter maxResults", status: 400,
		},
		{
			name: "unknown filter",
			call: func() error {
				_, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []types.Filter{{Name: aws.String("colour"), Values: []string{"red"}}}})
				return err
			},
			code: "InvalidParameterValue", message: "The filter 'colour' is invalid", status: 400,
		},
		{
			name: "filter valid for another action",
			call: func() error {
				_, err := c.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{Filters: []types.Filter{{Name: aws.String("tag:Name"), Values: []string{"x"}}}})
				return err
			},
			code: "InvalidParameterValue", message: "The filter 'tag:Name' is invalid", status: 400,
		},
		{
			name: "bad next token",
			call: func() error {
				_, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{NextToken: aws.String("not-a-token")})
				return err
			},
			code: "InvalidParameterValue", message: "Value ( not-a-token ) for parameter NextToken is invalid. The token is invalid.", status: 400,
		},
		{
			name: "wrong resource type in tag specification",
			call: func() error {
				_, err := c.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
					SubnetId:          aws.String(fake.subnets[0].SubnetID),
					TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSubnet, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}},
				})
				return err
			},
			code: "InvalidParameterValue", message: "'subnet' is not a valid taggable resource type for this operation.", status: 400,
		},
		{
			name: "ipv4 prefixes are refused",
			call: func() error {
				_, err := c.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(fake.subnets[0].SubnetID), Ipv4PrefixCount: aws.Int32(1)})
				return err
			},
			code: "UnsupportedOperation", status: 400,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if code := apiCode(t, err); code != tt.code {
				t.Errorf("code = %q, want %q (err %v)", code, tt.code, err)
			}
			var ae smithy.APIError
			errors.As(err, &ae)
			if tt.message != "" && ae.ErrorMessage() != tt.message {
				t.Errorf("message = %q, want %q", ae.ErrorMessage(), tt.message)
			}
			var re interface {
				HTTPStatusCode() int
				ServiceRequestID() string
			}
			if !errors.As(err, &re) {
				t.Fatalf("error %v carries no HTTP response", err)
			}
			if re.HTTPStatusCode() != tt.status {
				t.Errorf("status = %d, want %d", re.HTTPStatusCode(), tt.status)
			}
			if re.ServiceRequestID() != "11111111-2222-4333-8444-555555555555" {
				t.Errorf("request id = %q", re.ServiceRequestID())
			}
		})
	}
}

func TestSDKRequestIDOnSuccess(t *testing.T) {
	t.Parallel()
	c := newSDKClient(t, newFake(1), WithRequestID(sequentialIDs()))
	ctx := context.Background()
	for want := 1; want <= 2; want++ {
		out, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		if id != fmt.Sprintf("req-%d", want) {
			t.Errorf("request id = %q, want req-%d", id, want)
		}
	}
}

func TestSDKTokenBoundToQuery(t *testing.T) {
	t.Parallel()
	c := newSDKClient(t, newFake(12))
	ctx := context.Background()
	first, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{MaxResults: aws.Int32(5)})
	if err != nil {
		t.Fatal(err)
	}
	if first.NextToken == nil {
		t.Fatal("no NextToken on a partial page")
	}
	// The token of an unfiltered listing must not page a filtered one.
	_, err = c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{
		MaxResults: aws.Int32(5), NextToken: first.NextToken,
		Filters: []types.Filter{{Name: aws.String("state"), Values: []string{"available"}}},
	})
	if code := apiCode(t, err); code != "InvalidParameterValue" || !strings.Contains(err.Error(), "NextToken") {
		t.Errorf("reused token: %v", err)
	}
	// A different page size with the same query is fine.
	second, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{MaxResults: aws.Int32(1000), NextToken: first.NextToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Subnets) != 7 || second.NextToken != nil {
		t.Errorf("rest = %d subnets, token %v; want 7 and none", len(second.Subnets), second.NextToken)
	}
}
