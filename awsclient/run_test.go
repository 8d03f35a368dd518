package awsclient

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
)

func createJob(t *testing.T, g *glue.Client, in *glue.CreateJobInput) {
	t.Helper()
	in.Role = aws.String("arn:aws:iam::123456789012:role/service-role/AWSGlueServiceRole-test")
	if in.Command == nil {
		in.Command = &types.JobCommand{Name: aws.String("glueetl"), ScriptLocation: aws.String("s3://bucket/job.py")}
	}
	if _, err := g.CreateJob(t.Context(), in); err != nil {
		t.Fatalf("create job %s: %v", aws.ToString(in.Name), err)
	}
}

func TestJobNeeds(t *testing.T) {
	forEachBackend(t, network{}, testJobNeeds)
}

func testJobNeeds(t *testing.T, b *testBackend) {
	c := New(b.cfg)

	tests := []struct {
		name       string
		job        *glue.CreateJobInput // nil: the job does not exist
		override   int
		wantIPs    int
		wantSource string
		wantErr    func(error) bool
		// simErr, when set, is the error expected from the sim instead.
		simErr func(error) bool
	}{
		{
			name:    "workers",
			job:     &glue.CreateJobInput{WorkerType: types.WorkerTypeG1x, NumberOfWorkers: aws.Int32(7)},
			wantIPs: 7, wantSource: "NumberOfWorkers",
		},
		{
			name:     "override wins over workers",
			job:      &glue.CreateJobInput{WorkerType: types.WorkerTypeG1x, NumberOfWorkers: aws.Int32(7)},
			override: 20, wantIPs: 20, wantSource: "override",
		},
		{
			name:    "DPUs only",
			job:     &glue.CreateJobInput{MaxCapacity: aws.Float64(10)},
			wantErr: func(err error) bool { return errors.Is(err, ErrNeedUnknown) },
		},
		{
			name:     "DPUs only with override",
			job:      &glue.CreateJobInput{MaxCapacity: aws.Float64(10)},
			override: 12, wantIPs: 12, wantSource: "override",
		},
		{
			name: "python shell",
			job: &glue.CreateJobInput{MaxCapacity: aws.Float64(0.0625),
				Command: &types.JobCommand{Name: aws.String("pythonshell"), ScriptLocation: aws.String("s3://b/s.py")}},
			wantIPs: 1, wantSource: "python shell job: one node, one IP",
		},
		{
			name:    "no capacity at all: Glue's default",
			job:     &glue.CreateJobInput{},
			wantIPs: 10, wantSource: "Glue's default of 10 DPUs",
			// moto's GetJob leaves MaxCapacity out for such a job; Glue,
			// and the sim after it, report the default 10 DPUs, which
			// JobNeeds cannot tell from a job that set MaxCapacity 10.
			simErr: func(err error) bool { return errors.Is(err, ErrNeedUnknown) },
		},
		{
			name:     "override below the minimum",
			job:      &glue.CreateJobInput{},
			override: 1, wantIPs: gluenet.DefaultMinIPs, wantSource: "override",
		},
		{
			name:    "unknown job",
			wantErr: IsNotFound,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := uniqueName(t, "job")
			conns := []string{"conn-b", "conn-a"}
			if tt.job != nil {
				tt.job.Name = aws.String(name)
				tt.job.Connections = &types.ConnectionsList{Connections: conns}
				b.createJob(t, tt.job)
			}
			got, err := c.JobNeeds(t.Context(), name, tt.override)
			wantErr := tt.wantErr
			if b.isSim() && tt.simErr != nil {
				wantErr = tt.simErr
			}
			if wantErr != nil {
				if err == nil || !wantErr(err) {
					t.Fatalf("JobNeeds = %+v, %v; want an error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("JobNeeds (case %d): %v", i, err)
			}
			want := gluenet.Need{IPs: tt.wantIPs, MinIPs: min(tt.wantIPs, gluenet.DefaultMinIPs)}
			if got.Need != want || got.NeedSource != tt.wantSource {
				t.Errorf("need = %+v (%s), want %+v (%s)", got.Need, got.NeedSource, want, tt.wantSource)
			}
			if err := got.Need.Validate(); err != nil {
				t.Errorf("need does not validate: %v", err)
			}
			if got.Name != name || !slices.Equal(got.Connections, conns) {
				t.Errorf("job = %+v, want name %s and connections %v", got, name, conns)
			}
			if got.WorkerType != string(tt.job.WorkerType) || got.NumberOfWorkers != int(aws.ToInt32(tt.job.NumberOfWorkers)) {
				t.Errorf("workers = %s x %d, want %s x %d", got.WorkerType, got.NumberOfWorkers, tt.job.WorkerType, aws.ToInt32(tt.job.NumberOfWorkers))
			}
		})
	}
}

func TestStartAndGetRun(t *testing.T) {
	forEachBackend(t, network{}, testStartAndGetRun)
}

func testStartAndGetRun(t *testing.T, b *testBackend) {
	g := b.glue
	c := New(b.cfg)
	ctx := t.Context()
	job := uniqueName(t, "job")
	b.createJob(t, &glue.CreateJobInput{Name: aws.String(job), WorkerType: types.WorkerTypeG1x, NumberOfWorkers: aws.Int32(10),
		DefaultArguments: map[string]string{"--from-job": "1"}})

	started := b.now()
	id, err := c.StartRun(ctx, job, gluenet.StartInput{
		Arguments:       map[string]string{"--day": "2026-01-02"},
		NumberOfWorkers: aws.Int32(4),
		WorkerType:      string(types.WorkerTypeG2x),
		Timeout:         aws.Int32(30),
	})
	if err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	run, err := g.GetJobRun(ctx, &glue.GetJobRunInput{JobName: aws.String(job), RunId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetJobRun: %v", err)
	}
	if r := run.JobRun; r.Arguments["--day"] != "2026-01-02" || aws.ToInt32(r.NumberOfWorkers) != 4 ||
		r.WorkerType != types.WorkerTypeG2x || aws.ToInt32(r.Timeout) != 30 {
		t.Errorf("the run did not get the per-run settings: %+v", r)
	}

	// moto moves a run one state further at each GetJobRun; the sim's
	// runs move with its clock (1m to start, then 10m of work).
	var states []string
	var last gluenet.JobRun
	for range 10 {
		st, err := c.GetRun(ctx, job, id)
		if err != nil {
			t.Fatalf("GetRun: %v", err)
		}
		if st.ID != id || st.NumberOfWorkers != 4 || st.WorkerType != "G.2X" || st.StartedOn.IsZero() {
			t.Errorf("status = %+v", st)
		}
		states = append(states, st.State)
		last = st
		if classify.Terminal(st.State) {
			break
		}
		b.advance(5 * time.Minute)
	}
	if last.State != "SUCCEEDED" {
		t.Errorf("states = %v, want the run to end SUCCEEDED", states)
	}
	if b.isSim() {
		// The timestamps and numbers survive the wire exactly.
		want := gluenet.JobRun{
			ID: id, State: "SUCCEEDED", StartedOn: started, CompletedOn: started.Add(11 * time.Minute),
			LastModifiedOn: started.Add(11 * time.Minute), ExecutionTime: 10 * time.Minute,
			NumberOfWorkers: 4, WorkerType: "G.2X", MaxCapacity: 8, LogGroupName: "/aws-glue/jobs",
			Arguments: map[string]string{"--day": "2026-01-02"},
		}
		if !statusEqual(last, want) {
			t.Errorf("final status = %+v, want %+v", last, want)
		}
		if want := []string{"STARTING", "RUNNING", "RUNNING", "SUCCEEDED"}; !slices.Equal(states, want) {
			t.Errorf("states = %v, want %v", states, want)
		}
	}

	if _, err := c.GetRun(ctx, job, "jr_nope"); err == nil || !strings.Contains(err.Error(), `get job run "jr_nope"`) {
		t.Errorf("GetRun of an unknown run = %v, want a wrapped error", err)
	}
	if _, err := c.StartRun(ctx, uniqueName(t, "nojob"), gluenet.StartInput{}); !IsNotFound(err) {
		t.Errorf("StartRun of an unknown job = %v, want EntityNotFoundException", err)
	}
}

// statusEqual compares run statuses, times by instant.
func statusEqual(a, b gluenet.JobRun) bool {
	times := [][2]time.Time{{a.StartedOn, b.StartedOn}, {a.CompletedOn, b.CompletedOn}, {a.LastModifiedOn, b.LastModifiedOn}}
	for _, p := range times {
		if !p[0].Equal(p[1]) {
			return false
		}
	}
	a.StartedOn, a.CompletedOn, a.LastModifiedOn = time.Time{}, time.Time{}, time.Time{}
	b.StartedOn, b.CompletedOn, b.LastModifiedOn = time.Time{}, time.Time{}, time.Time{}
	if !maps.Equal(a.Arguments, b.Arguments) {
		return false
	}
	a.Arguments, b.Arguments = nil, nil
	return reflect.DeepEqual(a, b)
}

// TestStopRunSim stops runs of the simulated region through BatchStopJobRun,
// which moto lacks (TestStopRun checks the request against glueServer).
func TestStopRunSim(t *testing.T) {
	b := newBackend(t, "sim", network{})
	c := New(b.cfg)
	ctx := t.Context()
	b.createJob(t, &glue.CreateJobInput{Name: aws.String("job"), WorkerType: types.WorkerTypeG1x, NumberOfWorkers: aws.Int32(2),
		ExecutionProperty: &types.ExecutionProperty{MaxConcurrentRuns: 2}})
	b.createJob(t, &glue.CreateJobInput{Name: aws.String("other"), WorkerType: types.WorkerTypeG1x, NumberOfWorkers: aws.Int32(2)})

	id, err := c.StartRun(ctx, "job", gluenet.StartInput{})
	if err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	b.advance(2 * time.Minute) // RUNNING
	if err := c.StopRun(ctx, "job", id); err != nil {
		t.Fatalf("StopRun: %v", err)
	}
	if st, err := c.GetRun(ctx, "job", id); err != nil || st.State != "STOPPING" {
		t.Errorf("right after StopRun: %+v, %v; want STOPPING", st, err)
	}
	b.advance(10 * time.Second) // the scenario's stop delay
	st, err := c.GetRun(ctx, "job", id)
	if err != nil || st.State != "STOPPED" || !classify.Terminal(st.State) || st.CompletedOn.IsZero() {
		t.Errorf("after the stop delay: %+v, %v; want STOPPED with CompletedOn", st, err)
	}
	// It stays stopped when its work would have ended.
	b.advance(time.Hour)
	if st, err := c.GetRun(ctx, "job", id); err != nil || st.State != "STOPPED" {
		t.Errorf("an hour later: %+v, %v; want STOPPED", st, err)
	}

	refusals := []struct {
		name, job, runID, code string
	}{
		{name: "terminal run", job: "job", runID: id, code: "InvalidInputException"},
		{name: "unknown run", job: "job", runID: "jr_nope", code: "EntityNotFoundException"},
		{name: "run of another job", job: "other", runID: id, code: "EntityNotFoundException"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			err := c.StopRun(ctx, r.job, r.runID)
			var se *StopRunError
			if !errors.As(err, &se) || se.Code != r.code || se.RunID != r.runID || se.Message == "" {
				t.Errorf("StopRun = %v, want a StopRunError %s for %s", err, r.code, r.runID)
			}
			if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("stop job run %q of job %q", r.runID, r.job)) {
				t.Errorf("StopRun error %q does not name the run and job", err)
			}
		})
	}
}

