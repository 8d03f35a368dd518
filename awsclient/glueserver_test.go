package awsclient

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// glueServer is a tiny stand-in for Glue's JSON 1.1 endpoint with just the
// operations moto lacks (UpdateJob, BatchStopJobRun) and GetJob, so that the
// tests see exactly what the SDK sends. Jobs are kept as raw JSON objects.
type glueServer struct {
	mu    sync.Mutex
	jobs  map[string]map[string]json.RawMessage
	calls []glueCall
	// fail, keyed by operation ("UpdateJob"), makes it answer with that
	// error code.
	fail map[string]string
	// stopResponse is the body BatchStopJobRun answers with.
	stopResponse string
}

type glueCall struct {
	Op   string
	Body map[string]json.RawMessage
}

func newGlueServer(t *testing.T) (*glueServer, *Client) {
	t.Helper()
	s := &glueServer{jobs: make(map[string]map[string]json.RawMessage), fail: make(map[string]string)}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, New(testConfig(t, srv.URL))
}

// putJob stores a job given as a GetJob "Job" JSON object.
func (s *glueServer) putJob(t *testing.T, jobJSON string) {
	t.Helper()
	var job map[string]json.RawMessage
	if err := json.Unmarshal([]byte(jobJSON), &job); err != nil {
		t.Fatalf("bad job JSON: %v", err)
	}
	var name string
	if err := json.Unmarshal(job["Name"], &name); err != nil {
		t.Fatalf("job JSON has no Name: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[name] = job
}

func (s *glueServer) job(name string) map[string]json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.jobs[name])
}

// callsTo returns the bodies of the calls made to op.
func (s *glueServer) callsTo(op string) []map[string]json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]json.RawMessage
	for _, c := range s.calls {
		if c.Op == op {
			out = append(out, c.Body)
		}
	}
	return out
}

func (s *glueServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AWSGlue.")
	if !ok || r.Method != http.MethodPost {
		writeGlueError(w, "UnknownOperationException", "not a Glue JSON 1.1 request")
		return
	}
	var body map[string]json.RawMessage
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		writeGlueError(w, "SerializationException", err.Error())
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, glueCall{Op: op, Body: body})
	if code := s.fail[op]; code != "" {
		writeGlueError(w, code, "injected "+code+" for "+op)
		return
	}
	var name string
	_ = json.Unmarshal(body["JobName"], &name)
	switch op {
	case "GetJob":
		job, ok := s.jobs[name]
		if !ok {
			writeGlueError(w, "EntityNotFoundException", "Job "+name+" not found")
			return
		}
		writeGlueJSON(w, map[string]any{"Job": job})
	case "UpdateJob":
		old, ok := s.jobs[name]
		if !ok {
			writeGlueError(w, "EntityNotFoundException", "Job "+name+" not found")
			return
		}
		// UpdateJob replaces the definition: what the update leaves out
		// is gone, as in Glue. The read-only fields stay.
		var upd map[string]json.RawMessage
		if err := json.Unmarshal(body["JobUpdate"], &upd); err != nil {
			writeGlueError(w, "InvalidInputException", "JobUpdate: "+err.Error())
			return
		}
		for _, k := range []string{"Name", "CreatedOn", "LastModifiedOn"} {
			if v, ok := old[k]; ok {
				upd[k] = v
			}
		}
		s.jobs[name] = upd
		writeGlueJSON(w, map[string]any{"JobName": name})
	case "BatchStopJobRun":
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, s.stopResponse)
	default:
		writeGlueError(w, "UnknownOperationException", op+" is not served here")
	}
}

func writeGlueJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v)
}

func writeGlueError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

// logCapture is a slog handler that keeps the records, to check warnings.
type logCapture struct {
	mu      sync.Mutex
	records []slog.Record
}

func (l *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}
func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCapture) WithGroup(string) slog.Handler      { return l }

// warnings returns the text of each warning: its message and attributes.
func (l *logCapture) warnings() []string { return l.at(slog.LevelWarn) }

// at returns the text of each record at the level.
func (l *logCapture) at(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.records {
		if r.Level != level {
			continue
		}
		var b bytes.Buffer
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			b.WriteString(" " + a.String())
			return true
		})
		out = append(out, b.String())
	}
	return out
}
