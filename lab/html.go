package lab

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
)

// The report is built with plain string building and html.EscapeString, not
// html/template: executing a template can call any method by name through
// reflection, which makes the Go linker keep every exported method of every
// reachable type, and so link whole AWS SDK clients into the gluenet binary
// (issue 12, docs/benchmarks.md). The charts are drawn as SVG directly, for
// the same reason and to spare the binary a plotting library and its fonts.

// chart is one bar chart: a value per strategy, with the spread over seeds
// as an error bar.
type chart struct {
	title, ylabel string
	value         func(Summary) Stat
	scale         float64
}

func (r *Result) charts() []chart {
	cs := []chart{
		{"Runs at full capacity (% of runs)", "% of runs", func(s Summary) Stat { return s.Full }, 100},
	}
	if len(r.Bound) > 0 {
		cs = append([]chart{{"Full-capacity runs as a fraction of the upper bound", "% of bound", func(s Summary) Stat { return s.OfBound }, 100}}, cs...)
	}
	return append(cs,
		chart{"Attempts per run", "Glue runs started per run", func(s Summary) Stat { return s.AttemptsPerRun }, 1},
		chart{"Time from request to RUNNING, p95", "seconds", func(s Summary) Stat { return s.ToRunningP95 }, 1},
		chart{"Run time lost to failed attempts", "hours", func(s Summary) Stat { return s.LostHours }, 1},
		chart{"How much later runs end than at once and at full capacity, p95", "minutes", func(s Summary) Stat { return s.LateP95 }, 1.0 / 60},
	)
}

// The chart's geometry, in SVG user units (CSS pixels): 7 × 3.6 inches.
const (
	chartW, chartH = 672.0, 346.0
	plotLeft       = 72.0 // room for the y label and tick labels
	plotRight      = 16.0 // margin right of the plot area
	plotTop        = 34.0 // room for the title
	plotBottom     = 92.0 // room for the slanted strategy names
	barColor       = "#3b6ea8"
)

// esc escapes text for HTML and SVG alike (&, <, >, ' and ").
func esc(s string) string { return html.EscapeString(s) }

// ff formats a coordinate compactly.
func ff(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// niceTicks returns axis ticks from 0 to at least top, 1, 2 or 5 times a
// power of ten apart, about five of them.
func niceTicks(top float64) []float64 {
	if !(top > 0) || math.IsInf(top, 0) {
		top = 1 // an all-zero chart still gets a sensible axis
	}
	raw := top / 5
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	step := pow * 10
	for _, m := range []float64{1, 2, 5} {
		if m*pow >= raw {
			step = m * pow
			break
		}
	}
	n := int(math.Ceil(top/step - 1e-9))
	ticks := make([]float64, n+1)
	for i := range ticks {
		ticks[i] = float64(i) * step
	}
	return ticks
}

// tickLabel formats a tick value with no more decimals than its step needs.
func tickLabel(v, step float64) string {
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// svgChart draws one chart as an inline SVG element: a bar per strategy
// (its mean over seeds) and, with several seeds, an error bar from the
// lowest to the highest seed.
func (r *Result) svgChart(c chart) string {
	n := len(r.Summaries)
	errBars := len(r.Seeds) > 1
	top := 0.0
	for _, s := range r.Summaries {
		st := c.value(s)
		vals := []float64{st.Mean}
		if errBars {
			vals = append(vals, st.Max)
		}
		for _, v := range vals {
			if v *= c.scale; v > top && !math.IsInf(v, 0) { // NaN is never > top
				top = v
			}
		}
	}
	ticks := niceTicks(top)
	yMax := ticks[len(ticks)-1]
	step := 1.0
	if len(ticks) > 1 {
		step = ticks[1]
	}
	pw, ph := chartW-plotLeft-plotRight, chartH-plotTop-plotBottom
	y := func(v float64) float64 {
		if !(v > 0) { // also NaN: a statistic with no runs behind it
			v = 0
		}
		return plotTop + ph - ph*math.Min(v, yMax)/yMax
	}
	slot := pw / float64(max(n, 1))
	barW := math.Min(slot*0.6, 38)

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="11" role="img" aria-label="%s">`,
		ff(chartW), ff(chartH), ff(chartW), ff(chartH), esc(c.title))
	b.WriteString("\n")
	fmt.Fprintf(&b, `<text x="%s" y="20" text-anchor="middle" font-size="13">%s</text>`+"\n", ff(plotLeft+pw/2), esc(c.title))
	fmt.Fprintf(&b, `<text transform="translate(16 %s) rotate(-90)" text-anchor="middle">%s</text>`+"\n", ff(plotTop+ph/2), esc(c.ylabel))
	for _, t := range ticks {
		ty := y(t)
		fmt.Fprintf(&b, `<path d="M%s %sH%s" stroke="#ddd" stroke-width="1"/>`, ff(plotLeft), ff(ty), ff(plotLeft+pw))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end">%s</text>`+"\n", ff(plotLeft-6), ff(ty+4), tickLabel(t, step))
	}
	for i, s := range r.Summaries {
		st := c.value(s)
		cx := plotLeft + slot*(float64(i)+0.5)
		mean := st.Mean * c.scale
		fmt.Fprintf(&b, `<path d="M%s %sH%sV%sH%sZ" fill="%s"><title>%s: %s</title></path>`+"\n",
			ff(cx-barW/2), ff(y(0)), ff(cx+barW/2), ff(y(mean)), ff(cx-barW/2), barColor,
			esc(s.Variant.Name), strconv.FormatFloat(mean, 'g', 4, 64))
		if errBars {
			lo, hi := y(st.Min*c.scale), y(st.Max*c.scale)
			fmt.Fprintf(&b, `<path d="M%s %sV%sM%s %sH%sM%s %sH%s" stroke="#222" stroke-width="1" fill="none"/>`+"\n",
				ff(cx), ff(lo), ff(hi), ff(cx-5), ff(lo), ff(cx+5), ff(cx-5), ff(hi), ff(cx+5))
		}
		fmt.Fprintf(&b, `<text transform="translate(%s %s) rotate(-30)" text-anchor="end">%s</text>`+"\n",
			ff(cx+4), ff(plotTop+ph+14), esc(s.Variant.Name))
	}
	// The axes, drawn last so that they sit on top of the bars.
	fmt.Fprintf(&b, `<path d="M%s %sV%sH%s" stroke="#222" stroke-width="1" fill="none"/>`+"\n",
		ff(plotLeft), ff(plotTop), ff(plotTop+ph), ff(plotLeft+pw))
	b.WriteString("</svg>")
	return b.String()
}

