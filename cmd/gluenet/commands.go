package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/admit"
	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/internal/config"
	"github.com/gluenet/gluenet/internal/runkey"
	"github.com/gluenet/gluenet/memory"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/runner"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/strategy"
)

func addRankFlags(f *pflag.FlagSet) {
	f.String("job", "", "Glue job name (env GLUENET_JOB)")
	f.StringSlice("connections", nil, "candidate Glue connections, comma-separated (env GLUENET_CONNECTIONS)")
	f.String("strategy", config.DefaultStrategy, "ranking strategy: "+strings.Join(strategy.Names(), ", ")+" (env GLUENET_STRATEGY)")
	f.Int("need-ips", 0, "IPs a run needs at full capacity (default: the job's NumberOfWorkers)")
	f.Int("min-ips", gluenet.DefaultMinIPs, "fewest free IPs with which Glue starts a run")
	f.StringSlice("prefer-az", nil, "preferred Availability Zones for the prefer-az strategy, most preferred first")
	f.String("output", "table", "output format: table or json")
	f.Bool("no-memory", false, "rank on free IPs alone, without health memory and in-flight reservations (the post's behaviour)")
	f.String("admit-wait", admit.DefaultWait.String(), "when no healthy subnet has free IPs for the whole run, wait up to this long for room before starting (0: start at once) (env GLUENET_ADMIT_WAIT)")
	f.Bool("admit-predict", false, "bound the wait for room by when the runs in flight are expected to make room (shorter waits, more short starts: docs/admission.md) (env GLUENET_ADMIT_PREDICT)")
	f.String("when-short", string(admit.DefaultWhenShort), "when the wait for room runs out: start (with the IPs there are: fewer workers) or fail (exit 3, nothing started) (env GLUENET_WHEN_SHORT)")
}

func addRunFlags(f *pflag.FlagSet) {
	f.Int("attempts", 3, "attempts in all, the first included (env GLUENET_ATTEMPTS)")
	f.String("retry-delay", "30s", "wait before the first retry; doubles for each further retry")
	f.String("max-retry-delay", "10m", "longest wait between attempts")
	f.String("poll-interval", "10s", "time between job run state checks")
	f.StringArray("arg", nil, "job argument KEY=VALUE passed to StartJobRun (repeatable), e.g. --arg --day=2026-11-27")
	f.Int("workers", 0, "override the number of workers for this run")
	f.String("worker-type", "", "override the worker type for this run (G.1X, G.2X, ...)")
	f.Int("timeout", 0, "override the run's timeout, in minutes")
	f.Bool("retry-job-failures", false, "retry runs that failed in the job's own code too (as Airflow would)")
	f.Bool("no-stop-on-interrupt", false, "on SIGINT/SIGTERM, leave the Glue run going instead of stopping it")
	f.Bool("follow-logs", false, "stream the run's output and error logs from CloudWatch Logs while it runs")
	f.String("lock-timeout", executor.DefaultLockTimeout.String(), "longest wait for the job lock held by another gluenet before giving up (Ctrl-C ends the wait at once)")
	f.String("run-key", "", "idempotency key of this run, e.g. the orchestrator's run id (env GLUENET_RUN_KEY; default: Airflow's dag/run/task when run by Airflow, else a new key)")
}

// prepare reads what every command with --output needs: the output format
// and the resolved settings.
func (a *app) prepare(cmd *cobra.Command) (string, settings, error) {
	out, err := outputFormat(cmd)
	if err != nil {
		return "", settings{}, err
	}
	s, err := resolve(cmd.Flags(), a.getenv)
	s.StateLog = a.log // the state store's slow-wait warnings go where gluenet's logs go
	return out, s, err
}

func outputFormat(cmd *cobra.Command) (string, error) {
	o, _ := cmd.Flags().GetString("output")
	if o != "table" && o != "json" {
		return "", usagef("--output %q: use table or json", o)
	}
	return o, nil
}

