// Command gluenet runs AWS Glue jobs inside a VPC and picks, at run time and
// again on every retry, which network connection (subnet) each run uses.
//
// See the README for the commands, flags, configuration and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit codes, each distinct and documented in the README.
const (
	exitOK          = 0   // success
	exitInternal    = 1   // a bug or an unexpected failure
	exitUsage       = 2   // bad usage or config: fix the command line, the environment or the config file
	exitRunFailed   = 3   // the Glue job run failed after all attempts
	exitAWS         = 4   // an AWS/API error: credentials, permissions, endpoint, throttling beyond retries
	exitInterrupted = 130 // interrupted by SIGINT/SIGTERM
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, gluenet stops the Glue run and waits for
		// it; a second signal must still be able to end the process.
		<-ctx.Done()
		stop()
	}()
	os.Exit(execute(ctx, os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
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
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setupLogging(cmd)
		},
	}
	pf := root.PersistentFlags()
	pf.String("config", "", "YAML config file (env GLUENET_CONFIG)")
	pf.String("region", "", "AWS region (default: the SDK's chain, e.g. AWS_REGION)")
	pf.String("profile", "", "AWS shared config profile (default: the SDK's chain, e.g. AWS_PROFILE)")
	pf.String("endpoint-url", "", "send all AWS calls to this endpoint, e.g. a simulated region (the SDK's AWS_ENDPOINT_URL works too)")
	pf.String("log-level", "info", "log level: debug, info, warn or error")
	pf.String("log-format", "auto", "log format: auto (text on a terminal, JSON otherwise), text or json")
	pf.String("state", "", "SQLite state file (env GLUENET_STATE; default $XDG_STATE_HOME/gluenet/state.db)")
	pf.String("postgres-dsn", "", "keep state in PostgreSQL instead, shared by many machines (env GLUENET_POSTGRES_DSN)")
	root.AddCommand(a.planCommand(), a.runCommand(), a.iamPolicyCommand(), a.demoCommand(), a.simCommand(), a.healthCommand(), a.runsCommand(), a.labCommand(), a.resumeCommand(), a.statusCommand())
	return root
}

func (a *app) setupLogging(cmd *cobra.Command) error {
	level, _ := cmd.Flags().GetString("log-level")
	format, _ := cmd.Flags().GetString("log-format")
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return usagef("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	a.console = &console{w: a.stderr, tty: isTerminal(a.stderr)}
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

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// exitCode maps an error to its documented exit code.
func exitCode(err error) int {
	var ue *usageError
	var ae *awsError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &ae):
		return exitAWS
	case isCobraUsage(err):
		return exitUsage
	}
	return exitInternal
}

// isCobraUsage recognises cobra's and pflag's own usage errors (unknown
// flag, bad flag value, wrong number of arguments).
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand", "unknown command", "invalid argument", "flag needs an argument", "accepts ", "requires at least", "bad flag syntax"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func userMessage(err error) string {
	return err.Error()
}
