package sim

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestControlClient(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	c := NewControlClient(InProcessEndpoint, e.r.HTTPClient())

	mustOK(t, c.SetAZState(ctx, "us-east-1b", AZDegraded))
	mustOK(t, c.SetThrottle(ctx, "glue", 0.25))
	mustOK(t, c.SetServerErrors(ctx, "*", 0.1))
	mustOK(t, c.SetLatency(ctx, "ec2", 20*time.Millisecond))
	mustOK(t, c.Exhaust(ctx, sub1, 7))

	st, err := c.GetState(ctx)
	mustOK(t, err)
	if st.AZs[1].Name != "us-east-1b" || st.AZs[1].State != AZDegraded {
		t.Errorf("AZs = %+v", st.AZs)
	}
	if st.Subnets[0].FreeIPs != 7 || st.Subnets[0].ReportedFreeIPs != 7 || st.Subnets[0].BackgroundENIs != 244 {
		t.Errorf("subnet = %+v", st.Subnets[0])
	}
	f := st.Faults
	if f.Throttle["glue"] != 0.25 || f.ServerErrors["logs"] != 0.1 || f.Latency["ec2"] != "20ms" {
		t.Errorf("faults = %+v", f)
	}
	if !st.Now.Equal(t0) || st.Region != "us-east-1" || st.VPC.CIDR != "10.192.0.0/16" {
		t.Errorf("state = now %v region %s vpc %+v", st.Now, st.Region, st.VPC)
	}

	mustOK(t, c.SetServerErrors(ctx, "*", 0))
	mustOK(t, c.SetThrottle(ctx, "glue", 0))
	e.setConnections(t, conn2)
	e.start(t, blogJob)
	st, err = c.GetState(ctx)
	mustOK(t, err)
	if len(st.Runs) != 1 || st.Runs[0].SubnetID != sub2 || st.Runs[0].AllocatedIPs != 2 || st.Runs[0].State != "STARTING" {
		t.Errorf("runs = %+v", st.Runs)
	}
	stats, err := c.Stats(ctx)
	mustOK(t, err)
	if stats.Calls("glue", "StartJobRun") != 1 {
		t.Errorf("stats = %+v", stats)
	}
	mustOK(t, c.ResetStats(ctx))
	stats, err = c.Stats(ctx)
	mustOK(t, err)
	if stats.TotalCalls() != 0 {
		t.Errorf("stats after reset = %+v", stats)
	}

	for name, err := range map[string]error{
		"unknown AZ":      c.SetAZState(ctx, "us-east-1z", AZDown),
		"bad state":       c.SetAZState(ctx, "us-east-1a", "sideways"),
		"unknown service": c.SetThrottle(ctx, "s3", 0.1),
		"rate above 1":    c.SetServerErrors(ctx, "glue", 2),
		"unknown subnet":  c.Exhaust(ctx, "subnet-nope", 1),
	} {
		if err == nil || !strings.Contains(err.Error(), "simulated region:") {
			t.Errorf("%s: %v, want the region's error", name, err)
		}
	}
}

func TestControlHTTP(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	tests := []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"GET", "/_sim/state", "", 200, `"subnets"`},
		{"GET", "/_sim/stats", "", 200, `"services"`},
		{"POST", "/_sim/az", `{"az":"us-east-1a","state":"down"}`, 200, `"ok":true`},
		{"POST", "/_sim/az", `{"az":"us-east-1a","state":"down","extra":1}`, 400, "unknown field"},
		{"POST", "/_sim/throttle", `{"service":"glue"}`, 400, "rate is required"},
		{"POST", "/_sim/latency", `{"service":"glue","latency":"soon"}`, 400, "Go duration"},
		{"POST", "/_sim/latency", `{"service":"glue","latency":"20ms"}`, 200, `"ok":true`},
		{"POST", "/_sim/exhaust", `{"subnet_id":"` + sub1 + `"}`, 400, "leave_free is required"},
		{"POST", "/_sim/exhaust", `{"subnet_id":"` + sub1 + `","leave_free":3}`, 200, `"ok":true`},
		{"POST", "/_sim/errors", `not json`, 400, "invalid JSON"},
		{"POST", "/_sim/errors", `{"service":"ec2","rate":0.5} {}`, 400, "after the object"},
		{"POST", "/_sim/stats/reset", "", 200, `"ok":true`},
		{"POST", "/_sim/state", "", 405, "use GET"},
		{"GET", "/_sim/az", "", 405, "use POST"},
		{"GET", "/_sim/nope", "", 404, "no control endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			rec := httptest.NewRecorder()
			e.r.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("got %d %s, want %d containing %q", rec.Code, rec.Body.String(), tt.status, tt.contains)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
	if n := e.r.Stats().TotalCalls(); n != 0 {
		t.Errorf("control calls were counted as API calls: %d", n)
	}
}

