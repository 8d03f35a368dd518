package fleet

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/store"
)

//go:embed style.css
var styleCSS string

func (s *Server) pages(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.page(s.subnetsPage))
	mux.HandleFunc("GET /runs", s.page(s.runsPage))
	mux.HandleFunc("GET /runs/{key...}", s.page(s.runPage))
	mux.HandleFunc("GET /strategies", s.page(func(*http.Request) (string, string, error) { return "strategies", strategiesPage(), nil }))
}

// page renders what fn returns (the active tab and the body) in the layout.
func (s *Server) page(fn func(r *http.Request) (string, string, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tab, body, err := fn(r)
		code := http.StatusOK
		var br *badRequest
		switch {
		case errors.As(err, &br):
			code, tab, body = http.StatusBadRequest, "", `<h1>Bad request</h1><p>`+esc(br.msg)+`</p>`
		case errors.Is(err, store.ErrNotFound):
			code, tab, body = http.StatusNotFound, "", `<h1>Not found</h1><p>`+esc(err.Error())+`</p>`
		case err != nil:
			s.log().Error("fleet page: store read failed", "path", r.URL.Path, "err", err)
			code, tab, body = http.StatusInternalServerError, "", `<h1>The state store could not be read</h1><p>`+esc(err.Error())+`</p>`
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(layout(tab, body)))
	}
}

func esc(s string) string { return html.EscapeString(s) }

func layout(tab, body string) string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">`)
	b.WriteString(`<title>gluenet fleet</title><style>`)
	b.WriteString(styleCSS)
	b.WriteString(`</style></head><body><header><b>gluenet</b>`)
	for _, t := range []struct{ id, href, name string }{{"subnets", "/", "Subnets &amp; zones"}, {"runs", "/runs", "Runs"}, {"strategies", "/strategies", "Strategies"}} {
		class := ""
		if t.id == tab {
			class = ` class="on"`
		}
		fmt.Fprintf(&b, `<a href="%s"%s>%s</a>`, t.href, class, t.name)
	}
	b.WriteString(`</header><main>`)
	b.WriteString(body)
	b.WriteString(`</main></body></html>`)
	return b.String()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return `<span class="muted">-</span>`
	}
	return `<time datetime="` + t.UTC().Format(time.RFC3339) + `">` + t.UTC().Format("2006-01-02 15:04:05") + ` UTC</time>`
}

