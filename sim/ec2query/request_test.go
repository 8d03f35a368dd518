package ec2query

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseRequest(t *testing.T) {
	t.Parallel()
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        string
		want        *Request
		wantCode    string
		wantStatus  int
	}{
		{
			name: "sdk post", method: "POST", target: "/", contentType: form,
			body: "Action=DescribeSubnets&Version=2016-11-15&SubnetId.1=subnet-a&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1",
			want: &Request{Action: "DescribeSubnets", Version: "2016-11-15", Params: map[string]string{"SubnetId.1": "subnet-a", "Filter.1.Name": "vpc-id", "Filter.1.Value.1": "vpc-1"}},
		},
		{
			name: "botocore content type with charset", method: "POST", target: "/", contentType: form + "; charset=utf-8",
			body: "Action=DescribeVpcs&Version=2016-11-15",
			want: &Request{Action: "DescribeVpcs", Version: "2016-11-15", Params: map[string]string{}},
		},
		{
			name: "post without content type is read as a form", method: "POST", target: "/",
			body: "Action=DescribeVpcs&Version=2016-11-15",
			want: &Request{Action: "DescribeVpcs", Version: "2016-11-15", Params: map[string]string{}},
		},
		{
			name: "get query string", method: "GET", target: "/?Action=DescribeAvailabilityZones&Version=2016-11-15&ZoneName.1=us-east-1a",
			want: &Request{Action: "DescribeAvailabilityZones", Version: "2016-11-15", Params: map[string]string{"ZoneName.1": "us-east-1a"}},
		},
		{
			name: "presigned signature parameters are dropped", method: "GET",
			target: "/?Action=DescribeVpcs&Version=2016-11-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb&X-Amz-Signature=00&AWSAccessKeyId=AK&SignatureVersion=2",
			want:   &Request{Action: "DescribeVpcs", Version: "2016-11-15", Params: map[string]string{}},
		},
		{
			name: "body wins over query string", method: "POST", target: "/?Action=DescribeVpcs&Extra=q", contentType: form,
			body: "Action=DescribeSubnets&Version=2016-11-15",
			want: &Request{Action: "DescribeSubnets", Version: "2016-11-15", Params: map[string]string{"Extra": "q"}},
		},
		{
			name: "repeated parameter keeps the first value", method: "POST", target: "/", contentType: form,
			body: "Action=DescribeSubnets&Version=2016-11-15&SubnetId.1=a&SubnetId.1=b",
			want: &Request{Action: "DescribeSubnets", Version: "2016-11-15", Params: map[string]string{"SubnetId.1": "a"}},
		},
		{
			name: "json body is not a form", method: "POST", target: "/", contentType: "application/x-amz-json-1.1",
			body: `{"Action":"DescribeSubnets"}`, wantCode: "MissingAction", wantStatus: 400,
		},
		{
			name: "missing action", method: "POST", target: "/", contentType: form,
			body: "Version=2016-11-15", wantCode: "MissingAction", wantStatus: 400,
		},
		{
			name: "empty action", method: "POST", target: "/", contentType: form,
			body: "Action=&Version=2016-11-15", wantCode: "MissingAction", wantStatus: 400,
		},
		{
			name: "missing version", method: "POST", target: "/", contentType: form,
			body: "Action=DescribeSubnets", wantCode: "MissingParameter", wantStatus: 400,
		},
		{
			name: "old version", method: "POST", target: "/", contentType: form,
			body: "Action=DescribeSubnets&Version=2014-10-01", wantCode: "NoSuchVersion", wantStatus: 400,
		},
		{
			name: "bad escape in body", method: "POST", target: "/", contentType: form,
			body: "Action=DescribeSubnets&Version=2016-11-15&SubnetId.1=%zz", wantCode: "MalformedQueryString", wantStatus: 404,
		},
		{
			name: "bad escape in query", method: "GET", target: "/?Action=%zz",
			wantCode: "MalformedQueryString", wantStatus: 404,
		},
		{
			name: "semicolon separator", method: "POST", target: "/", contentType: form,
			body: "Action=DescribeSubnets;Version=2016-11-15", wantCode: "MalformedQueryString", wantStatus: 404,
		},
		{
			name: "body too large", method: "POST", target: "/", contentType: form,
			body: "Action=DescribeSubnets&Version=2016-11-15&Description=" + strings.Repeat("x", maxBodyBytes), wantCode: "MalformedQueryString", wantStatus: 413,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			got, err := ParseRequest(r)
			if tt.wantCode != "" {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("err = %v, want *Error %s", err, tt.wantCode)
				}
				if e.Code != tt.wantCode || e.status() != tt.wantStatus {
					t.Errorf("err = %s (%d), want %s (%d)", e.Code, e.status(), tt.wantCode, tt.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// decode runs one action's parameter decoding against a recording backend
// and returns what the backend received, or the error.
func decode(t *testing.T, body string) (call, *Error) {
	t.Helper()
	fake := newFake(2)
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req, err := ParseRequest(r)
	if err != nil {
		t.Fatalf("parse %q: %v", body, err)
	}
	_, err = operations[req.Action](t.Context(), &handler{b: fake, region: "us-east-1"}, req)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("decode %q: non-API error %v", body, err)
		}
		return call{}, e
	}
	c, _ := fake.lastCall(req.Action)
	return c, nil
}

func TestDecodeParameters(t *testing.T) {
	t.Parallel()
	const v = "&Version=2016-11-15"
	tests := []struct {
		name     string
		body     string
		want     call
		wantCode string
		wantMsg  string
	}{
		{
			name: "list members in numeric order, gaps allowed",
			body: "Action=DescribeSubnets" + v + "&SubnetId.10=subnet-00000000000000002&SubnetId.2=subnet-00000000000000001",
			want: call{op: "DescribeSubnets", ids: []string{"subnet-00000000000000001", "subnet-00000000000000002"}},
		},
		{
			name: "filters in numeric order with values in numeric order",
			body: "Action=DescribeSubnets" + v + "&Filter.10.Name=state&Filter.10.Value.1=available&Filter.2.Name=cidr&Filter.2.Value.11=10.192.21.0/24&Filter.2.Value.3=10.192.20.0/24",
			want: call{op: "DescribeSubnets", filters: []Filter{
				{Name: "cidr-block", Values: []string{"10.192.20.0/24", "10.192.21.0/24"}},
				{Name: "state", Values: []string{"available"}},
			}},
		},
		{
			name: "filter without values",
			body: "Action=DescribeVpcs" + v + "&Filter.1.Name=tag:Name",
			want: call{op: "DescribeVpcs", filters: []Filter{{Name: "tag:Name", Values: []string{}}}},
		},
		{
			name: "zone ids become a zone-id filter after the filters",
			body: "Action=DescribeAvailabilityZones" + v + "&ZoneId.1=use1-az1&ZoneName.1=us-east-1a&Filter.1.Name=region-name&Filter.1.Value.1=us-east-1&AllAvailabilityZones=true",
			want: call{op: "DescribeAvailabilityZones", ids: []string{"us-east-1a"}, filters: []Filter{
				{Name: "region-name", Values: []string{"us-east-1"}},
				{Name: "zone-id", Values: []string{"use1-az1"}},
			}},
		},
		{
			name: "create with tags from several specifications",
			body: "Action=CreateNetworkInterface" + v + "&SubnetId=subnet-00000000000000001&SecondaryPrivateIpAddressCount=2&SecurityGroupId.1=sg-00000001&ClientToken=x" +
				"&TagSpecification.1.ResourceType=network-interface&TagSpecification.1.Tag.1.Key=a&TagSpecification.1.Tag.1.Value=1" +
				"&TagSpecification.2.ResourceType=network-interface&TagSpecification.2.Tag.1.Key=b",
			want: call{op: "CreateNetworkInterface", create: CreateNetworkInterfaceInput{
				SubnetID: "subnet-00000000000000001", SecondaryPrivateIPAddressCount: 2, Tags: map[string]string{"a": "1", "b": ""}, SecurityGroupIDs: []string{"sg-00000001"},
			}},
		},
		{
			name:     "unknown parameter",
			body:     "Action=DescribeSubnets" + v + "&SubnetIds.1=subnet-a",
			wantCode: "UnknownParameter", wantMsg: "The parameter SubnetIds.1 is not recognized",
		},
		{
			name:     "list member without index",
			body:     "Action=DescribeSubnets" + v + "&SubnetId=subnet-a",
			wantCode: "UnknownParameter",
		},
		{
			name:     "list index zero",
			body:     "Action=DescribeVpcs" + v + "&VpcId.0=vpc-a",
			wantCode: "UnknownParameter",
		},
		{
			name:     "list index with leading zero",
			body:     "Action=DescribeVpcs" + v + "&VpcId.01=vpc-a",
			wantCode: "UnknownParameter",
		},
		{
			name:     "unknown filter field",
			body:     "Action=DescribeSubnets" + v + "&Filter.1.Name=state&Filter.1.Values.1=available",
			wantCode: "UnknownParameter",
		},
		{
			name:     "filter without name",
			body:     "Action=DescribeSubnets" + v + "&Filter.1.Value.1=available",
			wantCode: "InvalidParameterValue", wantMsg: "The filter 'null' is invalid",
		},
		{
			name:     "bare tag: filter",
			body:     "Action=DescribeSubnets" + v + "&Filter.1.Name=tag:&Filter.1.Value.1=x",
			wantCode: "InvalidParameterValue",
		},
		{
			name:     "too many filter values",
			body:     "Action=DescribeSubnets" + v + "&Filter.1.Name=state" + manyValues(201),
			wantCode: "FilterLimitExceeded",
		},
		{
			name:     "dry run not boolean",
			body:     "Action=DescribeSubnets" + v + "&DryRun=yes",
			wantCode: "InvalidParameterValue",
		},
		{
			name:     "max results not a number",
			body:     "Action=DescribeSubnets" + v + "&MaxResults=ten",
			wantCode: "InvalidParameterValue",
		},
		{
			name:     "max results beyond int32",
			body:     "Action=DescribeSubnets" + v + "&MaxResults=99999999999",
			wantCode: "InvalidParameterValue",
		},
		{
			name:     "dry run after validation: a bad filter still wins",
			body:     "Action=DescribeSubnets" + v + "&DryRun=true&Filter.1.Name=nope",
			wantCode: "InvalidParameterValue",
		},
		{
			name:     "dry run on a valid request",
			body:     "Action=DeleteNetworkInterface" + v + "&DryRun=true&NetworkInterfaceId=eni-00000001",
			wantCode: "DryRunOperation",
		},
		{
			name:     "malformed subnet ID asked by ID",
			body:     "Action=DescribeSubnets" + v + "&SubnetId.1=subnet-0000000a&SubnetId.2=subnet-zz",
			wantCode: "InvalidSubnetID.Malformed", wantMsg: `Invalid id: "subnet-zz"`,
		},
		{
			name:     "malformed subnet ID for a new ENI",
			body:     "Action=CreateNetworkInterface" + v + "&SubnetId=bogus",
			wantCode: "InvalidSubnetID.Malformed", wantMsg: `Invalid id: "bogus"`,
		},
		{
			name:     "uppercase hex is malformed",
			body:     "Action=DescribeSubnets" + v + "&SubnetId.1=subnet-0000000A",
			wantCode: "InvalidSubnetID.Malformed",
		},
		{
			name:     "malformed security group ID",
			body:     "Action=CreateNetworkInterface" + v + "&SubnetId=subnet-0000000a&SecurityGroupId.1=default",
			wantCode: "InvalidGroupId.Malformed",
		},
		{
			name:     "malformed ENI ID to describe",
			body:     "Action=DescribeNetworkInterfaces" + v + "&NetworkInterfaceId.1=eni-nothex",
			wantCode: "InvalidNetworkInterfaceId.Malformed", wantMsg: `Invalid id: "eni-nothex" (expecting "eni-...")`,
		},
		{
			name:     "malformed ENI ID to delete",
			body:     "Action=DeleteNetworkInterface" + v + "&NetworkInterfaceId=nope",
			wantCode: "InvalidNetworkInterfaceId.Malformed",
		},
		{
			name:     "create without subnet",
			body:     "Action=CreateNetworkInterface" + v + "&Description=x",
			wantCode: "MissingParameter", wantMsg: "The request must contain the parameter SubnetId",
		},
		{
			name:     "delete without id",
			body:     "Action=DeleteNetworkInterface" + v,
			wantCode: "MissingParameter",
		},
		{
			name:     "negative secondary count",
			body:     "Action=CreateNetworkInterface" + v + "&SubnetId=subnet-0000000a&SecondaryPrivateIpAddressCount=-1",
			wantCode: "InvalidParameterValue",
		},
		{
			name:     "tag specification without resource type",
			body:     "Action=CreateNetworkInterface" + v + "&SubnetId=subnet-0000000a&TagSpecification.1.Tag.1.Key=a",
			wantCode: "MissingParameter",
		},
		{
			name:     "tag without key",
			body:     "Action=CreateNetworkInterface" + v + "&SubnetId=subnet-0000000a&TagSpecification.1.ResourceType=network-interface&TagSpecification.1.Tag.1.Value=a",
			wantCode: "InvalidParameterValue",
		},
		{
			name:     "reserved tag key",
			body:     "Action=CreateNetworkInterface" + v + "&SubnetId=subnet-0000000a&TagSpecification.1.ResourceType=network-interface&TagSpecification.1.Tag.1.Key=aws:x",
			wantCode: "InvalidParameterValue",
		},
		{
			name: "duplicate tag key",
			body: "Action=CreateNetworkInterface" + v + "&SubnetId=subnet-0000000a&TagSpecification.1.ResourceType=network-interface&TagSpecification.1.Tag.1.Key=a" +
				"&TagSpecification.1.Tag.2.Key=a",
			wantCode: "InvalidParameterValue", wantMsg: "Duplicate tag key 'a' specified.",
		},
		{
			name:     "secondary addresses by list are refused",
			body:     "Action=CreateNetworkInterface" + v + "&SubnetId=subnet-0000000a&PrivateIpAddresses.1.PrivateIpAddress=10.0.0.5",
			wantCode: "UnsupportedOperation",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decode(t, tt.body)
			if tt.wantCode != "" {
				if err == nil {
					t.Fatalf("no error, want %s", tt.wantCode)
				}
				if err.Code != tt.wantCode || (tt.wantMsg != "" && err.Message != tt.wantMsg) {
					t.Errorf("err = %v, want %s %q", err, tt.wantCode, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("backend got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func manyValues(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString("&Filter.1.Value." + strconv.Itoa(i) + "=available")
	}
	return b.String()
}

func TestUnknownAction(t *testing.T) {
	t.Parallel()
	h := NewHandler(newFake(0), WithLogger(quietLog))
	r := httptest.NewRequest("POST", "/", strings.NewReader("Action=RunInstances&Version=2016-11-15"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "<Code>InvalidAction</Code><Message>The action RunInstances is not valid for this web service.</Message>") {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
}

func TestUUIDFrom(t *testing.T) {
	t.Parallel()
	zeros := UUIDFrom(strings.NewReader(strings.Repeat("\x00", 16)))
	if got, want := zeros(), "00000000-0000-4000-8000-000000000000"; got != want {
		t.Errorf("first = %s, want %s", got, want)
	}
	// The reader is now exhausted: the source must still produce a v4 UUID.
	got := zeros()
	if len(got) != 36 || got[14] != '4' || !strings.ContainsAny(got[19:20], "89ab") {
		t.Errorf("fallback = %s, not a v4 UUID", got)
	}
	random := UUIDFrom(nil)
	if a, b := random(), random(); a == b {
		t.Errorf("two random UUIDs are equal: %s", a)
	}
}
