package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet/sim"
)

// cliVars are the values a CLI session learns as it goes (IDs the region
// chose) and the scenario's values the commands need.
type cliVars struct {
	vpc        string
	s1, s2     sim.SubnetState
	eniA       string
	run1, run2 string
	run3       string
}

// cliResult is what one command produced, with the region's state and call
// counters right after it.
type cliResult struct {
	out   []byte
	st    sim.State
	stats sim.Stats
}

// cliStep is one row of the CLI table: a command, the simulated time to let
// pass before it, and either the error code it must fail with or a check of
// its parsed output.
type cliStep struct {
	name    string
	advance time.Duration
	args    func(v *cliVars) []string
	wantErr string
	check   func(t *testing.T, v *cliVars, r cliResult)
}

const (
	missingSubnet = "subnet-0123456789abcdef0"
	confRole      = "arn:aws:iam::123456789012:role/service-role/AWSGlueServiceRole-Conformance"
	confCommand   = `{"Name":"glueetl","ScriptLocation":"s3://conformance/scripts/job.py","PythonVersion":"3"}`
)

var missingRun = "jr_" + strings.Repeat("0", 64)

func args(a ...string) func(*cliVars) []string { return func(*cliVars) []string { return a } }

// decode parses a command's JSON output, failing the test if it does not.
func decode[T any](t *testing.T, out []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("output is not the expected JSON: %v\n%s", err, out)
	}
	return v
}

type cliTag struct{ Key, Value string }

type cliSubnet struct {
	SubnetID                string `json:"SubnetId"`
	VpcID                   string `json:"VpcId"`
	AvailabilityZone        string
	CidrBlock               string
	State                   string
	AvailableIPAddressCount int `json:"AvailableIpAddressCount"`
	Tags                    []cliTag
}

type cliENI struct {
	NetworkInterfaceID string `json:"NetworkInterfaceId"`
	SubnetID           string `json:"SubnetId"`
	Description        string
	Status             string
	RequesterManaged   bool
	PrivateIPAddress   string `json:"PrivateIpAddress"`
	PrivateIPAddresses []struct {
		PrivateIPAddress string `json:"PrivateIpAddress"`
		Primary          bool
	} `json:"PrivateIpAddresses"`
	TagSet []cliTag
}

type cliRun struct {
	ID           string `json:"Id"`
	JobName      string
	JobRunState  string
	StartedOn    json.RawMessage
	CompletedOn  json.RawMessage
	ErrorMessage string
	Arguments    map[string]string
}

func subnetIDs(ss []cliSubnet) []string {
	var ids []string
	for _, s := range ss {
		ids = append(ids, s.SubnetID)
	}
	return ids
}

// cliTime parses a timestamp as the CLI prints it: CLI v1 passes the wire's
// epoch seconds through, CLI v2 prints ISO 8601.
func cliTime(raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return time.Parse(time.RFC3339Nano, s)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %s: %w", raw, err)
	}
	return time.UnixMilli(int64(f*1000 + 0.5)), nil
}

// checkRun compares a run as the CLI printed it with the region's run.
func checkRun(t *testing.T, got cliRun, st sim.State, state string) {
	t.Helper()
	r := runByID(t, st, got.ID)
	if got.JobRunState != state || r.State != state || got.JobName != r.Job {
		t.Errorf("run %s: CLI says %s/%s, region %s/%s, want %s", got.ID, got.JobName, got.JobRunState, r.Job, r.State, state)
	}
	if started, err := cliTime(got.StartedOn); err != nil || !started.Equal(r.StartedOn) {
		t.Errorf("run %s: StartedOn %s (%v), region %s", got.ID, got.StartedOn, err, r.StartedOn)
	}
	if r.CompletedOn == nil {
		if len(got.CompletedOn) != 0 {
			t.Errorf("run %s: CompletedOn %s for a run still going", got.ID, got.CompletedOn)
		}
		return
	}
	if done, err := cliTime(got.CompletedOn); err != nil || !done.Equal(*r.CompletedOn) {
		t.Errorf("run %s: CompletedOn %s (%v), region %s", got.ID, got.CompletedOn, err, *r.CompletedOn)
	}
}

