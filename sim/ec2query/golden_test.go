package ec2query

import (
	"bytes"
	"flag"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestGolden pins the exact bytes of every response shape, so that a change
// in element names, order or escaping shows up in review as a diff of
// testdata/*.xml. The SDK and CLI tests say whether the bytes parse; these
// say whether they changed.
func TestGolden(t *testing.T) {
	t.Parallel()
	const v = "&Version=2016-11-15"
	tests := []struct {
		name   string
		setup  func(*fakeBackend)
		body   string
		status int
	}{
		{name: "describe-subnets", body: "Action=DescribeSubnets" + v, status: 200},
		{name: "describe-subnets-page", body: "Action=DescribeSubnets" + v + "&MaxResults=5", status: 200},
		{name: "describe-subnets-empty", body: "Action=DescribeSubnets" + v + "&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-none", status: 200},
		{
			name: "describe-vpcs", body: "Action=DescribeVpcs" + v, status: 200,
			setup: func(f *fakeBackend) { f.vpcs[0].Tags["Owner"] = `Team "A" & <B>` },
		},
		{name: "describe-availability-zones", body: "Action=DescribeAvailabilityZones" + v, status: 200},
		{
			name: "create-network-interface", status: 200,
			body: "Action=CreateNetworkInterface" + v + "&SubnetId=subnet-00000000000000002&Description=Glue+ENI&ClientToken=abc" +
				"&TagSpecification.1.ResourceType=network-interface&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=hog",
		},
		{
			name: "describe-network-interfaces", body: "Action=DescribeNetworkInterfaces" + v, status: 200,
			setup: func(f *fakeBackend) {
				f.enis = []NetworkInterface{{
					NetworkInterfaceID: "eni-0123456789abcdef0", SubnetID: "subnet-00000000000000001", VpcID: "vpc-0a1b2c3d4e5f60718",
					AvailabilityZone: "us-east-1a", Description: "Attached to Glue using role: arn:aws:iam::123456789012:role/glue",
					PrivateIPAddress: "10.192.20.17", Status: "in-use", InterfaceType: "interface", RequesterManaged: true,
				}}
			},
		},
		{name: "describe-network-interfaces-empty", body: "Action=DescribeNetworkInterfaces" + v, status: 200},
		{
			name: "delete-network-interface", body: "Action=DeleteNetworkInterface" + v + "&NetworkInterfaceId=eni-0123456789abcdef0", status: 200,
			setup: func(f *fakeBackend) { f.enis = []NetworkInterface{{NetworkInterfaceID: "eni-0123456789abcdef0"}} },
		},
		{name: "error-subnet-not-found", body: "Action=DescribeSubnets" + v + "&SubnetId.1=subnet-0123456789abcdef0", status: 400},
		{name: "error-invalid-action", body: "Action=DescribeInstances" + v, status: 400},
		{name: "error-missing-action", body: "Version=2016-11-15", status: 400},
		{name: "error-dry-run", body: "Action=DescribeSubnets" + v + "&DryRun=true", status: 412},
		{name: "error-bad-filter", body: "Action=DescribeSubnets" + v + "&Filter.1.Name=%3Cscript%3E&Filter.1.Value.1=x", status: 400},
		{name: "error-internal", body: "Action=DescribeVpcs" + v, status: 500, setup: func(f *fakeBackend) { f.fail = map[string]error{"DescribeVpcs": os.ErrClosed} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := newFake(6)
			if tt.setup != nil {
				tt.setup(fake)
			}
			h := NewHandler(fake, WithLogger(quietLog), WithRequestID(func() string { return "59dbff89-35bd-4eac-99ed-be587EXAMPLE" }))
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Errorf("status = %d, want %d", w.Code, tt.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/xml;charset=UTF-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			path := filepath.Join("testdata", tt.name+".xml")
			got := w.Body.Bytes()
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("response differs from %s (run with -update if intended)\n got: %s\nwant: %s", path, got, want)
			}
		})
	}
}
