// Command fleetbench measures a fleet on one state store: N concurrent
// `gluenet run` processes (10 per Glue job by default, so that they queue on
// each job's lease) against a simulated region, on SQLite, Postgres and
// DynamoDB (an emulator behind a counting proxy). For each store and N it
// prints one Markdown table row:
//
//   - time from each process's start to its StartJobRun (the region's
//     answer, paired by run id), p50 and p99;
//   - processes that waited for a lease (they log "waiting for the lock");
//   - store operations per run: DynamoDB requests (through the proxy), or
//     Postgres table scans plus rows written (pg_stat_user_tables of the
//     run's own schema); not counted for SQLite, an in-process file;
//   - AWS calls per run (every request the region served, over N);
//   - errors: processes that did not exit 0;
//   - runs started twice: the region's runs beyond one per process;
//   - records lost: processes that reported a Glue run whose run is not
//     recorded as succeeded with exactly its one attempt, carrying that
//     Glue run id (read back from the store after the fleet ends).
//
// The region runs in this process (package sim, the code `gluenet sim
// serve` serves), with a latency on every Glue and EC2 call.
//
//	go build -o /tmp/gluenet ./cmd/gluenet
//	eval "$(bash .ci/postgres.sh)"; eval "$(bash .ci/dynamodb.sh)"
//	go run ./bench/cmd/fleetbench -gluenet /tmp/gluenet -ns 20,50,100 \
//	    -postgres-dsn "$GLUENET_TEST_POSTGRES_DSN" -dynamodb-endpoint http://127.0.0.1:5601
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/lib/pq"

	"github.com/gluenet/gluenet/sim"
	"github.com/gluenet/gluenet/store"
	ddbstore "github.com/gluenet/gluenet/store/dynamodb"
	"github.com/gluenet/gluenet/store/postgres"
	"github.com/gluenet/gluenet/store/sqlite"
)

func main() {
	bin := flag.String("gluenet", "", "the gluenet binary (go build -o /tmp/gluenet ./cmd/gluenet)")
	nsFlag := flag.String("ns", "20,50,100", "fleet sizes: concurrent `gluenet run` processes")
	stores := flag.String("stores", "sqlite,postgres,dynamodb", "stores to measure")
	perJob := flag.Int("per-job", 10, "processes per Glue job (they share its lease)")
	latency := flag.Duration("latency", 20*time.Millisecond, "latency of every Glue and EC2 call")
	dsn := flag.String("postgres-dsn", os.Getenv("GLUENET_TEST_POSTGRES_DSN"), "Postgres database for the postgres store (a fresh schema per fleet)")
	ddbURL := flag.String("dynamodb-endpoint", "", "DynamoDB endpoint (an emulator) for the dynamodb store (a fresh table per fleet)")
	flag.Parse()
	if *bin == "" {
		log.Fatal("-gluenet is required: go build -o /tmp/gluenet ./cmd/gluenet")
	}
	var ns []int
	for _, f := range strings.Split(*nsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			log.Fatalf("-ns: %q is not a positive number", f)
		}
		ns = append(ns, n)
	}
	fmt.Printf("%d processes per job, %s per Glue and EC2 call\n\n", *perJob, *latency)
	fmt.Println("| Store | N | start→StartJobRun p50 | p99 | lease waits | store ops/run | AWS calls/run | store call p50/p99 | errors | started twice | records lost | wall |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, name := range strings.Split(*stores, ",") {
		for _, n := range ns {
			st, err := newStore(name, *dsn, *ddbURL)
			if err != nil {
				log.Fatalf("%s: %v", name, err)
			}
			r, err := fleet(*bin, st, n, *perJob, *latency)
			st.cleanup()
			if err != nil {
				log.Fatalf("%s, %d: %v", name, n, err)
			}
			ops := "not counted"
			if r.storeOps >= 0 {
				ops = fmt.Sprintf("%.1f", float64(r.storeOps)/float64(n))
			}
			calls := "not measured"
			if r.callP50 > 0 {
				calls = fmt.Sprintf("%.0f / %.0f ms", float64(r.callP50.Microseconds())/1000, float64(r.callP99.Microseconds())/1000)
			}
			fmt.Printf("| %s | %d | %s | %s | %d | %s | %.1f | %s | %d | %d | %d | %.1f s |\n", name, n, sec(pct(r.toStart, 0.5)), sec(pct(r.toStart, 0.99)),
				r.leaseWaits, ops, float64(r.awsCalls)/float64(n), calls, r.errors, r.startedTwice, r.lost, r.wall.Seconds())
		}
	}
}