// calls checks that a command made the given number of calls (pages).
func calls(t *testing.T, r cliResult, service, op string, want int) {
	t.Helper()
	if got := r.stats.Calls(service, op); got != want {
		t.Errorf("%s %s: %d calls, want %d (one per page)", service, op, got, want)
	}
}

// cliSteps is the CLI table: every operation the region serves, in an order
// where each step can rely on the ones before it.
var cliSteps = []cliStep{
	// EC2.
	{name: "ec2 describe-availability-zones", args: args("ec2", "describe-availability-zones"),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			out := decode[struct {
				AvailabilityZones []struct{ ZoneName, ZoneId, State string }
			}](t, r.out)
			var got, want []string
			for _, z := range out.AvailabilityZones {
				got = append(got, z.ZoneName+"/"+z.ZoneId+"/"+z.State)
			}
			for _, z := range r.st.AZs {
				want = append(want, z.Name+"/"+z.ID+"/available")
			}
			if !slices.Equal(got, want) {
				t.Errorf("zones %v, region has %v", got, want)
			}
		}},
	{name: "ec2 describe-vpcs", args: args("ec2", "describe-vpcs"),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			out := decode[struct {
				Vpcs []struct{ VpcId, CidrBlock, State string }
			}](t, r.out)
			if len(out.Vpcs) != 1 || out.Vpcs[0].VpcId != r.st.VPC.ID || out.Vpcs[0].CidrBlock != r.st.VPC.CIDR {
				t.Errorf("vpcs %+v, region has %+v", out.Vpcs, r.st.VPC)
			}
		}},
	{name: "ec2 describe-subnets paginated", args: args("ec2", "describe-subnets", "--page-size", "5"),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			out := decode[struct{ Subnets []cliSubnet }](t, r.out)
			if len(out.Subnets) != len(r.st.Subnets) {
				t.Fatalf("%d subnets, region has %d", len(out.Subnets), len(r.st.Subnets))
			}
			for i, got := range out.Subnets {
				want := r.st.Subnets[i]
				if got.SubnetID != want.ID || got.CidrBlock != want.CIDR || got.AvailabilityZone != want.AZ ||
					got.VpcID != r.st.VPC.ID || got.AvailableIPAddressCount != want.ReportedFreeIPs || got.State != "available" ||
					!slices.Contains(got.Tags, cliTag{"Name", want.Name}) {
					t.Errorf("subnet %d: %+v, region has %+v", i, got, want)
				}
			}
			calls(t, r, "ec2", "DescribeSubnets", (len(r.st.Subnets)+4)/5)
		}},
	{name: "ec2 describe-subnets vpc-id filter", args: func(v *cliVars) []string {
		return []string{"ec2", "describe-subnets", "--filters", "Name=vpc-id,Values=" + v.vpc}
	}, check: func(t *testing.T, v *cliVars, r cliResult) {
		got := subnetIDs(decode[struct{ Subnets []cliSubnet }](t, r.out).Subnets)
		var want []string
		for _, s := range r.st.Subnets {
			want = append(want, s.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("subnets %v, want %v", got, want)
		}
	}},
	{name: "ec2 describe-subnets availability-zone filter", args: func(v *cliVars) []string {
		return []string{"ec2", "describe-subnets", "--filters", "Name=availability-zone,Values=" + v.s1.AZ}
	}, check: func(t *testing.T, v *cliVars, r cliResult) {
		got := subnetIDs(decode[struct{ Subnets []cliSubnet }](t, r.out).Subnets)
		var want []string
		for _, s := range r.st.Subnets {
			if s.AZ == v.s1.AZ {
				want = append(want, s.ID)
			}
		}
		if !slices.Equal(got, want) || len(want) < 2 {
			t.Errorf("subnets %v, want %v", got, want)
		}
	}},
	{name: "ec2 describe-subnets subnet-id filter", args: func(v *cliVars) []string {
		return []string{"ec2", "describe-subnets", "--filters", "Name=subnet-id,Values=" + v.s2.ID}
	}, check: func(t *testing.T, v *cliVars, r cliResult) {
		if got := subnetIDs(decode[struct{ Subnets []cliSubnet }](t, r.out).Subnets); !slices.Equal(got, []string{v.s2.ID}) {
			t.Errorf("subnets %v, want [%s]", got, v.s2.ID)
		}
	}},
	{name: "ec2 describe-subnets missing id", wantErr: "InvalidSubnetID.NotFound",
		args: args("ec2", "describe-subnets", "--subnet-ids", missingSubnet)},
	{name: "ec2 create-network-interface", args: func(v *cliVars) []string {
		return []string{"ec2", "create-network-interface", "--subnet-id", v.s1.ID, "--secondary-private-ip-address-count", "2",
			"--description", "conformance A", "--tag-specifications", "ResourceType=network-interface,Tags=[{Key=purpose,Value=conformance}]"}
	}, check: func(t *testing.T, v *cliVars, r cliResult) {
		e := decode[struct{ NetworkInterface cliENI }](t, r.out).NetworkInterface
		v.eniA = e.NetworkInterfaceID
		if e.SubnetID != v.s1.ID || e.Description != "conformance A" || e.Status != "available" ||
			!slices.Contains(e.TagSet, cliTag{"purpose", "conformance"}) || !strings.HasPrefix(e.NetworkInterfaceID, "eni-") {
			t.Errorf("ENI %+v", e)
		}
		if len(e.PrivateIPAddresses) != 3 || !e.PrivateIPAddresses[0].Primary || e.PrivateIPAddresses[0].PrivateIPAddress != e.PrivateIPAddress {
			t.Errorf("ENI addresses %+v (primary %s), want 3, the primary first", e.PrivateIPAddresses, e.PrivateIPAddress)
		}
		for _, a := range e.PrivateIPAddresses {
			if !inCIDR(a.PrivateIPAddress, v.s1.CIDR) {
				t.Errorf("address %s outside %s", a.PrivateIPAddress, v.s1.CIDR)
			}
		}
		if s := subnetByID(t, r.st, v.s1.ID); s.FreeIPs != s.Capacity-3 || s.ReportedFreeIPs != s.Capacity-3 {
			t.Errorf("region: %d free (%d reported), want %d", s.FreeIPs, s.ReportedFreeIPs, s.Capacity-3)
		}
	}},
	{name: "ec2 describe-subnets by id", args: func(v *cliVars) []string {
		return []string{"ec2", "describe-subnets", "--subnet-ids", v.s1.ID}
	}, check: func(t *testing.T, v *cliVars, r cliResult) {
		out := decode[struct{ Subnets []cliSubnet }](t, r.out).Subnets
		s := subnetByID(t, r.st, v.s1.ID)
		if len(out) != 1 || out[0].SubnetID != v.s1.ID || out[0].AvailableIPAddressCount != s.Capacity-3 {
			t.Errorf("subnets %+v, want %s with %d free after a 3-address ENI", out, v.s1.ID, s.Capacity-3)
		}
	}},
	{name: "ec2 describe-network-interfaces by id", args: func(v *cliVars) []string {
		return []string{"ec2", "describe-network-interfaces", "--network-interface-ids", v.eniA}
	}, check: func(t *testing.T, v *cliVars, r cliResult) {
		out := decode[struct{ NetworkInterfaces []cliENI }](t, r.out).NetworkInterfaces
		if len(out) != 1 || out[0].NetworkInterfaceID != v.eniA || len(out[0].PrivateIPAddresses) != 3 {
			t.Errorf("ENIs %+v, want %s with 3 addresses", out, v.eniA)
		}
	}},
	{name: "ec2 delete-network-interface", args: func(v *cliVars) []string {
		return []string{"ec2", "delete-network-interface", "--network-interface-id", v.eniA}
	}, check: func(t *testing.T, v *cliVars, r cliResult) {
		if len(strings.TrimSpace(string(r.out))) != 0 {
			t.Errorf("output %q, want none", r.out)
		}
		if s := subnetByID(t, r.st, v.s1.ID); s.FreeIPs != s.Capacity || s.ENIs != 0 {
			t.Errorf("region after the delete: %d free, %d ENIs; want %d and 0", s.FreeIPs, s.ENIs, s.Capacity)
		}
	}},
	{name: "ec2 delete-network-interface again", wantErr: "InvalidNetworkInterfaceID.NotFound", args: func(v *cliVars) []string {
		return []string{"ec2", "delete-network-interface", "--network-interface-id", v.eniA}
	}},
	{name: "ec2 create-network-interface missing subnet", wantErr: "InvalidSubnetID.NotFound",
		args: args("ec2", "create-network-interface", "--subnet-id", missingSubnet)},

	// Glue connections.
	{name: "glue create-connection", args: func(v *cliVars) []string {
		return []string{"glue", "create-connection", "--connection-input", fmt.Sprintf(
			`{"Name":"ConfConn-A","ConnectionType":"NETWORK","ConnectionProperties":{},"PhysicalConnectionRequirements":{"SubnetId":%q,"AvailabilityZone":%q,"SecurityGroupIdList":["sg-0d1e2f3a4b5c6d701"]}}`,
			v.s2.ID, v.s2.AZ)}
	}, check: func(t *testing.T, v *cliVars, r cliResult) {
		// What the CLIs print here depends on the age of their service
		// model; the call must succeed and reach the region once. The
		// get-connection step reads the connection back.
		calls(t, r, "glue", "CreateConnection", 1)
	}},
	{name: "glue create-connection to a missing subnet", args: args("glue", "create-connection", "--connection-input",
		`{"Name":"ConfConn-Gone","ConnectionType":"NETWORK","ConnectionProperties":{},"PhysicalConnectionRequirements":{"SubnetId":"`+missingSubnet+`"}}`),
		check: func(t *testing.T, v *cliVars, r cliResult) { calls(t, r, "glue", "CreateConnection", 1) }},
	{name: "glue create-connection twice", wantErr: "AlreadyExistsException", args: args("glue", "create-connection", "--connection-input",
		`{"Name":"ConfConn-Gone","ConnectionType":"NETWORK","ConnectionProperties":{},"PhysicalConnectionRequirements":{"SubnetId":"`+missingSubnet+`"}}`)},
	{name: "glue get-connection", args: args("glue", "get-connection", "--name", "ConfConn-A"),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			c := decode[struct {
				Connection struct {
					Name, ConnectionType           string
					PhysicalConnectionRequirements struct {
						SubnetId, AvailabilityZone string
						SecurityGroupIdList        []string
					}
				}
			}](t, r.out).Connection
			p := c.PhysicalConnectionRequirements
			if c.Name != "ConfConn-A" || c.ConnectionType != "NETWORK" || p.SubnetId != v.s2.ID || p.AvailabilityZone != v.s2.AZ ||
				!slices.Equal(p.SecurityGroupIdList, []string{"sg-0d1e2f3a4b5c6d701"}) {
				t.Errorf("connection %+v", c)
			}
		}},
	{name: "glue get-connections paginated", args: args("glue", "get-connections", "--page-size", "2"),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			out := decode[struct{ ConnectionList []struct{ Name string } }](t, r.out)
			var got []string
			for _, c := range out.ConnectionList {
				got = append(got, c.Name)
			}
			want := []string{"ConfConn-A", "ConfConn-Gone", "MWAA-Glue-Blog-Subnet1", "MWAA-Glue-Blog-Subnet2"}
			if !slices.Equal(got, want) {
				t.Errorf("connections %v, want %v", got, want)
			}
			calls(t, r, "glue", "GetConnections", 2)
		}},
	{name: "glue delete-connection", args: args("glue", "delete-connection", "--connection-name", "MWAA-Glue-Blog-Subnet1"),
		check: func(t *testing.T, v *cliVars, r cliResult) { calls(t, r, "glue", "DeleteConnection", 1) }},
	{name: "glue get-connection deleted", wantErr: "EntityNotFoundException",
		args: args("glue", "get-connection", "--name", "MWAA-Glue-Blog-Subnet1")},

	// Glue jobs.
	{name: "glue create-job", args: args("glue", "create-job", "--name", "ConfJob", "--role", confRole, "--command", confCommand,
		"--worker-type", "G.1X", "--number-of-workers", "2", "--glue-version", "4.0", "--timeout", "60",
		"--execution-property", `{"MaxConcurrentRuns":1}`, "--connections", `{"Connections":["ConfConn-Gone","ConfConn-A"]}`),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			if got := decode[struct{ Name string }](t, r.out).Name; got != "ConfJob" {
				t.Errorf("Name %q, want ConfJob", got)
			}
		}},
	{name: "glue create-job failing", args: args("glue", "create-job", "--name", "ConfFailJob", "--role", confRole, "--command", confCommand,
		"--worker-type", "G.1X", "--number-of-workers", "2", "--connections", `{"Connections":["ConfConn-Gone"]}`),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			if got := decode[struct{ Name string }](t, r.out).Name; got != "ConfFailJob" {
				t.Errorf("Name %q, want ConfFailJob", got)
			}
		}},
	{name: "glue create-job twice", wantErr: "AlreadyExistsException",
		args: args("glue", "create-job", "--name", "ConfJob", "--role", confRole, "--command", confCommand)},
	{name: "glue get-job", args: args("glue", "get-job", "--job-name", "ConfJob"),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			j := decode[struct {
				Job struct {
					Name, Role, WorkerType, GlueVersion string
					NumberOfWorkers, Timeout            int
					ExecutionProperty                   struct{ MaxConcurrentRuns int }
					Connections                         struct{ Connections []string }
					Command                             struct{ Name, ScriptLocation string }
				}
			}](t, r.out).Job
			if j.Name != "ConfJob" || j.Role != confRole || j.WorkerType != "G.1X" || j.NumberOfWorkers != 2 || j.GlueVersion != "4.0" ||
				j.Timeout != 60 || j.ExecutionProperty.MaxConcurrentRuns != 1 || j.Command.Name != "glueetl" ||
				!slices.Equal(j.Connections.Connections, []string{"ConfConn-Gone", "ConfConn-A"}) {
				t.Errorf("job %+v", j)
			}
		}},
	{name: "glue get-job missing", wantErr: "EntityNotFoundException", args: args("glue", "get-job", "--job-name", "NoSuchJob")},
	{name: "glue get-jobs paginated", args: args("glue", "get-jobs", "--page-size", "2"),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			out := decode[struct{ Jobs []struct{ Name string } }](t, r.out)
			var got []string
			for _, j := range out.Jobs {
				got = append(got, j.Name)
			}
			if want := []string{"AirflowBlogJob", "ConfFailJob", "ConfJob"}; !slices.Equal(got, want) {
				t.Errorf("jobs %v, want %v", got, want)
			}
			calls(t, r, "glue", "GetJobs", 2)
		}},
	{name: "glue update-job", args: args("glue", "update-job", "--job-name", "ConfJob", "--job-update",
		`{"Role":"`+confRole+`","Command":`+confCommand+`,"WorkerType":"G.1X","NumberOfWorkers":3,"GlueVersion":"4.0","Timeout":60,`+
			`"ExecutionProperty":{"MaxConcurrentRuns":1},"Connections":{"Connections":["ConfConn-Gone","ConfConn-A"]}}`),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			if got := decode[struct{ JobName string }](t, r.out).JobName; got != "ConfJob" {
				t.Errorf("JobName %q, want ConfJob", got)
			}
		}},

	// Runs.
	{name: "glue start-job-run", args: args("glue", "start-job-run", "--job-name", "ConfJob", "--arguments", `{"--conformance":"run1"}`),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			v.run1 = decode[struct{ JobRunId string }](t, r.out).JobRunId
			run := runByID(t, r.st, v.run1)
			// The updated job asks for 3 workers; ConfConn-Gone names a
			// missing subnet, so Glue takes ConfConn-A.
			if run.State != "STARTING" || run.RequestedIPs != 3 || run.AllocatedIPs != 3 || run.Connection != "ConfConn-A" || run.SubnetID != v.s2.ID {
				t.Errorf("run in the region: %+v", run)
			}
			// ENI lag: EC2 does not show the run's addresses yet.
			if s := subnetByID(t, r.st, v.s2.ID); s.FreeIPs != s.Capacity-3 || s.ReportedFreeIPs != s.Capacity {
				t.Errorf("subnet %s: %d free, %d reported; want %d and %d", s.ID, s.FreeIPs, s.ReportedFreeIPs, s.Capacity-3, s.Capacity)
			}
		}},
	{name: "glue start-job-run concurrent", wantErr: "ConcurrentRunsExceededException",
		args: args("glue", "start-job-run", "--job-name", "ConfJob")},
	{name: "glue get-job-run running", advance: 90 * time.Second, args: func(v *cliVars) []string {
		return []string{"glue", "get-job-run", "--job-name", "ConfJob", "--run-id", v.run1}
	}, check: func(t *testing.T, v *cliVars, r cliResult) {
		run := decode[struct{ JobRun cliRun }](t, r.out).JobRun
		checkRun(t, run, r.st, "RUNNING")
		if run.Arguments["--conformance"] != "run1" {
			t.Errorf("arguments %v", run.Arguments)
		}
	}},
	{name: "ec2 describe-network-interfaces of the run", args: func(v *cliVars) []string {
		return []string{"ec2", "describe-network-interfaces", "--filters", "Name=subnet-id,Values=" + v.s2.ID}
	}, check: func(t *testing.T, v *cliVars, r cliResult) {
		out := decode[struct{ NetworkInterfaces []cliENI }](t, r.out).NetworkInterfaces
		run := runByID(t, r.st, v.run1)
		var ips []string
		for _, e := range out {
			if !e.RequesterManaged || e.Status != "in-use" || !strings.Contains(e.Description, v.run1) {
				t.Errorf("run ENI %+v: want requester-managed, in-use, described with the run ID", e)
			}
			ips = append(ips, e.PrivateIPAddress)
		}
		if len(out) != 3 || !slices.Contains(ips, run.DriverIP) {
			t.Errorf("ENIs in %s: %v, want the run's 3 with the driver's %s", v.s2.ID, ips, run.DriverIP)
		}
	}},
	{name: "logs get-log-events driver line", args: func(v *cliVars) []string {
		return []string{"logs", "get-log-events", "--log-group-name", "/aws-glue/jobs/output", "--log-stream-name", v.run1, "--start-from-head"}
	}, check: func(t *testing.T, v *cliVars, r cliResult) {
		out := decode[struct{ Events []struct{ Message string } }](t, r.out)
		if len(out.Events) != 1 {
			t.Fatalf("events %+v, want the driver line", out.Events)
		}
		ip, name, err := parseDriverLine(out.Events[0].Message)
		if err != nil {
			t.Fatal(err)
		}
		if run := runByID(t, r.st, v.run1); ip != run.DriverIP || !inCIDR(ip, v.s2.CIDR) || name != v.s2.Name {
			t.Errorf("driver %s in %s; region: %s, subnet %s %s", ip, name, run.DriverIP, v.s2.Name, v.s2.CIDR)
		}
	}},
	{name: "glue batch-stop-job-run", args: func(v *cliVars) []string {
		return []string{"glue", "batch-stop-job-run", "--job-name", "ConfJob", "--job-run-ids", v.run1, missingRun}
	}, check: func(t *testing.T, v *cliVars, r cliResult) {
		out := decode[struct {
			SuccessfulSubmissions []struct{ JobName, JobRunId string }
			Errors                []struct {
				JobRunId    string
				ErrorDetail struct{ ErrorCode string }
			}
		}](t, r.out)
		if len(out.SuccessfulSubmissions) != 1 || out.SuccessfulSubmissions[0].JobRunId != v.run1 ||
			len(out.Errors) != 1 || out.Errors[0].JobRunId != missingRun || out.Errors[0].ErrorDetail.ErrorCode != "EntityNotFoundException" {
			t.Errorf("output %+v", out)
		}
		if run := runByID(t, r.st, v.run1); run.State != "STOPPING" {
			t.Errorf("run in the region: %s, want STOPPING", run.State)
		}
	}},
	{name: "glue get-job-run stopped", advance: 15 * time.Second, args: func(v *cliVars) []string {
		return []string{"glue", "get-job-run", "--job-name", "ConfJob", "--run-id", v.run1}
	}, check: func(t *testing.T, v *cliVars, r cliResult) {
		checkRun(t, decode[struct{ JobRun cliRun }](t, r.out).JobRun, r.st, "STOPPED")
	}},
	{name: "glue start-job-run again", args: args("glue", "start-job-run", "--job-name", "ConfJob"),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			v.run2 = decode[struct{ JobRunId string }](t, r.out).JobRunId
			if run := runByID(t, r.st, v.run2); run.State != "STARTING" {
				t.Errorf("run 2 in the region: %s", run.State)
			}
		}},
	{name: "glue get-job-runs paginated", advance: 12 * time.Minute, args: args("glue", "get-job-runs", "--job-name", "ConfJob", "--page-size", "1"),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			out := decode[struct{ JobRuns []cliRun }](t, r.out).JobRuns
			if len(out) != 2 || out[0].ID != v.run2 || out[1].ID != v.run1 {
				t.Fatalf("runs %+v, want run 2 then run 1", out)
			}
			checkRun(t, out[0], r.st, "SUCCEEDED")
			checkRun(t, out[1], r.st, "STOPPED")
			if calls := r.stats.Calls("glue", "GetJobRuns"); calls < 2 {
				t.Errorf("%d GetJobRuns calls, want one per page", calls)
			}
		}},
	{name: "glue start-job-run failing", args: args("glue", "start-job-run", "--job-name", "ConfFailJob"),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			v.run3 = decode[struct{ JobRunId string }](t, r.out).JobRunId
		}},
	{name: "logs filter-log-events error log", advance: 20 * time.Second, args: func(v *cliVars) []string {
		return []string{"logs", "filter-log-events", "--log-group-name", "/aws-glue/jobs/error", "--log-stream-names", v.run3}
	}, check: func(t *testing.T, v *cliVars, r cliResult) {
		out := decode[struct {
			Events []struct{ LogStreamName, Message string }
		}](t, r.out)
		run := runByID(t, r.st, v.run3)
		if run.State != "FAILED" || run.Error == "" || len(out.Events) != 1 || out.Events[0].Message != run.Error || out.Events[0].LogStreamName != v.run3 {
			t.Errorf("events %+v; region: run %s, error %q", out.Events, run.State, run.Error)
		}
	}},
	{name: "logs filter-log-events paginated", args: args("logs", "filter-log-events", "--log-group-name", "/aws-glue/jobs/output",
		"--filter-pattern", `"driver node"`, "--page-size", "1"),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			out := decode[struct {
				Events []struct{ LogStreamName, Message string }
			}](t, r.out)
			var streams []string
			for _, e := range out.Events {
				ip, _, err := parseDriverLine(e.Message)
				if err != nil {
					t.Error(err)
					continue
				}
				if want := runByID(t, r.st, e.LogStreamName).DriverIP; ip != want {
					t.Errorf("stream %s: driver %s, region says %s", e.LogStreamName, ip, want)
				}
				streams = append(streams, e.LogStreamName)
			}
			if !slices.Equal(streams, []string{v.run1, v.run2}) {
				t.Errorf("driver lines of %v, want runs 1 and 2", streams)
			}
			if calls := r.stats.Calls("logs", "FilterLogEvents"); calls < 2 {
				t.Errorf("%d FilterLogEvents calls, want one per page", calls)
			}
		}},
	{name: "glue delete-job", args: args("glue", "delete-job", "--job-name", "ConfFailJob"),
		check: func(t *testing.T, v *cliVars, r cliResult) {
			if got := decode[struct{ JobName string }](t, r.out).JobName; got != "ConfFailJob" {
				t.Errorf("JobName %q", got)
			}
			if run := runByID(t, r.st, v.run3); !run.JobDeleted {
				t.Errorf("run of the deleted job: %+v", run)
			}
		}},
	{name: "glue get-job deleted", wantErr: "EntityNotFoundException", args: args("glue", "get-job", "--job-name", "ConfFailJob")},
}

