package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gluenet/gluenet/admit"
	"github.com/gluenet/gluenet/internal/config"
	"github.com/gluenet/gluenet/lab"
)

func (a *app) labCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Compare ranking strategies on a simulated fleet of Glue runs",
		Long: `lab simulates a fleet of Glue job runs arriving over hours on a simulated
region, on virtual time (nothing sleeps), once per strategy and seed. Each run
is driven by the same run policy and ranking code as 'gluenet run'. It reports,
per strategy: runs that started at full capacity, under capacity, failed to
start or failed on placement; attempts per run; time from request to RUNNING;
run time lost to failed attempts; and full-capacity runs as a fraction of an
upper bound computed by an oracle that knows the future.

Built-in scenarios: ` + strings.Join(lab.BuiltinScenarios(), ", ") + `.
Strategies: ` + strings.Join(lab.VariantNames(), ", ") + `
(post-* and ordered: no memory, the post's Airflow retries; gluenet-*: health
memory and in-flight reservations, and gluenet run's default admission: a
start waits up to ` + admitWaitText() + ` for a subnet with room for the whole run). Any strategy
S also works as gluenet-S or post-S; a suffix +waitN sets the admission wait
to N minutes (gluenet-weighted+wait0 never waits, as gluenet run --admit-wait 0),
+predict bounds the wait by the predicted time of room (--admit-predict), and
+fail does not start a run that found no room in time (--when-short fail).

The admission curve re-runs the first gluenet-* strategy with each --curve
wait: runs at full capacity (of the bound) against p95 time to RUNNING
and how much later runs end (LATE: the waits, the failed attempts and the
slowdown of runs started short, against a start at once with every worker).
The bound lets the oracle wait as long as the longest wait compared.`,
		Example: `  gluenet lab --scenario ip-pressure
  gluenet lab --scenario herd --strategies post-capacity,gluenet-capacity --seeds 10
  gluenet lab --scenario az-degraded --report az-degraded.html
  gluenet lab --scenario my-scenario.yaml --output json > result.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			name, _ := f.GetString("scenario")
			names, _ := f.GetStringSlice("strategies")
			seeds, _ := f.GetInt("seeds")
			report, _ := f.GetString("report")
			output, _ := f.GetString("output")
			sdk, _ := f.GetBool("sdk")
			curveText, _ := f.GetStringSlice("curve")
			var curve []time.Duration
			for _, c := range curveText {
				if c = strings.TrimSpace(c); c == "" || c == "none" {
					continue
				}
				d, err := config.ParseAdmitWait("--curve", c)
				if err != nil {
					return err
				}
				curve = append(curve, d)
			}
			if name == "" {
				return usagef("--scenario is required: a built-in lab scenario (%s) or a YAML file", strings.Join(lab.BuiltinScenarios(), ", "))
			}
			if seeds < 1 {
				return usagef("--seeds must be at least 1, got %d", seeds)
			}
			if output != "table" && output != "json" {
				return usagef("--output %q: use table or json", output)
			}
			sc, err := lab.Load(name)
			if err != nil {
				if errors.Is(err, lab.ErrUnknownScenario) {
					return usagef("--scenario: %v", err)
				}
				return usagef("%v", err)
			}
			var vs []lab.Variant
			for _, n := range names {
				n = strings.TrimSpace(n)
				if n == "" {
					continue
				}
				v, err := lab.LookupVariant(n)
				if err != nil {
					return usagef("--strategies: %v", err)
				}
				vs = append(vs, v)
			}
			res, err := lab.Run(cmd.Context(), sc, lab.Options{Variants: vs, Seeds: seeds, SDK: sdk, Curve: curve,
				CurveBase: "gluenet-" + config.DefaultStrategy})
			if err != nil {
				return fmt.Errorf("lab: %w", err)
			}
			if report != "" {
				if err := writeLabReport(report, res); err != nil {
					return err
				}
				a.log.Info("wrote the HTML report", "path", report)
			}
			if output == "json" {
				return res.WriteJSON(a.stdout)
			}
			return res.WriteTable(a.stdout)
		},
	}
	f := cmd.Flags()
	f.String("scenario", "", "built-in lab scenario ("+strings.Join(lab.BuiltinScenarios(), ", ")+") or a YAML file")
	f.StringSlice("strategies", nil, "strategies to compare (default "+strings.Join(lab.DefaultVariants, ",")+")")
	f.Int("seeds", 3, "number of seeds; results show the mean and spread over them")
	f.String("report", "", "also write a self-contained HTML report with charts to this file")
	f.String("output", "table", "output format: table or json")
	curve := make([]string, len(lab.DefaultCurve))
	for i, d := range lab.DefaultCurve {
		curve[i] = d.String()
	}
	f.StringSlice("curve", curve, "admission waits of the trade-off curve (none: no curve)")
	f.Bool("sdk", false, "drive the region through the real AWS SDK over HTTP in-process (slower; a fidelity check)")
	return cmd
}

func writeLabReport(path string, res *lab.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return usagef("--report: %v", err)
	}
	if err := res.WriteHTML(f); err != nil {
		f.Close()
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// admitWaitText is the default admission wait in words: "an hour",
// "10 minutes".
func admitWaitText() string {
	switch d := admit.DefaultWait; {
	case d == time.Hour:
		return "an hour"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d%time.Minute == 0:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	default:
		return d.String()
	}
}
