package sim

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
)

// logAt appends an event at simulated time d from the start.
func (e *env) logAt(d time.Duration, group, stream, msg string) {
	e.at(d)
	unlock := e.r.lock()
	e.r.appendLog(group, stream, msg)
	unlock()
}

func messages(out *cloudwatchlogs.GetLogEventsOutput) []string {
	var m []string
	for _, ev := range out.Events {
		m = append(m, *ev.Message)
	}
	return m
}

func TestGetLogEvents(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	for i := range 5 {
		e.logAt(time.Duration(i)*time.Minute, outputLogGroup, "s", fmt.Sprint(i))
	}
	get := func(in cloudwatchlogs.GetLogEventsInput) *cloudwatchlogs.GetLogEventsOutput {
		t.Helper()
		in.LogGroupName, in.LogStreamName = aws.String(outputLogGroup), aws.String("s")
		out, err := e.logs.GetLogEvents(ctx, &in)
		mustOK(t, err)
		return out
	}

	t.Run("follow from the head", func(t *testing.T) {
		out := get(cloudwatchlogs.GetLogEventsInput{StartFromHead: aws.Bool(true), Limit: aws.Int32(3)})
		if m := messages(out); !slices.Equal(m, []string{"0", "1", "2"}) {
			t.Fatalf("first page = %q", m)
		}
		out = get(cloudwatchlogs.GetLogEventsInput{NextToken: out.NextForwardToken, Limit: aws.Int32(3)})
		if m := messages(out); !slices.Equal(m, []string{"3", "4"}) {
			t.Fatalf("second page = %q", m)
		}
		tok := aws.ToString(out.NextForwardToken)
		out = get(cloudwatchlogs.GetLogEventsInput{NextToken: aws.String(tok)})
		if len(out.Events) != 0 || aws.ToString(out.NextForwardToken) != tok {
			t.Errorf("at the end: %d events, token %q, want none and the same token %q", len(out.Events), aws.ToString(out.NextForwardToken), tok)
		}
		e.logAt(10*time.Minute, outputLogGroup, "s", "5")
		out = get(cloudwatchlogs.GetLogEventsInput{NextToken: aws.String(tok)})
		if m := messages(out); !slices.Equal(m, []string{"5"}) {
			t.Errorf("after a new event = %q, want [5]", m)
		}
	})
	t.Run("newest by default, then backward", func(t *testing.T) {
		out := get(cloudwatchlogs.GetLogEventsInput{Limit: aws.Int32(2)})
		if m := messages(out); !slices.Equal(m, []string{"4", "5"}) {
			t.Fatalf("newest = %q", m)
		}
		out = get(cloudwatchlogs.GetLogEventsInput{NextToken: out.NextBackwardToken, Limit: aws.Int32(2)})
		if m := messages(out); !slices.Equal(m, []string{"2", "3"}) {
			t.Errorf("backward = %q", m)
		}
	})
	t.Run("time window", func(t *testing.T) {
		out := get(cloudwatchlogs.GetLogEventsInput{StartFromHead: aws.Bool(true),
			StartTime: aws.Int64(t0.Add(time.Minute).UnixMilli()), EndTime: aws.Int64(t0.Add(3 * time.Minute).UnixMilli())})
		if m := messages(out); !slices.Equal(m, []string{"1", "2"}) {
			t.Errorf("events in [1m, 3m) = %q", m)
		}
		if ts := *out.Events[0].Timestamp; ts != t0.Add(time.Minute).UnixMilli() {
			t.Errorf("timestamp = %d, want the simulated time %d", ts, t0.Add(time.Minute).UnixMilli())
		}
	})
	t.Run("paginator stops", func(t *testing.T) {
		p := cloudwatchlogs.NewGetLogEventsPaginator(e.logs, &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String(outputLogGroup), LogStreamName: aws.String("s"), StartFromHead: aws.Bool(true), Limit: aws.Int32(4)},
			func(o *cloudwatchlogs.GetLogEventsPaginatorOptions) { o.StopOnDuplicateToken = true })
		var all []string
		for i := 0; p.HasMorePages() && i < 10; i++ {
			out, err := p.NextPage(ctx)
			mustOK(t, err)
			all = append(all, messages(out)...)
		}
		if p.HasMorePages() || len(all) != 6 {
			t.Errorf("paginator read %q and has more: %v", all, p.HasMorePages())
		}
	})
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name string
			in   cloudwatchlogs.GetLogEventsInput
			want string
		}{
			{"unknown stream", cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(outputLogGroup), LogStreamName: aws.String("nope")}, "ResourceNotFoundException"},
			{"unknown group", cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/nope"), LogStreamName: aws.String("s")}, "ResourceNotFoundException"},
			{"bad token", cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(outputLogGroup), LogStreamName: aws.String("s"), NextToken: aws.String("x")}, "InvalidParameterException"},
			{"bad limit", cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(outputLogGroup), LogStreamName: aws.String("s"), Limit: aws.Int32(10001)}, "InvalidParameterException"},
			{"name and ARN", cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String(outputLogGroup), LogGroupIdentifier: aws.String(outputLogGroup), LogStreamName: aws.String("s")}, "InvalidParameterException"},
			{"ARN", cloudwatchlogs.GetLogEventsInput{LogGroupIdentifier: aws.String("arn:aws:logs:us-east-1:123456789012:log-group:/aws-glue/jobs/output:*"), LogStreamName: aws.String("s")}, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := e.logs.GetLogEvents(ctx, &tt.in)
				if errorCode(err) != tt.want {
					t.Errorf("error %v, want code %q", err, tt.want)
				}
			})
		}
	})
}

