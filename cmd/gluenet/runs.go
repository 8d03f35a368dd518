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
			st, _, err := openStore(cmd.Context(), s)
			if err != nil {
				return err
			}
			defer st.Close()
			runs, err := st.ListRuns(cmd.Context(), store.RunFilter{Job: s.Job, Limit: limit})
			if err != nil {
				return err
			}
			if out == "json" {
				if runs == nil {
					runs = []store.Run{}
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
				}
			}
			return nil
		},
	}
	show.Flags().String("output", "table", "output format: table or json")
	cmd.AddCommand(list, show)
	return cmd
}
