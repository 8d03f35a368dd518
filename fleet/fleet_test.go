package fleet

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/postgres"
	"github.com/gluenet/gluenet/store/postgres/pgtest"
	"github.com/gluenet/gluenet/store/sqlite"
)

// now is the tests' clock.
var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

const (
	subnetA = "subnet-aaaa"
	subnetB = "subnet-bbbb"
	azA     = "us-east-1a"
	azB     = "us-east-1b"
)

func ip(n int) *int { return &n }

func plan(freeA, freeB, reservedA int) json.RawMessage {
	p := gluenet.Plan{Strategy: "capacity", Need: gluenet.Need{IPs: 10, MinIPs: 2}, Placements: []gluenet.Placement{
		{Candidate: gluenet.Candidate{Connection: "conn-a", SubnetID: subnetA, AZ: azA}, Free: ip(freeA), Reserved: reservedA, Group: gluenet.GroupGood, Rank: 1, Reason: "most free IPs"},
		{Candidate: gluenet.Candidate{Connection: "conn-b", SubnetID: subnetB, AZ: azB}, Free: ip(freeB), Group: gluenet.GroupGood, Rank: 2, Reason: "fewer free IPs"},
	}}
	b, _ := json.Marshal(p)
	return b
}

// seed writes a small fleet to a new SQLite store: a run that succeeded,
// one that failed over after a placement failure, an ejected subnet and
// zone, a reservation and two samples.
func seed(t *testing.T) store.Store { return seedInto(t, openSQLite(t)) }

// openSQLite opens a new SQLite store.
func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), sqlite.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// openPostgres opens a store in a new schema of the test database
// (GLUENET_TEST_POSTGRES_DSN); without one it skips, except in CI.
func openPostgres(t *testing.T) store.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), pgtest.Schema(t), postgres.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// stores are the drivers the fleet view is tested on.
var stores = []struct {
	name string
	open func(t *testing.T) store.Store
}{{"sqlite", openSQLite}, {"postgres", openPostgres}}

