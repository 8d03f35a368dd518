package awsclient

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/gluenet/gluenet"
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

func TestJobNeedsMoto(t *testing.T) {
	cfg := testConfig(t, motoURL(t))
	g := glue.NewFromConfig(cfg)
	c := New(cfg)

	tests := []struct {
		name       string
		job        *glue.CreateJobInput // nil: the job does not exist
		override   int
		wantIPs    int
		wantSource string
		wantErr    func(error) bool
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
			wantIPs: gluenet.DefaultMinIPs, wantSource: "python shell job: one node",
		},
		{
			name:    "no capacity at all: Glue's default",
			job:     &glue.CreateJobInput{},
			wantIPs: 10, wantSource: "Glue's default of 10 DPUs",
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
				createJob(t, g, tt.job)
			}
			got, err := c.JobNeeds(t.Context(), name, tt.override)
			if tt.wantErr != nil {
				if err == nil || !tt.wantErr(err) {
					t.Fatalf("JobNeeds = %+v, %v; want an error", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("JobNeeds (case %d): %v", i, err)
			}
			want := gluenet.Need{IPs: tt.wantIPs, MinIPs: gluenet.DefaultMinIPs}
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

func TestStartAndGetRunMoto(t *testing.T) {
	cfg := testConfig(t, motoURL(t))
	g := glue.NewFromConfig(cfg)
	c := New(cfg)
	ctx := t.Context()
	job := uniqueName(t, "job")
	createJob(t, g, &glue.CreateJobInput{Name: aws.String(job), WorkerType: types.WorkerTypeG1x, NumberOfWorkers: aws.Int32(10),
		DefaultArguments: map[string]string{"--from-job": "1"}})

	id, err := c.StartRun(ctx, job, StartInput{
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

	// moto moves a run one state further at each GetJobRun.
	var states []string
	for range 10 {
		st, err := c.GetRun(ctx, job, id)
		if err != nil {
			t.Fatalf("GetRun: %v", err)
		}
		if st.ID != id || st.NumberOfWorkers != 4 || st.WorkerType != "G.2X" || st.StartedOn.IsZero() {
			t.Errorf("status = %+v", st)
		}
		states = append(states, st.State)
		if IsTerminal(st.State) {
			break
		}
	}
	if last := states[len(states)-1]; last != "SUCCEEDED" {
		t.Errorf("states = %v, want the run to end SUCCEEDED", states)
	}

	if _, err := c.GetRun(ctx, job, "jr_nope"); err == nil || !strings.Contains(err.Error(), `get job run "jr_nope"`) {
		t.Errorf("GetRun of an unknown run = %v, want a wrapped error", err)
	}
	if _, err := c.StartRun(ctx, uniqueName(t, "nojob"), StartInput{}); !IsNotFound(err) {
		t.Errorf("StartRun of an unknown job = %v, want EntityNotFoundException", err)
	}
}

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	for _, s := range types.JobRunState("").Values() {
		want := slices.Contains([]string{"SUCCEEDED", "FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED"}, string(s))
		if got := IsTerminal(string(s)); got != want {
			t.Errorf("IsTerminal(%s) = %v, want %v", s, got, want)
		}
	}
	if IsTerminal("") {
		t.Error(`IsTerminal("") = true`)
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