func sec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	i := int(p*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// A benchStore is one fresh state store for one fleet.
type benchStore struct {
	args []string // gluenet's flags naming it
	env  []string // and its environment
	open func(ctx context.Context) (store.Store, error)
	ops  func() int64 // store operations so far; nil: not counted
	// latency returns the p50 and p99 of the store calls since the last
	// call, and forgets them; nil: not measured.
	latency func() (p50, p99 time.Duration)
	cleanup func()
}

func newStore(name, dsn, ddbURL string) (*benchStore, error) {
	ctx := context.Background()
	switch name {
	case "sqlite":
		dir, err := os.MkdirTemp("", "fleetbench")
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, "state.db")
		return &benchStore{args: []string{"--state", path},
			open:    func(ctx context.Context) (store.Store, error) { return sqlite.Open(ctx, path) },
			cleanup: func() { os.RemoveAll(dir) }}, nil
	case "postgres":
		if dsn == "" {
			return nil, fmt.Errorf("-postgres-dsn (or GLUENET_TEST_POSTGRES_DSN) is needed")
		}
		db, err := sql.Open("postgres", dsn)
		if err != nil {
			return nil, err
		}
		schema := "fleetbench_" + randomHex()
		if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			return nil, err
		}
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, fmt.Errorf("-postgres-dsn must be a postgres:// URL: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		sdsn := u.String()
		return &benchStore{args: []string{"--postgres-dsn", sdsn},
			open: func(ctx context.Context) (store.Store, error) { return postgres.Open(ctx, sdsn) },
			ops: func() int64 {
				// The processes have exited, so their statistics are sent;
				// the collector may take a moment to show them.
				time.Sleep(2 * time.Second)
				var n int64
				if err := db.QueryRowContext(ctx, `SELECT COALESCE(sum(seq_scan + COALESCE(idx_scan, 0) + n_tup_ins + n_tup_upd + n_tup_del), 0)
					FROM pg_stat_user_tables WHERE schemaname = $1`, schema).Scan(&n); err != nil {
					log.Printf("postgres statistics: %v", err)
					return -1
				}
				return n
			},
			cleanup: func() {
				if _, err := db.ExecContext(ctx, "DROP SCHEMA "+pq.QuoteIdentifier(schema)+" CASCADE"); err != nil {
					log.Printf("drop schema %s: %v", schema, err)
				}
				db.Close()
			}}, nil
	case "dynamodb":
		if ddbURL == "" {
			return nil, fmt.Errorf("-dynamodb-endpoint is needed")
		}
		target, err := url.Parse(ddbURL)
		if err != nil {
			return nil, err
		}
		var (
			calls atomic.Int64
			mu    sync.Mutex
			lat   []time.Duration
		)
		proxy := httputil.NewSingleHostReverseProxy(target)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			t := time.Now()
			proxy.ServeHTTP(w, r)
			mu.Lock()
			lat = append(lat, time.Since(t))
			mu.Unlock()
		}))
		client := awsddb.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(ddbURL),
			Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
		table := "fleetbench-" + randomHex()
		if _, err := ddbstore.Init(ctx, client, table); err != nil {
			var te *ddbstore.TTLError
			if !errors.As(err, &te) {
				return nil, err
			}
		}
		return &benchStore{args: []string{"--state", "dynamodb://" + table}, env: []string{"AWS_ENDPOINT_URL_DYNAMODB=" + srv.URL},
			open: func(ctx context.Context) (store.Store, error) { return ddbstore.Open(ctx, client, table) },
			ops:  calls.Load,
			latency: func() (time.Duration, time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				p50, p99 := pct(lat, 0.5), pct(lat, 0.99)
				lat = lat[:0]
				return p50, p99
			},
			cleanup: func() {
				srv.Close()
				if _, err := client.DeleteTable(ctx, &awsddb.DeleteTableInput{TableName: &table}); err != nil {
					log.Printf("delete table %s: %v", table, err)
				}
			}}, nil
	}
	return nil, fmt.Errorf("unknown store %q: sqlite, postgres or dynamodb", name)
}

func randomHex() string {
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		log.Fatal(err)
	}
	return hex.EncodeToString(b)
}

type result struct {
	toStart                                []time.Duration
	leaseWaits, errors, startedTwice, lost int
	awsCalls, storeOps                     int64
	callP50, callP99                       time.Duration
	wall                                   time.Duration
}

// region is a simulated region with one job per perJob processes, each
// allowed as many concurrent runs as it has processes, and counts every
// request and the time each StartJobRun answered, by run id.
type region struct {
	sim     *sim.Region
	srv     *httptest.Server
	calls   atomic.Int64
	mu      sync.Mutex
	started map[string]time.Time
}