// svgCurve draws the admission trade-off: for each admission wait, the
// full-capacity runs as a share of the bound against the p95 time from
// request to RUNNING, joined in order of the wait.
func (r *Result) svgCurve() string {
	title := "Admission trade-off of " + r.Curve[0].Base + ": runs at full capacity against time to RUNNING"
	xTop, yTop := 0.0, 0.0
	for _, c := range r.Curve {
		xTop = math.Max(xTop, c.ToRunningP95.Mean)
		yTop = math.Max(yTop, 100*c.OfBound.Mean)
	}
	xt, yt := niceTicks(xTop), niceTicks(yTop)
	xMax, yMax := xt[len(xt)-1], yt[len(yt)-1]
	pw, ph := chartW-plotLeft-plotRight, chartH-plotTop-plotBottom
	x := func(v float64) float64 { return plotLeft + pw*math.Max(0, math.Min(v, xMax))/xMax }
	y := func(v float64) float64 { return plotTop + ph - ph*math.Max(0, math.Min(v, yMax))/yMax }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="11" role="img" aria-label="%s">`+"\n",
		ff(chartW), ff(chartH), ff(chartW), ff(chartH), esc(title))
	fmt.Fprintf(&b, `<text x="%s" y="20" text-anchor="middle" font-size="13">%s</text>`+"\n", ff(plotLeft+pw/2), esc(title))
	fmt.Fprintf(&b, `<text transform="translate(16 %s) rotate(-90)" text-anchor="middle">%% of bound</text>`+"\n", ff(plotTop+ph/2))
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">time from request to RUNNING, p95 (seconds)</text>`+"\n", ff(plotLeft+pw/2), ff(plotTop+ph+40))
	for _, t := range yt {
		fmt.Fprintf(&b, `<path d="M%s %sH%s" stroke="#ddd" stroke-width="1"/><text x="%s" y="%s" text-anchor="end">%s</text>`+"\n",
			ff(plotLeft), ff(y(t)), ff(plotLeft+pw), ff(plotLeft-6), ff(y(t)+4), tickLabel(t, yt[min(1, len(yt)-1)]))
	}
	for _, t := range xt {
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", ff(x(t)), ff(plotTop+ph+16), tickLabel(t, xt[min(1, len(xt)-1)]))
	}
	var path strings.Builder
	for i, c := range r.Curve {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&path, "%s%s %s", cmd, ff(x(c.ToRunningP95.Mean)), ff(y(100*c.OfBound.Mean)))
	}
	fmt.Fprintf(&b, `<path d="%s" stroke="%s" stroke-width="2" fill="none"/>`+"\n", path.String(), barColor)
	for _, c := range r.Curve {
		cx, cy := x(c.ToRunningP95.Mean), y(100*c.OfBound.Mean)
		fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="4" fill="%s"><title>wait %s: %.1f%% of bound, p95 %.0f s</title></circle>`+"\n",
			ff(cx), ff(cy), barColor, esc(c.WaitText), 100*c.OfBound.Mean, c.ToRunningP95.Mean)
		fmt.Fprintf(&b, `<text x="%s" y="%s">wait %s</text>`+"\n", ff(cx+6), ff(cy+14), esc(c.WaitText))
	}
	fmt.Fprintf(&b, `<path d="M%s %sV%sH%s" stroke="#222" stroke-width="1" fill="none"/>`+"\n",
		ff(plotLeft), ff(plotTop), ff(plotTop+ph), ff(plotLeft+pw))
	b.WriteString("</svg>")
	return b.String()
}

const reportStyle = `<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 70em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #eef2f7; }
figure { margin: 1.5em 0; }
.note { color: #555; font-size: 0.9em; }
</style>
`

const reportNote = `<p class="note">FULL: runs that succeeded with every worker they asked for. UNDER: succeeded with fewer.
NO START: no attempt ever reached RUNNING. PLACEMENT FAIL: ran, then failed for good on a placement failure
(its zone lost the workers). OF BOUND: full-capacity runs divided by the upper bound's count.
With several seeds, ± is the standard deviation over seeds and the error bars span min to max.</p>
`

// WriteHTML writes the self-contained HTML report: the summary table and
// inline SVG charts, no script, nothing fetched from the network. Every
// piece of text that comes from the scenario or the variants is escaped.
func (r *Result) WriteHTML(w io.Writer) error {
	seeds := make([]string, len(r.Seeds))
	for i, s := range r.Seeds {
		seeds[i] = strconv.FormatInt(s, 10)
	}
	runs := 0
	for _, n := range r.Runs {
		runs += n
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	fmt.Fprintf(&b, "<title>gluenet strategy lab: %s</title>\n", esc(r.Scenario))
	b.WriteString(reportStyle)
	b.WriteString("</head>\n<body>\n")
	fmt.Fprintf(&b, "<h1>Strategy lab: %s</h1>\n", esc(r.Scenario))
	fmt.Fprintf(&b, "<p>%s</p>\n", esc(r.Description))
	fmt.Fprintf(&b, "<p>Seeds %s; %d runs per seed on average. %s</p>\n",
		esc(strings.Join(seeds, ", ")), runs/max(1, len(r.Runs)), esc(r.BoundLine()))
	b.WriteString("<table id=\"summary\">\n<tr>")
	for _, h := range TableHeader {
		fmt.Fprintf(&b, "<th>%s</th>", esc(h))
	}
	b.WriteString("</tr>\n")
	for _, row := range r.Rows() {
		b.WriteString("<tr>")
		for _, cell := range row {
			fmt.Fprintf(&b, "<td>%s</td>", esc(cell))
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n")
	b.WriteString(reportNote)
	for _, c := range r.charts() {
		fmt.Fprintf(&b, "<figure class=\"chart\">%s</figure>\n", r.svgChart(c))
	}
	if len(r.Curve) > 1 {
		fmt.Fprintf(&b, "<figure class=\"chart\" id=\"admission-curve\">%s</figure>\n", r.svgCurve())
	}
	b.WriteString("<h2>Strategies</h2>\n<table>\n<tr><th>name</th><th>strategy</th><th>memory</th><th>retry</th><th>what it does</th></tr>\n")
	for _, s := range r.Summaries {
		mem := "none"
		if s.Variant.Memory {
			mem = "health + reservations"
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			esc(s.Variant.Name), esc(s.Variant.Strategy), mem, esc(s.Variant.RetrySummary), esc(s.Variant.Description))
	}
	b.WriteString("</table>\n</body>\n</html>\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write the HTML report: %w", err)
	}
	return nil
}
