package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/postgres"
	"github.com/gluenet/gluenet/store/sqlite"
)

// openStore opens the state store the settings name: Postgres when a DSN
// is given, else the SQLite file (by default under the user's state
// directory).
func openStore(ctx context.Context, s settings) (store.Store, string, error) {
	if table, ok := dynamoTable(s.StatePath); ok && s.PostgresDSN == "" {
		return openDynamo(ctx, s, table) // --state dynamodb://TABLE: statecmd.go
	}
	if s.PostgresDSN != "" {
		st, err := store.Open(ctx, stateGuard(ctx, s, postgres.Describe(s.PostgresDSN), postgres.Classify), func(ctx context.Context) (store.Store, error) {
			return postgres.Open(ctx, s.PostgresDSN, postgres.WithRetention(s.Retention))
		})
		var dsnErr *postgres.DSNError
		if errors.As(err, &dsnErr) {
			// A DSN that cannot be used as written: a configuration
			// problem (exit 2), found before connecting.
			return nil, "", &usageError{Err: err, Msg: fmt.Sprintf("open the Postgres state store: %v\nFix the DSN given with --postgres-dsn, GLUENET_POSTGRES_DSN or state: {postgres_dsn: ...}.", err)}
		}
		var ce *postgres.ConnectError
		switch {
		case errors.As(err, &ce) && ce.Refused:
			// The server answered and said no: only the DSN or the
			// server's settings can mend it (exit 2).
			return nil, "", &usageError{Err: err, Msg: fmt.Sprintf("open the Postgres state store: %v\nCheck the user, password and database of the DSN given with --postgres-dsn, GLUENET_POSTGRES_DSN or state: {postgres_dsn: ...}.", err)}
		case errors.As(err, &ce) && !errors.Is(err, context.Canceled), isUnavailable(err):
			// Not reached, or it failed: it may pass (exit 4, which a
			// scheduler may retry, as it would an AWS endpoint's).
			return nil, "", &unreachableError{err: fmt.Errorf("open the Postgres state store: %w", err)}
		case err != nil:
			return nil, "", fmt.Errorf("open the Postgres state store: %w", err)
		}
		return st, "postgres", nil
	}
	path, err := statePath(s)
	if err != nil {
		return nil, "", err
	}
	st, err := store.Open(ctx, stateGuard(ctx, s, "sqlite "+path, sqlite.Classify), func(ctx context.Context) (store.Store, error) {
		return sqlite.Open(ctx, path, sqlite.WithRetention(s.Retention))
	})
	if isUnavailable(err) {
		return nil, "", &unreachableError{err: fmt.Errorf("open the SQLite state store: %w", err)}
	}
	if err != nil {
		// The file or its directory cannot be created, read or written:
		// a configuration problem (exit 2), not a bug.
		return nil, "", &usageError{Err: err, Msg: fmt.Sprintf("cannot use the state file %s: %v\nChoose a writable place with --state PATH or GLUENET_STATE.", path, err)}
	}
	return st, path, nil
}

// stateGuard bounds every state store operation by the settings' state
// timeout and retries what may pass within it (store.Guard); the first
// signal (ctx's end) bounds what is in flight to a short grace, so a hung
// store call ends even where the executor writes on a context that outlives
// the signal.
func stateGuard(ctx context.Context, s settings, name string, classify func(error) store.Fault) store.GuardOptions {
	return store.GuardOptions{Name: name, Classify: classify, Timeout: s.StateTimeout, Stop: ctx.Done(), Log: s.StateLog}
}

// isUnavailable reports whether err is a state store that did not answer
// in time, kept failing, or is full.
func isUnavailable(err error) bool {
	var ue *store.UnavailableError
	return errors.As(err, &ue)
}

// storeLost is the error of a run whose state store went away (or filled
// up) while it ran: it names the store, the Glue run that may still be
// going, and the command that continues it once the store is back. It
// exits 4, or 130 when a signal cut the wait short (store.ErrStopped).
func storeLost(err error, key string, r runningRun) error {
	msg := err.Error()
	if r.RunID != "" {
		msg += fmt.Sprintf("\nGlue run %s of job %s is still going: gluenet did not stop it.", r.RunID, r.Job)
	}
	if key != "" {
		msg += fmt.Sprintf("\nWhen the state store is back, `gluenet resume --run-key %s` continues the run (or run the same command again).", key)
	}
	return &unreachableError{err: err, msg: msg}
}

// unreachableError is a service gluenet needs, other than AWS, that could
// not be reached or failed: the Postgres state store. It exits 4, like an
// AWS endpoint that does not answer.
type unreachableError struct {
	err error
	msg string // the message, when not err's
}

func (e *unreachableError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.err.Error()
}
func (e *unreachableError) Unwrap() error { return e.err }

// statePath is the SQLite state file the settings name: --state or
// GLUENET_STATE, else the default under the user's state directory.
func statePath(s settings) (string, error) {
	if s.StatePath != "" {
		return s.StatePath, nil
	}
	path, err := sqlite.DefaultPath()
	if err != nil {
		return "", &usageError{Err: err, Msg: fmt.Sprintf("%v\nChoose a state file with --state PATH or GLUENET_STATE.", err)}
	}
	return path, nil
}

