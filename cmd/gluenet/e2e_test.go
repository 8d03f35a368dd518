package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/gluenet/gluenet/sim"
)

// simEnv is a simulated region on a loopback socket, with the environment
// the gluenet command needs to reach it.
type simEnv struct {
	t      *testing.T
	region *sim.Region
	url    string
	state  string
	glue   *glue.Client
}

const (
	conn1   = "MWAA-Glue-Blog-Subnet1"
	conn2   = "MWAA-Glue-Blog-Subnet2"
	subnet1 = "subnet-0a1b2c3d4e5f60011"
	subnet2 = "subnet-0a1b2c3d4e5f60022"
	job     = "AirflowBlogJob"
)

// newSimEnv starts the default scenario, sped up so that a run lasts a
// fraction of a second, behind an optional middleware.
func newSimEnv(t *testing.T, mutate func(*sim.Scenario), wrap func(http.Handler) http.Handler) *simEnv {
	t.Helper()
	sc, err := sim.LoadScenario("default")
	if err != nil {
		t.Fatal(err)
	}
	sc.TimeScale = 3000
	if mutate != nil {
		mutate(sc)
	}
	region, err := sim.New(sc, sim.WithClock(sim.NewScaledClock(time.Now().UTC(), sc.TimeScale, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = region.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	g := glue.New(glue.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	return &simEnv{t: t, region: region, url: srv.URL, state: filepath.Join(t.TempDir(), "state.db"), glue: g}
}

// gluenet runs the command in-process and returns its exit code and output.
func (e *simEnv) gluenet(ctx context.Context, args ...string) (int, string, string) {
	e.t.Helper()
	var out, errb bytes.Buffer
	all := append([]string{"--endpoint-url", e.url, "--state", e.state}, args...)
	code := execute(ctx, all, &out, &errb, func(k string) (string, bool) { return "", false })
	return code, out.String(), errb.String()
}

var fast = []string{"--poll-interval", "20ms", "--retry-delay", "50ms", "--max-retry-delay", "200ms"}

func (e *simEnv) jobJSON(name string) string {
	e.t.Helper()
	out, err := e.glue.GetJob(context.Background(), &glue.GetJobInput{JobName: aws.String(name)})
	if err != nil {
		e.t.Fatalf("get job: %v", err)
	}
	b, _ := json.Marshal(out.Job)
	return string(b)
}

func decodeRun(t *testing.T, s string) runJSON {
	t.Helper()
	var r runJSON
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("run output is not JSON: %v\n%s", err, s)
	}
	return r
}

func TestPlanAndRunDefault(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	ctx := context.Background()
	code, out, stderr := e.gluenet(ctx, "plan", "--job", job, "--connections", conn1+","+conn2, "--output", "json")
	if code != 0 {
		t.Fatalf("plan exit %d: %s", code, stderr)
	}
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Order) != 2 || p.Connections[0].Free == nil || *p.Connections[0].Free != 251 || p.Connections[0].AZ == "" {
		t.Fatalf("plan = %+v", p)
	}
	before := e.jobJSON(job)
	// --output json is quiet unless --log-level asks for the logs.
	code, out, stderr = e.gluenet(ctx, append([]string{"run", "--job", job, "--connections", conn1 + "," + conn2, "--output", "json", "--log-level", "info"}, fast...)...)
	if code != 0 {
		t.Fatalf("run exit %d: %s\n%s", code, out, stderr)
	}
	r := decodeRun(t, out)
	if r.Result != "succeeded" || len(r.Attempts) != 1 || r.Attempts[0].RunID == "" {
		t.Fatalf("run = %+v", r)
	}
	// The post's log lines are there, as structured records.
	for _, want := range []string{"Good connections", "Usable connections", "Running Glue job with the connection order"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("logs lack %q", want)
		}
	}
	// Only the connection order changed in the job definition.
	var b, a map[string]any
	json.Unmarshal([]byte(before), &b)
	json.Unmarshal([]byte(e.jobJSON(job)), &a)
	delete(b, "Connections")
	delete(a, "Connections")
	delete(b, "LastModifiedOn")
	delete(a, "LastModifiedOn")
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("job definition changed beyond its connections:\nbefore %v\nafter  %v", b, a)
	}
}

