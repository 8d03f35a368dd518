package awsclient

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/smithy-go"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/sim"
)

// fakeLogs holds log events per group and answers FilterLogEvents the way
// CloudWatch Logs does: stream prefix, StartTime, pages of Limit events.
type fakeLogs struct {
	mu     sync.Mutex
	groups map[string][]cwtypes.FilteredLogEvent
	nextID int
	fail   map[string]error // by group
	calls  []cloudwatchlogs.FilterLogEventsInput
}

func newFakeLogs(groups ...string) *fakeLogs {
	f := &fakeLogs{groups: map[string][]cwtypes.FilteredLogEvent{}, fail: map[string]error{}}
	for _, g := range groups {
		f.groups[g] = nil
	}
	return f
}

// add writes an event at t0 plus ms milliseconds.
func (f *fakeLogs) add(group, stream string, ms int64, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	f.groups[group] = append(f.groups[group], cwtypes.FilteredLogEvent{
		EventId: aws.String(strconv.Itoa(f.nextID)), LogStreamName: aws.String(stream),
		Timestamp: aws.Int64(t0.UnixMilli() + ms), Message: aws.String(msg),
	})
}

var t0 = time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)

func (f *fakeLogs) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, *in)
	group := aws.ToString(in.LogGroupName)
	if err := f.fail[group]; err != nil {
		return nil, err
	}
	events, ok := f.groups[group]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "The specified log group does not exist."}
	}
	var match []cwtypes.FilteredLogEvent
	for _, e := range events {
		if strings.HasPrefix(aws.ToString(e.LogStreamName), aws.ToString(in.LogStreamNamePrefix)) &&
			aws.ToInt64(e.Timestamp) >= aws.ToInt64(in.StartTime) {
			match = append(match, e)
		}
	}
	slices.SortStableFunc(match, func(a, b cwtypes.FilteredLogEvent) int { return int(*a.Timestamp - *b.Timestamp) })
	start := 0
	if in.NextToken != nil {
		start, _ = strconv.Atoi(*in.NextToken)
	}
	limit := int(aws.ToInt32(in.Limit))
	if limit == 0 {
		limit = 10000
	}
	end := min(start+limit, len(match))
	out := &cloudwatchlogs.FilterLogEventsOutput{Events: match[start:end]}
	if end < len(match) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

func messages(lines []gluenet.LogLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Message)
	}
	return out
}