func (a *app) planCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Rank a job's connections and print the order, changing nothing",
		Long: `plan is a dry run: it reads the job, the candidate connections and the free
IPs of their subnets, ranks them with the strategy, and prints the order with
the reason for each place. It makes no change in AWS.`,
		Example: `  gluenet plan --job AirflowBlogJob --connections MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2
  gluenet plan --config gluenet.yaml --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, s, err := a.prepare(cmd)
			if err != nil {
				return err
			}
			if err := s.Validate(true); err != nil {
				return err
			}
			env, err := a.environment(cmd.Context(), cmd.Flags(), s, false)
			if err != nil {
				return err
			}
			defer env.Close()
			plan, err := env.runner.Plan(cmd.Context(), env.spec)
			if err != nil {
				if serr := env.storeErr(); serr != nil {
					return serr
				}
				return explainAWS(err, s, a.getenv)
			}
			if w := strategy.PreferAZWarning(s.PreferAZ, plan.Placements); w != "" {
				a.log.Warn(w)
				plan.Notes = append(plan.Notes, w)
			}
			return a.printPlan(out, s.Job, plan)
		},
	}
	addRankFlags(cmd.Flags())
	return cmd
}

func (a *app) runCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Rank the connections, run the job, and retry with re-ranking on failure",
		Long: `run ranks the job's candidate connections, writes that order into the job
(UpdateJob, preserving every other field), starts a run, and polls it until it
ends. On a failure worth retrying it waits (exponential backoff with jitter),
re-ranks from fresh free-IP counts and tries again. SIGINT or SIGTERM stops
the Glue run (unless --no-stop-on-interrupt), waits for it, and exits 130.`,
		Example: `  gluenet run --job AirflowBlogJob --connections MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2 --strategy capacity
  gluenet run --config gluenet.yaml --arg --day=2026-11-27 --workers 20 --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, s, err := a.prepare(cmd)
			if err != nil {
				return err
			}
			if err := s.Validate(true); err != nil {
				return err
			}
			env, err := a.environment(cmd.Context(), cmd.Flags(), s, true)
			if err != nil {
				return err
			}
			defer env.Close()
			if env.runKey, err = runKey(cmd.Flags(), a.getenv, s.Job); err != nil {
				return err
			}
			detach, _ := cmd.Flags().GetBool("detach")
			if err := checkNewRun(cmd.Context(), env, s); err != nil {
				explained := explainAWS(err, s, a.getenv)
				if ue := (*usageError)(nil); errors.As(explained, &ue) || detach {
					return explained
				}
				// Not the command's fault (AWS unreachable, say): report
				// it as run reports an error, still without a record.
				rep := runner.Report{Job: s.Job, RunKey: env.runKey, Result: policy.ResultError, Error: err.Error(), Err: err}
				if err := a.printReport(out, rep); err != nil {
					return err
				}
				return a.finish(rep, s)
			}
			a.log.Info("run key", "run_key", env.runKey)
			if detach {
				return a.detach(cmd.Context(), out, env, s)
			}
			env.runner.FollowLogs, _ = cmd.Flags().GetBool("follow-logs")
			env.runner.LogLine = a.console.logLine
			progress, stop := a.console.progress(s.Retry.MaxAttempts), env.spec.Policy.StopOnInterrupt
			env.runner.Progress = func(p runner.Progress) {
				glueRun.set(runningRun{Job: s.Job, RunID: p.RunID, Stop: stop}) // for the signal handler's messages
				progress(p)
			}
			rep := env.runner.Run(cmd.Context(), env.runKey, env.spec)
			a.console.done()
			if len(rep.Attempts) > 0 {
				if w := strategy.PreferAZWarning(s.PreferAZ, rep.Attempts[0].Connections); w != "" {
					a.log.Warn(w)
				}
			}
			if err := a.printReport(out, rep); err != nil {
				return err
			}
			return a.finish(rep, s)
		},
	}
	addRankFlags(cmd.Flags())
	addRunFlags(cmd.Flags())
	cmd.Flags().Bool("detach", false, "rank, apply, start and record the run, print where it stands and exit 0; continue it with: gluenet resume --run-key K")
	return cmd
}

