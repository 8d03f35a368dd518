package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
)

// promServer is a real Prometheus on loopback that scrapes one target
// every second, with the example alert rules loaded.
type promServer struct {
	t    *testing.T
	base string
	logs *bytes.Buffer
}

// startPrometheus starts Prometheus (the Debian package) with a default
// scrape config: job gluenet, /metrics, scraped every second.
func startPrometheus(t *testing.T, target string) *promServer {
	t.Helper()
	bin := lookTool(t, "prometheus", "prometheus")
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := l.Addr().String()
	l.Close()
	rules, err := filepath.Abs(filepath.Join("..", "examples", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nrule_files: [%q]\nscrape_configs:\n  - job_name: gluenet\n    static_configs: [{targets: [%q]}]\n", rules, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+web)
	p := &promServer{t: t, base: "http://" + web, logs: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("Prometheus's log:\n%s", p.logs)
		}
	})
	return p
}

// promSeries is one element of an instant query's result.
type promSeries struct {
	Metric map[string]string
	Value  float64
}

// query runs an instant PromQL query at a time (zero: now).
func (p *promServer) query(q string, at time.Time) ([]promSeries, error) {
	v := url.Values{"query": {q}}
	if !at.IsZero() {
		v.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1e3, 'f', 3, 64))
	}
	resp, err := http.Get(p.base + "/api/v1/query?" + v.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status, Error string
		Data          struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", q, r.Error)
	}
	out := make([]promSeries, 0, len(r.Data.Result))
	for _, e := range r.Data.Result {
		s, _ := e.Value[1].(string)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v", q, e.Value[1])
		}
		out = append(out, promSeries{Metric: e.Metric, Value: f})
	}
	return out, nil
}

// waitFor polls Prometheus until cond holds on the query's result: it
// has to scrape first. It gives up after two minutes.
func (p *promServer) waitFor(q string, cond func([]promSeries) bool) []promSeries {
	p.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last []promSeries
	var err error
	for time.Now().Before(deadline) {
		if last, err = p.query(q, time.Time{}); err == nil && cond(last) {
			return last
		}
		time.Sleep(250 * time.Millisecond) // polling a real server until it has scraped
	}
	p.t.Fatalf("Prometheus: %s never met the condition; last %+v, %v", q, last, err)
	return nil
}

func total(ss []promSeries) float64 {
	n := 0.0
	for _, s := range ss {
		n += s.Value
	}
	return n
}

// seedLive writes a fleet relative to the wall clock, which Prometheus
// scrapes by: an ejected zone and subnet, a subnet low on IPs, a subnet
// last observed 3 hours ago (stale with a 1-hour window), and two runs of
// job etl two hours old.
func seedLive(t *testing.T, st store.Store, at time.Time) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, k := range []string{"old-1", "old-2"} {
		c := at.Add(-2*time.Hour + time.Duration(i)*time.Minute)
		_, _, err := st.BeginRun(ctx, store.Run{Key: k, Job: "etl", Status: store.RunRunning, CreatedAt: c})
		must(err)
		must(st.PutAttempt(ctx, store.Attempt{RunKey: k, Number: 1, Plan: plan(200, 100, 0), StartedAt: c.Add(time.Second),
			Class: "succeeded", Subnet: subnetA, AZ: azA, States: []store.StateChange{{State: "RUNNING", At: c.Add(time.Minute)}}}))
		must(st.FinishRun(ctx, k, store.RunSucceeded, "succeeded", c.Add(10*time.Minute)))
	}
	until := at.Add(time.Hour)
	must(st.UpdateHealth(ctx, func([]gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
		return []gluenet.HealthRecord{
			{Scope: gluenet.ScopeSubnet, Key: subnetA, ConsecutiveFailures: 3, Ejections: 1, EjectedUntil: until, LastFailure: at, LastClass: "placement"},
			{Scope: gluenet.ScopeAZ, Key: azA, ConsecutiveFailures: 2, Ejections: 1, EjectedUntil: until, LastFailure: at, LastClass: "placement"},
		}, nil, nil
	}))
	must(st.AddSubnetSamples(ctx, []store.SubnetSample{
		{At: at.Add(-time.Minute), SubnetID: subnetA, AZ: azA, FreeIPs: 5},
		{At: at.Add(-time.Minute), SubnetID: subnetB, AZ: azB, FreeIPs: 90},
		{At: at.Add(-3 * time.Hour), SubnetID: "subnet-cccc", AZ: azB, FreeIPs: 60},
	}))
}

