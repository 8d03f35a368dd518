package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gluenet/gluenet/sim"
)

// botoError is a botocore ClientError as the script records it; Code is
// empty when the call unexpectedly succeeded.
type botoError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Status    int    `json:"status"`
	Operation string `json:"operation"`
}

type botoSubnet struct {
	ID    string `json:"id"`
	VpcID string `json:"vpc_id"`
	AZ    string `json:"az"`
	AZID  string `json:"az_id"`
	CIDR  string `json:"cidr"`
	Free  int    `json:"free"`
	State string `json:"state"`
	Name  string `json:"name"`
}

type botoENI struct {
	ID               string            `json:"id"`
	SubnetID         string            `json:"subnet_id"`
	VpcID            string            `json:"vpc_id"`
	AZ               string            `json:"az"`
	Description      string            `json:"description"`
	Status           string            `json:"status"`
	PrivateIP        string            `json:"private_ip"`
	IPs              []string          `json:"ips"`
	RequesterManaged bool              `json:"requester_managed"`
	Tags             map[string]string `json:"tags"`
}

type botoRun struct {
	ID          string            `json:"id"`
	Job         string            `json:"job"`
	State       string            `json:"state"`
	StartedOn   time.Time         `json:"started_on"`
	CompletedOn *time.Time        `json:"completed_on"`
	Error       string            `json:"error"`
	Workers     int               `json:"workers"`
	Arguments   map[string]string `json:"arguments"`
}

// botoResults is the JSON document boto3_all.py prints.
type botoResults struct {
	Boto3 string `json:"boto3"`
	AZs   []struct {
		Name, ID, State, Region string
	} `json:"azs"`
	VPCs []struct {
		ID, CIDR, State string
	} `json:"vpcs"`
	Subnets                   []botoSubnet `json:"subnets"`
	SubnetsByID               []botoSubnet `json:"subnets_by_id"`
	SubnetsByVPC              []string     `json:"subnets_by_vpc"`
	SubnetsByAZ               []string     `json:"subnets_by_az"`
	SubnetsBySubnetID         []string     `json:"subnets_by_subnet_id"`
	SubnetPages               [][]string   `json:"subnet_pages"`
	ErrDescribeMissingSubnet  botoError    `json:"err_describe_missing_subnet"`
	ENIA                      botoENI      `json:"eni_a"`
	ENIB                      botoENI      `json:"eni_b"`
	ENIsByID                  []botoENI    `json:"enis_by_id"`
	S1FreeTwoENIs             int          `json:"s1_free_two_enis"`
	ENIsInS1                  []string     `json:"enis_in_s1"`
	ErrDescribeDeletedENI     botoError    `json:"err_describe_deleted_eni"`
	ErrDeleteDeletedENI       botoError    `json:"err_delete_deleted_eni"`
	ErrCreateENIMissingSubnet botoError    `json:"err_create_eni_missing_subnet"`
	S1FreeAfterENIs           int          `json:"s1_free_after_enis"`

	ErrCreateConnectionTwice botoError `json:"err_create_connection_twice"`
	ConnectionA              struct {
		Name           string   `json:"name"`
		Type           string   `json:"type"`
		SubnetID       string   `json:"subnet_id"`
		AZ             string   `json:"az"`
		SecurityGroups []string `json:"security_groups"`
		Created        string   `json:"created"`
	} `json:"connection_a"`
	ErrGetMissingConnection    botoError  `json:"err_get_missing_connection"`
	ErrGetDeletedConnection    botoError  `json:"err_get_deleted_connection"`
	ErrDeleteDeletedConnection botoError  `json:"err_delete_deleted_connection"`
	ConnectionPages            [][]string `json:"connection_pages"`
	ErrCreateJobTwice          botoError  `json:"err_create_job_twice"`
	ErrGetMissingJob           botoError  `json:"err_get_missing_job"`
	JobPages                   [][]string `json:"job_pages"`
	JobBeforeUpdate            struct {
		Workers           int      `json:"workers"`
		WorkerType        string   `json:"worker_type"`
		Connections       []string `json:"connections"`
		MaxConcurrentRuns int      `json:"max_concurrent_runs"`
		Timeout           int      `json:"timeout"`
		GlueVersion       string   `json:"glue_version"`
	} `json:"job_before_update"`
	UpdateJob      string `json:"update_job"`
	JobAfterUpdate struct {
		Workers     int      `json:"workers"`
		Connections []string `json:"connections"`
		MaxCapacity float64  `json:"max_capacity"`
	} `json:"job_after_update"`

	Run1ID             string    `json:"run1_id"`
	ErrConcurrentRuns  botoError `json:"err_concurrent_runs"`
	ErrStartMissingJob botoError `json:"err_start_missing_job"`
	Run1Starting       botoRun   `json:"run1_starting"`
	S2FreeStarting     int       `json:"s2_free_starting"`
	Run1Running        botoRun   `json:"run1_running"`
	S2FreeRunning      int       `json:"s2_free_running"`
	ENIsInS2           []botoENI `json:"enis_in_s2"`
	Run1OutputLog      []string  `json:"run1_output_log"`
	BatchStop          struct {
		Successful []string `json:"successful"`
		Errors     []struct {
			RunID string `json:"run_id"`
			Code  string `json:"code"`
		} `json:"errors"`
	} `json:"batch_stop"`
	Run1Stopping   botoRun  `json:"run1_stopping"`
	Run1Stopped    botoRun  `json:"run1_stopped"`
	Run2ID         string   `json:"run2_id"`
	Run2Done       botoRun  `json:"run2_done"`
	Run3ID         string   `json:"run3_id"`
	Run3Done       botoRun  `json:"run3_done"`
	Run3ErrorLog   []string `json:"run3_error_log"`
	DriverLogPages [][]struct {
		Stream  string `json:"stream"`
		Message string `json:"message"`
	} `json:"driver_log_pages"`
	RunPages            [][]string   `json:"run_pages"`
	ErrGetMissingRun    botoError    `json:"err_get_missing_run"`
	ErrMissingLogStream botoError    `json:"err_missing_log_stream"`
	DeleteJob           string       `json:"delete_job"`
	ErrGetDeletedJob    botoError    `json:"err_get_deleted_job"`
	SubnetsEnd          []botoSubnet `json:"subnets_end"`
}