func seedInto(t *testing.T, st store.Store) store.Store {
	t.Helper()
	ctx := context.Background()
	var err error
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	t1 := now.Add(-2 * time.Hour)
	_, _, err = st.BeginRun(ctx, store.Run{Key: "airflow/dag/run-1/task", Job: "etl", Status: store.RunRunning, CreatedAt: t1})
	must(err)
	must(st.PutAttempt(ctx, store.Attempt{RunKey: "airflow/dag/run-1/task", Number: 1, Plan: plan(200, 100, 0), GlueRunID: "jr_1",
		StartedAt: t1.Add(2 * time.Second), EndedAt: t1.Add(10 * time.Minute), FinalState: "SUCCEEDED", Class: "succeeded",
		Subnet: subnetA, AZ: azA, States: []store.StateChange{{State: "STARTING", At: t1.Add(3 * time.Second)}, {State: "RUNNING", At: t1.Add(63 * time.Second)}, {State: "SUCCEEDED", At: t1.Add(10 * time.Minute)}}}))
	must(st.FinishRun(ctx, "airflow/dag/run-1/task", store.RunSucceeded, "succeeded", t1.Add(10*time.Minute)))

	t2 := now.Add(-time.Hour)
	_, _, err = st.BeginRun(ctx, store.Run{Key: "run-2", Job: "report", Status: store.RunRunning, CreatedAt: t2})
	must(err)
	must(st.PutAttempt(ctx, store.Attempt{RunKey: "run-2", Number: 1, Plan: plan(3, 90, 5), GlueRunID: "jr_2",
		StartedAt: t2.Add(time.Second), FinalState: "FAILED", Class: "placement", ErrorMessage: "not enough IPs", Subnet: subnetA, AZ: azA,
		States: []store.StateChange{{State: "FAILED", At: t2.Add(time.Minute)}}}))
	must(st.PutAttempt(ctx, store.Attempt{RunKey: "run-2", Number: 2, Plan: plan(3, 88, 5), GlueRunID: "jr_3",
		StartedAt: t2.Add(2 * time.Minute), FinalState: "SUCCEEDED", Class: "succeeded", Subnet: subnetB, AZ: azB,
		States: []store.StateChange{{State: "RUNNING", At: t2.Add(4 * time.Minute)}}}))
	must(st.FinishRun(ctx, "run-2", store.RunSucceeded, "succeeded", t2.Add(20*time.Minute)))

	until := now.Add(30 * time.Minute)
	must(st.UpdateHealth(ctx, func([]gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
		return []gluenet.HealthRecord{
				{Scope: gluenet.ScopeSubnet, Key: subnetA, ConsecutiveFailures: 3, Ejections: 1, EjectedUntil: until, LastFailure: t2, LastClass: "placement"},
				{Scope: gluenet.ScopeAZ, Key: azA, ConsecutiveFailures: 2, Ejections: 1, EjectedUntil: until, LastFailure: t2, LastClass: "placement"},
			}, []store.HealthEvent{
				{At: t2.Add(time.Minute), Scope: gluenet.ScopeSubnet, Key: subnetA, Kind: store.HealthFailure, Class: "placement", Detail: "not enough IPs"},
				{At: t2.Add(time.Minute), Scope: gluenet.ScopeSubnet, Key: subnetA, Kind: store.HealthEjected, Class: "placement",
					Detail: "ejected for 1h30m0s (ejection 1) until " + until.Format(time.RFC3339) + " after 3 consecutive placement failures"},
				{At: t2.Add(time.Minute), Scope: gluenet.ScopeAZ, Key: azA, Kind: store.HealthEjected, Class: "placement",
					Detail: "ejected for 1h30m0s (ejection 1) until " + until.Format(time.RFC3339) + " after 2 pieces of evidence"},
			}, nil
	}))
	must(st.AddReservation(ctx, gluenet.Reservation{ID: "report/jr_9", SubnetID: subnetB, AZ: azB, IPs: 10, Job: "report", RunID: "jr_9",
		BaselineFree: 88, CreatedAt: now.Add(-time.Minute), ExpiresAt: now.Add(10 * time.Minute)}))
	must(st.AddSubnetSamples(ctx, []store.SubnetSample{
		{At: now.Add(-3 * time.Hour), SubnetID: subnetB, AZ: azB, FreeIPs: 120},
		{At: now.Add(-30 * time.Minute), SubnetID: subnetB, AZ: azB, FreeIPs: 80, ReservedIPs: 10},
		{At: now.Add(-48 * time.Hour), SubnetID: subnetB, AZ: azB, FreeIPs: 250}, // outside the window
	}))
	return st
}

func newServer(t *testing.T, token string) (*httptest.Server, store.Store) {
	t.Helper()
	return newServerOn(t, seed(t), token)
}

func newServerOn(t *testing.T, st store.Store, token string) (*httptest.Server, store.Store) {
	t.Helper()
	srv := &Server{View: &View{R: st, Now: func() time.Time { return now }}, Token: token}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts, st
}

func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	resp, body := do(t, http.MethodGet, url, h)
	return resp.StatusCode, []byte(body)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	code, b := get(t, url, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, b)
	}
}

func TestFleetNumbers(t *testing.T) {
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			ts, _ := newServerOn(t, seedInto(t, sk.open(t)), "")
			testFleetNumbers(t, ts)
		})
	}
}

func testFleetNumbers(t *testing.T, ts *httptest.Server) {
	var f Fleet
	getJSON(t, ts.URL+"/api/v1/fleet", &f)
	if len(f.Subnets) != 2 {
		t.Fatalf("subnets = %+v, want 2", f.Subnets)
	}
	a, b := f.Subnets[0], f.Subnets[1]
	// subnet A was last seen by run-2's second attempt: 3 after 5 reserved.
	if a.SubnetID != subnetA || a.FreeIPs != 8 || a.Source != SourceRun || !a.Ejected || !a.ZoneEjected || a.ReservedIPs != 0 {
		t.Errorf("subnet A = %+v; want 8 free (3 + 5 reserved then), from a run, ejected in an ejected zone, nothing reserved now", a)
	}
	// subnet B's last observation is the sample 30 minutes ago; 10 IPs are
	// reserved now.
	if b.SubnetID != subnetB || b.FreeIPs != 80 || b.ReservedIPs != 10 || b.FreeAfterReservations != 70 || b.Source != SourceSample || b.Ejected {
		t.Errorf("subnet B = %+v; want 80 free, 10 reserved, 70 after, from a sample, not ejected", b)
	}
	if fmt.Sprint(a.Connections) != "[conn-a]" {
		t.Errorf("subnet A connections = %v", a.Connections)
	}
	if len(f.Zones) != 2 || !f.Zones[0].Ejected || f.Zones[1].Ejected || len(f.Reservations) != 1 {
		t.Errorf("zones = %+v, reservations = %+v", f.Zones, f.Reservations)
	}
	var h struct {
		Observations []Observation `json:"observations"`
	}
	getJSON(t, ts.URL+"/api/v1/history", &h)
	// 2 samples in the window + 3 attempts × 2 placements.
	if len(h.Observations) != 8 {
		t.Errorf("history has %d observations, want 8: %+v", len(h.Observations), h.Observations)
	}
	var hl Health
	getJSON(t, ts.URL+"/api/v1/health", &hl)
	if len(hl.Ejections) != 2 || !hl.Ejections[0].Until.Equal(now.Add(30*time.Minute)) || len(hl.Records) != 2 || !hl.Records[0].EjectedNow {
		t.Errorf("health = %+v", hl)
	}
}

