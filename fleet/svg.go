package fleet

import (
	"fmt"
	"html"
	"math"
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
	chartW, chartH                = 640, 220
	padL, padR, padTop, padBottom = 48, 12, 12, 28
)

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
		fmt.Fprintf(&b, `<rect class="%s" x="%.1f" y="%d" width="%.1f" height="%d"><title>%s</title></rect>`,
			bd.class, x0, padTop, math.Max(1, x1-x0), chartH-padTop-padBottom, html.EscapeString(bd.label))
	}
	// Axes and grid.
	for i := 0; i <= 4; i++ {
		v := maxV * float64(i) / 4
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
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%d" text-anchor="%s">%s</text>`, x(t), chartH-8, anchor, t.UTC().Format(layout))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%d" x2="%d" y1="%d" y2="%d"/>`, padL, chartW-padR, chartH-padBottom, chartH-padBottom)
	for _, s := range ss {
		if len(s.pts) == 0 {
			continue
		}
		var d strings.Builder
		for i, p := range s.pts {
			cmd := "L"
			if i == 0 {
				cmd = "M"
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
	for i := 0; i <= 4; i++ {
		v := maxV * float64(i) / 4
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
	return fmt.Sprintf("%.1f", v)
}
