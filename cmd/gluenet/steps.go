package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/runner"
)

// stepJSON is the documented JSON output of `run --detach`, `resume` and
// `status` (see docs/steps.md): an external scheduler codes against it.
type stepJSON struct {
	RunKey      string                   `json:"run_key"`
	Job         string                   `json:"job"`
	Done        bool                     `json:"done"`
	Result      string                   `json:"result,omitempty"`
	Error       string                   `json:"error,omitempty"`
	ExitCode    int                      `json:"exit_code"`
	Attempt     int                      `json:"attempt"`
	GlueRunID   string                   `json:"glue_run_id"`
	State       string                   `json:"state"`
	Wait        *stepWait                `json:"wait"`
	NextCheckAt string                   `json:"next_check_at,omitempty"`
	Why         string                   `json:"why,omitempty"`
	Attempts    []executor.AttemptReport `json:"attempts"`
}

type stepWait struct {
	For       string `json:"for"`
	GlueRunID string `json:"glue_run_id,omitempty"`
	CheckAt   string `json:"check_at,omitempty"`
	Until     string `json:"until,omitempty"`
}

// rfc3339 formats a time to wait for, rounded up to the second: a
// scheduler that wakes at the printed time is never early.
func rfc3339(t time.Time) string {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		t = r.Add(time.Second)
	}
	return t.UTC().Format(time.RFC3339)
}

// stepCode is the exit code of a step: 0 while the run goes on, else the
// code `run` exits with for the result (resultExit).
func stepCode(st executor.Status, s settings, getenv env) int {
	if !st.Done {
		return exitOK
	}
	code, _ := resultExit(st.Result, st.Cause, st.ErrClass, st.Err, s, getenv)
	return code
}

func stepOut(st executor.Status, code int) stepJSON {
	out := stepJSON{RunKey: st.Key, Job: st.Job, Done: st.Done, ExitCode: code, Attempt: st.Attempt, GlueRunID: st.GlueRunID,
		State: st.State, Why: st.Why, Attempts: st.Attempts}
	if st.Done {
		out.Result, out.Error = string(st.Result), st.Err
	}
	if out.Attempts == nil {
		out.Attempts = []executor.AttemptReport{}
	}
	if w := st.Wait; w != nil && !st.Done {
		out.Wait = &stepWait{For: string(w.For), GlueRunID: w.GlueRunID}
		if w.For == executor.WaitTime || w.For == executor.WaitRoom {
			out.Wait.Until = rfc3339(w.Until)
		} else {
			out.Wait.CheckAt = rfc3339(w.CheckAt)
		}
		out.NextCheckAt = rfc3339(w.At())
	}
	return out
}

// printStep prints a step's status and sets the exit code.
func (a *app) printStep(format string, st executor.Status, s settings) error {
	code := stepCode(st, s, a.getenv)
	a.exit = code
	out := stepOut(st, code)
	if format == "json" {
		return jsonOut(a, out)
	}
	fmt.Fprintf(a.stdout, "Run key %s (job %s)\n", out.RunKey, out.Job)
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ATTEMPT\tORDER\tRUN ID\tSTATE\tERROR")
	for _, at := range out.Attempts {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", at.Attempt, strings.Join(at.Order, ","), dash(at.RunID), dash(at.State), dash(at.ErrorMessage))
	}
	tw.Flush()
	for _, at := range out.Attempts {
		if at.UnderCapacity != nil {
			fmt.Fprintf(a.stdout, "Attempt %d %s\n", at.Attempt, underCapacityText(*at.UnderCapacity))
		}
	}
	switch {
	case out.Done:
		fmt.Fprintf(a.stdout, "\nDone: %s", out.Result)
		if out.Error != "" {
			fmt.Fprintf(a.stdout, " (%s)", out.Error)
		}
		fmt.Fprintf(a.stdout, "; exit code %d\n", code)
	case out.Wait.For == string(executor.WaitRun) && classify.Terminal(out.State):
		fmt.Fprintf(a.stdout, "\nGlue run %s has ended (%s), which the journal does not know yet: gluenet resume --run-key %s records it, then finishes or retries\n", out.GlueRunID, out.State, out.RunKey)
	case out.Wait.For == string(executor.WaitRun):
		fmt.Fprintf(a.stdout, "\nWaiting for Glue run %s (%s); check again at %s: gluenet resume --run-key %s\n", out.GlueRunID, dash(out.State), out.NextCheckAt, out.RunKey)
	case out.Wait.For == string(executor.WaitRoom):
		fmt.Fprintf(a.stdout, "\nNot started yet, %s; look again at %s: gluenet resume --run-key %s\n", out.Why, out.NextCheckAt, out.RunKey)
	default:
		fmt.Fprintf(a.stdout, "\nNext attempt at %s", out.NextCheckAt)
		if out.Why != "" {
			fmt.Fprintf(a.stdout, " (%s)", out.Why)
		}
		fmt.Fprintf(a.stdout, ": gluenet resume --run-key %s\n", out.RunKey)
	}
	return nil
}