func TestRunsFilters(t *testing.T) {
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			ts, _ := newServerOn(t, seedInto(t, sk.open(t)), "")
			testRunsFilters(t, ts)
		})
	}
}

func testRunsFilters(t *testing.T, ts *httptest.Server) {
	tests := []struct {
		query string
		code  int
		want  []string
	}{
		{"", 200, []string{"run-2", "airflow/dag/run-1/task"}},
		{"?job=etl", 200, []string{"airflow/dag/run-1/task"}},
		{"?outcome=succeeded&limit=1", 200, []string{"run-2"}},
		{"?outcome=failed", 200, nil},
		{"?since=90m", 200, []string{"run-2"}},
		{"?since=" + now.Add(-3*time.Hour).Format(time.RFC3339), 200, []string{"run-2", "airflow/dag/run-1/task"}},
		{"?outcome=great", 400, nil},
		{"?since=yesterday", 400, nil},
		{"?limit=0", 400, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			code, b := get(t, ts.URL+"/api/v1/runs"+tt.query, "")
			if code != tt.code {
				t.Fatalf("code %d, want %d: %s", code, tt.code, b)
			}
			if code != 200 {
				var e struct{ Error string }
				if json.Unmarshal(b, &e) != nil || e.Error == "" {
					t.Errorf("a 400 without an error message: %s", b)
				}
				return
			}
			var r struct{ Runs []RunSummary }
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, s := range r.Runs {
				keys = append(keys, s.Key)
			}
			if fmt.Sprint(keys) != fmt.Sprint(tt.want) {
				t.Errorf("runs = %v, want %v", keys, tt.want)
			}
		})
	}
	var r struct{ Runs []RunSummary }
	getJSON(t, ts.URL+"/api/v1/runs?job=report", &r)
	if s := r.Runs[0]; s.Attempts != 2 || s.Class != "succeeded" || s.Subnet != subnetB || s.AZ != azB || s.Strategy != "capacity" || s.GlueRunID != "jr_3" {
		t.Errorf("summary of run-2 = %+v", s)
	}
}

func TestRunDetail(t *testing.T) {
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			ts, _ := newServerOn(t, seedInto(t, sk.open(t)), "")
			testRunDetail(t, ts)
		})
	}
}

func testRunDetail(t *testing.T, ts *httptest.Server) {
	var d RunDetail
	getJSON(t, ts.URL+"/api/v1/runs/airflow/dag/run-1/task", &d) // keys hold slashes
	if d.Run.Key != "airflow/dag/run-1/task" || len(d.Attempts) != 1 || len(d.Attempts[0].States) != 3 {
		t.Fatalf("detail = %+v", d)
	}
	var p gluenet.Plan
	if err := json.Unmarshal(d.Attempts[0].Plan, &p); err != nil || p.Placements[0].Reason != "most free IPs" {
		t.Errorf("plan = %+v, %v; want the reasons", p, err)
	}
	if code, _ := get(t, ts.URL+"/api/v1/runs/nope", ""); code != http.StatusNotFound {
		t.Errorf("unknown run: %d, want 404", code)
	}
}

