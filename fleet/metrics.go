package fleet

import (
	"bytes"
	"cmp"
	"context"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/internal/httpstatus"
	"github.com/gluenet/gluenet/store"
)

// ScrapeTimeout bounds the store reads of one scrape.
const ScrapeTimeout = 10 * time.Second

// Buckets of the histograms.
var (
	attemptBuckets = []float64{1, 2, 3, 4, 5, 7, 10}
	// Decisions take from a fraction of a second (warm cache) to tens of
	// seconds (throttling, a busy job lock).
	decisionBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	// Glue takes from seconds to several minutes to get a run's workers.
	runningBuckets = []float64{5, 10, 30, 60, 120, 300, 600, 1200, 1800}
)

// collector reads the store on every scrape.
type collector struct {
	view *View
	up, subnetFree, subnetFreeAfter, subnetReserved, subnetObserved, subnetEjected, subnetStale, zoneEjected,
	started, finished, underCapacity, placementFailures, attempts, decision, running,
	windowRuns, windowSeconds *prometheus.Desc
}

// The label of the Glue job is glue_job: Prometheus sets job (and
// instance) on every series it scrapes, and would rename a job label of
// ours to exported_job.
func newCollector(v *View) *collector {
	sub := []string{"subnet", "availability_zone"}
	return &collector{
		view: v,
		up:   prometheus.NewDesc("gluenet_store_up", "1 when the last scrape could read the state store, else 0.", nil, nil),
		subnetFree: prometheus.NewDesc("gluenet_subnet_free_ips",
			"Free IPs of the subnet as EC2 reported them (AvailableIpAddressCount) at the last observation (see gluenet_subnet_observed_timestamp_seconds for its age).", sub, nil),
		subnetFreeAfter: prometheus.NewDesc("gluenet_subnet_free_ips_after_reservations",
			"Free IPs of the subnet minus the IPs reserved now by runs in flight: what a ranking uses.", sub, nil),
		subnetReserved: prometheus.NewDesc("gluenet_subnet_reserved_ips",
			"IPs reserved in the subnet by runs in flight that EC2 may not count yet.", sub, nil),
		subnetObserved: prometheus.NewDesc("gluenet_subnet_observed_timestamp_seconds",
			"When the subnet's free IPs were last observed (by a run's discovery or the --watch sampler).", sub, nil),
		subnetEjected: prometheus.NewDesc("gluenet_subnet_ejected",
			"1 while health memory ejects the subnet, else 0.", sub, nil),
		subnetStale: prometheus.NewDesc("gluenet_subnet_stale",
			"1 when the subnet's last free-IP observation is older than serve's --window, else 0: the subnet stays listed, its figures are old.", sub, nil),
		zoneEjected: prometheus.NewDesc("gluenet_zone_ejected",
			"1 while health memory ejects the Availability Zone, else 0.", []string{"availability_zone"}, nil),
		started: prometheus.NewDesc("gluenet_runs_started_total",
			"Runs recorded in the state store, by Glue job (counted from the store's history when serve started).", []string{"glue_job"}, nil),
		finished: prometheus.NewDesc("gluenet_runs_finished_total",
			"Runs that reached a final status, by Glue job, status and the failure class of their last attempt.", []string{"glue_job", "status", "class"}, nil),
		underCapacity: prometheus.NewDesc("gluenet_runs_under_capacity_total",
			"Attempts started although no healthy subnet had free IPs for their whole need (the plan's under_capacity), by Glue job.", []string{"glue_job"}, nil),
		placementFailures: prometheus.NewDesc("gluenet_placement_failures_total",
			"Attempts that failed to get or keep their network (class placement), by subnet and zone.", sub, nil),
		attempts: prometheus.NewDesc("gluenet_run_attempts",
			"Attempts per run, observed when the run finishes.", nil, nil),
		decision: prometheus.NewDesc("gluenet_decision_latency_seconds",
			"From a run's record to its first attempt's UpdateJob: discovery, ranking and the job lock.", nil, nil),
		running: prometheus.NewDesc("gluenet_time_to_running_seconds",
			"From an attempt's start (UpdateJob) to Glue reporting RUNNING.", nil, nil),
		windowRuns: prometheus.NewDesc("gluenet_window_runs",
			"Runs created within serve's --window (gluenet_window_seconds), by Glue job, status now and failure class: a gauge that goes down as runs leave the window; use the _total counters for rates.", []string{"glue_job", "status", "class"}, nil),
		windowSeconds: prometheus.NewDesc("gluenet_window_seconds",
			"Length of serve's --window, which the gluenet_window_ gauges cover.", nil, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.subnetFree, c.subnetFreeAfter, c.subnetReserved, c.subnetObserved,
		c.subnetEjected, c.subnetStale, c.zoneEjected, c.started, c.finished, c.underCapacity, c.placementFailures,
		c.attempts, c.decision, c.running, c.windowRuns, c.windowSeconds} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	sn, err := c.view.load(ctx)
	if err != nil {
		c.view.log().Warn("metrics: cannot read the state store", "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	f := sn.fleet()
	for _, s := range f.Subnets {
		ch <- prometheus.MustNewConstMetric(c.subnetFree, prometheus.GaugeValue, float64(s.FreeIPs), s.SubnetID, s.AZ)
		ch <- prometheus.MustNewConstMetric(c.subnetFreeAfter, prometheus.GaugeValue, float64(s.FreeAfterReservations), s.SubnetID, s.AZ)
		ch <- prometheus.MustNewConstMetric(c.subnetReserved, prometheus.GaugeValue, float64(s.ReservedIPs), s.SubnetID, s.AZ)
		ch <- prometheus.MustNewConstMetric(c.subnetObserved, prometheus.GaugeValue, float64(s.ObservedAt.UnixMilli())/1e3, s.SubnetID, s.AZ)
		ch <- prometheus.MustNewConstMetric(c.subnetEjected, prometheus.GaugeValue, b2f(s.Ejected), s.SubnetID, s.AZ)
		ch <- prometheus.MustNewConstMetric(c.subnetStale, prometheus.GaugeValue, b2f(s.Stale), s.SubnetID, s.AZ)
	}
	for _, z := range f.Zones {
		ch <- prometheus.MustNewConstMetric(c.zoneEjected, prometheus.GaugeValue, b2f(z.Ejected), z.AZ)
	}
	n := sn.counts
	for job, v := range n.started {
		ch <- prometheus.MustNewConstMetric(c.started, prometheus.CounterValue, v, job)
	}
	// Every job has its finished series at 0 from the start, for every
	// status and class a run can end with, and every subnet its placement
	// failures: increase() and rate() miss the first count of a series
	// that appears only when it is 1.
	finished := map[finishKey]float64{}
	for job := range n.started {
		for _, k := range finishKeys(job) {
			finished[k] = 0
		}
	}
	for k, v := range n.finished {
		finished[k] = v
	}
	for k, v := range finished {
		ch <- prometheus.MustNewConstMetric(c.finished, prometheus.CounterValue, v, k.job, k.status, k.class)
	}
	for job := range n.started {
		ch <- prometheus.MustNewConstMetric(c.underCapacity, prometheus.CounterValue, n.underCapacity[job], job)
	}
	placement := map[placeKey]float64{}
	for _, s := range f.Subnets {
		placement[placeKey{s.SubnetID, s.AZ}] = 0
	}
	for k, v := range n.placement {
		placement[k] = v
	}
	for k, v := range placement {
		ch <- prometheus.MustNewConstMetric(c.placementFailures, prometheus.CounterValue, v, k.subnet, k.az)
	}
	ch <- n.attempts.metric(c.attempts)
	ch <- n.decision.metric(c.decision)
	ch <- n.running.metric(c.running)
	window := map[finishKey]int{}
	for _, r := range sn.runs {
		window[finishKey{r.Job, string(r.Status), classLabel(summarize(r, sn.attempts[r.Key]).Class)}]++
	}
	for k, v := range window {
		ch <- prometheus.MustNewConstMetric(c.windowRuns, prometheus.GaugeValue, float64(v), k.job, k.status, k.class)
	}
	ch <- prometheus.MustNewConstMetric(c.windowSeconds, prometheus.GaugeValue, sn.now.Sub(sn.since).Seconds())
}

// noClass is the class label of a run none of whose attempts has a class
// (it ended before Glue said anything): an empty label is no label to
// Prometheus.
const noClass = "none"

func classLabel(c string) string { return cmp.Or(c, noClass) }

// finishKeys are the status and class pairs a job's runs can finish with:
// succeeded with class succeeded; failed or interrupted with a failure
// class, or none.
func finishKeys(job string) []finishKey {
	out := []finishKey{{job, string(store.RunSucceeded), string(classify.Succeeded)}}
	for _, st := range []store.RunStatus{store.RunFailed, store.RunInterrupted} {
		out = append(out, finishKey{job, string(st), noClass})
		for _, c := range failureClasses {
			out = append(out, finishKey{job, string(st), string(c)})
		}
	}
	return out
}

// failureClasses are classify's classes but succeeded.
var failureClasses = []classify.Class{classify.Placement, classify.JobCode, classify.Timeout, classify.Stopped,
	classify.Throttling, classify.Capacity, classify.NotFound, classify.Validation, classify.ConcurrentRuns,
	classify.Conflict, classify.AccessDenied, classify.Credentials, classify.Config, classify.Network,
	classify.Canceled, classify.Unknown}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// hist accumulates a constant histogram.
type hist struct {
	bounds []float64
	counts map[float64]uint64
	n      uint64
	sum    float64
}

func newHist(bounds []float64) *hist {
	h := &hist{bounds: bounds, counts: make(map[float64]uint64, len(bounds))}
	for _, b := range bounds {
		h.counts[b] = 0 // every bucket shows, empty ones too
	}
	return h
}

func (h *hist) observe(v float64) {
	h.n++
	h.sum += v
	for _, b := range h.bounds {
		if v <= b {
			h.counts[b]++
		}
	}
}

func (h *hist) metric(d *prometheus.Desc) prometheus.Metric {
	return prometheus.MustNewConstHistogram(d, h.n, h.sum, h.counts)
}

// httpMetrics are the metrics of serve's own requests.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gluenet_http_requests_total",
			Help: "HTTP requests gluenet serve answered, by route and status code."}, []string{"handler", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gluenet_http_request_duration_seconds",
			Help:    "Time gluenet serve took to answer, by route.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}}, []string{"handler"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// instrument counts and times the requests by the mux's route pattern
// ("GET /api/v1/runs"; "other" for what no route matched), never by the
// raw path, whose values a client chooses.
func (m *httpMetrics) instrument(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &httpstatus.Writer{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		_, pattern := mux.Handler(r)
		if pattern == "" {
			pattern = "other"
		}
		m.requests.WithLabelValues(pattern, strconv.Itoa(cmp.Or(sw.Code, http.StatusOK))).Inc()
		m.duration.WithLabelValues(pattern).Observe(time.Since(start).Seconds())
	})
}

// samplerCollector exposes the --watch sampler's outcomes.
type samplerCollector struct {
	s                    *Sampler
	samples, lastSuccess *prometheus.Desc
}

func (c *samplerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.samples; ch <- c.lastSuccess }

func (c *samplerCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.samples, prometheus.CounterValue, float64(c.s.ok.Load()), "ok")
	ch <- prometheus.MustNewConstMetric(c.samples, prometheus.CounterValue, float64(c.s.failed.Load()), "error")
	if t := c.s.lastOK.Load(); t != 0 {
		ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, float64(t)/1e3)
	}
}