// checkNewRun reads the job of a new run key before the run is recorded,
// so that a run refused before anything started (a misspelt --job, a job
// whose size gluenet cannot tell, AWS out of reach) is not a run: it stays
// out of "runs list", the fleet view and its metrics. It costs one GetJob,
// and only for a key not recorded yet; it returns GetJob's error as is.
func checkNewRun(ctx context.Context, env *runEnv, s settings) error {
	if env.runner.Journal == nil || env.client == nil {
		return nil
	}
	if _, err := env.runner.Journal.GetRun(ctx, env.runKey); !errors.Is(err, store.ErrNotFound) {
		return nil // a recorded key goes on as recorded; a store error, Begin reports
	}
	_, err := env.client.JobNeeds(ctx, s.Job, s.NeedIPs)
	return err
}

// finish maps a run's result to the exit code (resultExit), naming the
// run and its Glue run when the state store went away.
func (a *app) finish(rep runner.Report, s settings) error {
	if rep.Result == policy.ResultError && isUnavailable(rep.Err) {
		return storeLost(rep.Err, rep.RunKey, glueRun.get())
	}
	code, err := resultExit(rep.Result, rep.Err, rep.Status.ErrClass, rep.Error, s, a.getenv)
	if err != nil {
		return err
	}
	a.exit = code
	return nil
}

// resultExit is the one map from how a run ended to the exit code, for
// run, run --detach, resume and status alike: the result, and for an
// error the error to print (from its cause when this process saw it,
// else from the class the journal recorded).
func resultExit(result policy.Result, cause error, class classify.Class, msg string, s settings, getenv env) (int, error) {
	switch result {
	case policy.ResultSucceeded:
		return exitOK, nil
	case policy.ResultFailed:
		return exitRunFailed, nil
	case policy.ResultInterrupted:
		return exitInterrupted, nil
	}
	var err error
	switch {
	case cause != nil:
		err = explainAWS(cause, s, getenv)
	case class == classify.NotFound || class == classify.Validation || class == classify.Config:
		err = &usageError{Msg: msg}
	default:
		err = &awsError{msg: msg}
	}
	return exitCode(err), err
}

// runEnv is what plan and run need: a runner, the run's spec and key.
type runEnv struct {
	runner *runner.Runner
	client *awsclient.Client
	spec   executor.Spec
	runKey string
	close  []func()
	store  *store.Async // nil without a state store
}

// storeErr is the error the state store failed to open with, if any: when
// a command fails, that is the cause to report, rather than the first
// read that stumbled on it.
func (e *runEnv) storeErr() error {
	if e.store == nil {
		return nil
	}
	return e.store.Wait()
}

func (e *runEnv) Close() {
	for _, f := range e.close {
		f()
	}
}

// environment builds the runner. Runs always keep a journal (and take job
// locks) in the state store; health memory and reservations are on unless
// --no-memory.
func (a *app) environment(ctx context.Context, f *pflag.FlagSet, s settings, journal bool) (*runEnv, error) {
	endpoint, _ := f.GetString("endpoint-url")
	opts := awsclient.Options{
		Region:       s.Region,
		Profile:      s.Profile,
		BaseEndpoint: endpoint,
		Logger:       a.log,
		CallTimeout:  s.CallTimeout,
		MaxAttempts:  awsclient.MaxAttempts(a.getenv),
	}
	// The state store opens in the background: opening it (a new SQLite
	// file gets its schema) is start-up work of several milliseconds that
	// the SDK's configuration and, for plan, the job's GetJob need not
	// wait for. A run's journal needs it first thing, so run waits here.
	var st *store.Async
	if s.Memory || journal {
		_, fresh := missingState(s)
		st = store.OpenAsync(func() (store.Store, error) {
			st, _, err := openStore(ctx, s)
			return st, err
		})
		if fresh {
			// A new state file: the first discovery looks every
			// connection up at once instead of waiting for the schema.
			st.Fresh()
		}
	}
	cfg, err := awsclient.LoadConfig(ctx, opts)
	if err != nil {
		if st != nil {
			st.Close()
		}
		return nil, explainAWS(err, s, a.getenv)
	}
	if st != nil && journal {
		if err := st.Wait(); err != nil {
			return nil, err
		}
	}
	client := awsclient.New(cfg)
	client.Logger = a.log
	spec := s.Spec()
	if err := startOverrides(f, &spec); err != nil {
		if st != nil {
			st.Close()
		}
		return nil, err
	}
	if v, err := f.GetBool("no-stop-on-interrupt"); err == nil && v {
		spec.Policy.StopOnInterrupt = false
	}
	seed := uint64(time.Now().UnixNano())
	r := &runner.Runner{
		Cloud: client,
		Logs:  client,
		Clock: runner.WallClock{},
		Rand:  rand.New(rand.NewPCG(seed, seed>>1)),
		Log:   a.log,
	}
	re := &runEnv{runner: r, client: client, spec: spec, store: st}
	if st != nil {
		re.close = append(re.close, func() { st.Close() })
		if s.Memory {
			r.Memory = memory.New(st, s.Health)
		}
		// Warm discovery across invocations: one DescribeSubnets call.
		client.Cache = &memory.SubnetCache{Store: st, TTL: awsclient.DefaultCacheTTL, Now: time.Now, Log: a.log}
		if journal {
			opened, err := st.Store() // opened already: run waited for it above
			if err != nil {
				st.Close()
				return nil, err
			}
			r.Journal = opened
			r.Holder = executor.NewHolder()
			r.LockTTL = s.LockTTL
			if s.LockTimeout > 0 {
				r.LockTimeout = s.LockTimeout
			}
		}
	}
	return re, nil
}

