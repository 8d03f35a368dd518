package ec2query

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// awsCLI returns the path of the AWS CLI, skipping the test when it is not
// installed, except in CI, where a missing CLI means the conformance check
// silently stopped running.
func awsCLI(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the AWS CLI is not on PATH and CI=true: install it (pip install awscli) so that the EC2 wire format is checked against botocore")
		}
		t.Skip("skipping: the AWS CLI (aws) is not on PATH; install it with `pip install awscli` to check the EC2 wire format against botocore")
	}
	return path
}

// cli runs the AWS CLI against one endpoint with throwaway credentials and no
// user configuration, so that nothing on the machine changes the result.
type cli struct {
	t        *testing.T
	bin, url string
	env      []string
}

func newCLI(t *testing.T, url string) *cli {
	home := t.TempDir()
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	for _, kv := range os.Environ() {
		// Keep the interpreter's own settings (pyenv and friends), drop
		// anything that configures AWS.
		if strings.HasPrefix(kv, "PYENV") || strings.HasPrefix(kv, "PYTHON") || strings.HasPrefix(kv, "LANG") || strings.HasPrefix(kv, "LC_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY=secret",
		"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
		"AWS_PAGER=",
	)
	return &cli{t: t, bin: awsCLI(t), url: url, env: env}
}

// run returns the CLI's stdout, its stderr and its error (non-nil when the
// command exits non-zero).
func (c *cli) run(args ...string) ([]byte, string, error) {
	c.t.Helper()
	// A guard against a hung subprocess, not a performance assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args = append([]string{"ec2"}, args...)
	args = append(args, "--endpoint-url", c.url, "--region", "us-east-1", "--output", "json")
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.Bytes(), stderr.String(), err
}

// json runs a command that must succeed and decodes its output into v.
func (c *cli) json(v any, args ...string) {
	c.t.Helper()
	out, stderr, err := c.run(args...)
	if err != nil {
		c.t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	if v == nil {
		return
	}
	if err := json.Unmarshal(out, v); err != nil {
		c.t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type cliTag struct{ Key, Value string }

type cliSubnet struct {
	SubnetID                string `json:"SubnetId"`
	VpcID                   string `json:"VpcId"`
	AvailabilityZone        string
	AvailabilityZoneID      string `json:"AvailabilityZoneId"`
	CidrBlock               string
	State                   string
	AvailableIPAddressCount int `json:"AvailableIpAddressCount"`
	Tags                    []cliTag
}

type cliENI struct {
	NetworkInterfaceID string `json:"NetworkInterfaceId"`
	SubnetID           string `json:"SubnetId"`
	PrivateIPAddress   string `json:"PrivateIpAddress"`
	Description        string
	Status             string
	InterfaceType      string
	TagSet             []cliTag
}

// TestAWSCLI checks the wire format against botocore (which boto3 shares)
// by running AWS CLI v1 commands against the handler.
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	fake := newFake(12)
	srv := httptest.NewServer(NewHandler(fake, WithLogger(quietLog)))
	t.Cleanup(srv.Close)
	c := newCLI(t, srv.URL)
	subnets, vpcs, _ := fake.snapshot()

	t.Run("describe-subnets paginates", func(t *testing.T) {
		var out struct{ Subnets []cliSubnet }
		before := fake.count("DescribeSubnets")
		c.json(&out, "describe-subnets", "--page-size", "5")
		if calls := fake.count("DescribeSubnets") - before; calls != 3 {
			t.Errorf("the CLI made %d DescribeSubnets calls for 12 subnets in pages of 5, want 3", calls)
		}
		var got, want []string
		for _, s := range out.Subnets {
			got = append(got, s.SubnetID)
		}
		for _, s := range subnets {
			want = append(want, s.SubnetID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("subnets = %v, want %v", got, want)
		}
		first := out.Subnets[0]
		s := subnets[0]
		wantFirst := cliSubnet{
			SubnetID: s.SubnetID, VpcID: s.VpcID, AvailabilityZone: s.AvailabilityZone, AvailabilityZoneID: s.AvailabilityZoneID,
			CidrBlock: s.CidrBlock, State: s.State, AvailableIPAddressCount: s.AvailableIPAddressCount,
			Tags: []cliTag{{Key: "Name", Value: s.Tags["Name"]}},
		}
		if !reflect.DeepEqual(first, wantFirst) {
			t.Errorf("first subnet = %+v, want %+v", first, wantFirst)
		}
	})

	t.Run("describe-subnets filters and ids", func(t *testing.T) {
		var out struct{ Subnets []cliSubnet }
		c.json(&out, "describe-subnets",
			"--subnet-ids", subnets[0].SubnetID, subnets[1].SubnetID, subnets[3].SubnetID,
			"--filters", "Name=vpc-id,Values="+vpcs[0].VpcID, "Name=availability-zone,Values=us-east-1b")
		got, _ := fake.lastCall("DescribeSubnets")
		wantFilters := []Filter{{Name: "vpc-id", Values: []string{vpcs[0].VpcID}}, {Name: "availability-zone", Values: []string{"us-east-1b"}}}
		if !reflect.DeepEqual(got.filters, wantFilters) || len(got.ids) != 3 {
			t.Errorf("backend got ids %v filters %+v", got.ids, got.filters)
		}
		if len(out.Subnets) != 2 || out.Subnets[0].SubnetID != subnets[1].SubnetID || out.Subnets[1].SubnetID != subnets[3].SubnetID {
			t.Errorf("subnets = %+v", out.Subnets)
		}
	})

	t.Run("describe-vpcs", func(t *testing.T) {
		var out struct {
			Vpcs []struct {
				VpcID     string `json:"VpcId"`
				CidrBlock string
				State     string
				IsDefault bool
				OwnerID   string `json:"OwnerId"`
			}
		}
		c.json(&out, "describe-vpcs")
		if len(out.Vpcs) != 1 || out.Vpcs[0].VpcID != vpcs[0].VpcID || out.Vpcs[0].CidrBlock != "10.192.0.0/16" || out.Vpcs[0].State != "available" || out.Vpcs[0].OwnerID != "123456789012" {
			t.Errorf("vpcs = %+v", out.Vpcs)
		}
	})

	t.Run("describe-availability-zones", func(t *testing.T) {
		var out struct {
			AvailabilityZones []struct {
				ZoneName, State, RegionName string
				ZoneID                      string `json:"ZoneId"`
			}
		}
		c.json(&out, "describe-availability-zones", "--zone-names", "us-east-1b")
		if len(out.AvailabilityZones) != 1 {
			t.Fatalf("zones = %+v", out.AvailabilityZones)
		}
		z := out.AvailabilityZones[0]
		if z.ZoneName != "us-east-1b" || z.ZoneID != "use1-az2" || z.State != "available" || z.RegionName != "us-east-1" {
			t.Errorf("zone = %+v", z)
		}
	})

	var eniID string
	subnet := subnets[2]
	t.Run("create-network-interface", func(t *testing.T) {
		var out struct{ NetworkInterface cliENI }
		c.json(&out, "create-network-interface", "--subnet-id", subnet.SubnetID, "--description", "hog & co",
			"--secondary-private-ip-address-count", "2",
			"--tag-specifications", "ResourceType=network-interface,Tags=[{Key=Name,Value=hog}]")
		got, _ := fake.lastCall("CreateNetworkInterface")
		wantIn := CreateNetworkInterfaceInput{SubnetID: subnet.SubnetID, Description: "hog & co", SecondaryPrivateIPAddressCount: 2, Tags: map[string]string{"Name": "hog"}}
		if !reflect.DeepEqual(got.create, wantIn) {
			t.Errorf("backend got %+v, want %+v", got.create, wantIn)
		}
		e := out.NetworkInterface
		if e.NetworkInterfaceID == "" || e.SubnetID != subnet.SubnetID || e.Description != "hog & co" || e.Status != "available" ||
			e.InterfaceType != "interface" || !strings.HasPrefix(e.PrivateIPAddress, "10.192.22.") || !reflect.DeepEqual(e.TagSet, []cliTag{{Key: "Name", Value: "hog"}}) {
			t.Errorf("created = %+v", e)
		}
		eniID = e.NetworkInterfaceID
	})

	t.Run("describe-network-interfaces", func(t *testing.T) {
		var out struct{ NetworkInterfaces []cliENI }
		c.json(&out, "describe-network-interfaces", "--filters", "Name=subnet-id,Values="+subnet.SubnetID)
		if len(out.NetworkInterfaces) != 1 || out.NetworkInterfaces[0].NetworkInterfaceID != eniID {
			t.Errorf("enis = %+v, want just %s", out.NetworkInterfaces, eniID)
		}
	})

	t.Run("delete-network-interface", func(t *testing.T) {
		c.json(nil, "delete-network-interface", "--network-interface-id", eniID)
		var out struct{ NetworkInterfaces []cliENI }
		c.json(&out, "describe-network-interfaces")
		if len(out.NetworkInterfaces) != 0 {
			t.Errorf("enis after delete = %+v", out.NetworkInterfaces)
		}
	})

	errorTests := []struct {
		name string
		args []string
		want string
	}{
		{
			name: "not found",
			args: []string{"describe-subnets", "--subnet-ids", "subnet-0123456789abcdef0"},
			want: "An error occurred (InvalidSubnetID.NotFound) when calling the DescribeSubnets operation: The subnet ID 'subnet-0123456789abcdef0' does not exist",
		},
		{
			name: "dry run",
			args: []string{"delete-network-interface", "--network-interface-id", "eni-00000001", "--dry-run"},
			want: "An error occurred (DryRunOperation) when calling the DeleteNetworkInterface operation: Request would have succeeded, but DryRun flag is set.",
		},
	}
	for _, tt := range errorTests {
		t.Run("error "+tt.name, func(t *testing.T) {
			_, stderr, err := c.run(tt.args...)
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("aws %v: err = %v, want a non-zero exit", tt.args, err)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}