var cliErrorRE = regexp.MustCompile(`An error occurred \(([^)]+)\) when calling the (\w+) operation`)

// operationName turns a CLI command ("get-job-run") into its operation
// ("GetJobRun").
func operationName(cmd string) string {
	var b strings.Builder
	for _, w := range strings.Split(cmd, "-") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// TestAWSCLI runs the CLI table against AWS CLI v1 and v2, each against its
// own region.
func TestAWSCLI(t *testing.T) {
	clis := findCLIs(t)
	for _, c := range []struct {
		major   int
		install string
	}{
		{1, "pip install awscli"},
		{2, "apt-get install awscli (Debian's package is AWS CLI v2)"},
	} {
		t.Run(fmt.Sprintf("v%d", c.major), func(t *testing.T) {
			path, ok := clis[c.major]
			if !ok {
				missingTool(t, fmt.Sprintf("AWS CLI v%d", c.major), c.install)
			}
			t.Parallel()
			runCLITable(t, path)
		})
	}
}

func runCLITable(t *testing.T, bin string) {
	tr := startRegion(t)
	env := clientEnv(t)
	runner := newCLIRunner(t, bin, env)
	t.Logf("running %s: %s", bin, runner.mode())
	common := []string{"--endpoint-url", tr.endpoint, "--region", "us-east-1", "--output", "json"}

	// The driver runs the CLI's entry function in one interpreter; the
	// real executable must print exactly the same for the same command.
	if !t.Run("entry point", func(t *testing.T) {
		a := append([]string{"ec2", "describe-vpcs"}, common...)
		want, wantErr, wantRC, err := execRunner{bin: bin, env: env}.run(a)
		if err != nil || wantRC != 0 {
			t.Fatalf("aws %s: rc %d, %v\n%s", strings.Join(a, " "), wantRC, err, wantErr)
		}
		got, gotErr, gotRC, err := runner.run(a)
		if err != nil || gotRC != 0 || !bytes.Equal(got, want) {
			t.Fatalf("through %s: rc %d, %v, stdout %q, stderr %q; the executable printed %q",
				runner.mode(), gotRC, err, got, gotErr, want)
		}
	}) {
		t.FailNow()
	}

	st := tr.region.State()
	v := &cliVars{vpc: st.VPC.ID, s1: subnetByName(t, st, "PrivateSubnet1"), s2: subnetByName(t, st, "PrivateSubnet2")}
	for _, step := range cliSteps {
		ok := t.Run(step.name, func(t *testing.T) {
			tr.clock.Advance(step.advance)
			a := step.args(v)
			tr.region.ResetStats()
			stdout, stderr, rc, err := runner.run(append(slices.Clone(a), common...))
			if err != nil {
				t.Fatal(err)
			}
			res := cliResult{out: stdout, st: tr.region.State(), stats: tr.region.Stats()}
			if step.wantErr == "" {
				if rc != 0 {
					t.Fatalf("aws %s: exit %d\n%s", strings.Join(a, " "), rc, stderr)
				}
				step.check(t, v, res)
				return
			}
			m := cliErrorRE.FindStringSubmatch(stderr)
			if rc == 0 || m == nil {
				t.Fatalf("aws %s: want error %s, got exit %d, stderr %q, stdout %s", strings.Join(a, " "), step.wantErr, rc, stderr, stdout)
			}
			if m[1] != step.wantErr || m[2] != operationName(a[1]) {
				t.Errorf("aws %s: error %s from %s, want %s from %s", strings.Join(a, " "), m[1], m[2], step.wantErr, operationName(a[1]))
			}
		})
		if !ok {
			// Later steps build on this one (IDs, runs, clock).
			t.Fatalf("step %q failed; the steps after it depend on it", step.name)
		}
	}
}