func TestToken(t *testing.T) {
	ts, _ := newServer(t, "s3cret")
	tests := []struct {
		path, token string
		code        int
	}{
		{"/healthz", "", 200},
		{"/api/v1/fleet", "", 401},
		{"/api/v1/fleet", "wrong", 401},
		{"/api/v1/fleet", "s3cret", 200},
		{"/metrics", "", 401},
		{"/metrics", "s3cret", 200},
		{"/", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.token, func(t *testing.T) {
			if code, b := get(t, ts.URL+tt.path, tt.token); code != tt.code {
				t.Errorf("GET %s with %q: %d, want %d: %s", tt.path, tt.token, code, tt.code, b)
			}
		})
	}
}

// TestOpenAPIPathsAnswer requests every path of the OpenAPI document and
// checks the answer has every field the document requires, recursively.
func TestOpenAPIPathsAnswer(t *testing.T) {
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			ts, _ := newServerOn(t, seedInto(t, sk.open(t)), "")
			testOpenAPIPathsAnswer(t, ts)
		})
	}
}

func testOpenAPIPathsAnswer(t *testing.T, ts *httptest.Server) {
	var doc map[string]any
	if err := yaml.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if doc["openapi"] != "3.0.3" {
		t.Errorf("openapi = %v", doc["openapi"])
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	paths := doc["paths"].(map[string]any)
	if len(paths) < 10 {
		t.Fatalf("only %d paths documented", len(paths))
	}
	for path, item := range paths {
		t.Run(path, func(t *testing.T) {
			op := item.(map[string]any)["get"].(map[string]any)
			url := ts.URL + strings.Replace(path, "{key}", "airflow/dag/run-1/task", 1)
			code, body := get(t, url, "")
			if code != 200 {
				t.Fatalf("GET %s: %d %s", url, code, body)
			}
			content := op["responses"].(map[string]any)["200"].(map[string]any)["content"].(map[string]any)
			js, ok := content["application/json"].(map[string]any)
			if !ok {
				if len(body) == 0 {
					t.Error("empty body")
				}
				return
			}
			var v any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			n := checkSchema(t, "$", v, js["schema"].(map[string]any), schemas)
			if n == 0 {
				t.Error("no field was checked")
			}
		})
	}
}

// checkSchema checks v against an OpenAPI schema: types, required fields,
// enums, and the fields it has. It returns the number of fields checked.
func checkSchema(t *testing.T, where string, v any, s map[string]any, schemas map[string]any) int {
	t.Helper()
	if ref, ok := s["$ref"].(string); ok {
		s = schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any)
	}
	if v == nil {
		if s["nullable"] != true {
			t.Errorf("%s is null; the document does not allow it", where)
		}
		return 0
	}
	n := 0
	switch s["type"] {
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s = %v, want an object", where, v)
			return 0
		}
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := obj[r.(string)]; !ok {
				t.Errorf("%s lacks the required field %q", where, r)
			}
		}
		for k, fv := range obj {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if props != nil {
					t.Errorf("%s.%s is not documented", where, k)
				}
				continue
			}
			n += 1 + checkSchema(t, where+"."+k, fv, ps, schemas)
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			t.Errorf("%s = %v, want an array", where, v)
			return 0
		}
		for i, e := range arr {
			n += checkSchema(t, fmt.Sprintf("%s[%d]", where, i), e, s["items"].(map[string]any), schemas)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			t.Errorf("%s = %v, want a string", where, v)
		}
		if enum, ok := s["enum"].([]any); ok {
			found := false
			for _, e := range enum {
				found = found || e == str
			}
			if !found {
				t.Errorf("%s = %q, not one of %v", where, str, enum)
			}
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339, str); err != nil {
				t.Errorf("%s = %q, not a date-time", where, str)
			}
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != float64(int64(f)) {
			t.Errorf("%s = %v, want an integer", where, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			t.Errorf("%s = %v, want a boolean", where, v)
		}
	}
	return n
}