// TestFindRun looks runs up by their gluenet marker argument.
func TestFindRun(t *testing.T) {
	forEachBackend(t, network{}, testFindRun)
}

func testFindRun(t *testing.T, b *testBackend) {
	c := New(b.cfg)
	ctx := t.Context()
	job := uniqueName(t, "job")
	b.createJob(t, &glue.CreateJobInput{Name: aws.String(job), WorkerType: types.WorkerTypeG1x, NumberOfWorkers: aws.Int32(2),
		ExecutionProperty: &types.ExecutionProperty{MaxConcurrentRuns: 5},
		DefaultArguments:  map[string]string{"--job-language": "python"}})

	const marker = "--gluenet-attempt"
	before := b.now().Add(-time.Minute)
	ids := map[string]string{}
	for _, key := range []string{"k1/1", "k1/2", "k2/1"} {
		id, err := c.StartRun(ctx, job, gluenet.StartInput{Arguments: map[string]string{marker: key, "--day": "1"}})
		if err != nil {
			t.Fatalf("StartRun %s: %v", key, err)
		}
		ids[key] = id
		b.advance(time.Second)
	}
	id, err := c.StartRun(ctx, job, gluenet.StartInput{Arguments: map[string]string{"--day": "1"}})
	if err != nil {
		t.Fatalf("StartRun without marker: %v", err)
	}
	ids["none"] = id

	tests := []struct {
		name  string
		value string
		since time.Time
		want  string // key in ids, "" for none
	}{
		{name: "first", value: "k1/1", since: before, want: "k1/1"},
		{name: "second", value: "k1/2", since: before, want: "k1/2"},
		{name: "other key", value: "k2/1", since: before, want: "k2/1"},
		{name: "no such marker", value: "k3/1", since: before},
		{name: "runs before since are not looked at", value: "k1/1", since: b.now().Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.FindRun(ctx, job, marker, tt.value, tt.since)
			if err != nil {
				t.Fatalf("FindRun: %v", err)
			}
			if got != ids[tt.want] {
				t.Errorf("FindRun(%q) = %q, want %q (%s)", tt.value, got, ids[tt.want], tt.want)
			}
		})
	}
	if _, err := c.FindRun(ctx, uniqueName(t, "nojob"), marker, "k1/1", before); !IsNotFound(err) ||
		!strings.Contains(err.Error(), "get job runs") {
		t.Errorf("FindRun of an unknown job = %v, want a wrapped EntityNotFoundException", err)
	}
}