// scriptControl is the test's helper server for the script: it advances the
// region's manual clock and takes named snapshots of the region's state.
type scriptControl struct {
	tr     *testRegion
	mu     sync.Mutex
	states map[string]sim.State
}

func (c *scriptControl) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	switch req.URL.Path {
	case "/advance":
		secs, err := strconv.ParseFloat(req.URL.Query().Get("seconds"), 64)
		if err != nil || secs <= 0 {
			http.Error(w, "seconds must be a positive number", http.StatusBadRequest)
			return
		}
		c.tr.clock.Advance(time.Duration(secs * float64(time.Second)))
	case "/checkpoint":
		name := req.URL.Query().Get("name")
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, dup := c.states[name]; name == "" || dup {
			http.Error(w, "checkpoint name empty or taken", http.StatusBadRequest)
			return
		}
		c.states[name] = c.tr.region.State()
	default:
		http.NotFound(w, req)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (c *scriptControl) state(t *testing.T, name string) sim.State {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.states[name]
	if !ok {
		t.Fatalf("the script took no checkpoint %q", name)
	}
	return st
}

// pythonWithBoto3 returns a python3 that imports boto3, or skips.
func pythonWithBoto3(t *testing.T, env []string) string {
	t.Helper()
	const install = "pip install boto3"
	py, err := exec.LookPath("python3")
	if err != nil {
		missingTool(t, "python3 (with boto3)", install)
	}
	if _, stderr, err := runTool(env, py, "-c", "import boto3"); err != nil {
		t.Logf("python3 -c 'import boto3': %v: %s", err, stderr)
		missingTool(t, "boto3 for "+py, install)
	}
	return py
}

// TestBoto3AllOperations runs testdata/boto3_all.py, which calls every
// operation the region serves through boto3, and checks what boto3 parsed
// against the region's own state at the script's checkpoints.
func TestBoto3AllOperations(t *testing.T) {
	t.Parallel()
	env := clientEnv(t)
	py := pythonWithBoto3(t, env)
	tr := startRegion(t)
	ctl := &scriptControl{tr: tr, states: map[string]sim.State{}}
	ctlSrv := httptest.NewServer(ctl)
	defer ctlSrv.Close()

	script, err := absTestdata("boto3_all.py")
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runTool(env, py, script, "--endpoint", tr.endpoint, "--control", ctlSrv.URL)
	if err != nil {
		t.Fatalf("boto3_all.py: %v\nstderr:\n%s", err, stderr)
	}
	var res botoResults
	if err := json.Unmarshal(stdout, &res); err != nil {
		t.Fatalf("boto3_all.py output is not the expected JSON: %v\n%s", err, stdout)
	}
	t.Logf("boto3 %s", res.Boto3)

	stNet := ctl.state(t, "network")
	stStarting := ctl.state(t, "run1_starting")
	stRunning := ctl.state(t, "run1_running")
	stEnd := ctl.state(t, "end")
	s1 := subnetByName(t, stNet, "PrivateSubnet1")
	s2 := subnetByName(t, stNet, "PrivateSubnet2")

	checks := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"DescribeAvailabilityZones", func(t *testing.T) {
			var got, want []string
			for _, z := range res.AZs {
				got = append(got, z.Name+"/"+z.ID)
				if z.State != "available" || z.Region != "us-east-1" {
					t.Errorf("zone %s: state %q region %q, want available in us-east-1", z.Name, z.State, z.Region)
				}
			}
			for _, z := range stNet.AZs {
				want = append(want, z.Name+"/"+z.ID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("zones = %v, region has %v", got, want)
			}
		}},
		{"DescribeVpcs", func(t *testing.T) {
			if len(res.VPCs) != 1 || res.VPCs[0].ID != stNet.VPC.ID || res.VPCs[0].CIDR != stNet.VPC.CIDR || res.VPCs[0].State != "available" {
				t.Errorf("vpcs = %+v, region has %+v", res.VPCs, stNet.VPC)
			}
		}},
		{"DescribeSubnets/all", func(t *testing.T) {
			if len(res.Subnets) != len(stNet.Subnets) {
				t.Fatalf("got %d subnets, region has %d", len(res.Subnets), len(stNet.Subnets))
			}
			for i, got := range res.Subnets {
				want := stNet.Subnets[i]
				// The script listed subnets before creating its ENIs, so
				// every subnet still had all its addresses free.
				if got.ID != want.ID || got.CIDR != want.CIDR || got.AZ != want.AZ || got.Name != want.Name ||
					got.VpcID != stNet.VPC.ID || got.Free != want.Capacity || got.State != "available" {
					t.Errorf("subnet %d = %+v, region has %+v", i, got, want)
				}
			}
		}},
		{"DescribeSubnets/by-id", func(t *testing.T) {
			if len(res.SubnetsByID) != 1 || res.SubnetsByID[0].ID != s1.ID {
				t.Errorf("by id %s: got %+v", s1.ID, res.SubnetsByID)
			}
		}},
		{"DescribeSubnets/filters", func(t *testing.T) {
			var all, inAZ []string
			for _, s := range stNet.Subnets {
				all = append(all, s.ID)
				if s.AZ == s1.AZ {
					inAZ = append(inAZ, s.ID)
				}
			}
			if !slices.Equal(res.SubnetsByVPC, all) {
				t.Errorf("vpc-id filter: %v, want %v", res.SubnetsByVPC, all)
			}
			if !slices.Equal(res.SubnetsByAZ, inAZ) || len(inAZ) < 2 {
				t.Errorf("availability-zone filter: %v, want %v", res.SubnetsByAZ, inAZ)
			}
			if !slices.Equal(res.SubnetsBySubnetID, []string{s2.ID}) {
				t.Errorf("subnet-id filter: %v, want [%s]", res.SubnetsBySubnetID, s2.ID)
			}
		}},
		{"DescribeSubnets/paginator", func(t *testing.T) {
			var all, got []string
			for _, s := range stNet.Subnets {
				all = append(all, s.ID)
			}
			for _, p := range res.SubnetPages {
				if len(p) > 5 {
					t.Errorf("page of %d subnets with PageSize 5", len(p))
				}
				got = append(got, p...)
			}
			if len(res.SubnetPages) < 2 || !slices.Equal(got, all) {
				t.Errorf("pages = %v, want every subnet %v over at least 2 pages", res.SubnetPages, all)
			}
		}},
		{"DescribeSubnets/missing", func(t *testing.T) {
			wantErr(t, res.ErrDescribeMissingSubnet, "InvalidSubnetID.NotFound", 400)
		}},
		{"CreateNetworkInterface", func(t *testing.T) {
			a, b := res.ENIA, res.ENIB
			if a.SubnetID != s1.ID || a.VpcID != stNet.VPC.ID || a.AZ != s1.AZ || a.Description != "conformance A" ||
				a.Status != "available" || a.Tags["purpose"] != "conformance" || !strings.HasPrefix(a.ID, "eni-") {
				t.Errorf("ENI A = %+v", a)
			}
			if len(a.IPs) != 3 || a.IPs[0] != a.PrivateIP {
				t.Errorf("ENI A: IPs %v primary %s, want 3 addresses starting with the primary", a.IPs, a.PrivateIP)
			}
			seen := map[string]bool{}
			for _, ip := range append(slices.Clone(a.IPs), b.PrivateIP) {
				if !inCIDR(ip, s1.CIDR) || seen[ip] {
					t.Errorf("address %s: outside %s or given twice", ip, s1.CIDR)
				}
				seen[ip] = true
			}
		}},
		{"DescribeNetworkInterfaces", func(t *testing.T) {
			ids := []string{}
			for _, e := range res.ENIsByID {
				ids = append(ids, e.ID)
			}
			if !slices.Equal(ids, []string{res.ENIA.ID, res.ENIB.ID}) {
				t.Errorf("by id: %v, want [%s %s]", ids, res.ENIA.ID, res.ENIB.ID)
			}
			if !slices.Equal(res.ENIsInS1, []string{res.ENIA.ID}) {
				t.Errorf("subnet-id filter after deleting B: %v, want [%s]", res.ENIsInS1, res.ENIA.ID)
			}
		}},
		{"free IPs after ENIs", func(t *testing.T) {
			// 3 addresses for A and 1 for B; B deleted.
			if res.S1FreeTwoENIs != s1.Capacity-4 {
				t.Errorf("with ENIs A and B: %d free, want %d", res.S1FreeTwoENIs, s1.Capacity-4)
			}
			if res.S1FreeAfterENIs != s1.Capacity-3 || s1.ReportedFreeIPs != s1.Capacity-3 || s1.FreeIPs != s1.Capacity-3 {
				t.Errorf("after deleting B: boto3 saw %d free, region has %d (reported %d), want %d",
					res.S1FreeAfterENIs, s1.FreeIPs, s1.ReportedFreeIPs, s1.Capacity-3)
			}
		}},
		{"DeleteNetworkInterface", func(t *testing.T) {
			wantErr(t, res.ErrDescribeDeletedENI, "InvalidNetworkInterfaceID.NotFound", 400)
			wantErr(t, res.ErrDeleteDeletedENI, "InvalidNetworkInterfaceID.NotFound", 400)
			wantErr(t, res.ErrCreateENIMissingSubnet, "InvalidSubnetID.NotFound", 400)
		}},
		{"CreateConnection+GetConnection", func(t *testing.T) {
			c := res.ConnectionA
			if c.Name != "ConfConn-A" || c.Type != "NETWORK" || c.SubnetID != s2.ID || c.AZ != s2.AZ ||
				!slices.Equal(c.SecurityGroups, []string{"sg-0d1e2f3a4b5c6d701"}) {
				t.Errorf("connection = %+v", c)
			}
			if created, err := time.Parse(time.RFC3339, c.Created); err != nil || !created.Equal(clockStart) {
				t.Errorf("CreationTime %q (%v), want %s", c.Created, err, clockStart)
			}
			wantErr(t, res.ErrCreateConnectionTwice, "AlreadyExistsException", 400)
			wantErr(t, res.ErrGetMissingConnection, "EntityNotFoundException", 400)
		}},
		{"DeleteConnection", func(t *testing.T) {
			wantErr(t, res.ErrGetDeletedConnection, "EntityNotFoundException", 400)
			wantErr(t, res.ErrDeleteDeletedConnection, "EntityNotFoundException", 400)
		}},
		{"GetConnections/paginator", func(t *testing.T) {
			want := []string{"ConfConn-A", "ConfConn-Gone", "MWAA-Glue-Blog-Subnet1", "MWAA-Glue-Blog-Subnet2"}
			if got := slices.Concat(res.ConnectionPages...); !slices.Equal(got, want) || len(res.ConnectionPages) != 2 {
				t.Errorf("pages = %v, want %v over 2 pages", res.ConnectionPages, want)
			}
		}},
		{"CreateJob+GetJob", func(t *testing.T) {
			j := res.JobBeforeUpdate
			if j.Workers != 2 || j.WorkerType != "G.1X" || !slices.Equal(j.Connections, []string{"ConfConn-Gone", "ConfConn-A"}) ||
				j.MaxConcurrentRuns != 1 || j.Timeout != 60 || j.GlueVersion != "4.0" {
				t.Errorf("job = %+v", j)
			}
			wantErr(t, res.ErrCreateJobTwice, "AlreadyExistsException", 400)
			wantErr(t, res.ErrGetMissingJob, "EntityNotFoundException", 400)
		}},
		{"GetJobs/paginator", func(t *testing.T) {
			want := []string{"AirflowBlogJob", "ConfFailJob", "ConfJob"}
			if got := slices.Concat(res.JobPages...); !slices.Equal(got, want) || len(res.JobPages) != 2 {
				t.Errorf("pages = %v, want %v over 2 pages", res.JobPages, want)
			}
		}},
		{"UpdateJob", func(t *testing.T) {
			j := res.JobAfterUpdate
			if res.UpdateJob != "ConfJob" || j.Workers != 3 || j.MaxCapacity != 3 ||
				!slices.Equal(j.Connections, []string{"ConfConn-Gone", "ConfConn-A"}) {
				t.Errorf("UpdateJob answered %q; job after = %+v", res.UpdateJob, j)
			}
			// The region placed the run with the updated number of workers.
			if r := runByID(t, stStarting, res.Run1ID); r.RequestedIPs != 3 || r.AllocatedIPs != 3 {
				t.Errorf("run 1 asked for %d IPs and got %d, want 3 and 3", r.RequestedIPs, r.AllocatedIPs)
			}
		}},
		{"StartJobRun", func(t *testing.T) {
			r := runByID(t, stStarting, res.Run1ID)
			// ConfConn-Gone names a missing subnet, so Glue skips it.
			if r.Connection != "ConfConn-A" || r.SubnetID != s2.ID || r.Job != "ConfJob" {
				t.Errorf("run 1 in the region: %+v, want ConfConn-A in %s", r, s2.ID)
			}
			wantErr(t, res.ErrConcurrentRuns, "ConcurrentRunsExceededException", 400)
			wantErr(t, res.ErrStartMissingJob, "EntityNotFoundException", 400)
		}},
		{"GetJobRun/starting", func(t *testing.T) {
			got, r := res.Run1Starting, runByID(t, stStarting, res.Run1ID)
			wantRun(t, got, r, "STARTING")
			if got.Arguments["--conformance"] != "run1" || got.Workers != 3 {
				t.Errorf("run 1: arguments %v workers %d", got.Arguments, got.Workers)
			}
		}},
		{"ENI lag", func(t *testing.T) {
			now := subnetByID(t, stStarting, s2.ID)
			if res.S2FreeStarting != now.ReportedFreeIPs || now.ReportedFreeIPs != s2.Capacity || now.FreeIPs != s2.Capacity-3 {
				t.Errorf("right after the start: boto3 saw %d free; region: %d reported, %d actual; want %d reported, %d actual",
					res.S2FreeStarting, now.ReportedFreeIPs, now.FreeIPs, s2.Capacity, s2.Capacity-3)
			}
			later := subnetByID(t, stRunning, s2.ID)
			if res.S2FreeRunning != later.ReportedFreeIPs || later.ReportedFreeIPs != s2.Capacity-3 {
				t.Errorf("after the lag: boto3 saw %d free, region reports %d, want %d",
					res.S2FreeRunning, later.ReportedFreeIPs, s2.Capacity-3)
			}
		}},
		{"GetJobRun/running", func(t *testing.T) {
			wantRun(t, res.Run1Running, runByID(t, stRunning, res.Run1ID), "RUNNING")
		}},
		{"run ENIs", func(t *testing.T) {
			r := runByID(t, stRunning, res.Run1ID)
			var ips []string
			for _, e := range res.ENIsInS2 {
				if !e.RequesterManaged || e.Status != "in-use" || !strings.Contains(e.Description, res.Run1ID) {
					t.Errorf("run ENI %+v: want requester-managed, in-use, described with the run ID", e)
				}
				ips = append(ips, e.PrivateIP)
			}
			if len(res.ENIsInS2) != 3 || !slices.Contains(ips, r.DriverIP) {
				t.Errorf("ENIs in %s: %v, want the run's 3 including the driver's %s", s2.ID, ips, r.DriverIP)
			}
		}},
		{"GetLogEvents/driver line", func(t *testing.T) {
			r := runByID(t, stRunning, res.Run1ID)
			if len(res.Run1OutputLog) != 1 {
				t.Fatalf("output log of run 1: %q, want the driver line", res.Run1OutputLog)
			}
			ip, name, err := parseDriverLine(res.Run1OutputLog[0])
			if err != nil {
				t.Fatal(err)
			}
			if ip != r.DriverIP || !inCIDR(ip, s2.CIDR) || name != s2.Name {
				t.Errorf("driver line says %s in %s; region: driver %s, subnet %s %s", ip, name, r.DriverIP, s2.Name, s2.CIDR)
			}
		}},
		{"BatchStopJobRun", func(t *testing.T) {
			bs := res.BatchStop
			if !slices.Equal(bs.Successful, []string{res.Run1ID}) || len(bs.Errors) != 1 ||
				bs.Errors[0].Code != "EntityNotFoundException" || !strings.HasPrefix(bs.Errors[0].RunID, "jr_0000") {
				t.Errorf("BatchStopJobRun = %+v", bs)
			}
			if res.Run1Stopping.State != "STOPPING" || res.Run1Stopped.State != "STOPPED" || res.Run1Stopped.CompletedOn == nil {
				t.Errorf("run 1 after the stop: %s, then %s (completed %v)", res.Run1Stopping.State, res.Run1Stopped.State, res.Run1Stopped.CompletedOn)
			}
			wantRun(t, res.Run1Stopped, runByID(t, stEnd, res.Run1ID), "STOPPED")
		}},
		{"run succeeds", func(t *testing.T) {
			wantRun(t, res.Run2Done, runByID(t, stEnd, res.Run2ID), "SUCCEEDED")
		}},
		{"run fails", func(t *testing.T) {
			r := runByID(t, stEnd, res.Run3ID)
			wantRun(t, res.Run3Done, r, "FAILED")
			if res.Run3Done.Error == "" || res.Run3Done.Error != r.Error {
				t.Errorf("ErrorMessage %q, region says %q", res.Run3Done.Error, r.Error)
			}
			if !slices.Equal(res.Run3ErrorLog, []string{r.Error}) {
				t.Errorf("error log %q, want [%q]", res.Run3ErrorLog, r.Error)
			}
		}},
		{"FilterLogEvents/paginator", func(t *testing.T) {
			var streams []string
			for _, p := range res.DriverLogPages {
				if len(p) > 1 {
					t.Errorf("page of %d events with PageSize 1", len(p))
				}
				for _, e := range p {
					ip, _, err := parseDriverLine(e.Message)
					if err != nil {
						t.Error(err)
						continue
					}
					if want := runByID(t, stEnd, e.Stream).DriverIP; ip != want {
						t.Errorf("stream %s: driver %s, region says %s", e.Stream, ip, want)
					}
					streams = append(streams, e.Stream)
				}
			}
			if !slices.Equal(streams, []string{res.Run1ID, res.Run2ID}) || len(res.DriverLogPages) < 2 {
				t.Errorf("driver lines from %v over %d pages, want runs 1 and 2 over at least 2", streams, len(res.DriverLogPages))
			}
		}},
		{"GetJobRuns/paginator", func(t *testing.T) {
			want := []string{res.Run2ID, res.Run1ID} // newest first
			if got := slices.Concat(res.RunPages...); !slices.Equal(got, want) || len(res.RunPages) != 2 {
				t.Errorf("pages = %v, want %v over 2 pages", res.RunPages, want)
			}
			wantErr(t, res.ErrGetMissingRun, "EntityNotFoundException", 400)
		}},
		{"GetLogEvents/missing stream", func(t *testing.T) {
			wantErr(t, res.ErrMissingLogStream, "ResourceNotFoundException", 400)
		}},
		{"DeleteJob", func(t *testing.T) {
			if res.DeleteJob != "ConfFailJob" {
				t.Errorf("DeleteJob answered %q", res.DeleteJob)
			}
			wantErr(t, res.ErrGetDeletedJob, "EntityNotFoundException", 400)
			if r := runByID(t, stEnd, res.Run3ID); !r.JobDeleted {
				t.Errorf("run 3 of the deleted job: %+v, want job_deleted", r)
			}
		}},
		{"free IPs at the end", func(t *testing.T) {
			for i, got := range res.SubnetsEnd {
				if want := stEnd.Subnets[i]; got.ID != want.ID || got.Free != want.ReportedFreeIPs {
					t.Errorf("subnet %s: boto3 saw %d free, region reports %d", got.ID, got.Free, want.ReportedFreeIPs)
				}
			}
		}},
	}
	for _, c := range checks {
		t.Run(c.name, c.check)
	}
}