func TestLogFollower(t *testing.T) {
	t.Parallel()
	type step struct {
		add      func(f *fakeLogs) // events written before the poll
		want     []string          // messages the poll returns
		wantErr  string
		fail     map[string]error
		wantCall int // FilterLogEvents calls the poll makes; 0 = don't check
	}
	lookback := logLookback.Milliseconds()
	tests := []struct {
		name     string
		groups   []string // that exist
		since    time.Duration
		pageSize int32
		steps    []step
	}{
		{
			name:   "only new events, oldest first, across both groups",
			groups: []string{OutputLogGroup, ErrorLogGroup},
			steps: []step{
				{add: func(f *fakeLogs) {
					f.add(OutputLogGroup, "jr_1", 10, "out 1")
					f.add(ErrorLogGroup, "jr_1", 5, "err 1")
				}, want: []string{"err 1", "out 1"}},
				{want: nil},
				{add: func(f *fakeLogs) {
					f.add(OutputLogGroup, "jr_1", 20, "out 2")
					f.add(ErrorLogGroup, "jr_1", 30, "err 2")
				}, want: []string{"out 2", "err 2"}},
			},
		},
		{
			name:   "other runs' streams are left out",
			groups: []string{OutputLogGroup, ErrorLogGroup},
			steps: []step{
				{add: func(f *fakeLogs) {
					f.add(OutputLogGroup, "jr_1", 1, "mine")
					f.add(OutputLogGroup, "jr_2", 2, "theirs")
					f.add(OutputLogGroup, "jr_1-driver", 3, "mine too")
				}, want: []string{"mine", "mine too"}},
			},
		},
		{
			name:   "a missing log group is no error",
			groups: []string{OutputLogGroup},
			steps: []step{
				{want: nil},
				{add: func(f *fakeLogs) { f.add(OutputLogGroup, "jr_1", 1, "out") }, want: []string{"out"}},
			},
		},
		{
			name:   "events before since are left out",
			groups: []string{OutputLogGroup, ErrorLogGroup},
			since:  time.Second,
			steps: []step{
				{add: func(f *fakeLogs) {
					f.add(OutputLogGroup, "jr_1", 999, "before")
					f.add(OutputLogGroup, "jr_1", 1000, "at")
				}, want: []string{"at"}},
			},
		},
		{
			name:     "every page is read",
			groups:   []string{OutputLogGroup, ErrorLogGroup},
			pageSize: 2,
			steps: []step{
				{add: func(f *fakeLogs) {
					for i := range 5 {
						f.add(OutputLogGroup, "jr_1", int64(i), fmt.Sprint("out ", i))
					}
				}, want: []string{"out 0", "out 1", "out 2", "out 3", "out 4"}, wantCall: 3 + 1},
			},
		},
		{
			name:   "late events within the lookback are caught, once",
			groups: []string{OutputLogGroup, ErrorLogGroup},
			steps: []step{
				{add: func(f *fakeLogs) { f.add(OutputLogGroup, "jr_1", 2*lookback, "newest") }, want: []string{"newest"}},
				{add: func(f *fakeLogs) {
					f.add(OutputLogGroup, "jr_1", lookback+1, "late, within the lookback")
					f.add(OutputLogGroup, "jr_1", lookback-1, "late, before the lookback")
				}, want: []string{"late, within the lookback"}},
				{want: nil},
			},
		},
		{
			name:   "an error keeps what came before it",
			groups: []string{OutputLogGroup, ErrorLogGroup},
			steps: []step{
				{
					add:  func(f *fakeLogs) { f.add(OutputLogGroup, "jr_1", 1, "out") },
					fail: map[string]error{ErrorLogGroup: &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}},
					want: []string{"out"}, wantErr: "ThrottlingException",
				},
				{add: func(f *fakeLogs) { f.add(ErrorLogGroup, "jr_1", 2, "err") }, want: []string{"err"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeLogs(tt.groups...)
			c := &Client{Logs: f}
			fl := c.FollowLogs("jr_1", t0.Add(tt.since))
			fl.(*LogFollower).PageSize = tt.pageSize
			for i, s := range tt.steps {
				if s.add != nil {
					s.add(f)
				}
				f.mu.Lock()
				f.fail = s.fail
				f.calls = nil
				f.mu.Unlock()
				got, err := fl.Poll(t.Context())
				if (err == nil) != (s.wantErr == "") || (err != nil && !strings.Contains(err.Error(), s.wantErr)) {
					t.Errorf("poll %d: error = %v, want %q", i+1, err, s.wantErr)
				}
				if !slices.Equal(messages(got), s.want) {
					t.Errorf("poll %d: got %q, want %q", i+1, messages(got), s.want)
				}
				if s.wantCall != 0 && len(f.calls) != s.wantCall {
					t.Errorf("poll %d: %d FilterLogEvents calls, want %d", i+1, len(f.calls), s.wantCall)
				}
				for _, call := range f.calls {
					if aws.ToString(call.LogStreamNamePrefix) != "jr_1" {
						t.Errorf("poll %d: LogStreamNamePrefix = %q, want the run ID", i+1, aws.ToString(call.LogStreamNamePrefix))
					}
				}
			}
		})
	}
}

func TestLogFollowerForgetsOldEvents(t *testing.T) {
	t.Parallel()
	f := newFakeLogs(OutputLogGroup)
	fl := (&Client{Logs: f}).FollowLogs("jr_1", t0, OutputLogGroup).(*LogFollower)
	// An hour of a line per second, polled every minute: the follower must
	// remember only the events within the lookback.
	for minute := range 60 {
		for s := range 60 {
			f.add(OutputLogGroup, "jr_1", int64(minute*60+s)*1000, "line")
		}
		got, err := fl.Poll(t.Context())
		if err != nil || len(got) != 60 {
			t.Fatalf("minute %d: got %d lines, %v; want 60", minute, len(got), err)
		}
	}
	if n := len(fl.cursors[0].seen); n > 61 {
		t.Errorf("the follower remembers %d events, want at most the lookback's 61", n)
	}
	// The last poll started from the newest event the one before it saw,
	// at 58:59, minus the lookback.
	last := f.calls[len(f.calls)-1]
	if want := t0.Add(58*time.Minute + 59*time.Second - logLookback).UnixMilli(); aws.ToInt64(last.StartTime) != want {
		t.Errorf("last StartTime = %d, want the newest event seen minus the lookback, %d", aws.ToInt64(last.StartTime), want)
	}
}

func TestLogFollowerMoto(t *testing.T) {
	cfg := testConfig(t, motoURL(t))
	logs := cloudwatchlogs.NewFromConfig(cfg)
	ctx := t.Context()
	runID := "jr_" + uniqueName(t, "run")
	// Only the output group exists: Glue creates the error group on the
	// first line to standard error.
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(OutputLogGroup)}); err != nil &&
		ErrorCode(err) != "ResourceAlreadyExistsException" {
		t.Fatalf("create log group: %v", err)
	}
	if _, err := logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{
		LogGroupName: aws.String(OutputLogGroup), LogStreamName: aws.String(runID),
	}); err != nil {
		t.Fatalf("create log stream: %v", err)
	}
	start := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	put := func(offsets ...int) {
		t.Helper()
		var events []cwtypes.InputLogEvent
		for _, o := range offsets {
			events = append(events, cwtypes.InputLogEvent{
				Timestamp: aws.Int64(start.Add(time.Duration(o) * time.Second).UnixMilli()),
				Message:   aws.String(fmt.Sprint("line ", o)),
			})
		}
		if _, err := logs.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
			LogGroupName: aws.String(OutputLogGroup), LogStreamName: aws.String(runID), LogEvents: events,
		}); err != nil {
			t.Fatalf("put log events: %v", err)
		}
	}

	fl := New(cfg).FollowLogs(runID, start)
	put(1, 2)
	steps := []struct {
		before func()
		want   []string
	}{
		{want: []string{"line 1", "line 2"}},
		{want: nil},
		{before: func() { put(3) }, want: []string{"line 3"}},
	}
	for i, s := range steps {
		if s.before != nil {
			s.before()
		}
		got, err := fl.Poll(ctx)
		if err != nil {
			t.Fatalf("poll %d: %v", i+1, err)
		}
		if !slices.Equal(messages(got), s.want) {
			t.Errorf("poll %d: got %q, want %q", i+1, messages(got), s.want)
		}
		for _, l := range got {
			if l.Group != OutputLogGroup || l.Stream != runID || l.EventID == "" || l.Time.Before(start) {
				t.Errorf("poll %d: line = %+v", i+1, l)
			}
		}
	}
}

