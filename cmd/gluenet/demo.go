package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/spf13/cobra"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/admit"
	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/health"
	"github.com/gluenet/gluenet/internal/config"
	"github.com/gluenet/gluenet/memory"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/runner"
	"github.com/gluenet/gluenet/sim"
	"github.com/gluenet/gluenet/store/sqlite"
)

// The demo's cast: the post's setup, as the default scenario defines it.
const (
	demoJob     = "AirflowBlogJob"
	demoConn1   = "MWAA-Glue-Blog-Subnet1"
	demoConn2   = "MWAA-Glue-Blog-Subnet2"
	demoSubnet1 = "subnet-0a1b2c3d4e5f60011"
	demoSubnet2 = "subnet-0a1b2c3d4e5f60022"
	demoAZ1     = "us-east-1a"
)

type demoChapter struct {
	Title     string    `json:"title"`
	Story     []string  `json:"story"`
	Baseline  *planJSON `json:"glue_alone,omitempty"`
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
Then it tells four short stories: a plain run, a run under IP pressure, a
run whose Availability Zone goes bad so that the retry moves to the other
zone, and a run that waits for room until another workload's IPs come back,
all with the default strategy (weighted) and admission. Simulated time runs 200 times
faster than the clock. With --output json the same story comes as data.`,
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
	// progress holds each attempt's state changes; lastProgress drops
	// repeats of the same state.
	progress     map[int][]string
	lastProgress string
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
	for _, ch := range []func(context.Context) (demoChapter, error){d.chapter1, d.chapter2, d.chapter3, d.chapter4} {
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

// tell prints a line of the narrative (blank lines around it as its
// newlines say) and adds its text, without layout, to the chapter's story.
func (d *demoEnv) tell(ch *demoChapter, format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if d.narrate {
		fmt.Fprintln(d.a.stdout, s)
	}
	if t := strings.TrimSpace(s); t != "" {
		ch.Story = append(ch.Story, t)
	}
}

// heading prints a chapter's title; in JSON it is the chapter's title.
func (d *demoEnv) heading(ch *demoChapter) {
	if d.narrate {
		fmt.Fprintf(d.a.stdout, "\n== %s\n\n", ch.Title)
	}
}

// blank prints an empty line of the narrative.
func (d *demoEnv) blank() {
	if d.narrate {
		fmt.Fprintln(d.a.stdout)
	}
}

func (d *demoEnv) runnerFor(ctx context.Context) *runner.Runner {
	return &runner.Runner{
		Cloud:  d.client,
		Logs:   d.client,
		Clock:  runner.WallClock{},
		Rand:   rand.New(rand.NewPCG(7, 11)),
		Log:    d.log,
		Memory: d.mem,
		Progress: func(p runner.Progress) {
			if p.Action == policy.Sleep && strings.HasPrefix(p.Message, "waiting for room") {
				d.progressLine(p)
				return
			}
			if p.State == "" || (p.Action != policy.Wait && p.Action != policy.Finish && p.Action != policy.GiveUp) {
				return
			}
			d.progressLine(p)
		},
	}
}

// progressLine keeps one line per state change of a run, printed with the
// attempt's ranking once the run is over.
func (d *demoEnv) progressLine(p runner.Progress) {
	key := fmt.Sprintf("%d/%s/%s", p.Attempt, p.RunID, p.State)
	if p.State == "" {
		// A wait for room: one line for the whole wait.
		key = fmt.Sprintf("%d/room", p.Attempt)
	}
	if key == d.lastProgress {
		return
	}
	d.lastProgress = key
	state := p.State
	if state == "" {
		state = "no run yet"
	}
	line := fmt.Sprintf("    %-24s %-10s %5.1fs", p.Connection, state, p.Elapsed.Seconds())
	if p.Message != "" {
		line += "  " + p.Message
	}
	if d.progress == nil {
		d.progress = map[int][]string{}
	}
	d.progress[p.Attempt] = append(d.progress[p.Attempt], line)
}

// attemptLines are an attempt's state changes as the polls saw them, then
// its end as the journal has it when the polls did not show it: a run that
// failed is settled by the step that also schedules the retry, so its end
// reaches the progress callback only as the wait before the next attempt.
// The end carries Glue's message and gluenet's failure class.
func (d *demoEnv) attemptLines(at runner.AttemptReport) []string {
	lines := d.progress[at.Attempt]
	if at.State == "" {
		return lines
	}
	if n := len(lines); n > 0 && slices.Contains(strings.Fields(lines[n-1]), at.State) {
		return lines
	}
	end := fmt.Sprintf("    %-24s %-10s %6s", at.Expected, at.State, "")
	if at.ErrorMessage != "" {
		end += "  " + at.ErrorMessage
	}
	if at.Class != "" {
		end += fmt.Sprintf(" (class %s)", at.Class)
	}
	return append(lines, end)
}

func (d *demoEnv) config(conns []string, strat string, workers int) executor.Spec {
	rc := executor.Spec{
		Job:          demoJob,
		Connections:  conns,
		Strategy:     strat,
		MinIPs:       gluenet.DefaultMinIPs,
		PollInterval: 150 * time.Millisecond,
		Policy: policy.Config{MaxAttempts: 3, InitialDelay: time.Second, Multiplier: 2, MaxDelay: 5 * time.Second,
			MaxStartRetries: 5, StopOnInterrupt: true},
		Classify: classify.Options{},
		// What gluenet run does by default; the demo's waits are short
		// because a simulated minute passes in a fraction of a second.
		Admission: admit.DefaultConfig(),
	}
	if workers > 0 {
		w := int32(workers)
		rc.Start.NumberOfWorkers = &w
		rc.NeedIPs = workers
	}
	return rc
}

func (d *demoEnv) plan(ctx context.Context, rc executor.Spec) (*planJSON, error) {
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

// run runs the job and tells each attempt: the ranking it used (the order
// written into the job), then the run's states.
func (d *demoEnv) run(ctx context.Context, rc executor.Spec, ch *demoChapter) error {
	d.progress = nil
	if d.narrate {
		fmt.Fprintln(d.a.stdout, "    (running: a Glue run takes a few seconds here)")
	}
	rep := d.runnerFor(ctx).Run(ctx, "", rc)
	if rep.Result != policy.ResultSucceeded {
		return fmt.Errorf("demo run ended %s: %s", rep.Result, rep.Error)
	}
	r := runOut(rep)
	ch.Run = &r
	if d.narrate {
		for _, at := range rep.Attempts {
			fmt.Fprintf(d.a.stdout, "\nAttempt %d ranked the connections:\n\n", at.Attempt)
			d.a.placementTable(at.Connections)
			fmt.Fprintf(d.a.stdout, "\nand its Glue run %s went:\n", at.RunID)
			for _, l := range d.attemptLines(at) {
				fmt.Fprintln(d.a.stdout, l)
			}
		}
	}
	last := rep.Attempts[len(rep.Attempts)-1]
	lines, err := d.client.FollowLogs(last.RunID, time.Time{}, awsclient.OutputLogGroup).Poll(ctx)
	if err != nil {
		return fmt.Errorf("read the run's output log: %w", err)
	}
	for _, l := range lines {
		if strings.Contains(l.Message, "driver node") || strings.Contains(l.Message, "workers") {
			ch.DriverLog = append(ch.DriverLog, strings.TrimSpace(l.Message))
			if d.narrate {
				fmt.Fprintf(d.a.stdout, "    output log: %s\n", strings.TrimSpace(l.Message))
			}
		}
	}
	return nil
}

func (d *demoEnv) chapter1(ctx context.Context) (demoChapter, error) {
	ch := demoChapter{Title: "1. Rank and run"}
	// Another workload already uses PrivateSubnet1, so that the two subnets
	// differ and the ranking has something to show.
	if err := d.region.Exhaust(demoSubnet1, 120); err != nil {
		return ch, err
	}
	d.heading(&ch)
	d.tell(&ch, "The job %s (2 workers) may use two Glue connections, one per private subnet. Each worker", demoJob)
	d.tell(&ch, "needs one IP from the subnet, and another workload already holds 131 of PrivateSubnet1's 251 IPs.")
	d.tell(&ch, "gluenet reads the free IPs of both subnets and ranks them with its default strategy, weighted:")
	d.tell(&ch, "a random order in which each subnet's chance to come first is its share of the free IPs, so that")
	d.tell(&ch, "runs spread over the subnets in proportion to their room. It writes that order into the job")
	d.tell(&ch, "(Glue uses the first connection that works), starts a run and follows it.")
	d.blank()
	rc := d.config([]string{demoConn1, demoConn2}, config.DefaultStrategy, 0)
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
	d.heading(&ch)
	d.tell(&ch, "Another workload now holds all but 5 IPs of PrivateSubnet2, and this run asks for 10 workers.")
	d.tell(&ch, "Glue alone tries the connections in the listed order. With PrivateSubnet2 listed first it would take it")
	d.tell(&ch, "(it has the 2 IPs Glue needs to start) and run with 5 workers instead of 10:")
	d.blank()
	conns := []string{demoConn2, demoConn1}
	var err error
	if ch.Baseline, err = d.plan(ctx, d.config(conns, "ordered", 10)); err != nil {
		return ch, err
	}
	d.blank()
	d.tell(&ch, "gluenet puts the subnets that can hold the whole run first, so the run gets all 10 workers.")
	d.blank()
	rc := d.config(conns, config.DefaultStrategy, 10)
	if err := d.run(ctx, rc, &ch); err != nil {
		return ch, err
	}
	return ch, nil
}

func (d *demoEnv) chapter4(ctx context.Context) (demoChapter, error) {
	ch := demoChapter{Title: "4. Waiting for room"}
	if err := d.region.SetAZState(demoAZ1, sim.AZHealthy); err != nil {
		return ch, err
	}
	if err := d.region.Exhaust(demoSubnet1, 6); err != nil {
		return ch, err
	}
	if err := d.region.Exhaust(demoSubnet2, 5); err != nil {
		return ch, err
	}
	d.heading(&ch)
	d.tell(&ch, "The zone is back, but both subnets are now nearly full: 6 and 5 free IPs, and this run asks for 12")
	d.tell(&ch, "workers. Started now, it would get 6 at most. Another workload's run in PrivateSubnet2 is about to end, and")
	d.tell(&ch, "its IPs come back a moment later. gluenet waits for room (up to --admit-wait, %s by default),", admitWaitText())
	d.tell(&ch, "looking again at every poll, changing nothing in AWS meanwhile, and starts the run once a subnet")
	d.tell(&ch, "can hold all of it:")
	d.blank()
	// The other workload's run ends two seconds from now.
	release := time.AfterFunc(2*time.Second, func() { _ = d.region.Exhaust(demoSubnet2, 40) })
	defer release.Stop()
	rc := d.config([]string{demoConn1, demoConn2}, config.DefaultStrategy, 12)
	if err := d.run(ctx, rc, &ch); err != nil {
		return ch, err
	}
	if r := ch.Run; len(r.Attempts) > 0 {
		at := r.Attempts[len(r.Attempts)-1]
		d.blank()
		if at.UnderCapacity == nil {
			d.tell(&ch, "The run waited %.0f seconds and started in %s with all 12 workers. Without waiting (--admit-wait 0)", at.WaitedForRoom, at.Expected)
			d.tell(&ch, "it would have started at once with 6, and said so: a warning and under_capacity in its JSON.")
		} else {
			d.tell(&ch, "No room appeared in time: the run started short, and said so (under_capacity in its JSON).")
		}
	}
	return ch, nil
}

func (d *demoEnv) chapter3(ctx context.Context) (demoChapter, error) {
	ch := demoChapter{Title: "3. A zone goes bad"}
	if err := d.region.SetAZState(demoAZ1, sim.AZDegraded); err != nil {
		return ch, err
	}
	d.heading(&ch)
	d.tell(&ch, "%s degrades: Glue's health check still passes there, but runs placed in it fail after a while.", demoAZ1)
	d.tell(&ch, "PrivateSubnet1 (in %s) has by far the most free IPs, so it is the likely first choice. When a", demoAZ1)
	d.tell(&ch, "run fails there, gluenet classifies the failure as a placement failure, ejects the subnet for a")
	d.tell(&ch, "while, waits, re-ranks and retries. (The post's DAG would re-rank blindly and pick PrivateSubnet1")
	d.tell(&ch, "again: it still has the most free IPs, precisely because the run there failed.)")
	d.blank()
	rc := d.config([]string{demoConn1, demoConn2}, config.DefaultStrategy, 0)
	if err := d.run(ctx, rc, &ch); err != nil {
		return ch, err
	}
	if r := ch.Run; len(r.Attempts) > 1 {
		first, last := r.Attempts[0], r.Attempts[len(r.Attempts)-1]
		d.blank()
		d.tell(&ch, "Attempt %d failed in %s (class %s); attempt %d ranked it last, ejected until the time shown,", first.Attempt,
			first.Expected, first.Class, last.Attempt)
		d.tell(&ch, "and the run succeeded in %s.", last.Expected)
	}
	return ch, nil
}