// TestFindRunPagesSim pages through GetJobRuns on the sim, which lists runs
// newest first as Glue does (moto lists them oldest first), and checks that
// FindRun stops at the first page that reaches back before since.
func TestFindRunPagesSim(t *testing.T) {
	b := newBackend(t, "sim", network{})
	c := New(b.cfg)
	ctx := t.Context()
	b.createJob(t, &glue.CreateJobInput{Name: aws.String("job"), WorkerType: types.WorkerTypeG1x, NumberOfWorkers: aws.Int32(2),
		ExecutionProperty: &types.ExecutionProperty{MaxConcurrentRuns: 1000}})
	const marker = "--gluenet-attempt"
	start := func(n int) map[int]string {
		ids := map[int]string{}
		for i := range n {
			id, err := c.StartRun(ctx, "job", gluenet.StartInput{Arguments: map[string]string{marker: fmt.Sprint(i)}})
			if err != nil {
				t.Fatalf("StartRun %d: %v", i, err)
			}
			ids[i] = id
		}
		return ids
	}
	// 150 old runs, then 120 new ones an hour later: GetJobRuns' pages of
	// 100 hold new 119..20, then new 19..0 and old 149..70, then the rest.
	old := start(150)
	b.advance(time.Hour)
	since := b.now().Add(-time.Minute)
	recent := start(120)

	tests := []struct {
		name      string
		value     string
		since     time.Time
		want      string
		wantPages int
	}{
		{name: "newest, first page", value: "119", since: since, want: recent[119], wantPages: 1},
		{name: "oldest new run, second page", value: "0", since: since, want: recent[0], wantPages: 2},
		// the old run with this marker is never reached: the second page
		// reaches back before since
		{name: "old run only", value: "149", since: since.Add(time.Second), wantPages: 2},
		{name: "no match stops at since", value: "none", since: since, wantPages: 2},
		{name: "old run found with an earlier since", value: "140", since: simStart, want: old[140], wantPages: 2},
		// marker 10 exists among the new runs (found first, newest first)
		{name: "newest of two with the marker", value: "10", since: simStart, want: recent[10], wantPages: 2},
		{name: "every page", value: "none", since: simStart, wantPages: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.counter.take()
			got, err := c.FindRun(ctx, "job", marker, tt.value, tt.since)
			if err != nil {
				t.Fatalf("FindRun: %v", err)
			}
			if got != tt.want {
				t.Errorf("FindRun(%q) = %q, want %q", tt.value, got, tt.want)
			}
			if n := b.counter.take()["GetJobRuns"]; n != tt.wantPages {
				t.Errorf("GetJobRuns called %d times, want %d", n, tt.wantPages)
			}
		})
	}
}

