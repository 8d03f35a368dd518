// Command gluenet runs AWS Glue jobs inside a VPC and picks, at run time and
// again on every retry, which network connection (subnet) each run uses.
//
// The README says what it is for; docs/reference.md lists the commands'
// settings, output and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/store"
)

// Exit codes, each distinct and documented in docs/reference.md.
const (
	exitOK          = 0   // success
	exitInternal    = 1   // a bug or an unexpected failure
	exitUsage       = 2   // bad usage or config: fix the command line, the environment or the config file
	exitRunFailed   = 3   // the Glue job run failed after all attempts
	exitAWS         = 4   // an AWS/API error: credentials, permissions, endpoint, throttling beyond retries
	exitInterrupted = 130 // interrupted by SIGINT/SIGTERM
)

// exitCodes is every exit code with its meaning in brief, in order: the
// tables of docs/reference.md and docs/troubleshooting.md list exactly
// these (TestExitCodeTables).
var exitCodes = []struct {
	code  int
	brief string
}{
	{exitOK, "success"},
	{exitInternal, "internal error"},
	{exitUsage, "bad usage or configuration"},
	{exitRunFailed, "the Glue job run failed"},
	{exitAWS, "AWS/API error"},
	{exitInterrupted, "interrupted"},
}

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go onSignals(sigs, cancel, os.Stderr, glueRun.get, os.Exit)
	os.Exit(execute(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
}

// onSignals handles SIGINT and SIGTERM. The first cancels ctx: gluenet then
// stops the Glue run it is waiting on (unless --no-stop-on-interrupt),
// waits for it, and exits 130; it says so, naming the run. A second signal
// exits 130 at once, leaving the Glue run as it is.
func onSignals(sigs <-chan os.Signal, cancel context.CancelFunc, stderr io.Writer, running func() runningRun, exit func(int)) {
	<-sigs
	r := running()
	switch {
	case r.RunID != "" && r.Stop:
		fmt.Fprintf(stderr, "gluenet: interrupted: stopping Glue run %s of job %s and waiting for it to end, then exiting (%d). "+
			"A second Ctrl-C or SIGTERM exits at once and leaves the run going.\n", r.RunID, r.Job, exitInterrupted)
	case r.RunID != "":
		fmt.Fprintf(stderr, "gluenet: interrupted: leaving Glue run %s of job %s going (--no-stop-on-interrupt) and exiting (%d). "+
			"A second Ctrl-C or SIGTERM exits at once.\n", r.RunID, r.Job, exitInterrupted)
	case r.Serving:
		fmt.Fprintln(stderr, "gluenet serve: stopping: finishing the requests in flight, then exiting (0). A second Ctrl-C or SIGTERM exits at once.")
	default:
		fmt.Fprintf(stderr, "gluenet: interrupted: finishing up and exiting (%d). A second Ctrl-C or SIGTERM exits at once.\n", exitInterrupted)
	}
	cancel()
	<-sigs
	if r := running(); r.RunID != "" {
		fmt.Fprintf(stderr, "gluenet: second interrupt: exiting now. Glue run %s of job %s is left as it is and may still be going: "+
			"stop it in the Glue console or with `aws glue batch-stop-job-run --job-name %s --job-run-ids %s`.\n", r.RunID, r.Job, r.Job, r.RunID)
	} else {
		fmt.Fprintln(stderr, "gluenet: second interrupt: exiting now.")
	}
	exit(exitInterrupted)
}

// runningRun is the Glue run a command is waiting on, if any.
type runningRun struct {
	Job, RunID string
	// Stop says the first interrupt stops the run.
	Stop bool
	// Serving is set while gluenet serve serves: a signal stops it
	// normally (exit 0).
	Serving bool
}

// runTracker holds the Glue run the command is waiting on, for the signal
// handler's messages.
type runTracker struct {
	mu  sync.Mutex
	cur runningRun
}

// glueRun is this process's tracker: `run` updates it from the runner's
// progress, onSignals reads it.
var glueRun runTracker

func (t *runTracker) set(r runningRun) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cur = r
}

