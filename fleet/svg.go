package fleet

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
	"time"
)

// A chart is drawn by the server as inline SVG: no script, no library, no
// network. Each data series is one <path>; bands (ejection periods) are
// <rect>s behind them.

type point struct {
	t time.Time
	v float64
}

type series struct {
	name  string
	class string // CSS class: its colour and dash
	pts   []point
}

type band struct {
	from, to time.Time
	class    string
	label    string
}

const (
	chartW, chartH                = 640, 236
	padL, padR, padTop, padBottom = 48, 12, 12, 44
	// Ejection bands are opaque strips under the plot, one row per class,
	// so that overlapping periods keep the legend's colours.
	bandRow = 7
)

// gapFactor: consecutive points further apart than this many times the
// series' median interval are not joined: nothing was observed between.
const gapFactor = 3

// gapLimit is the interval beyond which a series' points are not joined.
func gapLimit(pts []point) time.Duration {
	if len(pts) < 3 {
		return 0 // too few to tell a gap from the rhythm
	}
	gaps := make([]time.Duration, 0, len(pts)-1)
	for i := 1; i < len(pts); i++ {
		gaps = append(gaps, pts[i].t.Sub(pts[i-1].t))
	}
	slices.Sort(gaps)
	return gapFactor * max(gaps[len(gaps)/2], time.Second)
}

// timeChart draws series against time over [from, to], with bands behind.
func timeChart(title string, from, to time.Time, ss []series, bands []band) string {
	if !to.After(from) {
		to = from.Add(time.Minute)
	}
	maxV := 1.0
	for _, s := range ss {
		for _, p := range s.pts {
			maxV = math.Max(maxV, p.v)
		}
	}
	maxV = niceCeil(maxV * 1.05)
	span := to.Sub(from).Seconds()
	x := func(t time.Time) float64 {
		return padL + (chartW-padL-padR)*math.Max(0, math.Min(1, t.Sub(from).Seconds()/span))
	}
	y := func(v float64) float64 { return padTop + (chartH-padTop-padBottom)*(1-v/maxV) }
	var b strings.Builder
	fmt.Fprintf(&b, `<figure class="chart"><svg viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">`,
		chartW, chartH, chartW, chartH, html.EscapeString(title))
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	for _, bd := range bands {
		x0, x1 := x(bd.from), x(bd.to)
		row := 0
		if bd.class == "band-zone" {
			row = 1
		}
		fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%d" width="%.1f" height="%d"><title>%s</title></rect>`,
			bd.class, x0, chartH-padBottom+2+row*(bandRow+1), math.Max(2, x1-x0), bandRow, html.EscapeString(bd.label))
	}
	// Axes and grid.
	for i, n := 0, yTicks(maxV); i <= n; i++ {
		v := maxV * float64(i) / float64(n)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, chartW-padR, y(v), y(v), padL-4, y(v)+4, trimFloat(v))
	}
	layout := "15:04:05"
	if span > 2*86400 {
		layout = "Jan 2 15:04"
	} else if span > 3600 {
		layout = "15:04"
	}
	for i := 0; i <= 4; i++ {
		t := from.Add(time.Duration(float64(to.Sub(from)) * float64(i) / 4))
		anchor := "middle"
		switch i {
		case 0:
			anchor = "start"
		case 4:
			anchor = "end"
		}
		label := t.UTC().Format(layout)
		if i == 4 {
			label += " UTC"
		}
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="%s">%s</text>`, x(t), chartH-4, anchor, label)
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" x2="%d" y1="%d" y2="%d"/>`, padL, chartW-padR, chartH-padBottom, chartH-padBottom)
	for _, s := range ss {
		if len(s.pts) == 0 {
			continue
		}
		var d strings.Builder
		limit := gapLimit(s.pts)
		for i, p := range s.pts {
			cmd := "L"
			if i == 0 || (limit > 0 && p.t.Sub(s.pts[i-1].t) > limit) {
				cmd = "M" // a new segment: no line across a gap
			}
			fmt.Fprintf(&d, "%s%.1f %.1f ", cmd, x(p.t), y(p.v))
		}
		if len(s.pts) == 1 { // a single point still shows as a short tick
			fmt.Fprintf(&d, "l4 0")
		}
		fmt.Fprintf(&b, `<path class="%s" data-points="%d" d="%s"><title>%s</title></path>`,
			s.class, len(s.pts), strings.TrimSpace(d.String()), html.EscapeString(s.name))
		for _, p := range s.pts {
			fmt.Fprintf(&b, `<circle class="%s" cx="%.1f" cy="%.1f" r="2.5"><title>%s %s: %s</title></circle>`,
				s.class, x(p.t), y(p.v), html.EscapeString(s.name), p.t.UTC().Format(time.RFC3339), trimFloat(p.v))
		}
	}
	b.WriteString(`</svg><figcaption>`)
	b.WriteString(html.EscapeString(title))
	for _, s := range ss {
		fmt.Fprintf(&b, ` <span class="key %s">%s</span>`, s.class, html.EscapeString(s.name))
	}
	if len(bands) > 0 {
		seen := map[string]bool{}
		for _, bd := range bands {
			if !seen[bd.class] {
				seen[bd.class] = true
				name := "subnet ejected"
				if bd.class == "band-zone" {
					name = "zone ejected"
				}
				fmt.Fprintf(&b, ` <span class="key %s">%s</span>`, bd.class, name)
			}
		}
	}
	b.WriteString(`</figcaption></figure>`)
	return b.String()
}

