package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CloudWatch Logs, as far as Glue runs use it: two log groups whose streams
// are named after run IDs. Events are appended in simulated time order, so
// a stream's index order is its time order and the group's sequence order
// is its time order too.

type logEvent struct {
	ts, ingested int64 // milliseconds since the epoch
	msg          string
	seq          uint64 // unique in the region; orders events in time
	stream       string
}

type logStream struct {
	name    string
	created time.Time
	events  []logEvent
}

type logGroup struct {
	name    string
	created time.Time
	streams map[string]*logStream
	events  []logEvent // every stream's events, in seq order
}

func (r *Region) appendLog(group, stream, msg string) {
	g := r.logGroups[group]
	st, ok := g.streams[stream]
	if !ok {
		st = &logStream{name: stream, created: r.now}
		g.streams[stream] = st
	}
	r.seq++
	ms := r.now.UnixMilli()
	ev := logEvent{ts: ms, ingested: ms, msg: msg, seq: r.seq, stream: stream}
	st.events = append(st.events, ev)
	g.events = append(g.events, ev)
}

func logsInvalid(format string, args ...any) *apiError {
	return newAPIError("InvalidParameterException", 400, format, args...)
}

func logsNotFound(msg string) *apiError {
	return newAPIError("ResourceNotFoundException", 400, "%s", msg)
}

// groupFor resolves a log group from its name or its identifier (name or
// ARN), which the API accepts in place of each other.
func (r *Region) groupFor(name, identifier string) (*logGroup, *apiError) {
	if name != "" && identifier != "" {
		return nil, logsInvalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
	}
	if identifier != "" {
		name = identifier
		if strings.HasPrefix(identifier, "arn:") {
			_, after, ok := strings.Cut(identifier, ":log-group:")
			if !ok {
				return nil, logsInvalid("Invalid log group ARN %q", identifier)
			}
			name = strings.TrimSuffix(after, ":*")
		}
	}
	if name == "" {
		return nil, logsInvalid("Either logGroupName or logGroupIdentifier must be specified.")
	}
	g, ok := r.logGroups[name]
	if !ok {
		return nil, logsNotFound("The specified log group does not exist.")
	}
	return g, nil
}

type getLogEventsInput struct {
	LogGroupName       string `json:"logGroupName"`
	LogGroupIdentifier string `json:"logGroupIdentifier"`
	LogStreamName      string `json:"logStreamName"`
	StartTime          *int64 `json:"startTime"`
	EndTime            *int64 `json:"endTime"`
	NextToken          string `json:"nextToken"`
	Limit              *int   `json:"limit"`
	StartFromHead      *bool  `json:"startFromHead"`
	Unmask             bool   `json:"unmask"`
}

type outputLogEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
}

type getLogEventsOutput struct {
	Events            []outputLogEvent `json:"events"`
	NextForwardToken  string           `json:"nextForwardToken"`
	NextBackwardToken string           `json:"nextBackwardToken"`
}

const maxLogLimit = 10000

func checkLimit(l *int) (int, *apiError) {
	if l == nil {
		return maxLogLimit, nil
	}
	if *l < 1 || *l > maxLogLimit {
		return 0, logsInvalid("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000", *l)
	}
	return *l, nil
}

// Tokens of GetLogEvents: "f/N" reads forward from index N of the stream,
// "b/N" reads backward from index N (exclusive). Real tokens are opaque
// strings of the same shape.
func parseStreamToken(tok string, n int) (forward bool, pos int, aerr *apiError) {
	dir, num, ok := strings.Cut(tok, "/")
	p, err := strconv.Atoi(num)
	if !ok || err != nil || p < 0 || p > n || (dir != "f" && dir != "b") {
		return false, 0, logsInvalid("The specified nextToken is invalid.")
	}
	return dir == "f", p, nil
}

func streamToken(forward bool, pos int) string {
	if forward {
		return fmt.Sprintf("f/%038d", pos)
	}
	return fmt.Sprintf("b/%038d", pos)
}

func inWindow(ts int64, start, end *int64) bool {
	return (start == nil || ts >= *start) && (end == nil || ts < *end)
}