func TestSampler(t *testing.T) {
	st := seed(t)
	ctx := context.Background()
	calls := 0
	clock := now
	s := &Sampler{
		Discover: func(_ context.Context, names []string) ([]gluenet.Candidate, error) {
			calls++
			if fmt.Sprint(names) != "[conn-a conn-b conn-c]" {
				t.Errorf("discovered %v", names)
			}
			return []gluenet.Candidate{
				{Connection: "conn-a", SubnetID: subnetA, AZ: azA, FreeIPs: 40, Checked: true},
				{Connection: "conn-b", SubnetID: subnetB, AZ: azB, FreeIPs: 60, Checked: true},
				{Connection: "conn-c", SubnetID: subnetB, AZ: azB, FreeIPs: 60, Checked: true}, // same subnet
				{Connection: "conn-d", Problem: "no such connection"},
			}, nil
		},
		Store: st, Connections: []string{"conn-a", "conn-b", "conn-c"}, Retention: 24 * time.Hour,
		Now: func() time.Time { return clock },
	}
	n, err := s.SampleOnce(ctx)
	if err != nil || n != 2 || calls != 1 {
		t.Fatalf("SampleOnce = %d, %v after %d discoveries; want 2 subnets, 1 discovery", n, err, calls)
	}
	got, err := st.SubnetSamples(ctx, now)
	if err != nil || len(got) != 2 || got[1].SubnetID != subnetB || got[1].ReservedIPs != 10 || got[0].FreeIPs != 40 {
		t.Fatalf("samples = %+v, %v; want A 40 free, B 60 with its 10 reserved", got, err)
	}
	// Nothing checked: an error that names the problems, nothing stored.
	broken := &Sampler{Store: s.Store, Connections: s.Connections, Now: s.Now, Discover: func(context.Context, []string) ([]gluenet.Candidate, error) {
		return []gluenet.Candidate{{Connection: "conn-a", Problem: "access denied"}}, nil
	}}
	if _, err := broken.SampleOnce(ctx); err == nil || !strings.Contains(err.Error(), "conn-a: access denied") {
		t.Errorf("SampleOnce with nothing checked: %v; want an error naming conn-a's problem", err)
	}
	if broken.failed.Load() != 1 || broken.ok.Load() != 0 || s.ok.Load() != 1 {
		t.Errorf("sampler counts: broken %d failed %d ok, good %d ok; want 1 0 1", broken.failed.Load(), broken.ok.Load(), s.ok.Load())
	}
	// Retention: the 48h-old and 3h-old seeds fall out a day later.
	clock = now.Add(22 * time.Hour)
	if _, err := s.SampleOnce(ctx); err != nil {
		t.Fatal(err)
	}
	all, _ := st.SubnetSamples(ctx, time.Time{})
	if len(all) != 5 { // 30-minute-old seed + 2 + 2
		t.Errorf("after a day: %d samples, want 5 (the older seeds pruned)", len(all))
	}
}

func TestEjectionEndsAtRecovery(t *testing.T) {
	t0 := now
	events := []store.HealthEvent{ // newest first, as the store gives them
		{At: t0.Add(10 * time.Minute), Scope: gluenet.ScopeSubnet, Key: "s", Kind: store.HealthSuccess},
		{At: t0, Scope: gluenet.ScopeSubnet, Key: "s", Kind: store.HealthEjected, Detail: "ejected for 1h (ejection 1) until " + t0.Add(time.Hour).Format(time.RFC3339) + " after x"},
		{At: t0, Scope: gluenet.ScopeAZ, Key: "z", Kind: store.HealthEjected, Detail: "no until here"},
	}
	recs := []gluenet.HealthRecord{{Scope: gluenet.ScopeAZ, Key: "z", EjectedUntil: t0.Add(2 * time.Hour)}}
	got := ejections(events, recs)
	if len(got) != 2 {
		t.Fatalf("ejections = %+v", got)
	}
	for _, e := range got {
		want := map[string]time.Time{"s": t0.Add(10 * time.Minute), "z": t0.Add(2 * time.Hour)}[e.Key]
		if !e.Until.Equal(want) {
			t.Errorf("%s ejected until %v, want %v", e.Key, e.Until, want)
		}
	}
}

// TestMetricsPromtool checks /metrics with `promtool check metrics`.
func TestMetricsPromtool(t *testing.T) {
	promtool := lookTool(t, "promtool", "prometheus")
	ts, _ := newServer(t, "")
	code, body := get(t, ts.URL+"/metrics", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(string(body))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s\n--- metrics:\n%s", err, out, body)
	}
}

