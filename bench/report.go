package bench

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gluenet/gluenet/awsclient"
)

// RoundTrips is the number of sequential round trips a variant needs for n
// connections when nothing fails: the baseline's 2n; a cold discovery's
// one wave of GetConnection calls (or, above awsclient.DefaultConcurrency
// connections, one GetConnections page) plus the one DescribeSubnets; a
// warm discovery's single DescribeSubnets. Times the
// per-call latency, it is the latency a decision should show.
func RoundTrips(variant string, n int) int {
	switch variant {
	case Baseline.Name:
		return 2 * n
	case GluenetCold.Name:
		// One wave of GetConnection up to the concurrency, else one
		// GetConnections page (the generated catalogs hold at most 200
		// connections), then DescribeSubnets.
		return 2
	case GluenetWarm.Name:
		return 1
	}
	return 0
}

// ExpectedCalls is the number of API calls a variant makes for n
// connections when nothing fails: 2n; n+1 (up to 16 connections, else 2:
// a GetConnections page and DescribeSubnets); and 1.
func ExpectedCalls(variant string, n int) int {
	switch variant {
	case Baseline.Name:
		return 2 * n
	case GluenetCold.Name:
		if n > awsclient.DefaultConcurrency {
			return 2 // GetConnections, DescribeSubnets
		}
		return n + 1
	case GluenetWarm.Name:
		return 1
	}
	return 0
}

// WriteLatencyTable writes one Markdown row per series: decision latency
// (median, p95) against the expected round trips, and the API calls per
// decision as the region counted them and as the decision reported them.
func WriteLatencyTable(w io.Writer, series []Series) error {
	var b strings.Builder
	b.WriteString("| N | variant | decisions | median | p95 | expected (round trips × latency) | API calls / decision (region) | calls reported (DiscoverStats / own count) |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range series {
		rt := RoundTrips(s.Variant, s.Setup.N)
		fmt.Fprintf(&b, "| %d | %s | %d | %s | %s | %d × %s = %s | %s | %s |\n",
			s.Setup.N, s.Variant, len(s.Decisions), ms(s.Median()), ms(s.P95()),
			rt, s.Setup.Latency, ms(time.Duration(rt)*s.Setup.Latency),
			num(s.CallsPerDecision()), num(s.ReportedPerDecision()))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteRatioTable writes, per N, the baseline's median decision latency
// divided by gluenet's, cold and warm. series must hold the three variants
// for each N.
func WriteRatioTable(w io.Writer, series []Series) error {
	byN := map[int]map[string]Series{}
	var ns []int
	for _, s := range series {
		if byN[s.Setup.N] == nil {
			byN[s.Setup.N] = map[string]Series{}
			ns = append(ns, s.Setup.N)
		}
		byN[s.Setup.N][s.Variant] = s
	}
	var b strings.Builder
	b.WriteString("| N | baseline median | gluenet cold median | baseline / cold | gluenet warm median | baseline / warm |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range ns {
		base, cold, warm := byN[n][Baseline.Name], byN[n][GluenetCold.Name], byN[n][GluenetWarm.Name]
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", n,
			ms(base.Median()), ms(cold.Median()), ratio(base.Median(), cold.Median()),
			ms(warm.Median()), ratio(base.Median(), warm.Median()))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteThrottleTable writes one row per throttling case: how many
// decisions learned every candidate's free IPs, the latency, and the calls
// and throttles behind it. ref maps a variant to its unthrottled median, to
// state the latency throttling adds.
func WriteThrottleTable(w io.Writer, cases []ThrottleResult, ref map[string]time.Duration) error {
	var b strings.Builder
	b.WriteString("| variant | retry mode | max attempts | client | decisions | complete | median | p95 | added median | calls / decision | throttled / decision | unchecked / decision |\n")
	b.WriteString("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range cases {
		s := c.Series
		added := "-"
		if r, ok := ref[s.Variant]; ok {
			added = signedMs(s.Median() - r)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %d | %d (%.0f%%) | %s | %s | %s | %s | %s | %s |\n",
			s.Variant, s.Setup.RetryMode, s.Setup.MaxAttempts, c.Case.clientText(), len(s.Decisions),
			s.Complete(), 100*float64(s.Complete())/float64(len(s.Decisions)),
			ms(s.Median()), ms(s.P95()), added,
			num(s.CallsPerDecision()), num(s.ThrottledPerDecision()), num(s.Unchecked()))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ms writes a duration in milliseconds, to three significant figures or so.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10 || v <= -10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

// signedMs writes a difference of durations with its sign.
func signedMs(d time.Duration) string {
	if d < 0 {
		return "−" + ms(-d)
	}
	return "+" + ms(d)
}

// num writes a mean without decimals when it is whole.
func num(v float64) string {
	if v == float64(int(v)) {
		return fmt.Sprintf("%d", int(v))
	}
	return fmt.Sprintf("%.2f", v)
}

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f×", float64(a)/float64(b))
}