// getLogEvents reads a stream. Without a token it reads the newest events
// (or the oldest with startFromHead); nextForwardToken comes back unchanged
// when there is nothing new, which is how followers know to wait.
func (r *Region) getLogEvents(in getLogEventsInput) (*getLogEventsOutput, *apiError) {
	g, aerr := r.groupFor(in.LogGroupName, in.LogGroupIdentifier)
	if aerr != nil {
		return nil, aerr
	}
	// A missing logStreamName is refused by validateInput (the model
	// requires it); here it is present but empty.
	if in.LogStreamName == "" {
		return nil, logsInvalid("1 validation error detected: Value '' at 'logStreamName' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	limit, aerr := checkLimit(in.Limit)
	if aerr != nil {
		return nil, aerr
	}
	st, ok := g.streams[in.LogStreamName]
	if !ok {
		return nil, logsNotFound("The specified log stream does not exist.")
	}
	n := len(st.events)
	forward := in.StartFromHead != nil && *in.StartFromHead
	pos := n
	if forward {
		pos = 0
	}
	if in.NextToken != "" {
		if forward, pos, aerr = parseStreamToken(in.NextToken, n); aerr != nil {
			return nil, aerr
		}
	}
	out := &getLogEventsOutput{Events: []outputLogEvent{}}
	if forward {
		last := pos
		for i := pos; i < n && len(out.Events) < limit; i++ {
			if ev := st.events[i]; inWindow(ev.ts, in.StartTime, in.EndTime) {
				out.Events = append(out.Events, outputLogEvent{ev.ts, ev.msg, ev.ingested})
			}
			last = i + 1
		}
		out.NextForwardToken = streamToken(true, last)
		out.NextBackwardToken = streamToken(false, pos)
		return out, nil
	}
	first := pos
	var rev []outputLogEvent
	for i := pos - 1; i >= 0 && len(rev) < limit; i-- {
		if ev := st.events[i]; inWindow(ev.ts, in.StartTime, in.EndTime) {
			rev = append(rev, outputLogEvent{ev.ts, ev.msg, ev.ingested})
		}
		first = i
	}
	for i := len(rev) - 1; i >= 0; i-- {
		out.Events = append(out.Events, rev[i])
	}
	out.NextForwardToken = streamToken(true, pos)
	out.NextBackwardToken = streamToken(false, first)
	return out, nil
}

type filterLogEventsInput struct {
	LogGroupName        string   `json:"logGroupName"`
	LogGroupIdentifier  string   `json:"logGroupIdentifier"`
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix string   `json:"logStreamNamePrefix"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	FilterPattern       string   `json:"filterPattern"`
	NextToken           string   `json:"nextToken"`
	Limit               *int     `json:"limit"`
	Interleaved         *bool    `json:"interleaved"`
	Unmask              bool     `json:"unmask"`
	StartFromHead       *bool    `json:"startFromHead"`
}

type filteredLogEvent struct {
	LogStreamName string `json:"logStreamName"`
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	EventID       string `json:"eventId"`
}

type filterLogEventsOutput struct {
	Events    []filteredLogEvent `json:"events"`
	NextToken string             `json:"nextToken,omitempty"`
}

// filterLogEvents searches a group's streams. Its token is the sequence
// number of the last event returned; events are kept in sequence order, so
// a later page starts right after it even if new events arrived.
func (r *Region) filterLogEvents(in filterLogEventsInput) (*filterLogEventsOutput, *apiError) {
	g, aerr := r.groupFor(in.LogGroupName, in.LogGroupIdentifier)
	if aerr != nil {
		return nil, aerr
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != "" {
		return nil, logsInvalid("You cannot specify both LogStreamNames and LogStreamNamePrefix.")
	}
	if len(in.LogStreamNames) > 100 {
		return nil, logsInvalid("1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: Member must have length less than or equal to 100")
	}
	limit, aerr := checkLimit(in.Limit)
	if aerr != nil {
		return nil, aerr
	}
	match, aerr := compileFilterPattern(in.FilterPattern)
	if aerr != nil {
		return nil, aerr
	}
	var after uint64
	if in.NextToken != "" {
		v, ok := strings.CutPrefix(in.NextToken, "n/")
		s, err := strconv.ParseUint(v, 10, 64)
		if !ok || err != nil {
			return nil, logsInvalid("The specified nextToken is invalid.")
		}
		after = s
	}
	wanted := map[string]bool{}
	for _, s := range in.LogStreamNames {
		wanted[s] = true
	}
	out := &filterLogEventsOutput{Events: []filteredLogEvent{}}
	var lastSeq uint64
	for _, ev := range g.events {
		if ev.seq <= after {
			continue
		}
		if len(wanted) > 0 && !wanted[ev.stream] {
			continue
		}
		if in.LogStreamNamePrefix != "" && !strings.HasPrefix(ev.stream, in.LogStreamNamePrefix) {
			continue
		}
		if !inWindow(ev.ts, in.StartTime, in.EndTime) || !match(ev.msg) {
			continue
		}
		if len(out.Events) == limit {
			out.NextToken = fmt.Sprintf("n/%d", lastSeq)
			break
		}
		out.Events = append(out.Events, filteredLogEvent{
			LogStreamName: ev.stream, Timestamp: ev.ts, Message: ev.msg, IngestionTime: ev.ingested,
			EventID: fmt.Sprintf("%056d", ev.seq),
		})
		lastSeq = ev.seq
	}
	return out, nil
}

// compileFilterPattern supports CloudWatch's text patterns: terms that must
// all appear, "quoted phrases", -term to exclude and ?term for any-of.
// JSON ({...}) and space-delimited ([...]) patterns are refused rather than
// matched wrongly.
func compileFilterPattern(p string) (func(string) bool, *apiError) {
	p = strings.TrimSpace(p)
	if p == "" {
		return func(string) bool { return true }, nil
	}
	if strings.HasPrefix(p, "{") || strings.HasPrefix(p, "[") {
		return nil, logsInvalid("Invalid filter pattern: JSON and space-delimited patterns are not supported by the simulated region")
	}
	var all, none, anyOf []string
	for p != "" {
		var prefix byte
		if p[0] == '-' || p[0] == '?' {
			prefix, p = p[0], p[1:]
		}
		var term string
		if strings.HasPrefix(p, `"`) {
			end := strings.IndexByte(p[1:], '"')
			if end < 0 {
				return nil, logsInvalid("Invalid filter pattern: unterminated quote")
			}
			term, p = p[1:1+end], p[2+end:]
		} else {
			i := strings.IndexAny(p, " \t")
			if i < 0 {
				i = len(p)
			}
			term, p = p[:i], p[i:]
		}
		p = strings.TrimLeft(p, " \t")
		if term == "" {
			continue
		}
		switch prefix {
		case '-':
			none = append(none, term)
		case '?':
			anyOf = append(anyOf, term)
		default:
			all = append(all, term)
		}
	}
	return func(msg string) bool {
		for _, t := range all {
			if !strings.Contains(msg, t) {
				return false
			}
		}
		for _, t := range none {
			if strings.Contains(msg, t) {
				return false
			}
		}
		if len(anyOf) == 0 {
			return true
		}
		for _, t := range anyOf {
			if strings.Contains(msg, t) {
				return true
			}
		}
		return false
	}, nil
}