// TestMetricsTextFormat: /metrics answers in the text format 0.0.4 even
// when the scraper prefers protobuf or OpenMetrics, as Prometheus does (the
// handler encodes with expfmt.MetricFamilyToText, not promhttp: issue 12).
func TestMetricsTextFormat(t *testing.T) {
	ts, _ := newServer(t, "")
	for _, accept := range []string{
		"",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
		"application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3",
	} {
		t.Run(cmp.Or(accept, "no Accept"), func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, ts.URL+"/metrics", nil)
			if err != nil {
				t.Fatal(err)
			}
			if accept != "" {
				req.Header.Set("Accept", accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
				t.Errorf("Content-Type %q, want the text format 0.0.4", ct)
			}
			if !strings.Contains(string(b), "# TYPE gluenet_store_up gauge\ngluenet_store_up 1\n") {
				t.Errorf("body lacks gluenet_store_up in the text format:\n%s", b)
			}
		})
	}
}

// lookTool finds a command; without it the test skips locally and fails
// in CI.
func lookTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI (apt-get install -y %s): %v", name, pkg, err)
		}
		t.Skipf("%s not installed (apt-get install -y %s)", name, pkg)
	}
	return p
}

func TestMetricsValues(t *testing.T) {
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			ts, _ := newServerOn(t, seedInto(t, sk.open(t)), "")
			testMetricsValues(t, ts)
		})
	}
}

func testMetricsValues(t *testing.T, ts *httptest.Server) {
	_, b := get(t, ts.URL+"/metrics", "")
	body := string(b)
	for _, want := range []string{
		`gluenet_store_up 1`,
		`gluenet_subnet_free_ips{availability_zone="us-east-1a",subnet="subnet-aaaa"} 8`,
		`gluenet_subnet_free_ips{availability_zone="us-east-1b",subnet="subnet-bbbb"} 80`,
		`gluenet_subnet_free_ips_after_reservations{availability_zone="us-east-1b",subnet="subnet-bbbb"} 70`,
		`gluenet_subnet_reserved_ips{availability_zone="us-east-1b",subnet="subnet-bbbb"} 10`,
		`gluenet_subnet_ejected{availability_zone="us-east-1a",subnet="subnet-aaaa"} 1`,
		`gluenet_subnet_ejected{availability_zone="us-east-1b",subnet="subnet-bbbb"} 0`,
		`gluenet_zone_ejected{availability_zone="us-east-1a"} 1`,
		`gluenet_runs_started_total{glue_job="etl"} 1`,
		`gluenet_runs_started_total{glue_job="report"} 1`,
		`gluenet_runs_finished_total{class="succeeded",glue_job="report",status="succeeded"} 1`,
		`gluenet_runs_under_capacity_total{glue_job="report"} 0`,
		`gluenet_window_runs{class="succeeded",glue_job="report",status="succeeded"} 1`,
		`gluenet_placement_failures_total{availability_zone="us-east-1a",subnet="subnet-aaaa"} 1`,
		`gluenet_subnet_stale{availability_zone="us-east-1b",subnet="subnet-bbbb"} 0`,
		`gluenet_build_info{goversion="` + runtime.Version() + `",version="(devel)"} 1`,
		`gluenet_run_attempts_bucket{le="1"} 1`,
		`gluenet_run_attempts_count 2`,
		`gluenet_run_attempts_sum 3`,
		`gluenet_decision_latency_seconds_bucket{le="1"} 1`, // run-2: 1s
		`gluenet_decision_latency_seconds_sum 3`,            // 2s + 1s
		`gluenet_time_to_running_seconds_bucket{le="60"} 0`,
		`gluenet_time_to_running_seconds_bucket{le="120"} 2`, // 61s and 120s
		`gluenet_time_to_running_seconds_count 2`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
}

// TestExampleAlertRules checks examples/prometheus/alerts.yml with promtool
// and that its rules use metrics /metrics exposes.
func TestExampleAlertRules(t *testing.T) {
	path := filepath.Join("..", "examples", "prometheus", "alerts.yml")
	exposed := exposedMetrics(t)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metricNames(string(b)) {
		if !exposed[m] {
			t.Errorf("alerts.yml uses %s, which /metrics does not expose", m)
		}
	}
	promtool := lookTool(t, "promtool", "prometheus")
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}

// TestExampleGrafanaDashboard checks the dashboard is JSON and every
// panel's queries use metrics /metrics exposes.
func TestExampleGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "examples", "grafana", "gluenet-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("not valid JSON: %v", err)
	}
	if d.Title == "" || len(d.Panels) == 0 {
		t.Fatal("no title or no panels")
	}
	exposed := exposedMetrics(t)
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			names := metricNames(q.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q uses no gluenet metric", p.Title, q.Expr)
			}
			for _, m := range names {
				if !exposed[m] {
					t.Errorf("panel %q: %s is not exposed by /metrics (query %q)", p.Title, m, q.Expr)
				}
			}
		}
	}
}

