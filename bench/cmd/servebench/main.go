// Command servebench measures `gluenet serve` under load: concurrent API
// clients read the fleet view while `gluenet run` processes write runs to
// the same state store (SQLite or Postgres), against an in-process
// simulated region. It prints a Markdown table row per store: requests per
// second, latency percentiles, and errors on both sides.
//
//	go build -o /tmp/gluenet ./cmd/gluenet
//	go run ./bench/cmd/servebench -gluenet /tmp/gluenet [-postgres-dsn DSN]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gluenet/gluenet/sim"
)

func main() {
	bin := flag.String("gluenet", "", "the gluenet binary to run (go build -o /tmp/gluenet ./cmd/gluenet)")
	runners := flag.Int("runners", 20, "concurrent `gluenet run` processes")
	runs := flag.Int("runs", 5, "runs per runner process, one after the other")
	clients := flag.Int("clients", 50, "concurrent API clients")
	dsn := flag.String("postgres-dsn", "", "also measure on this Postgres database (its tables are written to)")
	flag.Parse()
	if *bin == "" {
		log.Fatal("-gluenet is required: go build -o /tmp/gluenet ./cmd/gluenet")
	}
	fmt.Printf("%d API clients, %d `gluenet run` processes × %d runs each\n\n", *clients, *runners, *runs)
	fmt.Println("| Store | Runs recorded | API requests | Requests/s | p50 | p99 | max | API errors | Runner errors |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	dir, err := os.MkdirTemp("", "servebench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	stores := [][]string{{"SQLite", "--state", filepath.Join(dir, "state.db")}}
	if *dsn != "" {
		stores = append(stores, []string{"Postgres", "--postgres-dsn", *dsn})
	}
	for _, st := range stores {
		r, err := measure(*bin, st[1:], *runners, *runs, *clients)
		if err != nil {
			log.Fatalf("%s: %v", st[0], err)
		}
		fmt.Printf("| %s | %d | %d | %.0f | %s | %s | %s | %d | %d |\n", st[0], r.runs, r.requests, float64(r.requests)/r.elapsed.Seconds(),
			ms(r.pct(0.50)), ms(r.pct(0.99)), ms(r.pct(1)), r.apiErrors, r.runnerErrors)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

type result struct {
	runs, requests          int
	apiErrors, runnerErrors int
	elapsed                 time.Duration
	latencies               []time.Duration
}

func (r *result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	slices.Sort(r.latencies)
	i := int(p*float64(len(r.latencies))) - 1
	return r.latencies[max(0, min(i, len(r.latencies)-1))]
}

// region starts a simulated region with one job per runner, so that the
// runners do not queue on one job's lock.
func region(runners int) (*httptest.Server, error) {
	sc, err := sim.LoadScenario("default")
	if err != nil {
		return nil, err
	}
	sc.TimeScale = 3000
	base := sc.Jobs[0]
	sc.Jobs = nil
	for i := range runners {
		j := base
		j.Name = fmt.Sprintf("bench-job-%02d", i)
		sc.Jobs = append(sc.Jobs, j)
	}
	r, err := sim.New(sc, sim.WithClock(sim.NewScaledClock(time.Now().UTC(), sc.TimeScale, nil)))
	if err != nil {
		return nil, err
	}
	return httptest.NewServer(r.Handler()), nil
}

var paths = []string{"/api/v1/fleet", "/api/v1/runs", "/api/v1/health", "/api/v1/history", "/metrics", "/", "/runs"}

func measure(bin string, storeArgs []string, runners, runs, clients int) (*result, error) {
	srv, err := region(runners)
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The server first: it creates (migrates) the store.
	serve := exec.CommandContext(ctx, bin, append(append([]string{}, storeArgs...), "--log-level", "warn", "serve", "--addr", "127.0.0.1:0")...)
	serve.Env = env
	stderr, err := serve.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := serve.Start(); err != nil {
		return nil, err
	}
	defer func() {
		cancel()
		_ = serve.Wait()
	}()
	sc := bufio.NewScanner(stderr)
	addr := ""
	for sc.Scan() {
		if m := regexp.MustCompile(`listening on (http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
			break
		}
	}
	if addr == "" {
		return nil, fmt.Errorf("gluenet serve did not start")
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	res := &result{}
	var (
		mu         sync.Mutex
		stop       atomic.Bool
		wg         sync.WaitGroup
		runnerErrs atomic.Int64
		recorded   atomic.Int64
	)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			client := &http.Client{Timeout: time.Minute}
			var lat []time.Duration
			errs := 0
			for i := c; !stop.Load(); i++ {
				t0 := time.Now()
				resp, err := client.Get(addr + paths[i%len(paths)])
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				lat = append(lat, time.Since(t0))
				if err != nil || resp.StatusCode != http.StatusOK {
					errs++
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.apiErrors += errs
			mu.Unlock()
		})
	}
	var rw sync.WaitGroup
	for i := range runners {
		rw.Go(func() {
			job := fmt.Sprintf("bench-job-%02d", i)
			for n := range runs {
				args := append(append([]string{}, storeArgs...), "--endpoint-url", srv.URL, "--log-format", "json", "run", "--job", job,
					"--connections", "MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2", "--poll-interval", "20ms",
					"--retry-delay", "50ms", "--max-retry-delay", "200ms", "--run-key", fmt.Sprintf("%s/%d/%d", job, time.Now().UnixNano(), n))
				cmd := exec.Command(bin, args...)
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				// A store error shows as a failed command or a warning that
				// the journal could not record something.
				if err != nil || strings.Contains(string(out), "could not record") || strings.Contains(string(out), "database is locked") {
					runnerErrs.Add(1)
					fmt.Fprintf(os.Stderr, "runner %s: %v\n%s\n", job, err, out)
					continue
				}
				recorded.Add(1)
			}
		})
	}
	rw.Wait()
	stop.Store(true)
	wg.Wait()
	res.elapsed = time.Since(start)
	res.requests = len(res.latencies)
	res.runs = int(recorded.Load())
	res.runnerErrors = int(runnerErrs.Load())
	return res, nil
}