// registry is every metric of serve: the store's, the sampler's, the
// build's, the Go runtime's and the process's.
func (s *Server) registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(s.View),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gluenet_build_info",
			Help:        "Always 1; the labels name the gluenet build that serves.",
			ConstLabels: prometheus.Labels{"version": cmp.Or(s.Version, "(devel)"), "goversion": runtime.Version()}},
			func() float64 { return 1 }))
	if s.Sampler != nil {
		reg.MustRegister(&samplerCollector{s: s.Sampler,
			samples: prometheus.NewDesc("gluenet_sampler_samples_total",
				"Free-IP samples the --watch sampler took (result ok) or could not take (result error: see serve's log).", []string{"result"}, nil),
			lastSuccess: prometheus.NewDesc("gluenet_sampler_last_success_timestamp_seconds",
				"When the --watch sampler last stored a sample.", nil, nil)})
	}
	return reg
}

// metricsHandler serves the registry in the Prometheus text format
// (version 0.0.4, which every Prometheus server and promtool read). It
// encodes with expfmt.MetricFamilyToText rather than promhttp: promhttp
// negotiates the protobuf and OpenMetrics formats and gzip, which links
// their encoders (0.43 MB of the binary, issue 12) for no metric gluenet
// has (its metrics carry no exemplars or created timestamps). As with
// promhttp.ContinueOnError, a gathering error is logged and the metrics
// that could be gathered are still served.
func (s *Server) metricsHandler(reg *prometheus.Registry) http.Handler {
	contentType := string(expfmt.NewFormat(expfmt.TypeTextPlain))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mfs, err := reg.Gather()
		if err != nil {
			s.log().WarnContext(r.Context(), "gathering metrics", "err", err)
		}
		var buf bytes.Buffer
		for _, mf := range mfs {
			if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
				s.log().ErrorContext(r.Context(), "encoding metrics", "family", mf.GetName(), "err", err)
				http.Error(w, "encoding metrics: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(buf.Bytes())
	})
}