func newRegion(jobs, perJob int, latency time.Duration) (*region, error) {
	sc, err := sim.LoadScenario("default")
	if err != nil {
		return nil, err
	}
	sc.TimeScale = 600 // a 10-minute Glue run takes a second
	base := sc.Jobs[0]
	base.MaxConcurrentRuns = perJob
	sc.Jobs = nil
	for i := range jobs {
		j := base
		j.Name = fmt.Sprintf("fleet-job-%03d", i)
		sc.Jobs = append(sc.Jobs, j)
	}
	r, err := sim.New(sc, sim.WithClock(sim.NewScaledClock(time.Now().UTC(), sc.TimeScale, nil)))
	if err != nil {
		return nil, err
	}
	for _, svc := range []string{"glue", "ec2"} {
		if err := r.SetLatency(svc, latency); err != nil {
			return nil, err
		}
	}
	reg := &region{sim: r, started: map[string]time.Time{}}
	h := r.Handler()
	reg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		reg.calls.Add(1)
		if !strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".StartJobRun") {
			h.ServeHTTP(w, req)
			return
		}
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, req)
		var out struct{ JobRunId string }
		if json.Unmarshal(rec.body.Bytes(), &out) == nil && out.JobRunId != "" {
			reg.mu.Lock()
			reg.started[out.JobRunId] = time.Now()
			reg.mu.Unlock()
		}
	}))
	return reg, nil
}

// recorder keeps a copy of the response body.
type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func fleet(bin string, st *benchStore, n, perJob int, latency time.Duration) (*result, error) {
	jobs := (n + perJob - 1) / perJob
	reg, err := newRegion(jobs, perJob, latency)
	if err != nil {
		return nil, err
	}
	defer reg.srv.Close()
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	env = append(env, st.env...)
	// Open the store once first, as a deployment would have: SQLite and
	// Postgres create their tables on first open.
	ctx := context.Background()
	if s, err := st.open(ctx); err != nil {
		return nil, fmt.Errorf("open the store: %w", err)
	} else {
		s.Close()
	}
	before := int64(0)
	if st.ops != nil {
		before = st.ops()
	}
	if st.latency != nil {
		st.latency()
	}
	type proc struct {
		key, job       string
		start          time.Time
		out, errb      bytes.Buffer
		err            error
		runID          string
		waitedForLease bool
	}
	procs := make([]*proc, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range n {
		p := &proc{key: fmt.Sprintf("fleet-%d-%s", i, randomHex()), job: fmt.Sprintf("fleet-job-%03d", i/perJob)}
		procs[i] = p
		args := append(slices.Clone(st.args), "--endpoint-url", reg.srv.URL, "--log-format", "json", "run", "--job", p.job,
			"--connections", "MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2", "--run-key", p.key,
			"--poll-interval", "100ms", "--output", "json", "--log-level", "info")
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = &p.out, &p.errb
		wg.Go(func() {
			p.start = time.Now()
			p.err = cmd.Run()
		})
	}
	wg.Wait()
	res := &result{wall: time.Since(t0), awsCalls: reg.calls.Load(), storeOps: -1}
	if st.latency != nil {
		res.callP50, res.callP99 = st.latency()
	}
	if st.ops != nil {
		res.storeOps = st.ops() - before
	}
	s, err := st.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("open the store to check it: %w", err)
	}
	defer s.Close()
	for _, p := range procs {
		var out struct {
			Result   string
			Attempts []struct {
				RunID string `json:"run_id"`
			}
		}
		_ = json.Unmarshal(p.out.Bytes(), &out)
		if len(out.Attempts) > 0 {
			p.runID = out.Attempts[len(out.Attempts)-1].RunID
		}
		p.waitedForLease = strings.Contains(p.errb.String(), "waiting for the lock")
		if p.waitedForLease {
			res.leaseWaits++
		}
		if p.err != nil || out.Result != "succeeded" {
			res.errors++
			log.Printf("process %s (%s): %v, result %q\n%s", p.key, p.job, p.err, out.Result, tail(p.errb.String(), 600))
		}
		reg.mu.Lock()
		at, ok := reg.started[p.runID]
		reg.mu.Unlock()
		if ok {
			res.toStart = append(res.toStart, at.Sub(p.start))
		}
		// A process that failed before it started a run has lost nothing
		// (it is an error); one that reported a Glue run must have it
		// recorded.
		if p.runID != "" && !recorded(ctx, s, p.key, p.runID) {
			res.lost++
		}
	}
	res.startedTwice = max(0, len(reg.sim.State().Runs)-n)
	return res, nil
}

// recorded reports whether the store holds the run as succeeded, with one
// attempt carrying the Glue run id the process reported, ended SUCCEEDED.
func recorded(ctx context.Context, s store.Store, key, runID string) bool {
	r, err := s.GetRun(ctx, key)
	if err != nil || r.Status != store.RunSucceeded || runID == "" {
		log.Printf("run %s: %+v, %v (process reported %q)", key, r.Status, err, runID)
		return false
	}
	atts, err := s.Attempts(ctx, key)
	if err != nil || len(atts) != 1 || atts[0].GlueRunID != runID || atts[0].FinalState != "SUCCEEDED" {
		log.Printf("run %s: attempts %+v, %v (process reported %q)", key, atts, err, runID)
		return false
	}
	return true
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
