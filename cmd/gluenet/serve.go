package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/fleet"
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

It never changes a job or starts a run. It listens on loopback by default;
on any other address it requires a bearer token (--token or
GLUENET_SERVE_TOKEN). With --watch CONFIG it also samples the free IPs of
the config's connections every --interval (one DescribeSubnets call for
all of them) and keeps that history in the store for --retention.`,
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
	return cmd
}

func (a *app) serve(cmd *cobra.Command) error {
	f := cmd.Flags()
	s, err := resolve(f, a.getenv)
	if err != nil {
		return err
	}
	s.StateLog = a.log
	addr, _ := f.GetString("addr")
	token := flagOrEnv(f, "token", "GLUENET_SERVE_TOKEN", a.getenv)
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
	st, where, err := openStore(ctx, s)
	if err != nil {
		return err
	}
	defer st.Close()
	view := &fleet.View{R: st, Window: window, CacheTTL: cache, Log: a.log}
	srv := &fleet.Server{View: view, Token: token, Log: a.log}
	if sampler != nil {
		sampler.Store = st
		sampler.Interval, sampler.Retention = interval, retention
		// The first sample now: a config or AWS problem stops serve here
		// instead of showing as warnings every interval.
		if _, err := sampler.SampleOnce(ctx); err != nil {
			return &awsError{err: err, msg: fmt.Sprintf("--watch %s: %v\nCheck the connections, the region and the credentials (the sampler needs glue:GetConnection and ec2:DescribeSubnets).", watch, err)}
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usagef("listen on %s: %v (choose another --addr)", addr, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
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
	fc, err := loadFile(path)
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