// TestPrometheusScrapesServe runs a real Prometheus against a real gluenet
// serve handler (on loopback, over HTTP) and checks what an SRE's queries
// return: that increase() of the run counters over 5 minutes equals the
// runs started in those 5 minutes, that each example alert returns the
// series it should, and that each dashboard query returns series that
// carry the labels its legend names.
func TestPrometheusScrapesServe(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	seedLive(t, st, time.Now())
	sampleFails := false
	sampler := &Sampler{Store: st, Connections: []string{"conn-b"}, Now: time.Now, Discover: func(context.Context, []string) ([]gluenet.Candidate, error) {
		if sampleFails {
			return nil, errors.New("throttled")
		}
		return []gluenet.Candidate{{Connection: "conn-b", SubnetID: subnetB, AZ: azB, FreeIPs: 90, Checked: true}}, nil
	}}
	view := &View{R: st, Window: time.Hour}
	if err := view.Prime(ctx); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer((&Server{View: view, Sampler: sampler, Version: "v9.9.9"}).Handler())
	defer ts.Close()
	prom := startPrometheus(t, strings.TrimPrefix(ts.URL, "http://"))
	prom.waitFor(`gluenet_runs_started_total{glue_job="etl"}`, func(ss []promSeries) bool { return total(ss) == 2 })

	// Runs start while Prometheus scrapes: two (started under capacity),
	// then, 15 seconds later, three more, each with a placement failure.
	begin := func(key string, p json.RawMessage, failed bool) {
		t.Helper()
		at := time.Now()
		if _, _, err := st.BeginRun(ctx, store.Run{Key: key, Job: "etl", Status: store.RunRunning, CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
		a := store.Attempt{RunKey: key, Number: 1, Plan: p, StartedAt: at.Add(time.Millisecond), Class: "succeeded",
			States: []store.StateChange{{State: "RUNNING", At: at.Add(2 * time.Millisecond)}}}
		status := store.RunSucceeded
		if failed {
			a.Class, a.Subnet, a.AZ, status = "placement", subnetA, azA, store.RunFailed
		}
		if err := st.PutAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishRun(ctx, key, status, string(status), at.Add(3*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	begin("a-1", underCapacityPlan(t), false)
	begin("a-2", underCapacityPlan(t), false)
	prom.waitFor(`gluenet_runs_started_total{glue_job="etl"}`, func(ss []promSeries) bool { return total(ss) == 4 })
	seenA := time.Now()
	time.Sleep(15 * time.Second) // Prometheus scrapes the counter at 4 for a while
	startB := time.Now()
	for i := range 3 {
		begin(fmt.Sprintf("b-%d", i), plan(5, 40, 0), true)
	}
	sampleFails = true
	if _, err := sampler.SampleOnce(ctx); err == nil {
		t.Fatal("the failing sampler did not fail")
	}
	prom.waitFor(`gluenet_runs_started_total{glue_job="etl"}`, func(ss []promSeries) bool { return total(ss) == 7 })
	time.Sleep(3 * time.Second) // a few scrapes at the new value
	at := time.Now()

	t.Run("increase over 5m equals the runs started in it", func(t *testing.T) {
		// The 5 minutes hold all five runs started since the first
		// scrape; the two runs seeded 2 hours ago are not in them.
		// increase() extrapolates to the range's ends, so the figure is
		// within half a run of the count.
		checks := []struct {
			query string
			want  float64
		}{
			{`sum(increase(gluenet_runs_started_total[5m]))`, 5},
			{`sum(increase(gluenet_runs_finished_total[5m]))`, 5},
			{`sum(increase(gluenet_runs_under_capacity_total[5m]))`, 2},
			{`sum(increase(gluenet_placement_failures_total[5m]))`, 3},
			{`sum(increase(gluenet_run_attempts_count[5m]))`, 5},
			{`sum(increase(gluenet_time_to_running_seconds_count[5m]))`, 5},
			// A range that starts between the two bursts holds the three
			// runs of the second only.
			{fmt.Sprintf(`sum(increase(gluenet_runs_started_total[%dms]))`, at.Sub(seenA.Add(startB.Sub(seenA)/2)).Milliseconds()), 3},
		}
		for _, c := range checks {
			got, err := prom.query(c.query, at)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || math.Abs(got[0].Value-c.want) >= 0.5 {
				t.Errorf("%s = %+v, want %v (± extrapolation)", c.query, got, c.want)
			}
		}
	})

	t.Run("each example alert returns its series", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join("..", "examples", "prometheus", "alerts.yml"))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Groups []struct {
				Rules []struct{ Alert, Expr string }
			}
		}
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		// Each alert's series, by the labels that tell them apart; none
		// for an alert that must be quiet.
		want := map[string][]string{
			"GluenetServeDown":          nil,
			"GluenetSubnetLowOnIPs":     {"subnet=subnet-aaaa"},
			"GluenetSubnetFreeIPsStale": {"subnet=subnet-cccc"},
			"GluenetZoneEjected":        {"availability_zone=us-east-1a"},
			"GluenetSubnetEjected":      {"subnet=subnet-aaaa"},
			"GluenetPlacementFailures":  {"subnet=subnet-aaaa"},
			"GluenetRunsUnderCapacity":  {"glue_job=etl"},
			"GluenetSamplerFailing":     {"result=error"},
			"GluenetStoreUnreadable":    nil,
		}
		seen := 0
		for _, g := range doc.Groups {
			for _, r := range g.Rules {
				seen++
				w, ok := want[r.Alert]
				if !ok {
					t.Errorf("alert %s has no expectation in this test", r.Alert)
					continue
				}
				got, err := prom.query(r.Expr, at)
				if err != nil {
					t.Errorf("alert %s: %v", r.Alert, err)
					continue
				}
				if keys := seriesKeys(got, w); !equal(keys, w) {
					t.Errorf("alert %s (%s) returns %v, want %v", r.Alert, r.Expr, keys, w)
				}
			}
		}
		if seen != len(want) {
			t.Errorf("alerts.yml has %d rules, the test expects %d", seen, len(want))
		}
		// Prometheus evaluates them without error.
		resp, err := http.Get(prom.base + "/api/v1/rules")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), `"health":"ok"`) || strings.Contains(string(body), `"health":"err"`) {
			t.Errorf("rules do not evaluate cleanly: %s", body)
		}
	})

	t.Run("each dashboard query returns labelled series", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join("..", "examples", "grafana", "gluenet-dashboard.json"))
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Title   string
				Targets []struct{ Expr, LegendFormat string }
			}
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		// Grafana's variables, as Grafana would fill them for this
		// Prometheus and a 1-hour dashboard.
		vars := strings.NewReplacer("$__rate_interval", "1m", "$__range", "1h")
		legendLabel := regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)
		for _, p := range d.Panels {
			for _, q := range p.Targets {
				got, err := prom.query(vars.Replace(q.Expr), at)
				if err != nil {
					t.Errorf("panel %q: %v", p.Title, err)
					continue
				}
				if len(got) == 0 {
					t.Errorf("panel %q: %s returns nothing", p.Title, q.Expr)
				}
				for _, m := range legendLabel.FindAllStringSubmatch(q.LegendFormat, -1) {
					for _, s := range got {
						if s.Metric[m[1]] == "" {
							t.Errorf("panel %q: legend {{%s}} but the series %v has no such label", p.Title, m[1], s.Metric)
						}
					}
				}
			}
		}
		info, err := prom.query(`gluenet_build_info`, at)
		if err != nil || len(info) != 1 || info[0].Metric["version"] != "v9.9.9" || info[0].Metric["job"] != "gluenet" {
			t.Errorf("gluenet_build_info = %+v, %v; want version v9.9.9 and the scrape's job label", info, err)
		}
	})

	t.Run("serve down", func(t *testing.T) {
		ts.Close()
		prom.waitFor(`up{job="gluenet"} == 0 or absent(up{job="gluenet"})`, func(ss []promSeries) bool { return len(ss) == 1 })
	})
}

// seriesKeys names each series by the label of want's form (name=value),
// sorted.
func seriesKeys(ss []promSeries, want []string) []string {
	label := "subnet"
	if len(want) > 0 {
		label, _, _ = strings.Cut(want[0], "=")
	}
	var out []string
	for _, s := range ss {
		out = append(out, label+"="+s.Metric[label])
	}
	sort.Strings(out)
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
