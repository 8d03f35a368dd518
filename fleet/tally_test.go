package fleet

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
)

// underCapacityPlan is plan() with the under_capacity figures a run started
// short carries.
func underCapacityPlan(t *testing.T) json.RawMessage {
	t.Helper()
	var p gluenet.Plan
	if err := json.Unmarshal(plan(1, 1, 0), &p); err != nil {
		t.Fatal(err)
	}
	p.UnderCapacity = &gluenet.UnderCapacity{Needed: 10, FreeAtStart: 1, Subnet: subnetA}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCountersOutliveTheWindow: the _total counters and histograms count
// from the store's history and only grow, while runs leave the window and
// the window gauge goes down; a run that finishes after it left the window
// is still counted once; a subnet nothing observes any more stays, stale.
func TestCountersOutliveTheWindow(t *testing.T) {
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			ctx := context.Background()
			st := sk.open(t)
			clock := now
			srv := &Server{View: &View{R: st, Now: func() time.Time { return clock }, Window: time.Hour}}
			ts := httptest.NewServer(srv.Handler())
			t.Cleanup(ts.Close)
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			begin := func(key string, at time.Time, p json.RawMessage) {
				t.Helper()
				_, _, err := st.BeginRun(ctx, store.Run{Key: key, Job: "etl", Status: store.RunRunning, CreatedAt: at})
				must(err)
				must(st.PutAttempt(ctx, store.Attempt{RunKey: key, Number: 1, Plan: p, StartedAt: at.Add(time.Second)}))
			}
			// History before serve starts: two runs two hours ago (outside
			// the window), one still running; a subnet sampled then.
			begin("old-1", now.Add(-2*time.Hour), plan(50, 40, 0))
			must(st.FinishRun(ctx, "old-1", store.RunSucceeded, "succeeded", now.Add(-2*time.Hour+time.Minute)))
			begin("old-2", now.Add(-2*time.Hour), underCapacityPlan(t))
			must(st.AddSubnetSamples(ctx, []store.SubnetSample{{At: now.Add(-90 * time.Minute), SubnetID: "subnet-cccc", AZ: azB, FreeIPs: 7}}))
			begin("new-1", now.Add(-time.Minute), plan(50, 40, 0))

			steps := []struct {
				name    string
				advance time.Duration
				do      func()
				want    []string
			}{
				{"seeded from the history", 0, nil, []string{
					`gluenet_runs_started_total{glue_job="etl"} 3`,
					`gluenet_runs_finished_total{class="none",glue_job="etl",status="succeeded"} 1`,
					`gluenet_runs_under_capacity_total{glue_job="etl"} 1`,
					`gluenet_window_runs{class="none",glue_job="etl",status="running"} 1`,
					`gluenet_run_attempts_count 1`,
					`gluenet_decision_latency_seconds_count 3`,
					`gluenet_subnet_stale{availability_zone="us-east-1b",subnet="subnet-cccc"} 1`,
					`gluenet_subnet_free_ips{availability_zone="us-east-1b",subnet="subnet-cccc"} 7`,
				}},
				{"a straggler finishes, a new run starts short", 10 * time.Minute, func() {
					must(st.FinishRun(ctx, "old-2", store.RunFailed, "failed", clock))
					begin("new-2", clock, underCapacityPlan(t))
				}, []string{
					`gluenet_runs_started_total{glue_job="etl"} 4`,
					`gluenet_runs_finished_total{class="none",glue_job="etl",status="failed"} 1`,
					`gluenet_runs_under_capacity_total{glue_job="etl"} 2`,
					`gluenet_window_runs{class="none",glue_job="etl",status="running"} 2`,
					`gluenet_run_attempts_count 2`,
				}},
				{"a day later: the window is empty, the counters stay", 24 * time.Hour, nil, []string{
					`gluenet_runs_started_total{glue_job="etl"} 4`,
					`gluenet_runs_finished_total{class="none",glue_job="etl",status="failed"} 1`,
					`gluenet_runs_under_capacity_total{glue_job="etl"} 2`,
					`gluenet_decision_latency_seconds_count 4`,
					`gluenet_subnet_stale{availability_zone="us-east-1b",subnet="subnet-cccc"} 1`,
				}},
				{"runs that left the window running finish", time.Minute, func() {
					must(st.FinishRun(ctx, "new-1", store.RunSucceeded, "succeeded", clock))
					must(st.FinishRun(ctx, "new-2", store.RunSucceeded, "succeeded", clock))
				}, []string{
					`gluenet_runs_started_total{glue_job="etl"} 4`,
					`gluenet_runs_finished_total{class="none",glue_job="etl",status="succeeded"} 3`,
					`gluenet_run_attempts_count 4`,
				}},
			}
			for _, step := range steps {
				clock = clock.Add(step.advance)
				if step.do != nil {
					step.do()
				}
				for range 2 { // a second scrape adds nothing
					_, b := get(t, ts.URL+"/metrics", "")
					body := string(b)
					for _, w := range step.want {
						if !strings.Contains(body, w+"\n") {
							t.Errorf("%s: /metrics lacks %s", step.name, w)
						}
					}
					if step.name == "a day later: the window is empty, the counters stay" && strings.Contains(body, "gluenet_window_runs{") {
						t.Errorf("%s: gluenet_window_runs still has runs", step.name)
					}
				}
			}
			if t.Failed() {
				_, b := get(t, ts.URL+"/metrics", "")
				t.Logf("metrics at the end:\n%s", b)
			}
		})
	}
}