// underCapacityText says that an attempt started short, with the figures.
func underCapacityText(u gluenet.UnderCapacity) string {
	return fmt.Sprintf("started UNDER CAPACITY: it needed %d IPs, %s had %d free at the start (Glue starts such a run with fewer workers)",
		u.Needed, u.Subnet, u.FreeAtStart)
}

// detach is `run --detach`: record the run and step it once (rank, apply,
// start, record), then print where it stands.
func (a *app) detach(ctx context.Context, format string, env *runEnv, s settings) error {
	ex := env.runner.Executor()
	key := env.runKey
	st, err := ex.Begin(ctx, key, env.spec)
	if err != nil {
		return a.stepError(err, s)
	}
	if !st.Done {
		if st, err = ex.Drive(ctx, key, false); err != nil {
			return a.stepError(err, s)
		}
	}
	return a.printStep(format, st, s)
}

func (a *app) stepError(err error, s settings) error {
	if errors.Is(err, executor.ErrUnknownKey) || errors.Is(err, executor.ErrRunKeyJob) {
		return usagef("%v", err)
	}
	return explainAWS(err, s, a.getenv)
}

// recordedRunKey is the --run-key of a command that works on a recorded
// run (resume, status): a usage error when it is missing, or when the
// settings' state file does not exist, so holds no run at all.
func recordedRunKey(cmd *cobra.Command, s settings) (string, error) {
	key, _ := cmd.Flags().GetString("run-key")
	key = strings.TrimSpace(key)
	if key == "" {
		return "", usagef("give --run-key: the key `gluenet run --detach` printed (run_key)")
	}
	if path, missing := missingState(s); missing {
		return "", noRecordedRun(key, path)
	}
	return key, nil
}

func (a *app) resumeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "resume",
		Short: "Continue a recorded run by its key: read its Glue run, retry or finish it",
		Long: `resume continues the run recorded under --run-key (by run --detach, run, or
another resume, on any machine sharing the state store). It reads the Glue
run's state; when the run is still going it prints where it stands and exits
0. When the run has ended it classifies the outcome, updates health memory and
reservations, then finishes (exit code as run: 0 succeeded, 3 failed, 4 AWS
error, 130 interrupted) or waits the backoff and starts the next attempt.
With --no-sleep it does not wait: it prints a time wait ("wait": {"for":
"time", "until": ...}) and exits 0; a resume after that time starts the
attempt.`,
		Example: `  gluenet resume --run-key nightly-2026-11-27 --output json
  gluenet resume --run-key nightly-2026-11-27 --no-sleep`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, s, err := a.prepare(cmd)
			if err != nil {
				return err
			}
			key, err := recordedRunKey(cmd, s)
			if err != nil {
				return err
			}
			noSleep, _ := cmd.Flags().GetBool("no-sleep")
			env, err := a.environment(cmd.Context(), cmd.Flags(), s, true)
			if err != nil {
				return err
			}
			defer env.Close()
			st, err := env.runner.Executor().Drive(cmd.Context(), key, !noSleep)
			if err != nil {
				return a.stepError(err, s)
			}
			return a.printStep(out, st, s)
		},
	}
	f := cmd.Flags()
	f.String("run-key", "", "the run's key (as printed by run --detach)")
	f.Bool("no-sleep", false, "do not sleep the backoff before the next attempt: print a time wait and exit 0")
	f.String("output", "table", "output format: table or json")
	f.Bool("no-memory", false, "rank without health memory and in-flight reservations")
	f.String("lock-timeout", executor.DefaultLockTimeout.String(), "longest wait for the job lock held by another gluenet")
	return cmd
}

func (a *app) statusCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show where a recorded run stands (read-only)",
		Long: `status prints the run recorded under --run-key as the state store has it, with
the live state of its Glue run (GetJobRun) unless --offline. It never writes
anything, in the store or in AWS. An unknown key exits 2.`,
		Example: `  gluenet status --run-key nightly-2026-11-27
  gluenet status --run-key nightly-2026-11-27 --offline --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, s, err := a.prepare(cmd)
			if err != nil {
				return err
			}
			key, err := recordedRunKey(cmd, s)
			if err != nil {
				return err
			}
			offline, _ := cmd.Flags().GetBool("offline")
			st, _, err := openStore(cmd.Context(), s)
			if err != nil {
				return err
			}
			defer st.Close()
			ex := &executor.Executor{Journal: st, Clock: runner.WallClock{}, Log: a.log}
			status, err := ex.Inspect(cmd.Context(), key)
			if err != nil {
				return a.stepError(err, s)
			}
			if !offline && status.GlueRunID != "" {
				ro := s
				ro.Memory = false // no store, no cache writes: only GetJobRun
				env, err := a.environment(cmd.Context(), cmd.Flags(), ro, false)
				if err != nil {
					return err
				}
				defer env.Close()
				ex.Cloud = env.runner.Cloud
				if status, err = ex.WithLiveState(cmd.Context(), status); err != nil {
					return explainAWS(err, s, a.getenv)
				}
			}
			return a.printStep(out, status, s)
		},
	}
	f := cmd.Flags()
	f.String("run-key", "", "the run's key")
	f.Bool("offline", false, "only the state store: do not ask Glue for the run's live state")
	f.String("output", "table", "output format: table or json")
	return cmd
}