// wantErr checks an error the script caught.
func wantErr(t *testing.T, got botoError, code string, status int) {
	t.Helper()
	if got.Code != code || got.Status != status || got.Message == "" {
		t.Errorf("%s: got %+v, want a ClientError %s with HTTP %d and a message", got.Operation, got, code, status)
	}
}

// wantRun checks a run as boto3 parsed it against the region's run.
func wantRun(t *testing.T, got botoRun, r sim.RunState, state string) {
	t.Helper()
	if got.ID != r.ID || got.Job != r.Job || got.State != state || r.State != state {
		t.Errorf("run %s: boto3 saw %s/%s, region has %s/%s, want %s", r.ID, got.Job, got.State, r.Job, r.State, state)
	}
	if !got.StartedOn.Equal(r.StartedOn) {
		t.Errorf("run %s: StartedOn %s, region %s", r.ID, got.StartedOn, r.StartedOn)
	}
	switch {
	case (got.CompletedOn == nil) != (r.CompletedOn == nil):
		t.Errorf("run %s: CompletedOn %v, region %v", r.ID, got.CompletedOn, r.CompletedOn)
	case got.CompletedOn != nil && !got.CompletedOn.Equal(*r.CompletedOn):
		t.Errorf("run %s: CompletedOn %s, region %s", r.ID, got.CompletedOn, r.CompletedOn)
	}
}

func absTestdata(name string) (string, error) {
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		return "", fmt.Errorf("locate testdata/%s: %w", name, err)
	}
	return p, nil
}
