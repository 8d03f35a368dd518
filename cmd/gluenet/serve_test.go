package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/fleet"
	"github.com/gluenet/gluenet/internal/config"
	"github.com/gluenet/gluenet/sim"
	"github.com/gluenet/gluenet/store/sqlite"
)

var screenshots = flag.Bool("screenshots", false, "save screenshots of gluenet serve's pages to docs/img/ (for the README)")

// fleetRuns makes real runs on the simulated region, all into one state
// file: plain runs, runs under IP pressure, and a run in a degraded zone
// that fails over to the other subnet.
func fleetRuns(t *testing.T) *simEnv {
	t.Helper()
	e := newSimEnv(t, nil, nil)
	ctx := context.Background()
	run := func(what string, extra ...string) {
		t.Helper()
		args := append([]string{"run", "--job", job, "--connections", conn1 + "," + conn2, "--strategy", "capacity", "--output", "json"}, extra...)
		code, out, stderr := e.gluenet(ctx, append(args, fast...)...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s %s", what, code, out, stderr)
		}
	}
	for range 3 {
		run("plain run")
	}
	if err := e.region.Exhaust(subnet1, 3); err != nil {
		t.Fatal(err)
	}
	run("IP pressure", "--workers", "10")
	run("IP pressure", "--workers", "10")
	if err := e.region.Exhaust(subnet1, 200); err != nil {
		t.Fatal(err)
	}
	if err := e.region.SetAZState("us-east-1a", sim.AZDegraded); err != nil {
		t.Fatal(err)
	}
	if err := e.region.Exhaust(subnet2, 50); err != nil {
		t.Fatal(err)
	}
	run("degraded zone") // fails in subnet1, fails over to subnet2
	run("after the ejection")
	// Both zones down: every attempt fails on placement.
	for _, az := range []string{"us-east-1a", "us-east-1b"} {
		if err := e.region.SetAZState(az, sim.AZDown); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{"run", "--job", job, "--connections", conn1 + "," + conn2, "--attempts", "2", "--output", "json"}, fast...)
	if code, out, _ := e.gluenet(ctx, args...); code != exitRunFailed {
		t.Fatalf("run with both zones down: exit %d, want %d: %s", code, exitRunFailed, out)
	}
	// Then the --watch sampler (the real one, through DescribeSubnets)
	// sees subnet 2 down to 1 free IP: fewer than Glue needs to start.
	if err := e.region.Exhaust(subnet2, 1); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "gluenet.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("connections: [%s, %s]\n", conn1, conn2)), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: func(string) (string, bool) { return "", false }, log: slog.New(slog.DiscardHandler)}
	s := config.Defaults()
	s.Region = "us-east-1"
	sampler, err := a.sampler(ctx, e.url, cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, e.state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sampler.Store = st
	if _, err := sampler.SampleOnce(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

// checkScript runs in the browser after load: it marks the body with the
// charts that have a box on the page and drew shapes, and with the rows of
// each table (not counting a "nothing here" row).
const checkScript = `<script>
window.addEventListener("load", function () {
  var svgs = document.querySelectorAll("figure.chart svg"), ok = 0;
  svgs.forEach(function (s) {
    var r = s.getBoundingClientRect(), drawn = 0;
    s.querySelectorAll("path").forEach(function (p) { var b = p.getBBox(); if (b.width > 0 || b.height > 0) { drawn++; } });
    if (r.width > 0 && r.height > 0 && drawn > 0) { ok++; }
  });
  var tables = [];
  document.querySelectorAll("table").forEach(function (tb) {
    var n = 0;
    tb.querySelectorAll("tbody tr").forEach(function (tr) { if (!tr.querySelector("td[colspan].muted")) { n++; } });
    tables.push(tb.id + ":" + n);
  });
  document.body.setAttribute("data-charts", ok + "/" + svgs.length);
  document.body.setAttribute("data-tables", tables.join(","));
});
</script>`

// withCheck adds checkScript to every HTML page the handler serves.
func withCheck(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.String()
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			body = strings.Replace(body, "</body>", checkScript+"</body>", 1)
			// The page's policy allows no script: this one, the test's,
			// is let in; the rest of the policy stays as served.
			rec.Header().Set("Content-Security-Policy", rec.Header().Get("Content-Security-Policy")+"; script-src 'unsafe-inline'")
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		io.WriteString(w, body)
	})
}

func chromium(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium is required in CI: %v", err)
		}
		t.Skip("chromium not installed (apt-get install -y chromium); skipping the browser check")
	}
	return bin
}