func TestFilterLogEvents(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	e.logAt(0, outputLogGroup, "jr_a", "The driver node has been assigned the ip: 10.192.20.5")
	e.logAt(time.Minute, outputLogGroup, "other", "unrelated line")
	e.logAt(2*time.Minute, outputLogGroup, "jr_b", "The driver node has been assigned the ip: 10.192.21.9")
	e.logAt(3*time.Minute, outputLogGroup, "jr_b", "Running with 4 of 10 requested workers")

	filter := func(in cloudwatchlogs.FilterLogEventsInput) ([]string, error) {
		in.LogGroupName = aws.String(outputLogGroup)
		var got []string
		ids := map[string]bool{}
		p := cloudwatchlogs.NewFilterLogEventsPaginator(e.logs, &in)
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			for _, ev := range out.Events {
				if ids[*ev.EventId] {
					t.Errorf("event ID %s repeated", *ev.EventId)
				}
				ids[*ev.EventId] = true
				got = append(got, *ev.LogStreamName+": "+*ev.Message)
			}
		}
		return got, nil
	}
	tests := []struct {
		name    string
		in      cloudwatchlogs.FilterLogEventsInput
		want    []string
		wantErr string
	}{
		{"all, one per page", cloudwatchlogs.FilterLogEventsInput{Limit: aws.Int32(1)}, []string{
			"jr_a: The driver node has been assigned the ip: 10.192.20.5", "other: unrelated line",
			"jr_b: The driver node has been assigned the ip: 10.192.21.9", "jr_b: Running with 4 of 10 requested workers"}, ""},
		{"prefix", cloudwatchlogs.FilterLogEventsInput{LogStreamNamePrefix: aws.String("jr_")}, []string{
			"jr_a: The driver node has been assigned the ip: 10.192.20.5",
			"jr_b: The driver node has been assigned the ip: 10.192.21.9", "jr_b: Running with 4 of 10 requested workers"}, ""},
		{"stream names", cloudwatchlogs.FilterLogEventsInput{LogStreamNames: []string{"jr_a", "other"}}, []string{
			"jr_a: The driver node has been assigned the ip: 10.192.20.5", "other: unrelated line"}, ""},
		{"pattern", cloudwatchlogs.FilterLogEventsInput{FilterPattern: aws.String(`"driver node" -10.192.20.`)}, []string{
			"jr_b: The driver node has been assigned the ip: 10.192.21.9"}, ""},
		{"any-of pattern", cloudwatchlogs.FilterLogEventsInput{FilterPattern: aws.String(`?unrelated ?Running`)}, []string{
			"other: unrelated line", "jr_b: Running with 4 of 10 requested workers"}, ""},
		{"time window", cloudwatchlogs.FilterLogEventsInput{StartTime: aws.Int64(t0.Add(time.Minute).UnixMilli()),
			EndTime: aws.Int64(t0.Add(2 * time.Minute).UnixMilli())}, []string{"other: unrelated line"}, ""},
		{"names and prefix", cloudwatchlogs.FilterLogEventsInput{LogStreamNames: []string{"a"}, LogStreamNamePrefix: aws.String("a")}, nil, "InvalidParameterException"},
		{"JSON pattern", cloudwatchlogs.FilterLogEventsInput{FilterPattern: aws.String(`{ $.level = "x" }`)}, nil, "InvalidParameterException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := filter(tt.in)
			if errorCode(err) != tt.wantErr {
				t.Fatalf("error %v, want code %q", err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("events = %q\nwant %q", got, tt.want)
			}
		})
	}
}