// runKey is --run-key, GLUENET_RUN_KEY, Airflow's task instance when
// Airflow runs gluenet (so that a task retry re-attaches instead of starting
// a second Glue run: the rule is package runkey's, shared with the Python
// operator), or a new key.
func runKey(f *pflag.FlagSet, getenv env, job string) (string, error) {
	if k := flagOrEnv(f, "run-key", "GLUENET_RUN_KEY", getenv); k != "" {
		return k, nil
	}
	if k, ok, err := runkey.FromAirflowEnv(getenv); ok {
		if err != nil {
			return "", usagef("%v (or give --run-key)", err)
		}
		return k, nil
	}
	seed := uint64(time.Now().UnixNano())
	return runkey.New(job, time.Now(), rand.New(rand.NewPCG(seed, seed>>1))), nil
}

// startOverrides applies --workers, --worker-type and --timeout; the
// values are checked by gluenet.StartInput.Validate.
func startOverrides(f *pflag.FlagSet, spec *executor.Spec) error {
	if changed(f, "workers") {
		n, _ := f.GetInt("workers")
		if n > math.MaxInt32 {
			return usagef("--workers %d is more than Glue accepts (at most %d)", n, math.MaxInt32)
		}
		w := int32(n)
		spec.Start.NumberOfWorkers = &w
		if spec.NeedIPs == 0 {
			spec.NeedIPs = n
		}
	}
	if changed(f, "worker-type") {
		spec.Start.WorkerType, _ = f.GetString("worker-type")
	}
	if changed(f, "timeout") {
		n, _ := f.GetInt("timeout")
		if n > math.MaxInt32 {
			return usagef("--timeout %d is more than Glue accepts (at most %d minutes)", n, math.MaxInt32)
		}
		t := int32(n)
		spec.Start.Timeout = &t
	}
	if err := spec.Start.Validate(); err != nil {
		return usagef("%v", err)
	}
	return nil
}

// awsError is an AWS/API failure, with a message that says what to do.
type awsError struct {
	msg string
	err error
}

func (e *awsError) Error() string { return e.msg }
func (e *awsError) Unwrap() error { return e.err }

