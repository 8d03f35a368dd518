package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/cobra"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/health"
	"github.com/gluenet/gluenet/memory"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/runner"
	"github.com/gluenet/gluenet/sim"
	"github.com/gluenet/gluenet/store/sqlite"
	"github.com/gluenet/gluenet/strategy"
)

// The demo's cast: the post's setup, as the default scenario defines it.
const (
	demoJob     = "AirflowBlogJob"
	demoConn1   = "MWAA-Glue-Blog-Subnet1"
	demoConn2   = "MWAA-Glue-Blog-Subnet2"
	demoSubnet2 = "subnet-0a1b2c3d4e5f60022"
	demoAZ1     = "us-east-1a"
)

type demoChapter struct {
	Title     string    `json:"title"`
	Story     []string  `json:"story"`
	Baseline  *planJSON `json:"glue_alone,omitempty"`
	Plan      *planJSON `json:"plan,omitempty"`
	Run       *runJSON  `json:"run,omitempty"`
	DriverLog []string  `json:"driver_log,omitempty"`
}

func (a *app) demoCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Show gluenet at work on an embedded simulated region (no AWS account needed)",
		Long: `demo starts the simulated region in-process with the setup of the AWS post:
one VPC, private subnets PrivateSubnet1 (us-east-1a) and PrivateSubnet2
(us-east-1b), a Glue NETWORK connection to each, and the job AirflowBlogJob.
Then it tells three short stories: a plain run, a run under IP pressure, and
a run whose Availability Zone goes bad so that the retry moves to the other
zone. Simulated time runs 200 times faster than the clock.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, err := outputFormat(cmd)
			if err != nil {
				return err
			}
			return a.demo(cmd.Context(), cmd, out)
		},
	}
	cmd.Flags().String("output", "table", "output format: table (a narrative) or json")
	return cmd
}

type demoEnv struct {
	a       *app
	region  *sim.Region
	client  *awsclient.Client
	mem     *memory.Memory
	narrate bool
	log     *slog.Logger
}

func (a *app) demo(ctx context.Context, cmd *cobra.Command, format string) error {
	// The runner's logs would drown the story: unless asked for, only
	// warnings go to stderr.
	log := a.log
	if !cmd.Flags().Changed("log-level") {
		log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	sc, err := sim.LoadScenario("default")
	if err != nil {
		return err
	}
	region, err := sim.New(sc, sim.WithClock(sim.NewScaledClock(time.Now().UTC(), sc.TimeScale, nil)),
		sim.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return err
	}
	cfg, err := awsclient.LoadConfig(ctx, awsclient.Options{
		Region:       sc.Region,
		HTTPClient:   region.HTTPClient(),
		BaseEndpoint: sim.InProcessEndpoint,
		Credentials:  credentials.NewStaticCredentialsProvider("demo", "demo", ""),
		Logger:       log,
	})
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "gluenet-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	client := awsclient.New(cfg)
	client.Logger = log
	d := &demoEnv{a: a, region: region, client: client, mem: memory.New(st, health.DefaultConfig()),
		narrate: format != "json", log: log}

	var chapters []demoChapter
	for _, ch := range []func(context.Context) (demoChapter, error){d.chapter1, d.chapter2, d.chapter3} {
		c, err := ch(ctx)
		if err != nil {
			return err
		}
		chapters = append(chapters, c)
	}
	if format == "json" {
		return jsonOut(a, map[string]any{"scenario": "default", "chapters": chapters})
	}
	fmt.Fprintln(a.stdout, "\nThat is gluenet. Next: `gluenet sim serve` to point your own tools at the simulated region, or the README to run it on AWS.")
	return nil
}

func (d *demoEnv) say(format string, args ...any) string {
	s := fmt.Sprintf(format, args...)
	if d.narrate {
		fmt.Fprintln(d.a.stdout, s)
	}
	return s
}

func (d *demoEnv) runnerFor(ctx context.Context) *runner.Runner {
	return &runner.Runner{
		Cloud:  awsclient.Executor{C: d.client},
		Logs:   d.client,
		Clock:  runner.WallClock{},
		Rand:   rand.New(rand.NewPCG(7, 11)),
		Log:    d.log,
		Memory: d.mem,
		Progress: func(p runner.Progress) {
			if !d.narrate || p.Action != policy.Wait || p.State == "" {
				return
			}
			d.progressLine(p)
		},
	}
}

// progressLine prints one line per state change of a run.
func (d *demoEnv) progressLine(p runner.Progress) {
	key := fmt.Sprintf("%d/%s/%s", p.Attempt, p.RunID, p.State)
	if key == lastProgress {
		return
	}
	lastProgress = key
	line := fmt.Sprintf("    attempt %d  %-24s %-10s %5.1fs", p.Attempt, p.Connection, p.State, p.Elapsed.Seconds())
	if p.Message != "" {
		line += "  " + p.Message
	}
	fmt.Fprintln(d.a.stdout, line)
}

var lastProgress string

func (d *demoEnv) config(conns []string, strat string, workers int) runner.Config {
	s, _ := strategy.Lookup(strat)
	rc := runner.Config{
		Job:          demoJob,
		Connections:  conns,
		Strategy:     s,
		MinIPs:       gluenet.DefaultMinIPs,
		PollInterval: 150 * time.Millisecond,
		Policy: policy.Config{MaxAttempts: 3, InitialDelay: time.Second, Multiplier: 2, MaxDelay: 5 * time.Second,
			MaxStartRetries: 5, StopOnInterrupt: true},
		Classify: classify.Options{},
	}
	if workers > 0 {
		w := int32(workers)
		rc.Start.NumberOfWorkers = &w
		rc.NeedIPs = workers
	}
	return rc
}

func (d *demoEnv) plan(ctx context.Context, rc runner.Config) (*planJSON, error) {
	p, err := d.runnerFor(ctx).Plan(ctx, rc)
	if err != nil {
		return nil, err
	}
	if d.narrate {
		d.a.placementTable(p.Placements)
	}
	out := planOut(rc.Job, p)
	return &out, nil
}

func (d *demoEnv) run(ctx context.Context, rc runner.Config, ch *demoChapter) error {
	rep := d.runnerFor(ctx).Run(ctx, rc)
	if rep.Result != policy.ResultSucceeded {
		return fmt.Errorf("demo run ended %s: %s", rep.Result, rep.Error)
	}
	r := runOut(rep)
	ch.Run = &r
	last := rep.Attempts[len(rep.Attempts)-1]
	lines, err := d.client.FollowLogs(last.RunID, time.Time{}, awsclient.OutputLogGroup).Poll(ctx)
	if err != nil {
		return fmt.Errorf("read the run's output log: %w", err)
	}
	for _, l := range lines {
		if strings.Contains(l.Message, "driver node") || strings.Contains(l.Message, "workers") {
			ch.DriverLog = append(ch.DriverLog, l.Message)
			d.say("    output log: %s", strings.TrimSpace(l.Message))
		}
	}
	return nil
}

func (d *demoEnv) chapter1(ctx context.Context) (demoChapter, error) {
	ch := demoChapter{Title: "1. Rank and run"}
	ch.Story = append(ch.Story,
		d.say("\n== 1. Rank and run\n"),
		d.say("The job %s (2 workers) may use two Glue connections, one per private subnet.", demoJob),
		d.say("Each worker needs one IP from the subnet. gluenet reads the free IPs of both subnets and ranks them"),
		d.say("with the capacity strategy (most free IPs first). Glue will use the first one that works.\n"))
	rc := d.config([]string{demoConn1, demoConn2}, "capacity", 0)
	var err error
	if ch.Plan, err = d.plan(ctx, rc); err != nil {
		return ch, err
	}
	ch.Story = append(ch.Story, d.say("\ngluenet writes that order into the job, starts a run and follows it:"))
	if err := d.run(ctx, rc, &ch); err != nil {
		return ch, err
	}
	return ch, nil
}

func (d *demoEnv) chapter2(ctx context.Context) (demoChapter, error) {
	ch := demoChapter{Title: "2. IP pressure"}
	if err := d.region.Exhaust(demoSubnet2, 5); err != nil {
		return ch, err
	}
	ch.Story = append(ch.Story,
		d.say("\n== 2. IP pressure\n"),
		d.say("Another workload now holds all but 5 IPs of PrivateSubnet2, and this run asks for 10 workers."),
		d.say("Glue alone tries the connections in the listed order. With PrivateSubnet2 listed first it would take it"),
		d.say("(it has the 2 IPs Glue needs to start) and run with 5 workers instead of 10:\n"))
	conns := []string{demoConn2, demoConn1}
	var err error
	if ch.Baseline, err = d.plan(ctx, d.config(conns, "ordered", 10)); err != nil {
		return ch, err
	}
	ch.Story = append(ch.Story, d.say("\ngluenet ranks by free IPs instead, so the run gets all 10 workers:\n"))
	rc := d.config(conns, "capacity", 10)
	if ch.Plan, err = d.plan(ctx, rc); err != nil {
		return ch, err
	}
	ch.Story = append(ch.Story, d.say(""))
	if err := d.run(ctx, rc, &ch); err != nil {
		return ch, err
	}
	return ch, nil
}

func (d *demoEnv) chapter3(ctx context.Context) (demoChapter, error) {
	ch := demoChapter{Title: "3. A zone goes bad"}
	if err := d.region.SetAZState(demoAZ1, sim.AZDegraded); err != nil {
		return ch, err
	}
	ch.Story = append(ch.Story,
		d.say("\n== 3. A zone goes bad\n"),
		d.say("%s degrades: Glue's health check still passes there, but runs placed in it fail after a while.", demoAZ1),
		d.say("PrivateSubnet1 (in %s) has by far the most free IPs, so it is ranked first and the run fails.", demoAZ1),
		d.say("gluenet classifies the failure as a placement failure, ejects the subnet for a while, waits, re-ranks"),
		d.say("and retries. (The post's DAG would re-rank blindly and pick PrivateSubnet1 again: it still has the"),
		d.say("most free IPs, precisely because the run there failed.)\n"))
	rc := d.config([]string{demoConn1, demoConn2}, "capacity", 0)
	var err error
	if ch.Plan, err = d.plan(ctx, rc); err != nil {
		return ch, err
	}
	ch.Story = append(ch.Story, d.say(""))
	if err := d.run(ctx, rc, &ch); err != nil {
		return ch, err
	}
	if r := ch.Run; r != nil && len(r.Attempts) > 1 {
		ch.Story = append(ch.Story, d.say("\nThe retry ranked PrivateSubnet1 last (ejected) and the run succeeded in the other zone."))
	}
	return ch, nil
}