func browse(t *testing.T, bin, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
		"--user-data-dir=" + filepath.Join(dir, "profile"), "--virtual-time-budget=5000"}, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func TestServeFleetView(t *testing.T) {
	e := fleetRuns(t)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, e.state)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := &fleet.Server{View: &fleet.View{R: st}}
	ts := httptest.NewServer(withCheck(srv.Handler()))
	t.Cleanup(ts.Close)

	var runs struct{ Runs []fleet.RunSummary }
	resp, err := http.Get(ts.URL + "/api/v1/runs")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&runs)
	resp.Body.Close()
	failover := ""
	for _, r := range runs.Runs {
		if r.Attempts == 2 && r.Subnet == subnet2 {
			failover = r.Key
		}
	}
	if len(runs.Runs) != 8 || failover == "" {
		t.Fatalf("runs = %+v; want 8, one of them failing over to %s", runs.Runs, subnet2)
	}
	// The run with both zones down shows where Glue's message says it
	// failed, and health memory blamed that zone.
	last := runs.Runs[0]
	if _, named := classify.Named(last.Error); last.Status != "failed" || named == "" || last.AZ != named {
		t.Errorf("the both-zones-down run shows zone %q for the error %q; want the zone the error names", last.AZ, last.Error)
	}
	code, home := getBody(t, ts.URL+"/")
	if code != 200 || !strings.Contains(home, "no room</span>: 1 free after reservations") {
		t.Errorf("the home page does not say subnet 2 (1 free IP) has no room")
	}

	t.Run("pages in Chromium", func(t *testing.T) {
		bin := chromium(t)
		dir := t.TempDir()
		pages := []struct {
			name, path string
			charts     int
			tables     []string // ids of the tables that must have rows
			height     int      // of the screenshot
		}{
			{"subnets", "/", 2, []string{"zones", "subnets", "health", "events"}, 2400},
			{"runs", "/runs", 2, []string{"runs"}, 1400},
			{"run", "/runs/" + failover, 0, []string{"attempts", "plan-1", "plan-2"}, 1100},
			{"strategies", "/strategies", 0, []string{"strategies"}, 700},
		}
		for _, p := range pages {
			t.Run(p.name, func(t *testing.T) {
				u := ts.URL + p.path
				dom := string(browse(t, bin, dir, "--dump-dom", u))
				m := regexp.MustCompile(`data-charts="(\d+)/(\d+)"`).FindStringSubmatch(dom)
				if m == nil {
					t.Fatalf("the check script did not run; DOM starts:\n%.800s", dom)
				}
				if m[1] != m[2] || m[2] != fmt.Sprint(p.charts) {
					t.Errorf("%s of %s charts drew data, want %d of %d", m[1], m[2], p.charts, p.charts)
				}
				tm := regexp.MustCompile(`data-tables="([^"]*)"`).FindStringSubmatch(dom)
				rows := map[string]string{}
				for _, kv := range strings.Split(tm[1], ",") {
					k, v, _ := strings.Cut(kv, ":")
					rows[k] = v
				}
				for _, id := range p.tables {
					if rows[id] == "" || rows[id] == "0" {
						t.Errorf("table %s has no rows (tables: %s)", id, tm[1])
					}
				}
				if strings.Contains(dom, "https://") || strings.Contains(dom, "http://cdn") {
					t.Error("the page refers to the network")
				}
				shot := filepath.Join(dir, p.name+".png")
				if *screenshots {
					shot, _ = filepath.Abs(filepath.Join("..", "..", "docs", "img", "serve-"+p.name+".png"))
				}
				browse(t, bin, dir, "--screenshot="+shot, "--window-size=1280,"+strconv.Itoa(p.height), u)
				if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
					t.Errorf("no screenshot: %v", err)
				}
			})
		}
	})

	t.Run("serve command and a Prometheus scrape", func(t *testing.T) {
		addr, line, stop := startServe(t, e, nil)
		defer stop()
		if !strings.Contains(line, "no token: loopback only") {
			t.Errorf("serve says %q at start; want it to say it has no token", line)
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("healthz: %v %v", resp, err)
		}
		resp.Body.Close()
		promBin, err := exec.LookPath("prometheus")
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("prometheus is required in CI (apt-get install -y prometheus): %v", err)
			}
			t.Skip("prometheus not installed (apt-get install -y prometheus)")
		}
		got := scrapeWithPrometheus(t, promBin, addr, `gluenet_subnet_free_ips`)
		for _, s := range []string{subnet1, subnet2} {
			if !strings.Contains(got, `"subnet":"`+s+`"`) {
				t.Errorf("the PromQL query returned no free-IP gauge for %s: %s", s, got)
			}
		}
	})
}

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// startServe runs `gluenet serve` in-process on a free loopback port and
// returns its address and a function that stops it and checks its exit.
func startServe(t *testing.T, e *simEnv, env map[string]string, extra ...string) (string, string, func()) {
	t.Helper()
	// serve reads an existing state file: make one if no run has.
	st, err := sqlite.Open(context.Background(), e.state)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		args := append([]string{"--state", e.state, "--log-format", "text", "serve", "--addr", "127.0.0.1:0"}, extra...)
		code := execute(ctx, args, io.Discard, pw, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		pw.Close()
		done <- code
	}()
	sc := bufio.NewScanner(pr)
	addr, line := "", ""
	for sc.Scan() {
		if m := regexp.MustCompile(`listening on http://(\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			addr, line = m[1], sc.Text()
			break
		}
	}
	if addr == "" {
		cancel()
		t.Fatalf("gluenet serve did not say where it listens (exit %d)", <-done)
	}
	go io.Copy(io.Discard, pr)
	return addr, line, func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("gluenet serve exited %d after the interrupt, want 0", code)
		}
	}
}

// scrapeWithPrometheus runs a Prometheus server on loopback that scrapes
// addr, and returns the answer of query once it has data.
func scrapeWithPrometheus(t *testing.T, bin, addr, query string) string {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: gluenet\n    static_configs: [{targets: [%q]}]\n", addr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+web)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	q := "http://" + web + "/api/v1/query?query=" + url.QueryEscape(query)
	for ctx.Err() == nil {
		if resp, err := http.Get(q); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(string(b), `"result":[{`) {
				return string(b)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond): // polling a real server until it has scraped
		}
	}
	t.Fatalf("Prometheus returned nothing for %s within 2 minutes; its log:\n%s", query, logs.String())
	return ""
}

func TestServeBadInput(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"off loopback without a token", []string{"serve", "--addr", "0.0.0.0:0"}, "not a loopback address"},
		{"no port", []string{"serve", "--addr", "127.0.0.1"}, "use host:port"},
		{"zero interval", []string{"serve", "--interval", "0s"}, "must be positive"},
		{"watch config without connections", []string{"serve", "--watch", "testdata/serve-empty.yaml"}, "names no connections"},
		{"watch config missing", []string{"serve", "--watch", "testdata/no-such.yaml"}, "read config file"},
		{"no state file (a typo)", []string{"serve"}, "no state file at"},
		{"blank token", []string{"serve", "--token", "  "}, "is blank"},
		{"token with a space", []string{"serve", "--token", "a b"}, "spaces or control characters"},
		{"no connections allowed", []string{"serve", "--max-conns", "0"}, "--max-conns must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"--state", filepath.Join(t.TempDir(), "s.db")}, tt.args...)
			code := execute(t.Context(), args, &out, &errb, noEnv)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d (stderr %q)", code, exitUsage, errb.String())
			}
			if !strings.Contains(errb.String(), tt.want) {
				t.Errorf("stderr %q does not say %q", errb.String(), tt.want)
			}
		})
	}
}

// TestServeWatchSamples: --watch samples the config's subnets, reading the
// connections once and then making one DescribeSubnets call per sample,
// and never touches a job.
func TestServeWatchSamples(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	cfg := filepath.Join(t.TempDir(), "gluenet.yaml")
	yaml := fmt.Sprintf("job: %s\nconnections: [%s]\njobs:\n  other:\n    connections: [%s, %s]\n", job, conn1, conn2, conn1)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	before := e.jobJSON(job)
	// The command takes the first sample before it listens.
	addr, _, stop := startServe(t, e, nil, "--endpoint-url", e.url, "--watch", cfg, "--interval", "1h")
	var h struct{ Observations []fleet.Observation }
	resp, err := http.Get("http://" + addr + "/api/v1/history")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	stop()
	if len(h.Observations) != 2 || h.Observations[0].Source != fleet.SourceSample || h.Observations[0].FreeIPs == 0 {
		t.Fatalf("history = %+v; want one sample of each subnet", h.Observations)
	}
	if st := e.region.Stats(); st.Calls("ec2", "DescribeSubnets") != 1 || st.Calls("glue", "UpdateJob")+st.Calls("glue", "StartJobRun") != 0 {
		t.Errorf("serve --watch made %d DescribeSubnets, %d UpdateJob and %d StartJobRun calls; want 1, 0, 0",
			st.Calls("ec2", "DescribeSubnets"), st.Calls("glue", "UpdateJob"), st.Calls("glue", "StartJobRun"))
	}
	// The sampler itself, three samples: one DescribeSubnets call each.
	e.region.ResetStats()
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: func(string) (string, bool) { return "", false }, log: slog.New(slog.DiscardHandler)}
	s := config.Defaults()
	s.Region = "us-east-1"
	sampler, err := a.sampler(t.Context(), e.url, cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), e.state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sampler.Store = st
	for range 3 {
		if n, err := sampler.SampleOnce(t.Context()); err != nil || n != 2 {
			t.Fatalf("SampleOnce = %d, %v; want 2 subnets", n, err)
		}
	}
	stats := e.region.Stats()
	if got := stats.Calls("ec2", "DescribeSubnets"); got != 3 {
		t.Errorf("%d DescribeSubnets calls for 3 samples, want 3", got)
	}
	if got := stats.Calls("glue", "GetConnection"); got != 2 {
		t.Errorf("%d GetConnection calls, want 2 (each connection once, then cached)", got)
	}
	for _, op := range []string{"UpdateJob", "StartJobRun"} {
		if n := stats.Calls("glue", op); n != 0 {
			t.Errorf("serve called %s %d times; it must never", op, n)
		}
	}
	if after := e.jobJSON(job); after != before {
		t.Errorf("the job changed:\nbefore %s\nafter  %s", before, after)
	}
}

// TestServeToken: with GLUENET_SERVE_TOKEN serve says at start that a
// token is required, and answers only requests that carry it.
func TestServeToken(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	addr, line, stop := startServe(t, e, map[string]string{"GLUENET_SERVE_TOKEN": "s3cret"})
	defer stop()
	if !strings.Contains(line, "bearer token required") {
		t.Errorf("serve says %q at start; want it to say a bearer token is required", line)
	}
	tests := []struct {
		path, auth string
		code       int
	}{
		{"/healthz", "", 200},
		{"/api/v1/fleet", "", 401},
		{"/api/v1/fleet", "Bearer nope", 401},
		{"/api/v1/fleet", "Bearer s3cret", 200},
		{"/metrics", "Bearer s3cret", 200},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+tt.path, nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("GET %s with %q: %d, want %d", tt.path, tt.auth, resp.StatusCode, tt.code)
		}
	}
}

// TestServeWatchNothingToSample: a --watch config whose connections cannot
// be sampled stops serve at start with an AWS error, before it listens.
func TestServeWatchNothingToSample(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	cfg := filepath.Join(t.TempDir(), "gluenet.yaml")
	if err := os.WriteFile(cfg, []byte("connections: [no-such-connection]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := e.gluenet(t.Context(), "serve", "--addr", "127.0.0.1:0", "--watch", cfg)
	if code != exitAWS || !strings.Contains(stderr, "no subnet could be sampled") || !strings.Contains(stderr, "no-such-connection") {
		t.Errorf("exit %d, stderr %q; want %d naming the connection", code, stderr, exitAWS)
	}
	if strings.Contains(stderr, "listening on") {
		t.Error("serve listened before failing")
	}
}

// TestConnLimit: at most n connections are held; at the limit a new
// client is served by closing the connection idle the longest, so idle
// keep-alive connections cannot lock clients out.
func TestConnLimit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limited := newConnLimit(ln, 2)
	var mu sync.Mutex
	open, most := 0, 0
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }),
		ConnState: func(c net.Conn, st http.ConnState) {
			mu.Lock()
			switch st {
			case http.StateNew:
				open++
				most = max(most, open)
			case http.StateClosed, http.StateHijacked:
				open--
			}
			mu.Unlock()
			limited.connState(c, st)
		}}
	go hs.Serve(limited)
	defer hs.Close()
	// Five clients that send one request each and keep their connection.
	for range 5 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	client := &http.Client{Timeout: time.Minute} // a guard against a hang, not a measure
	for i := range 3 {
		resp, err := client.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatalf("client %d after the idle ones: %v", i, err)
		}
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if most > 2 {
		t.Errorf("%d connections held at once, want at most 2", most)
	}
}
