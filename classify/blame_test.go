package classify

import (
	"testing"

	"github.com/gluenet/gluenet"
)

// TestBlame: health memory blames the place Glue's text names, else the
// place the plan expected the run to use.
func TestBlame(t *testing.T) {
	placements := []gluenet.Placement{
		{Candidate: gluenet.Candidate{Connection: "c1", SubnetID: "subnet-0aaaaaaaaaaaaaaaa", AZ: "us-east-1a"}},
		{Candidate: gluenet.Candidate{Connection: "c2", SubnetID: "subnet-0bbbbbbbbbbbbbbbb", AZ: "us-east-1b"}},
	}
	const expSubnet, expAZ = "subnet-0aaaaaaaaaaaaaaaa", "us-east-1a"
	tests := []struct {
		name, msg          string
		wantSubnet, wantAZ string
	}{
		{"the other zone named (both zones down): the zone, no subnet",
			"Could not find subnet for AZ us-east-1b", "", "us-east-1b"},
		{"the expected zone named: the expected subnet and zone",
			"Could not find subnet for AZ us-east-1a", expSubnet, expAZ},
		{"the other subnet named: it, with its zone from the plan",
			"JobName:j and JobRunId:jr_1 failed to execute with exception Number of IP addresses on subnet is 0: subnet-0bbbbbbbbbbbbbbbb (Service: AWSGlueJobExecutor; Status Code: 400; Error Code: InvalidInputException; Request ID: x; Proxy: null)",
			"subnet-0bbbbbbbbbbbbbbbb", "us-east-1b"},
		{"a subnet the plan does not list: it, zone unknown",
			"VPC S3 endpoint validation failed for SubnetId: subnet-0d3103b0eba8bb171. VPC: vpc-00b620cb44f4a3935. Reason: Could not find S3 endpoint or NAT gateway for subnetId: subnet-0d3103b0eba8bb171 in Vpc vpc-00b620cb44f4a3935",
			"subnet-0d3103b0eba8bb171", ""},
		{"nothing named: the expected place",
			"Number of IP addresses on subnet is 0", expSubnet, expAZ},
		{"a zone named by a connection error is not blamed",
			"JobName:j and JobRunId:jr_1 failed to execute with exception Availability Zone us-east-1b does not correspond to subnet (Service: AWSGlueJobExecutor; Status Code: 400; Error Code: InvalidInputException; Request ID: x; Proxy: null)",
			expSubnet, expAZ},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := RunOutcome(StateFailed, tt.msg)
			if !v.BlameSubnet && !v.BlameAZ {
				t.Fatalf("%q blames nothing: %v", tt.msg, v)
			}
			s, az := v.Blame(expSubnet, expAZ, placements)
			if s != tt.wantSubnet || az != tt.wantAZ {
				t.Errorf("Blame = %q, %q; want %q, %q", s, az, tt.wantSubnet, tt.wantAZ)
			}
		})
	}
}

func TestNamed(t *testing.T) {
	tests := []struct{ msg, subnet, az string }{
		{"Could not find subnet for AZ us-east-1b", "", "us-east-1b"},
		{"Could not find subnet for AZ use1-az4", "", "use1-az4"},
		{"subnet-0123abcd in eu-west-3c", "subnet-0123abcd", "eu-west-3c"},
		{"subnet-x in us-gov-west-1a", "", "us-gov-west-1a"},
		{"subnet-0123abcdz is not an id", "", ""},
		{"nothing here", "", ""},
	}
	for _, tt := range tests {
		if s, az := Named(tt.msg); s != tt.subnet || az != tt.az {
			t.Errorf("Named(%q) = %q, %q; want %q, %q", tt.msg, s, az, tt.subnet, tt.az)
		}
	}
}
