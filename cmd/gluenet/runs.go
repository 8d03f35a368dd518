package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/internal/config"
	"github.com/gluenet/gluenet/store"
)

func (a *app) runsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "The history of runs gluenet started, from its state store",
	}
	list := &cobra.Command{
		Use:     "list",
		Short:   "List runs, newest first",
		Example: "  gluenet runs list --job AirflowBlogJob --limit 20",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, s, err := a.prepare(cmd)
			if err != nil {
				return err
			}
			limit, _ := cmd.Flags().GetInt("limit")
			if limit < 1 {
				return usagef("--limit must be at least 1, got %d", limit)
			}
			var runs []store.Run
			if _, missing := missingState(s); !missing { // no state file: nothing recorded
				st, _, err := openStore(cmd.Context(), s)
				if err != nil {
					return err
				}
				defer st.Close()
				if runs, err = st.ListRuns(cmd.Context(), store.RunFilter{Job: s.Job, Limit: limit}); err != nil {
					return err
				}
			}
			if out == "json" {
				if runs == nil {
					runs = []store.Run{}
				}
				for i := range runs {
					runs[i].Inputs = executor.CurrentInputs(runs[i].Inputs)
				}
				return jsonOut(a, runs)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN KEY\tJOB\tSTATUS\tCREATED\tOUTCOME")
			for _, r := range runs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Key, r.Job, r.Status, r.CreatedAt.Local().Format(time.DateTime), dash(r.Outcome))
			}
			return tw.Flush()
		},
	}
	list.Flags().String("job", "", "only runs of this job")
	list.Flags().Int("limit", 50, "at most this many runs")
	list.Flags().String("output", "table", "output format: table or json")

	show := &cobra.Command{
		Use:     "show KEY",
		Short:   "Show one run: its attempts, orders, Glue run ids, states and outcome",
		Example: "  gluenet runs show airflow/glue_job_dag/manual__2026-11-27/glue_task --output json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, s, err := a.prepare(cmd)
			if err != nil {
				return err
			}
			if path, missing := missingState(s); missing {
				return usagef("no run with key %q: there is no state file at %s, so no run is recorded there (check --state or GLUENET_STATE, or --postgres-dsn)", args[0], path)
			}
			st, _, err := openStore(cmd.Context(), s)
			if err != nil {
				return err
			}
			defer st.Close()
			run, err := st.GetRun(cmd.Context(), args[0])
			if errors.Is(err, store.ErrNotFound) {
				return usagef("no run with key %q: `gluenet runs list` shows the keys", args[0])
			}
			if err != nil {
				return err
			}
			attempts, err := st.Attempts(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if out == "json" {
				if attempts == nil {
					attempts = []store.Attempt{}
				}
				run.Inputs = executor.CurrentInputs(run.Inputs)
				return jsonOut(a, map[string]any{"run": run, "attempts": attempts})
			}
			fmt.Fprintf(a.stdout, "Run %s of job %s: %s\n", run.Key, run.Job, run.Status)
			if run.Outcome != "" {
				fmt.Fprintf(a.stdout, "Outcome: %s\n", run.Outcome)
			}
			fmt.Fprintln(a.stdout)
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ATTEMPT\tORDER\tGLUE RUN ID\tSTATES\tSUBNET\tCLASS\tERROR")
			for _, at := range attempts {
				var states []string
				for _, sc := range at.States {
					states = append(states, sc.State)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", at.Number, strings.Join(at.OrderApplied, ","), dash(at.GlueRunID),
					dash(strings.Join(states, ">")), dash(at.Subnet), dash(at.Class), dash(at.ErrorMessage))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, at := range attempts {
				var p gluenet.Plan
				if len(at.Plan) > 0 && json.Unmarshal(at.Plan, &p) == nil {
					fmt.Fprintf(a.stdout, "\nAttempt %d ranking (%s):\n", at.Number, p.Strategy)
					a.placementTable(p.Placements)
					if u := p.UnderCapacity; u != nil {
						fmt.Fprintf(a.stdout, "Attempt %d %s\n", at.Number, underCapacityText(*u))
					}
				}
			}
			return nil
		},
	}
	show.Flags().String("output", "table", "output format: table or json")
	cmd.AddCommand(list, show, a.runsPruneCommand())
	return cmd
}