func (t *runTracker) get() runningRun {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

// app carries what every command needs; tests build it with their own
// streams and environment.
type app struct {
	stdout, stderr io.Writer
	getenv         env
	log            *slog.Logger
	console        *console
	// exit is the code the command chose, when it is not derived from an
	// error (a run that failed is reported, not an error).
	exit int
	// started is set once cobra has parsed the command line and checked
	// the arguments: an error before that is cobra's usage error.
	started bool
}

func execute(ctx context.Context, args []string, stdout, stderr io.Writer, getenv env) int {
	a := &app{stdout: stdout, stderr: stderr, getenv: getenv}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		code := exitCode(err)
		if !a.started && code == exitInternal {
			code = exitUsage // unknown command or flag, bad flag value, wrong arguments
		}
		fmt.Fprintf(stderr, "gluenet: %s\n", userMessage(err))
		return code
	}
	return a.exit
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "gluenet",
		Short: "Run AWS Glue jobs in the subnet that can hold them",
		Long: `gluenet runs AWS Glue jobs inside a VPC. Before each run, and again before
every retry, it reads the free IP addresses of the subnet behind each of the
job's candidate connections, ranks the connections with a strategy, rewrites
the job's connection order (Glue uses the first connection that works),
starts the run, watches it, and on failure re-ranks and retries with backoff.`,
		Example: `  # See it work on a simulated region, no AWS account needed:
  gluenet demo

  # Show how the connections of a job would be ranked (changes nothing):
  gluenet plan --job nightly-etl --connections subnet-a,subnet-b,subnet-c

  # Rank, run, and retry on failure:
  gluenet run --job nightly-etl --connections subnet-a,subnet-b --strategy capacity`,
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			a.started = true
			return a.setupLogging(cmd)
		},
	}
	pf := root.PersistentFlags()
	pf.String("config", "", "YAML config file (env GLUENET_CONFIG)")
	pf.String("region", "", "AWS region (default: the SDK's chain, e.g. AWS_REGION)")
	pf.String("profile", "", "AWS shared config profile (default: the SDK's chain, e.g. AWS_PROFILE)")
	pf.String("endpoint-url", "", "send all AWS calls to this endpoint, e.g. a simulated region (the SDK's AWS_ENDPOINT_URL works too)")
	pf.String("call-timeout", awsclient.DefaultCallTimeout.String(), "bound on each AWS API call, the SDK's retries included (env GLUENET_CALL_TIMEOUT)")
	pf.String("log-level", "info", "log level: debug, info, warn or error")
	pf.String("log-format", "auto", "log format: auto (text on a terminal, JSON otherwise), text or json")
	pf.String("state", "", "SQLite state file, or dynamodb://TABLE (env GLUENET_STATE; default $XDG_STATE_HOME/gluenet/state.db)")
	pf.String("postgres-dsn", "", "keep state in PostgreSQL instead, shared by many machines (env GLUENET_POSTGRES_DSN)")
	root.AddCommand(a.planCommand(), a.runCommand(), a.iamPolicyCommand(), a.demoCommand(), a.simCommand(), a.healthCommand(), a.runsCommand(), a.labCommand(), a.resumeCommand(), a.statusCommand(), a.serveCommand())
	root.AddCommand(a.versionCommand())
	root.AddCommand(a.stateCommand())
	root.SetFlagErrorFunc(flagError)
	a.registerCompletions(root)
	return root
}

func (a *app) setupLogging(cmd *cobra.Command) error {
	level, _ := cmd.Flags().GetString("log-level")
	format, _ := cmd.Flags().GetString("log-format")
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return usagef("--log-level %q: use debug, info, warn or error", level)
	}
	if o := cmd.Flags().Lookup("output"); o != nil && o.Value.String() == "json" && !cmd.Flags().Changed("log-level") {
		// Machine output: standard error stays quiet but for warnings,
		// unless --log-level asks for more (info shows the post's lines).
		lv = slog.LevelWarn
	}
	a.console = &console{w: a.stderr, tty: isTerminal(a.stderr)}
	if o := cmd.Flags().Lookup("output"); o != nil && quietOnTerminal(cmd.Name(), o.Value.String(), a.console.tty && isTerminal(a.stdout), cmd.Flags().Changed("log-level")) {
		lv = slog.LevelWarn
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "auto":
		if a.console.tty {
			a.log = slog.New(slog.NewTextHandler(a.console, opts))
		} else {
			a.log = slog.New(slog.NewJSONHandler(a.console, opts))
		}
	case "text":
		a.log = slog.New(slog.NewTextHandler(a.console, opts))
	case "json":
		a.log = slog.New(slog.NewJSONHandler(a.console, opts))
	default:
		return usagef("--log-format %q: use auto, text or json", format)
	}
	return nil
}

// quietOnTerminal says whether a command's info lines would only repeat
// the table it prints for a person at a terminal: plan's ranking lines
// ("ranked the connections", "Good connections", "Usable connections") are
// its table. Piped or redirected, and with --log-level, they stay.
func quietOnTerminal(command, output string, terminal, levelSet bool) bool {
	return command == "plan" && output == "table" && terminal && !levelSet
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// exitCode maps an error to its documented exit code.
func exitCode(err error) int {
	var ue *usageError
	var ae *awsError
	var re *unreachableError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, context.Canceled), errors.Is(err, store.ErrStopped):
		return exitInterrupted
	case errors.As(err, &ae), errors.As(err, &re), isUnavailable(err):
		return exitAWS
	}
	return exitInternal
}

func userMessage(err error) string {
	return err.Error()
}
