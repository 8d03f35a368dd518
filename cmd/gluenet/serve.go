package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/fleet"
	"github.com/gluenet/gluenet/internal/config"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/sqlite"
)

func (a *app) serveCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a read-only fleet view of subnets, zones and runs: pages, JSON API and Prometheus metrics",
		Long: `serve reads the state store that gluenet run processes write (the SQLite
file, or Postgres shared by many machines) and serves what it holds:

  /                 pages: subnets and zones, runs, one run, strategies
  /api/v1/...       the same as JSON (OpenAPI document at /api/v1/openapi.yaml)
  /metrics          Prometheus metrics, read from the store on every scrape
  /healthz          200 when the store answers

It never changes a job or starts a run: it opens the SQLite state file
read-only, and refuses one that does not exist (a --state typo). It listens
on loopback by default, where without a token it answers only loopback
Host names; on any other address it requires a bearer token (--token or
GLUENET_SERVE_TOKEN). It serves 16 requests at once and holds at most
--max-conns connections, closing the longest idle one for a new client.
Counters in /metrics start from the store's whole history (docs/serve.md).

With --watch CONFIG it also samples the free IPs of the config's
connections every --interval (one DescribeSubnets call for all of them),
opening the store read-write, and keeps that history in the store for --retention.`,
		Example: `  gluenet serve
  gluenet serve --postgres-dsn "$DSN" --addr 0.0.0.0:8080 --token "$TOKEN"
  gluenet serve --watch gluenet.yaml --interval 60s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.serve(cmd)
		},
	}
	f := cmd.Flags()
	f.String("addr", "127.0.0.1:8080", "address to listen on; other than loopback needs --token")
	f.String("token", "", "bearer token clients must send (env GLUENET_SERVE_TOKEN); required off loopback")
	f.Duration("window", fleet.DefaultWindow, "how far back the history, run counts and histograms look")
	f.Duration("cache", time.Second, "requests within this time of a store read share it (0: read on every request)")
	f.String("watch", "", "YAML config (as for run) whose connections to sample free IPs of")
	f.Duration("interval", fleet.DefaultInterval, "with --watch: time between samples")
	f.Duration("retention", fleet.DefaultRetention, "with --watch: how long samples are kept")
	f.Int("max-conns", DefaultServeMaxConns, "most client connections held open at once; more wait in the kernel's queue")
	return cmd
}

// The limits of serve's HTTP server: a client that sends nothing, reads
// nothing or keeps an idle connection is let go after these.
const (
	DefaultServeMaxConns  = 256
	serveReadHeader       = 10 * time.Second
	serveRead             = 30 * time.Second
	serveWrite            = 60 * time.Second
	serveIdle             = 30 * time.Second
	serveMaxHeaderBytes   = 32 << 10
	serveStoreConnections = 8
)

func (a *app) serve(cmd *cobra.Command) error {
	f := cmd.Flags()
	s, err := resolve(f, a.getenv)
	if err != nil {
		return err
	}
	s.StateLog = a.log
	addr, _ := f.GetString("addr")
	token := flagOrEnv(f, "token", "GLUENET_SERVE_TOKEN", a.getenv)
	if (changed(f, "token") || isSet(a.getenv, "GLUENET_SERVE_TOKEN")) && strings.TrimSpace(token) == "" {
		return usagef("the token (--token or GLUENET_SERVE_TOKEN) is blank: give a secret (e.g. openssl rand -hex 32), or unset it to serve on loopback without one")
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return usagef("the token (--token or GLUENET_SERVE_TOKEN) contains spaces or control characters, which an Authorization header cannot carry: use letters, digits and punctuation")
	}
	maxConns, _ := f.GetInt("max-conns")
	if maxConns < 1 {
		return usagef("--max-conns must be at least 1, got %d", maxConns)
	}
	window, _ := f.GetDuration("window")
	interval, _ := f.GetDuration("interval")
	retention, _ := f.GetDuration("retention")
	watch, _ := f.GetString("watch")
	cache, _ := f.GetDuration("cache")
	if cache < 0 {
		return usagef("--cache must not be negative, got %s", cache)
	}
	if window <= 0 || interval <= 0 || retention <= 0 {
		return usagef("--window, --interval and --retention must be positive (got %s, %s, %s)", window, interval, retention)
	}
	loopback, err := isLoopback(addr)
	if err != nil {
		return err
	}
	if !loopback && token == "" {
		return usagef("--addr %s is not a loopback address: anyone who reaches it could read your runs; set --token or GLUENET_SERVE_TOKEN (clients then send Authorization: Bearer TOKEN), or listen on 127.0.0.1", addr)
	}
	ctx := cmd.Context()
	var sampler *fleet.Sampler
	if watch != "" {
		if sampler, err = a.sampler(ctx, f.Lookup("endpoint-url").Value.String(), watch, s); err != nil {
			return err
		}
	}
	st, where, err := a.openServeStore(ctx, s, watch != "")
	if err != nil {
		return err
	}
	defer st.Close()
	view := &fleet.View{R: st, Window: window, CacheTTL: cache, Log: a.log}
	srv := &fleet.Server{View: view, Token: token, Log: a.log, Version: buildVersion(), Sampler: sampler}
	if sampler != nil {
		sampler.Store = st
		sampler.Interval, sampler.Retention = interval, retention
		// The first sample now: a config or AWS problem stops serve here
		// instead of showing as warnings every interval.
		if _, err := sampler.SampleOnce(ctx); err != nil {
			return &awsError{err: err, msg: fmt.Sprintf("--watch %s: %v\nCheck the connections, the region and the credentials (the sampler needs glue:GetConnection and ec2:DescribeSubnets).", watch, err)}
		}
	}
	// The counters of /metrics start from the store's whole history.
	if err := view.Prime(ctx); err != nil {
		return fmt.Errorf("serve: read the state store: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usagef("listen on %s: %v (choose another --addr)", addr, err)
	}
	limited := newConnLimit(ln, maxConns)
	ln = limited
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: serveReadHeader, ReadTimeout: serveRead,
		WriteTimeout: serveWrite, IdleTimeout: serveIdle, MaxHeaderBytes: serveMaxHeaderBytes,
		ConnState: limited.connState, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug)}
	auth := "no token: loopback only"
	if token != "" {
		auth = "bearer token required"
	}
	fmt.Fprintf(a.stderr, "gluenet serve: listening on http://%s (%s); state %s\n", ln.Addr(), auth, where)
	if sampler != nil {
		fmt.Fprintf(a.stderr, "gluenet serve: sampling the free IPs of %d connections every %s, kept %s\n", len(sampler.Connections), interval, retention)
		sctx, stop := context.WithCancel(ctx)
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			sampler.Run(sctx)
		}()
		defer func() { // before the store closes
			stop()
			<-sampled
		}()
	}
	// SIGINT and SIGTERM stop serve normally: it says so and exits 0.
	glueRun.set(runningRun{Serving: true})
	defer glueRun.set(runningRun{})
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: shut down: %w", err)
	}
	a.log.Info("gluenet serve stopped")
	return nil
}

// isLoopback reports whether addr (host:port) listens on loopback only.
func isLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, usagef("--addr %q: use host:port, e.g. 127.0.0.1:8080 (%v)", addr, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

// sampler builds the --watch sampler: the connections of the config file
// (top level and every job's), discovered through awsclient.
func (a *app) sampler(ctx context.Context, endpoint, path string, s settings) (*fleet.Sampler, error) {
	fc, err := config.LoadFile(path)
	if err != nil {
		return nil, err
	}
	conns := slices.Clone(fc.Connections)
	for _, j := range fc.Jobs {
		conns = append(conns, j.Connections...)
	}
	slices.Sort(conns)
	conns = slices.Compact(conns)
	if len(conns) == 0 {
		return nil, usagef("--watch %s: the config names no connections (set connections: or jobs.<name>.connections:)", path)
	}
	region, profile := s.Region, s.Profile
	if region == "" {
		region = fc.Region
	}
	if profile == "" {
		profile = fc.Profile
	}
	cfg, err := awsclient.LoadConfig(ctx, awsclient.Options{Region: region, Profile: profile, BaseEndpoint: endpoint, Logger: a.log})
	if err != nil {
		return nil, explainAWS(err, s, a.getenv)
	}
	client := awsclient.New(cfg)
	client.Logger = a.log
	// The connections' subnets are cached: after the first sample, each
	// one is a single DescribeSubnets call for all of them.
	client.Cache = awsclient.NewMemoryCache(awsclient.DefaultCacheTTL, time.Now)
	return &fleet.Sampler{
		Discover: func(ctx context.Context, names []string) ([]gluenet.Candidate, error) {
			c, _, err := client.Discover(ctx, names)
			return c, err
		},
		Connections: conns,
		Now:         time.Now,
		Log:         a.log,
	}, nil
}

// openServeStore opens the state store for serve. Without --watch the
// SQLite file must exist (a --state typo would otherwise serve a new,
// empty store that says 200) and is opened read-only; with --watch serve
// writes samples, and creates the file as gluenet run would. Its pool is
// bounded either way. Postgres opens as for every command.
func (a *app) openServeStore(ctx context.Context, s settings, writes bool) (store.Store, string, error) {
	if s.PostgresDSN != "" {
		return openStore(ctx, s)
	}
	path, err := statePath(s)
	if err != nil {
		return nil, "", err
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) && !writes {
		return nil, "", usagef("no state file at %s: gluenet serve reads the store that gluenet run writes; check --state or GLUENET_STATE (a typo?), or run a job first", path)
	}
	opts := []sqlite.Option{sqlite.WithRetention(s.Retention), sqlite.WithMaxOpenConns(serveStoreConnections)}
	mode := "read-only"
	if !writes {
		opts = append(opts, sqlite.ReadOnly())
	} else {
		mode = "read-write: --watch stores samples"
	}
	st, err := sqlite.Open(ctx, path, opts...)
	if err != nil {
		hint := "Check --state or GLUENET_STATE and the file's permissions."
		if !writes && strings.Contains(err.Error(), "readonly database") {
			// SQLITE_READONLY_DIRECTORY: reading a WAL database needs its
			// -shm index, which SQLite creates beside the file.
			hint = fmt.Sprintf("Reading the file needs SQLite's index file %s-shm beside it, which this user cannot create: make %s writable for this user (the state file itself may stay read-only), or run serve as the file's owner.", filepath.Base(path), filepath.Dir(path))
		}
		return nil, "", &usageError{Err: err, Msg: fmt.Sprintf("cannot read the state file %s: %v\n%s", path, err, hint)}
	}
	return st, path + " (" + mode + ")", nil
}

// connLimit holds at most n client connections at once. At the limit, a
// new connection closes the connection that has been idle (kept alive
// between requests) the longest, and waits for a slot only when none is
// idle: 5,000 idle keep-alive connections cost serve n descriptors, and a
// new client is still served. Connections that wait stay in the kernel's
// accept queue, costing serve nothing.
type connLimit struct {
	net.Listener
	slots chan struct{}
	mu    sync.Mutex
	idle  map[net.Conn]time.Time
	// wentIdle wakes an Accept that waits for a slot.
	wentIdle chan struct{}
	now      func() time.Time
}

func newConnLimit(l net.Listener, n int) *connLimit {
	return &connLimit{Listener: l, slots: make(chan struct{}, n), idle: map[net.Conn]time.Time{},
		wentIdle: make(chan struct{}, 1), now: time.Now}
}

// connState is the http.Server's ConnState hook: it tracks the idle ones.
func (l *connLimit) connState(c net.Conn, st http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st == http.StateIdle {
		l.idle[c] = l.now()
		select {
		case l.wentIdle <- struct{}{}:
		default:
		}
	} else {
		delete(l.idle, c)
	}
}

// evictIdle closes the connection idle the longest; false when none is.
func (l *connLimit) evictIdle() bool {
	l.mu.Lock()
	var oldest net.Conn
	var at time.Time
	for c, t := range l.idle {
		if oldest == nil || t.Before(at) {
			oldest, at = c, t
		}
	}
	delete(l.idle, oldest)
	l.mu.Unlock()
	if oldest == nil {
		return false
	}
	_ = oldest.Close()
	return true
}

func (l *connLimit) Accept() (net.Conn, error) {
	for acquired := false; !acquired; {
		select {
		case l.slots <- struct{}{}:
			acquired = true
			continue
		default:
		}
		if l.evictIdle() {
			continue // its Close frees a slot
		}
		select {
		case l.slots <- struct{}{}:
			acquired = true
		case <-l.wentIdle:
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitedConn{Conn: c, release: func() { <-l.slots }}, nil
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
