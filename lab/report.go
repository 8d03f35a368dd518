package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the result as indented JSON. Same seeds, same bytes.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// pct formats a rate over seeds: the mean, and ± the standard deviation
// when there are several seeds.
func pct(s Stat, seeds int) string {
	if seeds > 1 {
		return fmt.Sprintf("%.1f%% ±%.1f", 100*s.Mean, 100*s.StdDev)
	}
	return fmt.Sprintf("%.1f%%", 100*s.Mean)
}

func num(s Stat, seeds int, prec int) string {
	if seeds > 1 {
		return fmt.Sprintf("%.*f ±%.*f", prec, s.Mean, prec, s.StdDev)
	}
	return fmt.Sprintf("%.*f", prec, s.Mean)
}

// inMinutes is a figure in seconds, in minutes.
func inMinutes(s Stat) Stat {
	return Stat{Mean: s.Mean / 60, StdDev: s.StdDev / 60, Min: s.Min / 60, Max: s.Max / 60}
}

// TableHeader is the header row of the summary table.
var TableHeader = []string{"STRATEGY", "FULL", "OF BOUND", "UNDER", "NO START", "PLACEMENT FAIL",
	"ATTEMPTS/RUN", "TO RUNNING P50 (s)", "P95 (s)", "WAITED", "WAIT P95 (s)", "LOST (h)", "LATE P50 (min)", "P95 (min)"}

// Rows is the summary table, one row per strategy, as the terminal and the
// HTML report show it.
func (r *Result) Rows() [][]string {
	n := len(r.Seeds)
	var rows [][]string
	for _, s := range r.Summaries {
		ofBound := "-"
		if len(r.Bound) > 0 {
			ofBound = pct(s.OfBound, n)
		}
		rows = append(rows, []string{s.Variant.Name, pct(s.Full, n), ofBound, pct(s.Under, n), pct(s.FailedToStart, n),
			pct(s.FailedPlacement, n), num(s.AttemptsPerRun, n, 2), num(s.ToRunningP50, n, 0), num(s.ToRunningP95, n, 0),
			pct(s.Waited, n), num(s.WaitP95, n, 0), num(s.LostHours, n, 1), num(inMinutes(s.LateP50), n, 1), num(inMinutes(s.LateP95), n, 1)})
	}
	return rows
}

// BoundLine says the bound in words, "" when it was skipped.
func (r *Result) BoundLine() string {
	if len(r.Bound) == 0 {
		return ""
	}
	runs := 0
	for _, n := range r.Runs {
		runs += n
	}
	return fmt.Sprintf("Upper bound (an oracle that knows the future): %s of runs at full capacity; %d runs per seed on average.",
		pct(r.BoundRate, len(r.Seeds)), runs/len(r.Runs))
}

// WriteTable writes the terminal summary.
func (r *Result) WriteTable(w io.Writer) error {
	seeds := make([]string, len(r.Seeds))
	for i, s := range r.Seeds {
		seeds[i] = fmt.Sprint(s)
	}
	fmt.Fprintf(w, "Scenario %s, seeds %s", r.Scenario, strings.Join(seeds, ","))
	if len(r.Seeds) > 1 {
		fmt.Fprint(w, " (mean ±stddev over seeds)")
	}
	fmt.Fprintln(w)
	if l := r.BoundLine(); l != "" {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(TableHeader, "\t"))
	for _, row := range r.Rows() {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Curve) > 0 {
		fmt.Fprintf(w, "\nAdmission trade-off of %s (the bound lets the oracle wait as long as the longest wait here):\n", r.Curve[0].Base)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ADMIT WAIT\tOF BOUND\tUNDER\tTO RUNNING P95 (s)\tWAITED\tWAIT P95 (s)\tLATE P95 (min)")
		n := len(r.Seeds)
		for _, c := range r.Curve {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Wait, pct(c.OfBound, n), pct(c.Under, n), num(c.ToRunningP95, n, 0), pct(c.Waited, n), num(c.WaitP95, n, 0), num(inMinutes(c.LateP95), n, 1))
		}
		return tw.Flush()
	}
	return nil
}
