package awsclient

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/gluenet/gluenet"
)

// The log groups where Glue writes a run's standard output and standard
// error, each in a stream named after the run ID.
const (
	OutputLogGroup = "/aws-glue/jobs/output"
	ErrorLogGroup  = "/aws-glue/jobs/error"
)

// logLookback is how far before the newest event seen each poll looks again.
// CloudWatch Logs makes an event searchable some seconds after its
// timestamp, and Glue's nodes do not write in timestamp order, so an event
// older than the newest one seen may show up late; asking again over the
// last minute catches it, and the event IDs keep repeats out.
const logLookback = time.Minute

// LogFollower tails a run's logs by polling: each Poll returns the events not
// returned before. Call it while the run goes, then once more after the run
// ends to drain what is left; a Poll never waits for new events. A
// LogFollower is not safe for concurrent use.
type LogFollower struct {
	// PageSize caps the events per FilterLogEvents call; 0 leaves the
	// service's default (as many as fit in 1 MB, up to 10,000).
	PageSize int32

	logs    LogsAPI
	runID   string
	since   int64 // milliseconds since the epoch
	cursors []*logCursor
}

type logCursor struct {
	group string
	last  int64            // newest event timestamp seen, ms
	seen  map[string]int64 // event key -> timestamp, for events within the lookback
}

// FollowLogs returns a LogFollower for the run's events from since on, in
// the given log groups, or in OutputLogGroup and ErrorLogGroup when none are
// given. It makes no call until Poll.
func (c *Client) FollowLogs(runID string, since time.Time, groups ...string) gluenet.LogPoller {
	if len(groups) == 0 {
		groups = []string{OutputLogGroup, ErrorLogGroup}
	}
	f := &LogFollower{logs: c.Logs, runID: runID}
	if !since.IsZero() {
		f.since = since.UnixMilli()
	}
	for _, g := range groups {
		f.cursors = append(f.cursors, &logCursor{group: g, seen: make(map[string]int64)})
	}
	return f
}

// Poll returns the run's events that no earlier Poll returned, oldest first.
// A log group that does not exist yet (Glue creates them on first use)
// yields no events and no error. On an error Poll still returns the events
// it got before it, which will not be returned again.
func (f *LogFollower) Poll(ctx context.Context) ([]gluenet.LogLine, error) {
	var lines []gluenet.LogLine
	var err error
	for _, cur := range f.cursors {
		var got []gluenet.LogLine
		got, err = f.poll(ctx, cur)
		lines = append(lines, got...)
		if err != nil {
			break
		}
	}
	// sort.SliceStable, not slices.SortStableFunc (compiled again for each
	// struct type): binary size.
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].Time.Before(lines[j].Time) })
	return lines, err
}

func (f *LogFollower) poll(ctx context.Context, cur *logCursor) ([]gluenet.LogLine, error) {
	in := &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName:        aws.String(cur.group),
		LogStreamNamePrefix: aws.String(f.runID),
	}
	if start := cur.start(f.since); start > 0 {
		in.StartTime = aws.Int64(start)
	}
	if f.PageSize > 0 {
		in.Limit = aws.Int32(f.PageSize)
	}
	var out []gluenet.LogLine
	for {
		page, err := f.logs.FilterLogEvents(ctx, in)
		if err != nil {
			if IsNotFound(err) {
				break
			}
			return out, fmt.Errorf("filter log events of run %q in %s: %w", f.runID, cur.group, err)
		}
		for _, e := range page.Events {
			ts := aws.ToInt64(e.Timestamp)
			key := aws.ToString(e.EventId)
			if key == "" {
				// Without an ID, an event is its stream, time and text.
				key = aws.ToString(e.LogStreamName) + "\x00" + strconv.FormatInt(ts, 10) + "\x00" + aws.ToString(e.Message)
			}
			if _, dup := cur.seen[key]; dup {
				continue
			}
			cur.seen[key] = ts
			cur.last = max(cur.last, ts)
			out = append(out, gluenet.LogLine{
				Group:   cur.group,
				Stream:  aws.ToString(e.LogStreamName),
				Time:    time.UnixMilli(ts),
				Message: aws.ToString(e.Message),
				EventID: aws.ToString(e.EventId),
			})
		}
		next := aws.ToString(page.NextToken)
		if next == "" || next == aws.ToString(in.NextToken) {
			break
		}
		in.NextToken = page.NextToken
	}
	// Events older than the next poll's start cannot come back: forget them
	// so that following a long run does not grow memory.
	floor := cur.start(f.since)
	for k, ts := range cur.seen {
		if ts < floor {
			delete(cur.seen, k)
		}
	}
	return out, nil
}

// start is the StartTime of the cursor's next query, in milliseconds.
func (cur *logCursor) start(since int64) int64 {
	if cur.last == 0 {
		return since
	}
	return max(since, cur.last-logLookback.Milliseconds())
}