// explainAWS turns an AWS error into a message for the user, classified.
func explainAWS(err error, s settings, getenv env) error {
	var ue *usageError
	if errors.As(err, &ue) {
		return err
	}
	if isUnavailable(err) {
		return storeLost(err, "", runningRun{}) // the state store, not AWS
	}
	var missing *gluenet.MissingConnectionsError
	if errors.As(err, &missing) {
		return usagef("%v", missing)
	}
	if errors.Is(err, awsclient.ErrNoRegion) {
		return &usageError{Err: err, Msg: "no AWS region: give --region (e.g. --region us-east-1), set AWS_REGION, put region: in the config file, or set a region in the AWS profile"}
	}
	if errors.Is(err, awsclient.ErrNeedUnknown) || errors.Is(err, executor.ErrRunKeyJob) {
		return &usageError{Err: err, Msg: err.Error()}
	}
	v := awsclient.Classify(err)
	switch v.Class {
	case classify.Canceled:
		return err
	case classify.Config:
		// No retry can fix it: the user must.
		if strings.Contains(err.Error(), v.Reason) {
			return usagef("%v", err)
		}
		return usagef("%v\n%s (check --endpoint-url, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_GLUE, AWS_ENDPOINT_URL_EC2 and the profile's endpoint_url).", err, v.Reason)
	case classify.NotFound:
		return &usageError{Err: err, Msg: fmt.Sprintf("no such job %q in %s: check the job name (`aws glue list-jobs` lists them) and the region. Nothing was changed.\n(Glue said: %v)", s.Job, s.RegionInEffect(getenv), err)}
	case classify.Credentials:
		return &awsError{err: err, msg: fmt.Sprintf("%v\nNo usable AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with a role.", err)}
	case classify.Network:
		return &awsError{err: err, msg: fmt.Sprintf("%v\nCannot reach the AWS endpoint: check --endpoint-url / AWS_ENDPOINT_URL, the region and the network.", err)}
	case classify.AccessDenied:
		return &awsError{err: err, msg: fmt.Sprintf("%v\nAccess denied: `gluenet iam-policy --job %s --connections ...` prints the permissions gluenet needs. The job definition was left as it was.", err, s.Job)}
	}
	return &awsError{err: err, msg: err.Error()}
}

func (a *app) iamPolicyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "iam-policy",
		Short: "Print the least-privilege IAM policy gluenet needs for a job and its connections",
		Long: `iam-policy prints the IAM policy document gluenet needs to rank, run and
watch one job over its candidate connections, as JSON to attach to a role, or
with --output table as a summary to read. Region and account are * (any)
unless --region and --account (or region: in the config file) give them:
the region AWS_REGION names for this shell need not be the runner's.`,
		Example: `  gluenet iam-policy --job AirflowBlogJob --connections MWAA-Glue-Blog-Subnet1,MWAA-Glue-Blog-Subnet2 \
      --account 123456789012 --region us-east-1 --logs
  gluenet iam-policy --job AirflowBlogJob --connections MWAA-Glue-Blog-Subnet1 --output table`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, _ := cmd.Flags().GetString("output")
			if o != "table" && o != "json" {
				return usagef("--output %q: use json (the policy document) or table", o)
			}
			s, err := resolve(cmd.Flags(), a.getenv)
			if err != nil {
				return err
			}
			if strings.TrimSpace(s.Job) == "" {
				return usagef("no job: give --job, GLUENET_JOB or job: in the config file")
			}
			conns, err := config.CleanConnections(s.Connections)
			if err != nil {
				return err
			}
			account, _ := cmd.Flags().GetString("account")
			role, _ := cmd.Flags().GetString("role-arn")
			part, _ := cmd.Flags().GetString("partition")
			logs, _ := cmd.Flags().GetBool("logs")
			// Only --region or the config file's region: a policy is for
			// the runner's role, and this shell's AWS_REGION need not be
			// the runner's region.
			in := awsclient.IAMInput{Job: strings.TrimSpace(s.Job), Connections: conns, Partition: part,
				Region: s.Region, Account: account, RoleARN: role, Logs: logs}
			in.StateTable, in.StateOperations = stateTableOf(s)
			p, err := awsclient.NewIAMPolicy(in)
			if err != nil {
				return usagef("%v", err)
			}
			if o == "table" {
				return writeIAMTable(a.stdout, p)
			}
			return writeIAMPolicy(a.stdout, p)
		},
	}
	f := cmd.Flags()
	f.String("job", "", "Glue job name (env GLUENET_JOB)")
	f.StringSlice("connections", nil, "candidate Glue connections (env GLUENET_CONNECTIONS)")
	f.String("account", "", "AWS account ID to fill in (default: any, *)")
	f.String("role-arn", "", "the job's IAM role, which gluenet passes to Glue on UpdateJob (default: the post's AWSGlueServiceRole* convention)")
	f.String("partition", "aws", "AWS partition: aws, aws-cn, aws-us-gov")
	f.Bool("logs", false, "also allow reading the job's CloudWatch logs (for --follow-logs)")
	f.String("output", "json", "output format: json (the policy document) or table (a summary)")
	return cmd
}

func jsonOut(a *app, v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // reasons say ">=": keep them readable
	return enc.Encode(v)
}
