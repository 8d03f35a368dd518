package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/runner"
)

// planJSON is the documented JSON output of `gluenet plan` (docs/reference.md).
type planJSON struct {
	Job         string              `json:"job"`
	Strategy    string              `json:"strategy"`
	Need        gluenet.Need        `json:"need"`
	Order       []string            `json:"order"`
	Connections []gluenet.Placement `json:"connections"`
	Notes       []string            `json:"notes,omitempty"`
}

func planOut(job string, p gluenet.Plan) planJSON {
	return planJSON{Job: job, Strategy: p.Strategy, Need: p.Need, Order: p.FullOrder(), Connections: nonNil(p.Placements), Notes: p.Notes}
}

func (a *app) printPlan(format, job string, p gluenet.Plan) error {
	if format == "json" {
		return jsonOut(a, planOut(job, p))
	}
	fmt.Fprintf(a.stdout, "Job %s: a run needs %d IPs (Glue starts with %d). Strategy: %s.\n\n", job, p.Need.IPs, p.Need.MinIPs, p.Strategy)
	a.placementTable(p.Placements)
	for _, n := range p.Notes {
		fmt.Fprintf(a.stdout, "\nNote: %s\n", n)
	}
	fmt.Fprintf(a.stdout, "\nOrder: %s\n", strings.Join(p.FullOrder(), ", "))
	return nil
}

func (a *app) placementTable(ps []gluenet.Placement) {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tCONNECTION\tSUBNET\tAZ\tFREE IPS\tGROUP\tWHY")
	for _, p := range ps {
		free := "-"
		if p.Free != nil {
			free = fmt.Sprint(*p.Free)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Rank, p.Connection, dash(p.SubnetID), dash(p.AZ), free, p.Group, p.Reason)
	}
	tw.Flush()
}

// runJSON is the documented JSON output of `gluenet run`.
type runJSON struct {
	Job         string                 `json:"job"`
	RunKey      string                 `json:"run_key,omitempty"`
	Reused      bool                   `json:"reused,omitempty"`
	Result      string                 `json:"result"`
	Error       string                 `json:"error,omitempty"`
	Order       []string               `json:"order"`
	Connections []gluenet.Placement    `json:"connections"`
	Attempts    []runner.AttemptReport `json:"attempts"`
}

func runOut(rep runner.Report) runJSON {
	out := runJSON{Job: rep.Job, RunKey: rep.RunKey, Reused: rep.Reused, Result: string(rep.Result), Error: rep.Error, Order: []string{}, Connections: []gluenet.Placement{}, Attempts: rep.Attempts}
	if rep.Final != nil {
		out.Order = rep.Final.FullOrder()
		out.Connections = nonNil(rep.Final.Placements)
	}
	if out.Attempts == nil {
		out.Attempts = []runner.AttemptReport{}
	}
	return out
}

func (a *app) printReport(format string, rep runner.Report) error {
	if format == "json" {
		return jsonOut(a, runOut(rep))
	}
	var rows []runner.AttemptReport
	for _, at := range rep.Attempts {
		// An attempt that started no Glue run and carries nothing but the
		// error that ended the command (printed once, on standard error)
		// or nothing at all (interrupted while waiting to retry) says
		// nothing: leave it out.
		if at.RunID == "" && at.State == "" && (at.ErrorMessage == "" || at.ErrorMessage == rep.Error) {
			continue
		}
		rows = append(rows, at)
	}
	if len(rows) > 0 {
		tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ATTEMPT\tORDER\tRUN ID\tSTATE\tCLASS\tERROR")
		for _, at := range rows {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", at.Attempt, dash(strings.Join(at.Order, ",")), dash(at.RunID), dash(at.State), dash(string(at.Class)), dash(at.ErrorMessage))
		}
		tw.Flush()
		fmt.Fprintln(a.stdout)
	}
	for _, at := range rep.Attempts {
		if at.UnderCapacity != nil {
			fmt.Fprintf(a.stdout, "Attempt %d %s\n\n", at.Attempt, underCapacityText(*at.UnderCapacity))
		}
	}
	fmt.Fprintf(a.stdout, "Result: %s", rep.Result)
	if detail := resultDetail(rep); detail != "" {
		fmt.Fprintf(a.stdout, " (%s)", detail)
	}
	fmt.Fprintln(a.stdout)
	return nil
}

// resultDetail is what the Result line adds to the result: not the error
// of a command that stopped on an error (the exit message prints it, with
// what to do), and not the result's own name again ("interrupted;
// the run ended STOPPED" says "the run ended STOPPED").
func resultDetail(rep runner.Report) string {
	if rep.Result == policy.ResultError {
		return ""
	}
	d := strings.TrimSpace(rep.Error)
	d = strings.TrimPrefix(d, string(rep.Result))
	return strings.TrimSpace(strings.TrimPrefix(d, ";"))
}

func nonNil(ps []gluenet.Placement) []gluenet.Placement {
	if ps == nil {
		return []gluenet.Placement{}
	}
	return ps
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