// barChart draws one bar per label, stacked by the classes of its parts.
type bar struct {
	label string
	parts []barPart
}

type barPart struct {
	class string
	name  string
	v     float64
}

func barChart(title string, bars []bar) string {
	maxV := 1.0
	for _, br := range bars {
		sum := 0.0
		for _, p := range br.parts {
			sum += p.v
		}
		maxV = math.Max(maxV, sum)
	}
	maxV = niceCeil(maxV)
	h := chartH
	y := func(v float64) float64 { return padTop + float64(h-padTop-padBottom)*(1-v/maxV) }
	var b strings.Builder
	fmt.Fprintf(&b, `<figure class="chart"><svg viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s"><title>%s</title>`,
		chartW, h, chartW, h, html.EscapeString(title), html.EscapeString(title))
	for i, n := 0, yTicks(maxV); i <= n; i++ {
		v := maxV * float64(i) / float64(n)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/><text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>`,
			padL, chartW-padR, y(v), y(v), padL-4, y(v)+4, trimFloat(v))
	}
	slot := float64(chartW-padL-padR) / float64(max(1, len(bars)))
	for i, br := range bars {
		x0 := padL + slot*float64(i) + slot*0.15
		w := slot * 0.7
		base := 0.0
		for _, p := range br.parts {
			if p.v <= 0 {
				continue
			}
			fmt.Fprintf(&b, `<path class="%s" d="M%.1f %.1f H%.1f V%.1f H%.1f Z"><title>%s %s: %s</title></path>`,
				p.class, x0, y(base), x0+w, y(base+p.v), x0, html.EscapeString(br.label), html.EscapeString(p.name), trimFloat(p.v))
			base += p.v
		}
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="middle">%s</text>`, x0+w/2, h-8, html.EscapeString(br.label))
	}
	b.WriteString(`</svg><figcaption>`)
	b.WriteString(html.EscapeString(title))
	seen := map[string]bool{}
	for _, br := range bars {
		for _, p := range br.parts {
			if p.v > 0 && !seen[p.class] {
				seen[p.class] = true
				fmt.Fprintf(&b, ` <span class="key %s">%s</span>`, p.class, html.EscapeString(p.name))
			}
		}
	}
	b.WriteString(`</figcaption></figure>`)
	return b.String()
}

// yTicks is the number of intervals of the y axis up to maxV (a niceCeil
// value): 5 for 5×10^k, so that the ticks are whole steps, else 4.
func yTicks(maxV float64) int {
	if m := maxV / math.Pow(10, math.Floor(math.Log10(maxV))); math.Abs(m-5) < 1e-9 {
		return 5
	}
	return 4
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%d", int64(v))
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}