// pruneJSON is `runs prune --output json`.
type pruneJSON struct {
	State              string       `json:"state"`
	DryRun             bool         `json:"dry_run"`
	RunsFinishedBefore *time.Time   `json:"runs_finished_before"`
	HealthEventsBefore *time.Time   `json:"health_events_before"`
	Pruned             store.Pruned `json:"pruned"`
}

func (a *app) runsPruneCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete finished runs and health events past their retention, and expired reservations",
		Long: `prune deletes, from the state store, the runs that finished longer ago than
the retention (state.keep_runs, GLUENET_KEEP_RUNS; default 30 days) with their
attempts, the health events older than theirs (state.keep_health_events,
GLUENET_KEEP_HEALTH_EVENTS; default 30 days), and the expired IP reservations
and subnet cache entries. Runs that have not finished are never deleted.
gluenet already prunes this way on its own, a little at a time, at most once
an hour (state.prune_every); prune does it all at once, or with --dry-run
only counts.`,
		Example: `  gluenet runs prune --dry-run
  gluenet runs prune --older-than 7d --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out, s, err := a.prepare(cmd)
			if err != nil {
				return err
			}
			keepRuns, keepEvents := s.Retention.Runs, s.Retention.HealthEvents
			if changed(cmd.Flags(), "older-than") {
				v, _ := cmd.Flags().GetString("older-than")
				d, err := config.ParseKeep("--older-than", v)
				if err != nil {
					return err
				}
				if d == 0 {
					return usagef("--older-than must be positive, got %q: leave it out to keep runs as long as configured", v)
				}
				keepRuns, keepEvents = d, d
			}
			dry, _ := cmd.Flags().GetBool("dry-run")
			st, where, err := openStore(cmd.Context(), s)
			if err != nil {
				return err
			}
			defer st.Close()
			now := time.Now()
			o := store.Retention{Runs: keepRuns, HealthEvents: keepEvents}.Options(now)
			o.DryRun = dry
			p, err := st.Prune(cmd.Context(), o)
			if err != nil {
				return err
			}
			if out == "json" {
				j := pruneJSON{State: where, DryRun: dry, Pruned: p}
				if !o.RunsFinishedBefore.IsZero() {
					t := o.RunsFinishedBefore.UTC()
					j.RunsFinishedBefore = &t
				}
				if !o.HealthEventsBefore.IsZero() {
					t := o.HealthEventsBefore.UTC()
					j.HealthEventsBefore = &t
				}
				return jsonOut(a, j)
			}
			verb := "Deleted"
			if dry {
				verb = "Would delete (dry run)"
			}
			before := func(t time.Time) string {
				if t.IsZero() {
					return "kept forever"
				}
				return "before " + t.Local().Format(time.DateTime)
			}
			fmt.Fprintf(a.stdout, "State: %s\n%s:\n\n", where, verb)
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "WHAT\tCOUNT\tWHICH")
			fmt.Fprintf(tw, "runs\t%d\tfinished %s\n", p.Runs, before(o.RunsFinishedBefore))
			fmt.Fprintf(tw, "attempts\t%d\tof those runs\n", p.Attempts)
			fmt.Fprintf(tw, "health events\t%d\t%s\n", p.HealthEvents, before(o.HealthEventsBefore))
			fmt.Fprintf(tw, "reservations\t%d\texpired\n", p.Reservations)
			fmt.Fprintf(tw, "cached subnets\t%d\texpired\n", p.CachedSubnets)
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.String("older-than", "", "delete runs that finished, and health events, longer ago than this (e.g. 7d, 36h; default: the configured retention)")
	f.Bool("dry-run", false, "only count what would be deleted")
	f.String("output", "table", "output format: table or json")
	return cmd
}