// TestLogFollowerSim follows the logs the simulated region writes for its
// runs (the driver line of the post's script in /aws-glue/jobs/output, why a
// run failed in /aws-glue/jobs/error), moving the runs along with its clock.
// moto has no Glue runs that write logs; TestLogFollowerMoto puts events
// there itself.
func TestLogFollowerSim(t *testing.T) {
	net := network{vpcCIDR: "10.20.0.0/16", subnets: []subnetFixture{
		{role: "a", cidr: "10.20.1.0/24", az: "us-east-1a"},
		{role: "b", cidr: "10.20.2.0/28", az: "us-east-1b"},
		{role: "gone", cidr: "10.20.3.0/24", az: "us-east-1c", deleted: true},
	}}
	type line struct {
		group string
		re    string // the whole message
	}
	driver := func(subnetRole, prefix string) line {
		return line{OutputLogGroup, `The driver node has been assigned the ip: ` + regexp.QuoteMeta(prefix) +
			`\d+ which belongs to the subnet: ` + subnetRole}
	}
	type step struct {
		advance   time.Duration // before the poll
		want      []line
		wantState string
	}
	tests := []struct {
		name    string
		subnet  string // role of the job's connection's subnet
		workers int32
		setup   func(t *testing.T, b *testBackend)
		steps   []step
	}{
		{
			name: "driver line, then nothing more", subnet: "a", workers: 2,
			steps: []step{
				{want: nil, wantState: "STARTING"},
				{advance: time.Minute, want: []line{driver("a", "10.20.1.")}, wantState: "RUNNING"},
				{advance: 5 * time.Minute, want: nil, wantState: "RUNNING"},
				{advance: 5 * time.Minute, want: nil, wantState: "SUCCEEDED"},
			},
		},
		{
			name: "under capacity", subnet: "b", workers: 5,
			setup: func(t *testing.T, b *testBackend) {
				if err := b.region.Exhaust(b.subnetID("b"), 3); err != nil {
					t.Fatalf("Exhaust: %v", err)
				}
			},
			steps: []step{
				{advance: time.Minute, wantState: "RUNNING", want: []line{
					{OutputLogGroup, `Running with 3 of 5 requested workers: subnet subnet-\w+ had 3 free IP addresses`},
					driver("b", "10.20.2."),
				}},
				// 3 of 5 workers: the 10m of work take 10m × 5/3
				// (the region's glue.under_capacity_slowdown default).
				{advance: 10 * time.Minute, want: nil, wantState: "RUNNING"},
				{advance: 6*time.Minute + 40*time.Second, want: nil, wantState: "SUCCEEDED"},
			},
		},
		{
			name: "degraded AZ: the error log says why", subnet: "a", workers: 2,
			setup: func(t *testing.T, b *testBackend) {
				if err := b.region.SetAZState("us-east-1a", sim.AZDegraded); err != nil {
					t.Fatalf("SetAZState: %v", err)
				}
			},
			steps: []step{
				{advance: time.Minute, want: []line{driver("a", "10.20.1.")}, wantState: "RUNNING"},
				{advance: time.Minute, wantState: "FAILED", want: []line{
					{ErrorLogGroup, `Resource unavailable: lost contact with the workers in subnet subnet-\w+ \(us-east-1a\): network unreachable`},
				}},
				{advance: time.Hour, want: nil, wantState: "FAILED"},
			},
		},
		{
			name: "no subnet to place the run", subnet: "gone", workers: 2,
			steps: []step{
				{want: nil, wantState: "STARTING"},
				{advance: 15 * time.Second, wantState: "FAILED", want: []line{
					{ErrorLogGroup, `Failed to create network interface in subnet subnet-\w+: The subnet ID 'subnet-\w+' does not exist .*InvalidSubnetID\.NotFound\)`},
				}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t, "sim", net)
			c := New(b.cfg)
			ctx := t.Context()
			azs := map[string]string{"a": "us-east-1a", "b": "us-east-1b", "gone": "us-east-1c"}
			b.createNetworkConnection(t, "conn", b.subnetID(tt.subnet), azs[tt.subnet])
			b.createJob(t, &glue.CreateJobInput{Name: aws.String("job"), WorkerType: gluetypes.WorkerTypeG1x,
				NumberOfWorkers: aws.Int32(tt.workers), Connections: &gluetypes.ConnectionsList{Connections: []string{"conn"}}})
			if tt.setup != nil {
				tt.setup(t, b)
			}
			// Another run of another job writes its own lines meanwhile.
			b.createJob(t, &glue.CreateJobInput{Name: aws.String("other"), WorkerType: gluetypes.WorkerTypeG1x,
				NumberOfWorkers: aws.Int32(2), Connections: &gluetypes.ConnectionsList{Connections: []string{"conn"}}})
			start := b.now()
			runID, err := c.StartRun(ctx, "job", gluenet.StartInput{})
			if err != nil {
				t.Fatalf("StartRun: %v", err)
			}
			if _, err := c.StartRun(ctx, "other", gluenet.StartInput{}); err != nil {
				t.Fatalf("StartRun other: %v", err)
			}

			fl := c.FollowLogs(runID, start)
			for i, s := range tt.steps {
				b.advance(s.advance)
				got, err := fl.Poll(ctx)
				if err != nil {
					t.Fatalf("poll %d: %v", i+1, err)
				}
				if len(got) != len(s.want) {
					t.Errorf("poll %d: got %q, want %d lines", i+1, messages(got), len(s.want))
				}
				for k, l := range got {
					if k >= len(s.want) {
						break
					}
					w := s.want[k]
					if l.Group != w.group || !regexp.MustCompile(`^`+w.re+`$`).MatchString(l.Message) {
						t.Errorf("poll %d line %d = %s %q, want %s %s", i+1, k+1, l.Group, l.Message, w.group, w.re)
					}
					if l.Stream != runID || l.EventID == "" {
						t.Errorf("poll %d line %d = %+v, want stream %s and an event ID", i+1, k+1, l, runID)
					}
					// Every line here is written by the event the step's
					// advance reached.
					if !l.Time.Equal(b.now()) {
						t.Errorf("poll %d line %d at %v, want %v", i+1, k+1, l.Time, b.now())
					}
				}
				st, err := c.GetRun(ctx, "job", runID)
				if err != nil || st.State != s.wantState {
					t.Errorf("poll %d: run state = %q, %v; want %s", i+1, st.State, err, s.wantState)
				}
				if st.State == "FAILED" && len(s.want) > 0 && len(got) > 0 && st.ErrorMessage != got[len(got)-1].Message {
					t.Errorf("poll %d: ErrorMessage = %q, want the error log's %q", i+1, st.ErrorMessage, got[len(got)-1].Message)
				}
			}
		})
	}
}
