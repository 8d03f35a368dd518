package awsclient

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/gluenet/gluenet/sim"
)

// The adapter tests that need a server run the real SDK clients against two
// independent implementations of the AWS wire protocols:
//
//   - "sim": gluenet's simulated region (package sim), in-process, on a
//     manual clock, a fresh region per test;
//   - "moto": moto's server (see moto_test.go), shared by the tests, which
//     use distinct names. It is skipped when moto_server is missing, unless
//     CI=true.
//
// A wire-format mistake that gluenet and the simulator share passes against
// the sim but not against moto. Operations moto lacks (UpdateJob,
// BatchStopJobRun) run against the sim only, and against the hand-written
// glueServer, which checks the exact request bodies.

// backendNames lists the servers forEachBackend runs a test against.
var backendNames = []string{"sim", "moto"}

// subnetFixture is a subnet a test needs, by role.
type subnetFixture struct {
	role, cidr, az string
	// deleted: the subnet no longer exists when the test runs (moto: it is
	// created and then deleted; sim: its ID never existed, which is what a
	// deleted subnet looks like to EC2 and Glue).
	deleted bool
}

// network is the VPC a test needs; a zero network is a VPC without subnets
// (and on moto, no VPC at all).
type network struct {
	vpcCIDR string
	subnets []subnetFixture
}

// testBackend is one server with real SDK clients pointed at it, and what a
// test needs to build fixtures there through the API.
type testBackend struct {
	name    string
	cfg     aws.Config // with counter's middleware
	counter *callCounter
	glue    *glue.Client
	ec2     *ec2.Client
	// subnet maps the network's roles to subnet IDs.
	subnet map[string]string

	// sim only
	region *sim.Region
	clock  *sim.ManualClock
}

// simStart is the simulated time at which every test region starts.
var simStart = time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)

// forEachBackend runs test as a subtest per backend, each with net built.
// The moto subtest skips (or, with CI=true, fails) without moto_server; the
// sim subtest never skips.
func forEachBackend(t *testing.T, net network, test func(t *testing.T, b *testBackend)) {
	t.Helper()
	for _, name := range backendNames {
		t.Run(name, func(t *testing.T) {
			test(t, newBackend(t, name, net))
		})
	}
}

func newBackend(t *testing.T, name string, net network) *testBackend {
	t.Helper()
	switch name {
	case "sim":
		return newSimBackend(t, simScenario(net))
	case "moto":
		return newMotoBackend(t, net)
	}
	t.Fatalf("unknown backend %q", name)
	return nil
}

func (b *testBackend) isSim() bool { return b.region != nil }

// simScenario is a region holding net: its subnets (but the deleted ones),
// named after their roles, and no connections or jobs, which tests create
// through the API as on moto. Runs of jobs created through the API take
// 1m to start and 10m to run, without jitter.
func simScenario(net network) *sim.Scenario {
	cidr := net.vpcCIDR
	if cidr == "" {
		cidr = "10.20.0.0/16"
	}
	sc := &sim.Scenario{
		Seed:        1,
		VPC:         sim.VPCSpec{ID: "vpc-0a1b2c3d4e5f60700", CIDR: cidr, Name: "test-vpc"},
		RunDefaults: sim.RunProfile{Startup: sim.Duration(time.Minute), Duration: sim.Duration(10 * time.Minute)},
		ENI:         sim.ENISpec{Lag: sim.Duration(time.Minute), Linger: sim.Duration(2 * time.Minute)},
	}
	for _, s := range net.subnets {
		if s.deleted {
			continue
		}
		sc.Subnets = append(sc.Subnets, sim.SubnetSpec{ID: simSubnetID(s.role), Name: s.role, CIDR: s.cidr, AZ: s.az})
	}
	return sc
}

// simSubnetID is the ID of the subnet with the role in a sim backend.
func simSubnetID(role string) string {
	h := uint64(14695981039346656037)
	for _, c := range []byte(role) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return fmt.Sprintf("subnet-0%016x", h)
}