// missingState returns the settings' SQLite state file when it does not
// exist yet. A command that works on what is recorded (status, resume,
// runs, health) then knows there is nothing, and says so, rather than
// create an empty file (and its directory) where the user may have meant
// another --state; a plan or run knows its subnet cache is empty before
// the file is even created (store.Async.Fresh).
func missingState(s settings) (string, bool) {
	if _, ok := dynamoTable(s.StatePath); ok || s.PostgresDSN != "" {
		return "", false
	}
	path, err := statePath(s)
	if err != nil {
		return "", false
	}
	_, err = os.Lstat(path)
	return path, errors.Is(err, fs.ErrNotExist)
}

// noRecordedRun is the usage error of a command given a run key while the
// state file does not exist yet.
func noRecordedRun(key, path string) error {
	return usagef("%v %q: no run with this key is recorded: there is no state file at %s (check --run-key, --state or GLUENET_STATE, or --postgres-dsn)",
		executor.ErrUnknownKey, key, path)
}

func (a *app) healthCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Show what gluenet remembers about unhealthy subnets and zones; --reset forgets it",
		Example: `  gluenet health
  gluenet health --output json
  gluenet health --reset                          # forget everything
  gluenet health --reset --scope az --key us-east-1a`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, s, err := a.prepare(cmd)
			if err != nil {
				return err
			}
			reset, _ := cmd.Flags().GetBool("reset")
			scope, _ := cmd.Flags().GetString("scope")
			key, _ := cmd.Flags().GetString("key")
			if scope != "" && scope != string(gluenet.ScopeSubnet) && scope != string(gluenet.ScopeAZ) {
				return usagef("--scope %q: use subnet or az", scope)
			}
			if key != "" && scope == "" {
				return usagef("--key needs --scope subnet or --scope az")
			}
			if (scope != "" || key != "") && !reset {
				return usagef("--scope and --key choose what --reset forgets; add --reset (gluenet health alone shows everything)")
			}
			if path, missing := missingState(s); missing {
				// Nothing remembered yet, and nothing to forget.
				if out == "json" {
					return jsonOut(a, map[string]any{"state": path, "records": nonNilRecs(nil), "recent_events": []store.HealthEvent{}})
				}
				a.printHealth(path, nil, nil, time.Now())
				return nil
			}
			st, where, err := openStore(cmd.Context(), s)
			if err != nil {
				return err
			}
			defer st.Close()
			if reset {
				if err := st.ResetHealth(cmd.Context(), gluenet.Scope(scope), key); err != nil {
					return err
				}
			}
			recs, err := st.Health(cmd.Context())
			if err != nil {
				return err
			}
			events, err := st.HealthEvents(cmd.Context(), 20)
			if err != nil {
				return err
			}
			if out == "json" {
				if events == nil {
					events = []store.HealthEvent{}
				}
				return jsonOut(a, map[string]any{"state": where, "records": nonNilRecs(recs), "recent_events": events})
			}
			a.printHealth(where, recs, events, time.Now())
			return nil
		},
	}
	f := cmd.Flags()
	f.Bool("reset", false, "forget health records (all, or those chosen with --scope and --key)")
	f.String("scope", "", "with --reset: subnet or az")
	f.String("key", "", "with --reset: the subnet ID or AZ name")
	f.String("output", "table", "output format: table or json")
	return cmd
}

func nonNilRecs(r []gluenet.HealthRecord) []gluenet.HealthRecord {
	if r == nil {
		return []gluenet.HealthRecord{}
	}
	return r
}

// printHealth shows the records, then the recent events, newest first.
func (a *app) printHealth(where string, recs []gluenet.HealthRecord, events []store.HealthEvent, now time.Time) {
	fmt.Fprintf(a.stdout, "State: %s\n\n", where)
	if len(recs) == 0 {
		fmt.Fprintln(a.stdout, "No health records: every subnet and zone is in good standing.")
	} else {
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SCOPE\tKEY\tFAILURES IN A ROW\tEJECTIONS\tEJECTED UNTIL\tLAST FAILURE")
		for _, r := range recs {
			until := "-"
			if r.Ejected(now) {
				until = r.EjectedUntil.Local().Format(time.DateTime)
			}
			last := "-"
			if !r.LastFailure.IsZero() {
				last = r.LastFailure.Local().Format(time.DateTime) + " " + r.LastClass
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", r.Scope, r.Key, r.ConsecutiveFailures, r.Ejections, until, strings.TrimSpace(last))
		}
		tw.Flush()
	}
	if len(events) == 0 {
		return
	}
	fmt.Fprintf(a.stdout, "\nRecent events (newest first):\n\n")
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSCOPE\tKEY\tEVENT\tCLASS\tDETAIL")
	for _, e := range events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format(time.DateTime), e.Scope, e.Key, e.Kind, dash(e.Class), dash(e.Detail))
	}
	tw.Flush()
}