func TestRunIPPressurePicksTheRoomySubnet(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	if err := e.region.Exhaust(subnet1, 3); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := e.gluenet(context.Background(), append([]string{"run", "--job", job, "--connections", conn1 + "," + conn2,
		"--workers", "10", "--output", "json"}, fast...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	r := decodeRun(t, out)
	if r.Attempts[0].Expected != conn2 || r.Order[0] != conn2 {
		t.Fatalf("ranked %v, expected %s first", r.Order, conn2)
	}
	if got := e.region.State().Runs; len(got) != 1 || got[0].SubnetID != subnet2 {
		t.Fatalf("runs in the region: %+v", got)
	}
}

func TestRunAZOutageRetriesElsewhere(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	if err := e.region.SetAZState("us-east-1b", sim.AZDown); err != nil {
		t.Fatal(err)
	}
	// Subnet2 (us-east-1b) first: the AZ is down, so Glue skips it and uses
	// subnet1 on its own; gluenet's run succeeds in one attempt.
	if err := e.region.Exhaust(subnet1, 100); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := e.gluenet(context.Background(), append([]string{"run", "--job", job, "--connections", conn2 + "," + conn1, "--output", "json"}, fast...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	runs := e.region.State().Runs
	if len(runs) != 1 || runs[0].SubnetID != subnet1 {
		t.Fatalf("runs: %+v", runs)
	}
	// Both AZs down: every attempt fails on placement; exit 3 after 2 attempts.
	if err := e.region.SetAZState("us-east-1a", sim.AZDown); err != nil {
		t.Fatal(err)
	}
	code, out, _ = e.gluenet(context.Background(), append([]string{"run", "--job", job, "--connections", conn2 + "," + conn1, "--attempts", "2", "--output", "json"}, fast...)...)
	if code != exitRunFailed {
		t.Fatalf("exit %d, want %d: %s", code, exitRunFailed, out)
	}
	r := decodeRun(t, out)
	if len(r.Attempts) != 2 || r.Attempts[1].Class != "placement" {
		t.Fatalf("attempts: %+v", r.Attempts)
	}
}

func TestRunDegradedAZIsAvoidedNextTime(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	ctx := context.Background()
	if err := e.region.SetAZState("us-east-1a", sim.AZDegraded); err != nil {
		t.Fatal(err)
	}
	if err := e.region.Exhaust(subnet2, 50); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := e.gluenet(ctx, append([]string{"run", "--job", job, "--connections", conn1 + "," + conn2, "--strategy", "capacity", "--output", "json"}, fast...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	r := decodeRun(t, out)
	if len(r.Attempts) != 2 || r.Attempts[0].Expected != conn1 || r.Attempts[1].Expected != conn2 || r.Attempts[0].Class != "placement" {
		t.Fatalf("attempts: %+v", r.Attempts)
	}
	// The next run avoids the ejected subnet from its first attempt.
	code, out, _ = e.gluenet(ctx, "plan", "--job", job, "--connections", conn1+","+conn2, "--strategy", "capacity", "--output", "json")
	if code != 0 {
		t.Fatal(out)
	}
	var p planJSON
	json.Unmarshal([]byte(out), &p)
	if p.Order[0] != conn2 || p.Connections[1].EjectedUntil == nil {
		t.Fatalf("plan after the failure: %+v", p)
	}
	// Without memory (the post's way) it would go back to the bad subnet.
	code, out, _ = e.gluenet(ctx, "plan", "--job", job, "--connections", conn1+","+conn2, "--strategy", "capacity", "--output", "json", "--no-memory")
	if code != 0 {
		t.Fatal(out)
	}
	json.Unmarshal([]byte(out), &p)
	if p.Order[0] != conn1 {
		t.Fatalf("plan without memory: %v", p.Order)
	}
	// health shows and resets the ejection.
	code, out, _ = e.gluenet(ctx, "health", "--output", "json")
	if code != 0 || !strings.Contains(out, subnet1) {
		t.Fatalf("health: %d %s", code, out)
	}
	// Unset times are left out, not shown as year 1.
	if strings.Contains(out, "0001-01-01") {
		t.Errorf("health JSON shows unset times:\n%s", out)
	}
	// The table shows the records and the recent events.
	code, out, _ = e.gluenet(ctx, "health")
	if code != 0 || !strings.Contains(out, "Recent events") || !strings.Contains(out, "ejected") || !strings.Contains(out, "placement") {
		t.Errorf("health table: %d\n%s", code, out)
	}
	// --scope and --key choose what --reset forgets: alone, an error.
	if code, _, stderr := e.gluenet(ctx, "health", "--scope", "az", "--key", "us-east-1a"); code != exitUsage || !strings.Contains(stderr, "--reset") {
		t.Errorf("health --scope --key without --reset: exit %d: %s", code, stderr)
	}
	if code, out, _ = e.gluenet(ctx, "health", "--reset"); code != 0 || !strings.Contains(out, "good standing") {
		t.Fatalf("health --reset: %d %s", code, out)
	}
}

func TestRunJobCodeFailureIsNotBlamedOrRetried(t *testing.T) {
	e := newSimEnv(t, func(sc *sim.Scenario) { sc.Jobs[0].FailureRate = 1 }, nil)
	ctx := context.Background()
	code, out, _ := e.gluenet(ctx, append([]string{"run", "--job", job, "--connections", conn1 + "," + conn2, "--output", "json"}, fast...)...)
	if code != exitRunFailed {
		t.Fatalf("exit %d, want %d: %s", code, exitRunFailed, out)
	}
	r := decodeRun(t, out)
	if len(r.Attempts) != 1 || r.Attempts[0].Class != "job-code" {
		t.Fatalf("attempts: %+v", r.Attempts)
	}
	code, out, _ = e.gluenet(ctx, "health", "--output", "json")
	if code != 0 || strings.Contains(out, subnet1) {
		t.Fatalf("a job-code failure was blamed on the subnet: %s", out)
	}
	// --retry-job-failures retries it anyway.
	code, out, _ = e.gluenet(ctx, append([]string{"run", "--job", job, "--connections", conn1 + "," + conn2, "--output", "json", "--attempts", "2", "--retry-job-failures"}, fast...)...)
	if r := decodeRun(t, out); code != exitRunFailed || len(r.Attempts) != 2 {
		t.Fatalf("with --retry-job-failures: exit %d, %d attempts", code, len(r.Attempts))
	}
}

func TestRunThrottlingStorm(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	if err := e.region.SetThrottle("*", 0.3); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := e.gluenet(context.Background(), append([]string{"run", "--job", job, "--connections", conn1 + "," + conn2, "--output", "json"}, fast...)...)
	if code != 0 {
		t.Fatalf("exit %d under 30%% throttling: %s %s", code, out, stderr)
	}
	throttled := 0
	for _, sv := range e.region.Stats().Services {
		throttled += sv.Throttled
	}
	if throttled == 0 {
		t.Fatalf("no call was throttled: %+v", e.region.Stats())
	}
}

// ghost creates the connection "Ghost", whose subnet does not exist: it
// exists in Glue but cannot be checked, so it ranks unchecked.
func (e *simEnv) ghost() {
	e.t.Helper()
	_, err := e.glue.CreateConnection(context.Background(), &glue.CreateConnectionInput{ConnectionInput: &gluetypes.ConnectionInput{
		Name: aws.String("Ghost"), ConnectionType: gluetypes.ConnectionTypeNetwork, ConnectionProperties: map[string]string{},
		PhysicalConnectionRequirements: &gluetypes.PhysicalConnectionRequirements{SubnetId: aws.String("subnet-00000000000000dead")},
	}})
	if err != nil {
		e.t.Fatal(err)
	}
}

// TestRunUncheckableConnectionIsNotFatal: a connection that exists but
// whose subnet cannot be checked (here: the subnet was deleted) is ranked
// unchecked and the run goes on, unlike one that does not exist at all
// (TestBadInput).
func TestRunUncheckableConnectionIsNotFatal(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	e.ghost()
	code, out, stderr := e.gluenet(context.Background(), append([]string{"run", "--job", job, "--connections", "Ghost," + conn1, "--output", "json"}, fast...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	r := decodeRun(t, out)
	if r.Order[0] != conn1 || r.Connections[1].Group.String() != "unchecked" || r.Connections[1].Problem == "" {
		t.Fatalf("ranking: %+v", r.Connections)
	}
	if !strings.Contains(stderr, "Ghost") {
		t.Errorf("no warning about the unchecked connection in the logs")
	}
}

// TestJobMaxRetriesWarns: Glue's own retries reuse the same connection, so
// a job with MaxRetries > 0 gets a warning.
func TestJobMaxRetriesWarns(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	_, err := e.glue.CreateJob(context.Background(), &glue.CreateJobInput{Name: aws.String("RetryingJob"), Role: aws.String("arn:aws:iam::123456789012:role/r"),
		Command: &gluetypes.JobCommand{Name: aws.String("glueetl"), ScriptLocation: aws.String("s3://b/s.py")}, WorkerType: gluetypes.WorkerTypeG1x,
		NumberOfWorkers: aws.Int32(2), GlueVersion: aws.String("4.0"), MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := e.gluenet(context.Background(), "plan", "--job", "RetryingJob", "--connections", conn1)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	if !strings.Contains(stderr, "MaxRetries") || !strings.Contains(stderr, "same connection") {
		t.Errorf("no warning about the job's MaxRetries:\n%s", stderr)
	}
	code, _, stderr = e.gluenet(context.Background(), "plan", "--job", job, "--connections", conn1)
	if code != 0 || strings.Contains(stderr, "MaxRetries") {
		t.Errorf("exit %d; a job without MaxRetries was warned about:\n%s", code, stderr)
	}
}

func TestRunInterruptStopsTheRun(t *testing.T) {
	e := newSimEnv(t, func(sc *sim.Scenario) { sc.TimeScale = 60 }, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var (
		code int
		out  string
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		code, out, _ = e.gluenet(ctx, "run", "--job", job, "--connections", conn1, "--poll-interval", "20ms", "--output", "json")
	}()
	// Cancel once the run is going (state is read through the region's
	// own view, not a timer).
	for {
		if runs := e.region.State().Runs; len(runs) == 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d: %s", code, exitInterrupted, out)
	}
	runs := e.region.State().Runs
	if len(runs) != 1 || runs[0].State != "STOPPED" {
		t.Fatalf("the run was left going: %+v", runs)
	}
}

// denyUpdateJob makes UpdateJob fail with AccessDenied, like a role
// without glue:UpdateJob.
func denyUpdateJob(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "AWSGlue.UpdateJob" {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(400)
			io.WriteString(w, `{"__type":"AccessDeniedException","Message":"User: arn:aws:iam::123456789012:user/ci is not authorized to perform: glue:UpdateJob on resource: arn:aws:glue:us-east-1:123456789012:job/AirflowBlogJob"}`)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// TestBadInput: each bad input gets a clear message, its exit code, and
// leaves the job definition as it was.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	malformed := write("bad.yaml", "job: [unclosed\n")
	unknownKey := write("unknown.yaml", "job: AirflowBlogJob\nconections: [a]\n")
	conns := conn1 + "," + conn2
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wrap    func(http.Handler) http.Handler
		code    int
		message string
	}{
		{"unknown strategy", []string{"run", "--job", job, "--connections", conns, "--strategy", "fastest"}, nil, nil, exitUsage, `unknown strategy "fastest"`},
		{"empty connection list", []string{"run", "--job", job, "--connections", ""}, nil, nil, exitUsage, "no connections"},
		{"empty connection name", []string{"run", "--job", job, "--connections", conn1 + ",,"}, nil, nil, exitUsage, "is empty"},
		{"duplicated connection", []string{"run", "--job", job, "--connections", conn1 + "," + conn1}, nil, nil, exitUsage, "listed twice"},
		{"unknown job", []string{"run", "--job", "NoSuchJob", "--connections", conns}, nil, nil, exitUsage, "no such job"},
		{"malformed config file", []string{"run", "--config", malformed}, nil, nil, exitUsage, "config file"},
		{"unknown config key", []string{"run", "--config", unknownKey, "--connections", conns}, nil, nil, exitUsage, "conections"},
		{"zero attempts", []string{"run", "--job", job, "--connections", conns, "--attempts", "0"}, nil, nil, exitUsage, "attempts must be at least 1"},
		{"negative attempts", []string{"run", "--job", job, "--connections", conns, "--attempts", "-2"}, nil, nil, exitUsage, "attempts must be at least 1"},
		{"unparseable duration", []string{"run", "--job", job, "--connections", conns, "--retry-delay", "soon"}, nil, nil, exitUsage, "not a duration"},
		{"malformed --arg", []string{"run", "--job", job, "--connections", conns, "--arg", "novalue"}, nil, nil, exitUsage, "KEY=VALUE"},
		{"missing credentials", []string{"run", "--job", job, "--connections", conns}, map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}, nil, exitAWS, "credentials"},
		{"unreachable endpoint", []string{"run", "--job", job, "--connections", conns, "--endpoint-url", "http://127.0.0.1:1"}, nil, nil, exitAWS, "Cannot reach"},
		{"access denied on UpdateJob", []string{"run", "--job", job, "--connections", conn2 + "," + conn1, "--strategy", "ordered"}, nil, denyUpdateJob, exitAWS, "Access denied"},
		// Errors no retry can fix: exit 2 at once, nothing sent.
		{"endpoint URL without a scheme", []string{"run", "--job", job, "--connections", conns, "--endpoint-url", "notaurl"}, nil, nil, exitUsage, `endpoint URL "notaurl": no scheme`},
		{"endpoint URL with another scheme", []string{"plan", "--job", job, "--connections", conns, "--endpoint-url", "ftp://127.0.0.1"}, nil, nil, exitUsage, "not http or https"},
		{"malformed region", []string{"run", "--job", job, "--connections", conns, "--region", "us east 1"}, nil, nil, exitUsage, `region "us east 1"`},
		{"malformed AWS_REGION", []string{"plan", "--job", job, "--connections", conns}, map[string]string{"AWS_REGION": "US-EAST-1"}, nil, exitUsage, "lower case: us-east-1"},
		{"unknown profile", []string{"plan", "--job", job, "--connections", conns, "--profile", "nope"}, nil, nil, exitUsage, `AWS profile "nope"`},
		{"zero call timeout", []string{"plan", "--job", job, "--connections", conns, "--call-timeout", "0s"}, nil, nil, exitUsage, "call timeout"},
		{"malformed Postgres DSN", []string{"run", "--job", job, "--connections", conns, "--postgres-dsn", "postgres://gluenet:s3cret@[::1"}, nil, nil, exitUsage, "the DSN is not a valid postgres:// URL"},
		{"Postgres DSN with a pgx-only setting", []string{"run", "--job", job, "--connections", conns, "--postgres-dsn", "host=127.0.0.1 port=1 pool_min_conns=2"}, nil, nil, exitUsage, "pool_min_conns is not supported"},
		{"MaxCapacity without workers", []string{"run", "--job", "DPUJob", "--connections", conns}, nil, nil, exitUsage, "--need-ips"},
		// Refused before any change: Glue would fail the run anyway.
		{"run: a connection that does not exist", []string{"run", "--job", job, "--connections", conn1 + ",Nope"}, nil, nil, exitUsage, `connection "Nope" does not exist`},
		{"run: only a connection that does not exist", []string{"run", "--job", job, "--connections", "NoSuchConnection"}, nil, nil, exitUsage, `connection "NoSuchConnection" does not exist`},
		{"plan: connections that do not exist", []string{"plan", "--job", job, "--connections", "Nope1," + conn1 + ",Nope2"}, nil, nil, exitUsage, `connections "Nope1", "Nope2" do not exist`},
		{"space-separated list", []string{"run", "--job", job, "--connections", conn1 + " " + conn2}, nil, nil, exitUsage, "separate them with commas (" + conn1 + "," + conn2 + ")"},
		{"name longer than Glue allows", []string{"plan", "--job", job, "--connections", strings.Repeat("c", 256)}, nil, nil, exitUsage, "Glue allows at most 255"},
		{"control character in a name", []string{"run", "--job", job, "--connections", "Subnet\x01"}, nil, nil, exitUsage, "U+0001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newSimEnv(t, nil, tt.wrap)
			_, err := e.glue.CreateJob(context.Background(), &glue.CreateJobInput{Name: aws.String("DPUJob"), Role: aws.String("arn:aws:iam::123456789012:role/r"),
				Command: &gluetypes.JobCommand{Name: aws.String("glueetl"), ScriptLocation: aws.String("s3://b/s.py")}, MaxCapacity: aws.Float64(10)})
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
				if v == "" {
					os.Unsetenv(k)
				}
			}
			before := e.jobJSON(job)
			code, out, stderr := e.gluenet(context.Background(), tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, stderr)
			}
			if !strings.Contains(stderr, tt.message) {
				t.Fatalf("stderr does not say %q:\n%s", tt.message, stderr)
			}
			if after := e.jobJSON(job); after != before {
				t.Fatalf("the job definition changed:\nbefore %s\nafter  %s", before, after)
			}
			if runs := e.region.State().Runs; len(runs) != 0 {
				t.Fatalf("a run was started: %+v", runs)
			}
		})
	}
}

func TestRunFollowLogs(t *testing.T) {
	e := newSimEnv(t, func(sc *sim.Scenario) { sc.Jobs[0].FailureRate = 1 }, nil)
	code, out, stderr := e.gluenet(context.Background(), append([]string{"run", "--job", job, "--connections", conn1 + "," + conn2,
		"--follow-logs", "--strategy", "capacity", "--output", "json"}, fast...)...)
	if code != exitRunFailed {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	if n := strings.Count(stderr, "output | The driver node has been assigned the ip: 10.192.20."); n != 1 {
		t.Fatalf("driver line printed %d times, want once:\n%s", n, stderr)
	}
	if !strings.Contains(stderr, "error | ") || !strings.Contains(stderr, "simulated failure in the job script") {
		t.Fatalf("the error log was not followed:\n%s", stderr)
	}
}

// TestPlanIsWarmTheSecondTime: the connection -> subnet cache lives in the
// state store, so the second invocation skips GetConnection.
func TestPlanIsWarmTheSecondTime(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	calls := func() (int, int) {
		st := e.region.Stats()
		return st.Calls("glue", "GetConnection"), st.Calls("ec2", "DescribeSubnets")
	}
	for i, wantGet := range []int{2, 0} {
		g0, d0 := calls()
		if code, out, stderr := e.gluenet(context.Background(), "plan", "--job", job, "--connections", conn1+","+conn2); code != 0 {
			t.Fatalf("plan %d: %d %s %s", i, code, out, stderr)
		}
		g1, d1 := calls()
		if g1-g0 != wantGet || d1-d0 != 1 {
			t.Fatalf("plan %d: %d GetConnection and %d DescribeSubnets calls, want %d and 1", i, g1-g0, d1-d0, wantGet)
		}
	}
}

// TestOrderIncludesOtherConnections: the job's connections that are not
// candidates keep their place after the ranked ones, and the reported order
// is the whole list written into the job.
func TestOrderIncludesOtherConnections(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	e.ghost()
	ctx := context.Background()
	_, err := e.glue.CreateConnection(ctx, &glue.CreateConnectionInput{ConnectionInput: &gluetypes.ConnectionInput{
		Name: aws.String("Extra"), ConnectionType: gluetypes.ConnectionTypeNetwork, ConnectionProperties: map[string]string{},
		PhysicalConnectionRequirements: &gluetypes.PhysicalConnectionRequirements{SubnetId: aws.String(subnet1)}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.glue.CreateJob(ctx, &glue.CreateJobInput{Name: aws.String("J2"), Role: aws.String("arn:aws:iam::123456789012:role/r"),
		Command:    &gluetypes.JobCommand{Name: aws.String("glueetl"), ScriptLocation: aws.String("s3://b/s.py")},
		WorkerType: gluetypes.WorkerTypeG1x, NumberOfWorkers: aws.Int32(2),
		Connections: &gluetypes.ConnectionsList{Connections: []string{"Extra", conn1, conn2}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{conn2, conn1, "Ghost", "Extra"}
	code, out, stderr := e.gluenet(ctx, "plan", "--job", "J2", "--connections", conn2+","+conn1+",Ghost", "--strategy", "ordered", "--output", "json")
	var p planJSON
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || !reflect.DeepEqual(p.Order, want) {
		t.Fatalf("plan: exit %d order %v, want %v\n%s", code, p.Order, want, stderr)
	}
	code, out, stderr = e.gluenet(ctx, append([]string{"run", "--job", "J2", "--connections", conn2 + "," + conn1 + ",Ghost", "--strategy", "ordered", "--output", "json"}, fast...)...)
	r := decodeRun(t, out)
	if code != 0 || !reflect.DeepEqual(r.Order, want) || !reflect.DeepEqual(r.Attempts[0].Order, want) {
		t.Fatalf("run: exit %d order %v / %v, want %v\n%s", code, r.Order, r.Attempts[0].Order, want, stderr)
	}
	got, err := e.glue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String("J2")})
	if err != nil || !reflect.DeepEqual(got.Job.Connections.Connections, want) {
		t.Fatalf("job's connections %v, want %v (%v)", got.Job.Connections, want, err)
	}
}

// TestPlanOutputGolden pins the documented plan output, as a table and as
// JSON, against testdata/ (go test -run TestPlanOutputGolden -update).
func TestPlanOutputGolden(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	e.ghost()
	if err := e.region.Exhaust(subnet2, 1); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"table", "json"} {
		code, out, stderr := e.gluenet(context.Background(), "plan", "--job", job, "--connections", conn2+",Ghost,"+conn1,
			"--strategy", "capacity", "--output", format)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		golden := filepath.Join("testdata", "plan-"+format+".golden")
		if *update {
			os.WriteFile(golden, []byte(out), 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if out != string(want) {
			t.Errorf("%s output differs from %s (run with -update if intended):\n%s", format, golden, out)
		}
	}
}

// TestPlanAgainstSilentEndpoint: an endpoint that accepts TCP connections
// and never answers ends in exit 4, with a message naming the endpoint,
// instead of hanging (the call timeout is shortened for the test; the
// default is a minute).
func TestPlanAgainstSilentEndpoint(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c) // never read, never answered
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-accepted
		for _, c := range held {
			c.Close()
		}
	})
	silent := "http://" + ln.Addr().String()
	for _, how := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"flag", []string{"--call-timeout", "300ms"}, nil},
		{"environment", nil, map[string]string{"GLUENET_CALL_TIMEOUT": "300ms"}},
	} {
		t.Run(how.name, func(t *testing.T) {
			args := append([]string{"plan", "--job", job, "--connections", conn1 + "," + conn2, "--endpoint-url", silent}, how.args...)
			var out, errb bytes.Buffer
			all := append([]string{"--state", e.state}, args...)
			code := execute(context.Background(), all, &out, &errb, func(k string) (string, bool) { v, ok := how.env[k]; return v, ok })
			if code != exitAWS {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitAWS, out.String(), errb.String())
			}
			if msg := errb.String(); !strings.Contains(msg, "no answer from "+silent) || !strings.Contains(msg, "--call-timeout") {
				t.Fatalf("stderr should name the endpoint %s and the call timeout:\n%s", silent, msg)
			}
		})
	}
}

// TestMalformedEndpointFromEnvironment: an endpoint URL that only the SDK
// reads (AWS_ENDPOINT_URL_GLUE) fails when the request is sent; it is exit
// 2 at once, not retried by the SDK or by gluenet.
func TestMalformedEndpointFromEnvironment(t *testing.T) {
	e := newSimEnv(t, nil, nil) // for the credentials and region
	t.Setenv("AWS_ENDPOINT_URL_GLUE", "notaurl")
	var out, errb bytes.Buffer
	code := execute(context.Background(), []string{"--state", e.state, "run", "--job", job, "--connections", conn1, "--retry-delay", "1h", "--max-retry-delay", "2h"},
		&out, &errb, func(string) (string, bool) { return "", false })
	if code != exitUsage {
		t.Fatalf("exit %d, want %d\nstderr: %s", code, exitUsage, errb.String())
	}
	if !strings.Contains(errb.String(), `unsupported protocol scheme`) || !strings.Contains(errb.String(), "AWS_ENDPOINT_URL_GLUE") {
		t.Fatalf("stderr should say what is wrong and where to look:\n%s", errb.String())
	}
}

// TestPythonShellStartsWithOneIP: a Python shell run is one node and one
// IP; a subnet with one free IP can start it, in the region and in the
// plan (the default --min-ips of 2 is for Spark's driver and executor).
func TestPythonShellStartsWithOneIP(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	ctx := context.Background()
	_, err := e.glue.CreateJob(ctx, &glue.CreateJobInput{Name: aws.String("Shell"), Role: aws.String("arn:aws:iam::123456789012:role/r"),
		Command: &gluetypes.JobCommand{Name: aws.String("pythonshell"), ScriptLocation: aws.String("s3://b/s.py")}, MaxCapacity: aws.Float64(0.0625)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.region.Exhaust(subnet1, 1); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := e.gluenet(ctx, "plan", "--job", "Shell", "--connections", conn1, "--output", "json")
	var p planJSON
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, stderr)
	}
	if p.Need.IPs != 1 || p.Need.MinIPs != 1 || p.Connections[0].Group.String() != "good" {
		t.Fatalf("need %+v, group %s: want 1 IP and the subnet with 1 free IP good", p.Need, p.Connections[0].Group)
	}
}
