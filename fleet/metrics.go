package fleet

import (
	"bytes"
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/gluenet/gluenet/classify"
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
	up, subnetFree, subnetFreeAfter, subnetReserved, subnetObserved, subnetEjected, zoneEjected,
	runs, placementFailures, attempts, decision, running *prometheus.Desc
}

func newCollector(v *View) *collector {
	sub := []string{"subnet", "availability_zone"}
	return &collector{
		view: v,
		up:   prometheus.NewDesc("gluenet_store_up", "1 when the last scrape could read the state store, else 0.", nil, nil),
		subnetFree: prometheus.NewDesc("gluenet_subnet_free_ips",
			"Free IPs of the subnet as EC2 reported them (AvailableIpAddressCount) at the last observation.", sub, nil),
		subnetFreeAfter: prometheus.NewDesc("gluenet_subnet_free_ips_after_reservations",
			"Free IPs of the subnet minus the IPs reserved now by runs in flight: what a ranking uses.", sub, nil),
		subnetReserved: prometheus.NewDesc("gluenet_subnet_reserved_ips",
			"IPs reserved in the subnet by runs in flight that EC2 may not count yet.", sub, nil),
		subnetObserved: prometheus.NewDesc("gluenet_subnet_observed_timestamp_seconds",
			"When the subnet's free IPs were last observed (by a run's discovery or the --watch sampler).", sub, nil),
		subnetEjected: prometheus.NewDesc("gluenet_subnet_ejected",
			"1 while health memory ejects the subnet, else 0.", sub, nil),
		zoneEjected: prometheus.NewDesc("gluenet_zone_ejected",
			"1 while health memory ejects the Availability Zone, else 0.", []string{"availability_zone"}, nil),
		runs: prometheus.NewDesc("gluenet_runs",
			"Runs created within the window, by job, status and the failure class of their last attempt.", []string{"job", "status", "class"}, nil),
		placementFailures: prometheus.NewDesc("gluenet_placement_failures",
			"Attempts that failed to get or keep their network (class placement) within the window, by subnet and zone.", sub, nil),
		attempts: prometheus.NewDesc("gluenet_run_attempts",
			"Attempts per run, for the runs created within the window.", nil, nil),
		decision: prometheus.NewDesc("gluenet_decision_latency_seconds",
			"From a run's record to its first attempt's UpdateJob: discovery, ranking and the job lock, within the window.", nil, nil),
		running: prometheus.NewDesc("gluenet_time_to_running_seconds",
			"From an attempt's start (UpdateJob) to Glue reporting RUNNING, within the window.", nil, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.subnetFree, c.subnetFreeAfter, c.subnetReserved, c.subnetObserved,
		c.subnetEjected, c.zoneEjected, c.runs, c.placementFailures, c.attempts, c.decision, c.running} {
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
	}
	for _, z := range f.Zones {
		ch <- prometheus.MustNewConstMetric(c.zoneEjected, prometheus.GaugeValue, b2f(z.Ejected), z.AZ)
	}
	type runKey struct{ job, status, class string }
	runs := map[runKey]int{}
	type placeKey struct{ subnet, az string }
	failures := map[placeKey]int{}
	attempts, decision, running := newHist(attemptBuckets), newHist(decisionBuckets), newHist(runningBuckets)
	for _, r := range sn.runs {
		as := sn.attempts[r.Key]
		s := summarize(r, as)
		runs[runKey{r.Job, string(r.Status), s.Class}]++
		if len(as) > 0 {
			attempts.observe(float64(len(as)))
			if first := as[0]; !first.StartedAt.IsZero() && !first.StartedAt.Before(r.CreatedAt) {
				decision.observe(first.StartedAt.Sub(r.CreatedAt).Seconds())
			}
		}
		for _, a := range as {
			if a.Class == string(classify.Placement) {
				failures[placeKey{a.Subnet, a.AZ}]++
			}
			if a.StartedAt.IsZero() {
				continue
			}
			for _, st := range a.States {
				if st.State == "RUNNING" {
					if !st.At.Before(a.StartedAt) {
						running.observe(st.At.Sub(a.StartedAt).Seconds())
					}
					break
				}
			}
		}
	}
	for k, n := range runs {
		ch <- prometheus.MustNewConstMetric(c.runs, prometheus.GaugeValue, float64(n), k.job, k.status, k.class)
	}
	for k, n := range failures {
		ch <- prometheus.MustNewConstMetric(c.placementFailures, prometheus.GaugeValue, float64(n), k.subnet, k.az)
	}
	ch <- attempts.metric(c.attempts)
	ch <- decision.metric(c.decision)
	ch <- running.metric(c.running)
}

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

// metricsHandler serves the registry in the Prometheus text format
// (version 0.0.4, which every Prometheus server and promtool read). It
// encodes with expfmt.MetricFamilyToText rather than promhttp: promhttp
// negotiates the protobuf and OpenMetrics formats and gzip, which links
// their encoders (0.43 MB of the binary, issue 12) for no metric gluenet
// has (its metrics carry no exemplars or created timestamps). As with
// promhttp.ContinueOnError, a gathering error is logged and the metrics
// that could be gathered are still served.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(s.View))
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