// TestResetFaults: POST /_sim/reset (sim fault reset) undoes every fault in
// force and says what it undid, and GET /_sim/state lists exhausted subnets
// (sim fault list), whether exhaust took IPs or gave back the scenario's.
func TestResetFaults(t *testing.T) {
	tests := []struct {
		name       string
		background int // the scenario's background ENIs in sub1
		inject     func(t *testing.T, c *ControlClient)
		want       []string // what reset says it undid
	}{
		{"nothing in force", 0, func(*testing.T, *ControlClient) {}, nil},
		{"every kind", 0, func(t *testing.T, c *ControlClient) {
			mustOK(t, c.SetAZState(ctx, "us-east-1b", AZDown))
			mustOK(t, c.SetThrottle(ctx, "glue", 0.25))
			mustOK(t, c.SetServerErrors(ctx, "ec2", 0.1))
			mustOK(t, c.SetLatency(ctx, "*", 20*time.Millisecond))
			mustOK(t, c.Exhaust(ctx, sub1, 7))
		}, []string{
			"zone us-east-1b down -> healthy", "throttle glue 0.25 -> 0", "errors ec2 0.1 -> 0",
			"latency ec2 20ms -> 0", "latency glue 20ms -> 0", "latency logs 20ms -> 0",
			"exhaust " + sub1 + ": 244 background ENIs -> 0, 251 free IPs",
		}},
		{"exhaust gave back the scenario's IPs", 100, func(t *testing.T, c *ControlClient) {
			mustOK(t, c.Exhaust(ctx, sub1, 200))
		}, []string{"exhaust " + sub1 + ": 51 background ENIs -> 100, 151 free IPs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := defaultScenario(t)
			if tt.background > 0 {
				sc.Background = []BackgroundSpec{{Subnet: sub1, ENIs: tt.background}}
			}
			e := newEnv(t, sc)
			c := NewControlClient(InProcessEndpoint, e.r.HTTPClient())
			before, err := c.GetState(ctx)
			mustOK(t, err)
			if len(before.Faults.Exhausted) != 0 {
				t.Fatalf("a fresh region lists exhausted subnets: %+v", before.Faults.Exhausted)
			}
			tt.inject(t, c)
			if tt.want != nil {
				st, err := c.GetState(ctx)
				mustOK(t, err)
				if ex := st.Faults.Exhausted; len(ex) != 1 || ex[0].SubnetID != sub1 || ex[0].ScenarioBackgroundENIs != tt.background {
					t.Errorf("exhausted = %+v", ex)
				}
			}
			undone, err := c.ResetFaults(ctx)
			mustOK(t, err)
			if strings.Join(undone, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("undone:\n%s\nwant:\n%s", strings.Join(undone, "\n"), strings.Join(tt.want, "\n"))
			}
			after, err := c.GetState(ctx)
			mustOK(t, err)
			f := after.Faults
			if len(f.Throttle)+len(f.ServerErrors)+len(f.Latency)+len(f.Exhausted) != 0 {
				t.Errorf("faults after reset = %+v", f)
			}
			for _, z := range after.AZs {
				if z.State != AZHealthy {
					t.Errorf("zone %s is %s after reset", z.Name, z.State)
				}
			}
			for i, s := range after.Subnets {
				if s.FreeIPs != before.Subnets[i].FreeIPs || s.BackgroundENIs != before.Subnets[i].BackgroundENIs {
					t.Errorf("subnet %s after reset = %+v, before the faults %+v", s.ID, s, before.Subnets[i])
				}
			}
		})
	}
}