var metricRE = regexp.MustCompile(`\bgluenet_[a-z_]+`)

func metricNames(s string) []string { return metricRE.FindAllString(s, -1) }

// exposedMetrics is every series name the seeded server's /metrics has.
func exposedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	st := seed(t)
	sampler := &Sampler{Store: st, Connections: []string{"conn-b"}, Now: func() time.Time { return now }, Discover: func(context.Context, []string) ([]gluenet.Candidate, error) {
		return []gluenet.Candidate{{Connection: "conn-b", SubnetID: subnetB, AZ: azB, FreeIPs: 90, Checked: true}}, nil
	}}
	if _, err := sampler.SampleOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := &Server{View: &View{R: st, Now: func() time.Time { return now }}, Sampler: sampler}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	get(t, ts.URL+"/metrics", "") // a request that the HTTP metrics then count
	_, b := get(t, ts.URL+"/metrics", "")
	out := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		out[name] = true
	}
	return out
}

// countingReader counts the store reads of the fleet snapshot.
type countingReader struct {
	Reader
	lists int
}

func (c *countingReader) ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	if f.Before.IsZero() { // not the one-time read of the history before the window
		c.lists++
	}
	return c.Reader.ListRuns(ctx, f)
}

func TestCacheSharesReads(t *testing.T) {
	st := seed(t)
	clock := now
	r := &countingReader{Reader: st}
	tests := []struct {
		name      string
		ttl       time.Duration
		advance   []time.Duration // before each of the requests
		wantReads int
	}{
		{"no cache: every request reads", 0, []time.Duration{0, 0, 0}, 3},
		{"within the TTL: one read", time.Second, []time.Duration{0, 500 * time.Millisecond, 400 * time.Millisecond}, 1},
		{"after the TTL: read again", time.Second, []time.Duration{0, time.Second, 0}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.lists = 0
			v := &View{R: r, Now: func() time.Time { return clock }, CacheTTL: tt.ttl}
			for _, d := range tt.advance {
				clock = clock.Add(d)
				if _, err := v.Fleet(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if r.lists != tt.wantReads {
				t.Errorf("%d store reads, want %d", r.lists, tt.wantReads)
			}
		})
	}
	// Each filter of the runs list is a read of its own.
	r.lists = 0
	v := &View{R: r, Now: func() time.Time { return clock }, CacheTTL: time.Second}
	for _, f := range []RunFilter{{Job: "etl"}, {Job: "etl"}, {Job: "report"}, {Job: "etl", Limit: 1}} {
		if _, err := v.Runs(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	if r.lists != 3 {
		t.Errorf("%d store reads for 3 distinct filters within the TTL, want 3", r.lists)
	}
}

func TestSummarize(t *testing.T) {
	run := store.Run{Key: "k", Job: "j", Status: store.RunRunning}
	tests := []struct {
		name                    string
		attempts                []store.Attempt
		subnet, class, strategy string
	}{
		{"no attempt", nil, "", "", ""},
		{"landed", []store.Attempt{{Number: 1, Plan: plan(5, 9, 0), Subnet: subnetB, AZ: azB, Class: "succeeded"}}, subnetB, "succeeded", "capacity"},
		{"second attempt going: its plan's first", []store.Attempt{
			{Number: 1, Plan: plan(5, 9, 0), Subnet: subnetB, AZ: azB, Class: "placement"},
			{Number: 2, Plan: plan(50, 9, 0)},
		}, subnetA, "placement", "capacity"},
		{"no plan yet", []store.Attempt{{Number: 1, Phase: "discovered"}}, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := summarize(run, tt.attempts)
			if s.Subnet != tt.subnet || s.Class != tt.class || s.Strategy != tt.strategy || s.Attempts != len(tt.attempts) {
				t.Errorf("summary = %+v; want subnet %q, class %q, strategy %q", s, tt.subnet, tt.class, tt.strategy)
			}
		})
	}
}