// newSimBackend starts a region of sc on a manual clock at simStart and
// points the SDK clients at it in-process.
func newSimBackend(t *testing.T, sc *sim.Scenario) *testBackend {
	t.Helper()
	clock := sim.NewManualClock(simStart)
	region, err := sim.New(sc, sim.WithClock(clock))
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	counter := newCallCounter()
	cfg, err := LoadConfig(t.Context(), Options{
		Region:       "us-east-1",
		BaseEndpoint: sim.InProcessEndpoint,
		HTTPClient:   region.HTTPClient(),
		Credentials:  testCredentials,
		MaxAttempts:  1,
	})
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	cfg.APIOptions = append(cfg.APIOptions, counter.apiOption)
	b := &testBackend{name: "sim", cfg: cfg, counter: counter, glue: glue.NewFromConfig(cfg), ec2: ec2.NewFromConfig(cfg),
		subnet: map[string]string{}, region: region, clock: clock}
	for _, s := range sc.Subnets {
		b.subnet[s.Name] = s.ID
	}
	return b
}

// newMotoBackend creates net on the shared moto server: a VPC and its
// subnets, then deletes the deleted ones.
func newMotoBackend(t *testing.T, net network) *testBackend {
	t.Helper()
	counter := newCallCounter()
	cfg := testConfig(t, motoURL(t), counter.apiOption)
	b := &testBackend{name: "moto", cfg: cfg, counter: counter, glue: glue.NewFromConfig(cfg), ec2: ec2.NewFromConfig(cfg),
		subnet: map[string]string{}}
	if len(net.subnets) == 0 {
		return b
	}
	ctx := t.Context()
	vpc, err := b.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(net.vpcCIDR)})
	if err != nil {
		t.Fatalf("create vpc: %v", err)
	}
	for _, s := range net.subnets {
		out, err := b.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{
			VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(s.cidr), AvailabilityZone: aws.String(s.az),
		})
		if err != nil {
			t.Fatalf("create subnet %s: %v", s.role, err)
		}
		b.subnet[s.role] = aws.ToString(out.Subnet.SubnetId)
	}
	for _, s := range net.subnets {
		if !s.deleted {
			continue
		}
		if _, err := b.ec2.DeleteSubnet(ctx, &ec2.DeleteSubnetInput{SubnetId: aws.String(b.subnet[s.role])}); err != nil {
			t.Fatalf("delete subnet %s: %v", s.role, err)
		}
	}
	return b
}

// subnetID is the subnet with the role, or for a deleted subnet on the sim
// an ID that does not exist.
func (b *testBackend) subnetID(role string) string {
	if id, ok := b.subnet[role]; ok {
		return id
	}
	if b.isSim() {
		return simSubnetID(role)
	}
	return ""
}

// createENIs puts n network interfaces in the subnet, each taking an IP.
func (b *testBackend) createENIs(t *testing.T, subnetID string, n int) {
	t.Helper()
	for range n {
		if _, err := b.ec2.CreateNetworkInterface(t.Context(), &ec2.CreateNetworkInterfaceInput{SubnetId: aws.String(subnetID)}); err != nil {
			t.Fatalf("create network interface in %s: %v", subnetID, err)
		}
	}
}

// createNetworkConnection creates a NETWORK connection to the subnet in az.
func (b *testBackend) createNetworkConnection(t *testing.T, name, subnetID, az string) {
	t.Helper()
	b.createConnection(t, &gluetypes.ConnectionInput{
		Name:                 aws.String(name),
		ConnectionType:       gluetypes.ConnectionTypeNetwork,
		ConnectionProperties: map[string]string{},
		PhysicalConnectionRequirements: &gluetypes.PhysicalConnectionRequirements{
			SubnetId: aws.String(subnetID), AvailabilityZone: aws.String(az),
			SecurityGroupIdList: []string{"sg-12345678"},
		},
	})
}

func (b *testBackend) createConnection(t *testing.T, in *gluetypes.ConnectionInput) {
	t.Helper()
	if _, err := b.glue.CreateConnection(t.Context(), &glue.CreateConnectionInput{ConnectionInput: in}); err != nil {
		t.Fatalf("create connection %s: %v", aws.ToString(in.Name), err)
	}
}

// createJob creates the job, with a role and a glueetl command unless set.
func (b *testBackend) createJob(t *testing.T, in *glue.CreateJobInput) {
	t.Helper()
	createJob(t, b.glue, in)
}

// now is the server's time: the sim's manual clock, or the wall clock for
// moto.
func (b *testBackend) now() time.Time {
	if b.isSim() {
		return b.clock.Now()
	}
	return time.Now()
}

// advance moves the sim's clock; moto moves its runs on each read instead,
// so there it does nothing.
func (b *testBackend) advance(d time.Duration) {
	if b.isSim() {
		b.clock.Advance(d)
	}
}