// age says how long before now t was, in the largest whole unit.
func age(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case t.IsZero():
		return "never"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

func dash(s string) string {
	if s == "" {
		return `<span class="muted">-</span>`
	}
	return esc(s)
}

func runLink(key string) string {
	return `<a href="/runs/` + esc(pathEscape(key)) + `">` + esc(key) + `</a>`
}

// pathEscape escapes each segment of a run key, keeping its slashes.
func pathEscape(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func (s *Server) subnetsPage(r *http.Request) (string, string, error) {
	sn, err := s.View.load(r.Context())
	if err != nil {
		return "", "", err
	}
	f := sn.fleet()
	hist := sn.history()
	h, err := s.View.Health(r.Context())
	if err != nil {
		return "", "", err
	}
	events, ejs := h.Events, h.Ejections
	var b strings.Builder
	b.WriteString(`<h1>Subnets and zones</h1>`)
	fmt.Fprintf(&b, `<p class="note">At %s. Free IPs are EC2's count at the last observation (by a run's discovery, or by the <code>--watch</code> sampler), as old as its age says; reserved IPs are held now by runs in flight that EC2 may not count yet. Glue needs at least %d free IPs in a subnet to start a run there.</p>`,
		fmtTime(f.At), gluenet.DefaultMinIPs)
	if s.Sampler == nil {
		b.WriteString(`<p class="note warn">No <code>--watch</code>: a subnet's free IPs are what the last run that looked at it saw, which may be hours old. Start serve with <code>--watch CONFIG</code> to sample every subnet of the config every minute.</p>`)
	}
	why := ejectionReasons(ejs)
	b.WriteString(`<h2>Zones</h2><table id="zones"><thead><tr><th>Zone</th><th>Subnets</th><th>Free IPs</th><th>Reserved</th><th>Health</th></tr></thead><tbody>`)
	for _, z := range f.Zones {
		fmt.Fprintf(&b, `<tr><td>%s</td><td>%s</td><td class="num">%d</td><td class="num">%d</td><td>%s</td></tr>`,
			esc(z.AZ), dash(strings.Join(z.Subnets, ", ")), z.FreeIPs, z.ReservedIPs, zoneHealth(z, f.Subnets, why[ejKey{gluenet.ScopeAZ, z.AZ}]))
	}
	if len(f.Zones) == 0 {
		b.WriteString(`<tr><td colspan="5" class="muted">No data yet: no run has recorded a zone. Run a job with gluenet, or start serve with <code>--watch CONFIG</code>.</td></tr>`)
	}
	b.WriteString(`</tbody></table>`)
	b.WriteString(`<h2>Subnets</h2><table id="subnets"><thead><tr><th>Subnet</th><th>Zone</th><th>Connections</th><th>Free IPs (EC2)</th><th>Reserved</th><th>Free after reservations</th><th>Observed</th><th>Health</th></tr></thead><tbody>`)
	for _, x := range f.Subnets {
		observed := fmt.Sprintf(`%s <span class="muted">by %s</span>`, esc(age(x.ObservedAt, sn.now)), esc(x.Source))
		if x.Stale {
			observed = `<span class="bad">` + esc(age(x.ObservedAt, sn.now)) + `: stale</span> <span class="muted">by ` + esc(x.Source) + `</span>`
		}
		fmt.Fprintf(&b, `<tr><td>%s</td><td>%s</td><td>%s</td><td class="num">%d</td><td class="num">%d</td><td class="num">%d</td><td>%s<br>%s</td><td>%s</td></tr>`,
			esc(x.SubnetID), esc(x.AZ), dash(strings.Join(x.Connections, ", ")), x.FreeIPs, x.ReservedIPs, x.FreeAfterReservations,
			observed, fmtTime(x.ObservedAt), subnetHealth(x, why))
	}
	if len(f.Subnets) == 0 {
		b.WriteString(`<tr><td colspan="8" class="muted">No data yet: no run and no sample has observed a subnet. Run a job with gluenet, or start serve with <code>--watch CONFIG</code>.</td></tr>`)
	}
	b.WriteString(`</tbody></table>`)
	b.WriteString(`<h2>Free IPs over time</h2>`)
	if len(hist) == 0 {
		b.WriteString(`<p class="muted">No data yet: no free-IP observation within the last ` + esc(s.View.window().String()) + `.</p>`)
	}
	b.WriteString(`<div class="charts">`)
	from, to := sn.now.Add(-s.View.window()), sn.now
	if len(hist) > 0 && hist[0].At.After(from) {
		// Start at the first observation, with a margin, rather than
		// leaving most of the window empty.
		from = hist[0].At.Add(-to.Sub(hist[0].At) / 20)
	}
	for _, x := range f.Subnets {
		if x.Stale {
			continue // nothing to draw within the window
		}
		var free, after, reserved []point
		for _, o := range hist {
			if o.SubnetID == x.SubnetID {
				free = append(free, point{o.At, float64(o.FreeIPs)})
				after = append(after, point{o.At, float64(o.FreeAfterReservations)})
				reserved = append(reserved, point{o.At, float64(o.ReservedIPs)})
			}
		}
		var bands []band
		for _, e := range ejs {
			if e.Until.Before(from) {
				continue
			}
			switch {
			case e.Scope == gluenet.ScopeSubnet && e.Key == x.SubnetID:
				bands = append(bands, band{e.From, e.Until, "band-subnet", "subnet ejected: " + e.Why})
			case e.Scope == gluenet.ScopeAZ && e.Key == x.AZ:
				bands = append(bands, band{e.From, e.Until, "band-zone", "zone ejected: " + e.Why})
			}
		}
		b.WriteString(timeChart(x.SubnetID+" ("+x.AZ+")", from, to, []series{
			{"free IPs (EC2)", "s-free", free}, {"after reservations", "s-after", after}, {"reserved", "s-reserved", reserved},
		}, bands))
	}
	b.WriteString(`</div>`)
	b.WriteString(`<h2>Health memory</h2><p class="note">Placement failures count against a subnet (and its zone); enough in a row eject it for a while, after which it is tried again. <code>gluenet health --reset</code> forgets.</p>`)
	b.WriteString(`<table id="health"><thead><tr><th>Scope</th><th>Key</th><th>Failures in a row</th><th>Ejections</th><th>Now</th><th>Last failure</th><th>Class</th><th>Last success</th></tr></thead><tbody>`)
	for _, h := range sn.health {
		fmt.Fprintf(&b, `<tr><td>%s</td><td>%s</td><td class="num">%d</td><td class="num">%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>`,
			esc(string(h.Scope)), esc(h.Key), h.ConsecutiveFailures, h.Ejections, ejectedCell(h.Ejected(sn.now), h.EjectedUntil),
			fmtTime(h.LastFailure), dash(h.LastClass), fmtTime(h.LastSuccess))
	}
	if len(sn.health) == 0 {
		b.WriteString(`<tr><td colspan="8" class="muted">No health records: every subnet and zone is in good standing.</td></tr>`)
	}
	b.WriteString(`</tbody></table>`)
	b.WriteString(`<h2>Evidence: recent health events</h2><table id="events"><thead><tr><th>At</th><th>Scope</th><th>Key</th><th>Event</th><th>Class</th><th>Detail</th></tr></thead><tbody>`)
	for i, e := range events {
		if i == 50 {
			break
		}
		kind := esc(string(e.Kind))
		if e.Kind == store.HealthEjected || e.Kind == store.HealthFailure {
			kind = `<span class="bad">` + kind + `</span>`
		}
		fmt.Fprintf(&b, `<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>`,
			fmtTime(e.At), esc(string(e.Scope)), esc(e.Key), kind, dash(e.Class), dash(e.Detail))
	}
	if len(events) == 0 {
		b.WriteString(`<tr><td colspan="6" class="muted">No health events yet.</td></tr>`)
	}
	b.WriteString(`</tbody></table>`)
	b.WriteString(`<h2>Reservations</h2><table id="reservations"><thead><tr><th>Job</th><th>Glue run</th><th>Subnet</th><th>Zone</th><th>IPs</th><th>EC2 free at start</th><th>Expires</th></tr></thead><tbody>`)
	for _, x := range f.Reservations {
		fmt.Fprintf(&b, `<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class="num">%d</td><td class="num">%d</td><td>%s</td></tr>`,
			esc(x.Job), dash(x.RunID), esc(x.SubnetID), esc(x.AZ), x.IPs, x.BaselineFree, fmtTime(x.ExpiresAt))
	}
	if len(f.Reservations) == 0 {
		b.WriteString(`<tr><td colspan="7" class="muted">No run in flight holds IPs now.</td></tr>`)
	}
	b.WriteString(`</tbody></table>`)
	return "subnets", b.String(), nil
}

func ejectedCell(ejected bool, until time.Time) string {
	if ejected {
		return `<span class="bad">ejected</span> until ` + fmtTime(until)
	}
	return `<span class="ok">ok</span>`
}

// ejKey names a subnet or a zone of health memory.
type ejKey struct {
	scope gluenet.Scope
	key   string
}

// ejectionReasons maps each subnet and zone to why its latest ejection
// happened (the ejected event's detail).
func ejectionReasons(ejs []Ejection) map[ejKey]string {
	out := map[ejKey]string{}
	for _, e := range ejs { // oldest first: the latest wins
		out[ejKey{e.Scope, e.Key}] = e.Why
	}
	return out
}

// subnetHealth says whether runs can go to the subnet: ejected (and why),
// its zone ejected, too few free IPs for Glue to start anything there,
// or ok.
func subnetHealth(x Subnet, why map[ejKey]string) string {
	switch {
	case x.Ejected:
		return ejectedCell(true, x.EjectedUntil) + because(why[ejKey{gluenet.ScopeSubnet, x.SubnetID}])
	case x.ZoneEjected:
		return `<span class="bad">zone ejected</span>` + because(why[ejKey{gluenet.ScopeAZ, x.AZ}])
	case x.FreeAfterReservations < gluenet.DefaultMinIPs:
		return fmt.Sprintf(`<span class="bad">no room</span>: %d free after reservations, Glue needs %d to start a run`, x.FreeAfterReservations, gluenet.DefaultMinIPs)
	case x.Stale:
		return `<span class="warn">unknown</span>: no recent observation`
	}
	return `<span class="ok">ok</span>`
}

// zoneHealth says the same of a zone: ejected (and why), or no subnet of
// it with room, or ok.
func zoneHealth(z Zone, subnets []Subnet, why string) string {
	if z.Ejected {
		return ejectedCell(true, z.EjectedUntil) + because(why)
	}
	room := false
	for _, x := range subnets {
		if x.AZ == z.AZ && !x.Ejected && x.FreeAfterReservations >= gluenet.DefaultMinIPs {
			room = true
		}
	}
	if !room && len(z.Subnets) > 0 {
		return fmt.Sprintf(`<span class="bad">no room</span>: no usable subnet has the %d free IPs Glue needs`, gluenet.DefaultMinIPs)
	}
	return `<span class="ok">ok</span>`
}

func because(why string) string {
	if why == "" {
		return ""
	}
	return `<br><span class="why">` + esc(why) + `</span>`
}

var statuses = []store.RunStatus{store.RunSucceeded, store.RunFailed, store.RunInterrupted, store.RunRunning, store.RunPending}

func (s *Server) runsPage(r *http.Request) (string, string, error) {
	f, err := parseRunFilter(r, s.View.now())
	if err != nil {
		return "", "", err
	}
	page, err := s.View.RunsPage(r.Context(), f)
	if err != nil {
		return "", "", err
	}
	runs := page.Runs
	q := r.URL.Query()
	var b strings.Builder
	b.WriteString(`<h1>Runs</h1><form class="filters" method="get" action="/runs">`)
	fmt.Fprintf(&b, `<label>Job<input name="job" value="%s"></label>`, esc(q.Get("job")))
	b.WriteString(`<label>Outcome<select name="outcome"><option value="">any</option>`)
	for _, st := range statuses {
		sel := ""
		if string(st) == q.Get("outcome") {
			sel = " selected"
		}
		fmt.Fprintf(&b, `<option%s>%s</option>`, sel, st)
	}
	b.WriteString(`</select></label>`)
	fmt.Fprintf(&b, `<label>Since (6h, or a time)<input name="since" value="%s"></label>`, esc(q.Get("since")))
	fmt.Fprintf(&b, `<label>Limit<input name="limit" size="4" value="%d"></label><button>Filter</button></form>`, f.Limit)
	// Runs by job, stacked by status.
	byJob := map[string]map[store.RunStatus]int{}
	var jobs []string
	for _, x := range runs {
		if byJob[x.Job] == nil {
			byJob[x.Job] = map[store.RunStatus]int{}
			jobs = append(jobs, x.Job)
		}
		byJob[x.Job][x.Status]++
	}
	slices.Sort(jobs)
	var bars []bar
	for _, j := range jobs {
		br := bar{label: j}
		for _, st := range statuses {
			br.parts = append(br.parts, barPart{class: "b-" + string(st), name: string(st), v: float64(byJob[j][st])})
		}
		bars = append(bars, br)
	}
	b.WriteString(`<div class="charts">`)
	if len(bars) > 0 {
		b.WriteString(barChart(fmt.Sprintf("The %d runs below, by job and outcome", len(runs)), bars))
	}
	chart, err := s.failuresChart(r)
	if err != nil {
		return "", "", err
	}
	b.WriteString(chart + `</div>`)
	b.WriteString(`<table id="runs"><thead><tr><th>Created</th><th>Run key</th><th>Job</th><th>Status</th><th>Class</th><th>Attempts</th><th>Subnet</th><th>Zone</th><th>Strategy</th><th>Outcome</th></tr></thead><tbody>`)
	for _, x := range runs {
		status := esc(string(x.Status))
		if x.Status == store.RunFailed || x.Status == store.RunInterrupted {
			status = `<span class="bad">` + status + `</span>`
		}
		outcome := dash(x.Outcome)
		if x.Error != "" && x.Status != store.RunSucceeded {
			outcome = `<span class="err">` + esc(x.Error) + `</span>`
		}
		if x.UnderCapacity > 0 {
			outcome += fmt.Sprintf(` <span class="warn">started under capacity (%d)</span>`, x.UnderCapacity)
		}
		fmt.Fprintf(&b, `<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class="num">%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>`,
			fmtTime(x.CreatedAt), runLink(x.Key), esc(x.Job), status, dash(x.Class), x.Attempts, dash(x.Subnet), dash(x.AZ), dash(x.Strategy), outcome)
	}
	if len(runs) == 0 {
		msg := "No run matches."
		if len(q) == 0 {
			msg = "No data yet: no run recorded in the state store. Runs show here once gluenet run has started one."
		}
		b.WriteString(`<tr><td colspan="10" class="muted">` + msg + `</td></tr>`)
	}
	b.WriteString(`</tbody></table>`)
	if page.Next != "" {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("cursor", page.Next)
		b.WriteString(`<p><a href="/runs?` + esc(next.Encode()) + `">Older runs</a></p>`)
	}
	return "runs", b.String(), nil
}

// failuresChart draws, per hour of the window (per 5 minutes within a
// window of a few hours), the attempts that failed on placement, the other
// failed attempts and the attempts started under capacity.
func (s *Server) failuresChart(r *http.Request) (string, error) {
	sn, err := s.View.load(r.Context())
	if err != nil {
		return "", err
	}
	from, to := sn.since, sn.now
	step := time.Hour
	if to.Sub(from) <= 6*time.Hour {
		step = 5 * time.Minute
	}
	n := int(to.Sub(from)/step) + 1
	placement, other, short := make([]float64, n), make([]float64, n), make([]float64, n)
	seen := false
	for _, run := range sn.runs {
		for _, a := range sn.attempts[run.Key] {
			at := a.StartedAt
			if at.IsZero() {
				at = run.CreatedAt
			}
			i := int(at.Sub(from) / step)
			if i < 0 || i >= n {
				continue
			}
			seen = true
			switch {
			case a.Class == string(classify.Placement):
				placement[i]++
			case a.Class != "" && a.Class != string(classify.Succeeded):
				other[i]++
			}
			if p, ok := decodePlan(a.Plan); ok && p.UnderCapacity != nil {
				short[i]++
			}
		}
	}
	title := fmt.Sprintf("Failed attempts and short starts per %s, last %s (UTC)", strings.TrimSuffix(strings.TrimSuffix(step.String(), "0s"), "0m"), s.View.window())
	if !seen {
		return `<p class="muted">No data yet: no attempt within the last ` + esc(s.View.window().String()) + `.</p>`, nil
	}
	pts := func(vs []float64) []point {
		out := make([]point, n)
		for i, v := range vs {
			out[i] = point{from.Add(time.Duration(i) * step), v}
		}
		return out
	}
	return timeChart(title, from, to, []series{
		{"placement failures", "s-placement", pts(placement)},
		{"other failures", "s-other", pts(other)},
		{"started under capacity", "s-short", pts(short)},
	}, nil), nil
}

func (s *Server) runPage(r *http.Request) (string, string, error) {
	d, err := s.View.Run(r.Context(), r.PathValue("key"))
	if err != nil {
		return "", "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<h1>Run %s</h1><p class="note">Job <b>%s</b>: %s. Created %s, finished %s.</p>`,
		esc(d.Run.Key), esc(d.Run.Job), esc(string(d.Run.Status)), fmtTime(d.Run.CreatedAt), fmtTime(d.Run.FinishedAt))
	if d.Run.Outcome != "" {
		fmt.Fprintf(&b, `<p>Outcome: <b>%s</b></p>`, esc(d.Run.Outcome))
	}
	b.WriteString(`<h2>Attempts</h2><table id="attempts"><thead><tr><th>#</th><th>Order applied</th><th>Glue run</th><th>States</th><th>Subnet</th><th>Zone</th><th>Class</th><th>Error</th></tr></thead><tbody>`)
	for _, a := range d.Attempts {
		var states []string
		for _, sc := range a.States {
			states = append(states, esc(sc.State)+` <span class="muted">`+sc.At.UTC().Format("15:04:05")+`</span>`)
		}
		fmt.Fprintf(&b, `<tr><td class="num">%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>`,
			a.Number, dash(strings.Join(a.OrderApplied, ", ")), dash(a.GlueRunID), strings.Join(states, " → "), dash(a.Subnet), dash(a.AZ), dash(a.Class), dash(a.ErrorMessage))
	}
	if len(d.Attempts) == 0 {
		b.WriteString(`<tr><td colspan="8" class="muted">No attempt recorded yet.</td></tr>`)
	}
	b.WriteString(`</tbody></table>`)
	for _, a := range d.Attempts {
		var p gluenet.Plan
		if len(a.Plan) == 0 || json.Unmarshal(a.Plan, &p) != nil {
			continue
		}
		fmt.Fprintf(&b, `<h2>Attempt %d: ranking by %s</h2><p class="note">The run needs %d IPs; Glue starts one with at least %d.</p>`,
			a.Number, esc(p.Strategy), p.Need.IPs, p.Need.MinIPs)
		fmt.Fprintf(&b, `<table class="plan" id="plan-%d"><thead><tr><th>Rank</th><th>Connection</th><th>Subnet</th><th>Zone</th><th>Free IPs</th><th>Reserved</th><th>Group</th><th>Ejected until</th><th>Reason</th></tr></thead><tbody>`, a.Number)
		for _, pl := range p.Placements {
			free := `<span class="muted">unchecked</span>`
			if pl.Free != nil {
				free = strconv.Itoa(*pl.Free)
			}
			until := `<span class="muted">-</span>`
			if pl.EjectedUntil != nil {
				until = fmtTime(*pl.EjectedUntil)
			}
			reason := esc(pl.Reason)
			if pl.Problem != "" {
				reason += ` <span class="bad">` + esc(pl.Problem) + `</span>`
			}
			fmt.Fprintf(&b, `<tr><td class="num">%d</td><td>%s</td><td>%s</td><td>%s</td><td class="num">%s</td><td class="num">%d</td><td>%s</td><td>%s</td><td>%s</td></tr>`,
				pl.Rank, esc(pl.Connection), dash(pl.SubnetID), dash(pl.AZ), free, pl.Reserved, esc(pl.Group.String()), until, reason)
		}
		b.WriteString(`</tbody></table>`)
		for _, n := range p.Notes {
			b.WriteString(`<p class="note">` + esc(n) + `</p>`)
		}
		if len(p.Others) > 0 {
			b.WriteString(`<p class="note">Other connections of the job, kept after the ranked ones: ` + esc(strings.Join(p.Others, ", ")) + `</p>`)
		}
	}
	return "runs", b.String(), nil
}

func strategiesPage() string {
	var b strings.Builder
	b.WriteString(`<h1>Strategies</h1>
<p>Before every attempt gluenet reads the free IPs of the subnet behind each candidate connection (EC2's count minus the IPs reserved by runs that started but that EC2 may not count yet), and sorts the candidates into groups, best first:</p>
<ol><li><b>good</b>: at least the IPs the run needs (one per worker);</li>
<li><b>usable</b>: enough to start (the minimum), fewer than needed: the run would start under capacity;</li>
<li><b>insufficient</b>: too few for Glue to start a run at all;</li>
<li><b>unchecked</b>: discovery could not learn the subnet's free IPs.</li></ol>
<p>Subnets and zones that health memory has ejected (after repeated placement failures) go after the others for the time of the ejection. Within the groups, the strategy decides the order; Glue then uses the first connection that works, and gluenet writes that order into the job before starting the run.</p>`)
	b.WriteString(`<table id="strategies"><thead><tr><th>Strategy</th><th>Order within a group</th></tr></thead><tbody>`)
	for _, st := range Strategies() {
		fmt.Fprintf(&b, `<tr><td><code>%s</code></td><td>%s</td></tr>`, esc(st.Name), esc(st.Description))
	}
	b.WriteString(`</tbody></table><p class="note">Choose one with <code>gluenet run --strategy NAME</code> or <code>strategy:</code> in the config; <code>gluenet lab</code> compares them on simulated fleets.</p>`)
	return b.String()
}