// TestTerminalKnowsEverySDKState checks classify's list of terminal states
// against the SDK's own enum of Glue run states.
func TestTerminalKnowsEverySDKState(t *testing.T) {
	t.Parallel()
	for _, s := range types.JobRunState("").Values() {
		want := slices.Contains([]string{"SUCCEEDED", "FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED"}, string(s))
		if got := classify.Terminal(string(s)); got != want {
			t.Errorf("classify.Terminal(%s) = %v, want %v", s, got, want)
		}
	}
	if classify.Terminal("") {
		t.Error(`classify.Terminal("") = true`)
	}
}

func TestStopRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		response string
		fail     string
		check    func(t *testing.T, err error)
	}{
		{
			name:     "stopped",
			response: `{"SuccessfulSubmissions": [{"JobName": "job", "JobRunId": "jr_1"}], "Errors": []}`,
			check: func(t *testing.T, err error) {
				if err != nil {
					t.Errorf("StopRun = %v, want nil", err)
				}
			},
		},
		{
			name: "refused",
			response: `{"SuccessfulSubmissions": [], "Errors": [{"JobName": "job", "JobRunId": "jr_1",
				"ErrorDetail": {"ErrorCode": "InvalidInputException", "ErrorMessage": "run is in a terminal state"}}]}`,
			check: func(t *testing.T, err error) {
				var se *StopRunError
				if !errors.As(err, &se) || se.Code != "InvalidInputException" || se.RunID != "jr_1" ||
					se.Message != "run is in a terminal state" {
					t.Errorf("StopRun = %v, want a StopRunError", err)
				}
			},
		},
		{
			name: "access denied",
			fail: "AccessDeniedException",
			check: func(t *testing.T, err error) {
				if !IsAccessDenied(err) || !strings.Contains(err.Error(), `stop job run "jr_1" of job "job"`) {
					t.Errorf("StopRun = %v, want a wrapped AccessDeniedException", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := newGlueServer(t)
			srv.stopResponse = tt.response
			if tt.fail != "" {
				srv.fail["BatchStopJobRun"] = tt.fail
			}
			tt.check(t, c.StopRun(t.Context(), "job", "jr_1"))
			calls := srv.callsTo("BatchStopJobRun")
			if len(calls) != 1 || string(calls[0]["JobRunIds"]) != `["jr_1"]` || string(calls[0]["JobName"]) != `"job"` {
				t.Errorf("BatchStopJobRun calls = %v", calls)
			}
		})
	}
}

// TestGetRunStateDetail reads Glue's reason for a WAITING run (job run
// queuing) and sees it go when the run starts.
func TestGetRunStateDetail(t *testing.T) {
	b := newBackend(t, "sim", network{})
	c := New(b.cfg)
	ctx := t.Context()
	b.createJob(t, &glue.CreateJobInput{Name: aws.String("queued"), WorkerType: types.WorkerTypeG1x, NumberOfWorkers: aws.Int32(2),
		JobRunQueuingEnabled: aws.Bool(true)})
	first, err := c.StartRun(ctx, "queued", gluenet.StartInput{})
	if err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	second, err := c.StartRun(ctx, "queued", gluenet.StartInput{})
	if err != nil {
		t.Fatalf("second StartRun with queuing: %v", err)
	}
	tests := []struct {
		name          string
		after         time.Duration
		state, detail string
	}{
		{"while the first runs", 0, "WAITING", "Max concurrent job runs per job exceeded"},
		{"after the first ended", time.Hour, "SUCCEEDED", ""},
	}
	for _, tt := range tests {
		b.advance(tt.after)
		st, err := c.GetRun(ctx, "queued", second)
		if err != nil || st.State != tt.state || st.StateDetail != tt.detail {
			t.Errorf("%s: %s %q (%v), want %s %q", tt.name, st.State, st.StateDetail, err, tt.state, tt.detail)
		}
	}
	if st, err := c.GetRun(ctx, "queued", first); err != nil || st.StateDetail != "" {
		t.Errorf("first run: %+v %v, want no StateDetail", st, err)
	}
}
