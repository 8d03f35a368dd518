package sim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// State is a snapshot of the region, as GET /_sim/state returns it.
type State struct {
	Now     time.Time     `json:"now"`
	Start   time.Time     `json:"start"`
	Region  string        `json:"region"`
	VPC     VPCState      `json:"vpc"`
	AZs     []AZInfo      `json:"azs"`
	Subnets []SubnetState `json:"subnets"`
	Runs    []RunState    `json:"runs"`
	Faults  FaultsState   `json:"faults"`
}

// VPCState is the region's VPC.
type VPCState struct {
	ID   string `json:"id"`
	CIDR string `json:"cidr"`
}

// AZInfo is a zone and its health.
type AZInfo struct {
	Name  string  `json:"name"`
	ID    string  `json:"id"`
	State AZState `json:"state"`
}

// SubnetState is a subnet with its free IPs both as they are and as EC2
// reports them (they differ during the ENI lag).
type SubnetState struct {
	ID              string `json:"id"`
	Name            string `json:"name,omitempty"`
	AZ              string `json:"availability_zone"`
	CIDR            string `json:"cidr"`
	Capacity        int    `json:"capacity"`
	FreeIPs         int    `json:"free_ips"`
	ReportedFreeIPs int    `json:"reported_free_ips"`
	ENIs            int    `json:"enis"`
	BackgroundENIs  int    `json:"background_enis"`
}

// RunState is a Glue job run and where it went.
type RunState struct {
	ID         string `json:"id"`
	Job        string `json:"job"`
	State      string `json:"state"`
	Connection string `json:"connection,omitempty"`
	// JobConnections is the job's connection order when the run started.
	JobConnections []string   `json:"job_connections,omitempty"`
	SubnetID       string     `json:"subnet_id,omitempty"`
	AZ             string     `json:"availability_zone,omitempty"`
	RequestedIPs   int        `json:"requested_ips"`
	AllocatedIPs   int        `json:"allocated_ips"`
	DriverIP       string     `json:"driver_ip,omitempty"`
	StartedOn      time.Time  `json:"started_on"`
	CompletedOn    *time.Time `json:"completed_on,omitempty"`
	Error          string     `json:"error,omitempty"`
	JobDeleted     bool       `json:"job_deleted,omitempty"`
	// StateDetail is Glue's reason while the run is WAITING (queue.go).
	StateDetail string `json:"state_detail,omitempty"`
}

// FaultsState is the API faults in force, and the subnets whose IPs other
// workloads hold beyond the scenario's `background:` (exhaust faults).
type FaultsState struct {
	Throttle     map[string]float64 `json:"throttle"`
	ServerErrors map[string]float64 `json:"server_errors"`
	Latency      map[string]string  `json:"latency"`
	Exhausted    []ExhaustedSubnet  `json:"exhausted"`
}

// ExhaustedSubnet is a subnet whose background ENIs differ from the
// scenario's: an exhaust fault is in force there.
type ExhaustedSubnet struct {
	SubnetID string `json:"subnet_id"`
	FreeIPs  int    `json:"free_ips"`
	// BackgroundENIs is how many ENIs other workloads hold now, and
	// ScenarioBackgroundENIs how many the scenario started with.
	BackgroundENIs         int `json:"background_enis"`
	ScenarioBackgroundENIs int `json:"scenario_background_enis"`
}

// scenarioBackground is the number of background ENIs the scenario puts in
// each subnet at the start.
func (r *Region) scenarioBackground() map[string]int {
	n := map[string]int{}
	for _, b := range r.sc.Background {
		n[b.Subnet] += b.ENIs
	}
	return n
}

// ResetFaults undoes every fault in force: every zone healthy, no
// throttling, server errors or added latency, and each subnet's background
// ENIs back to the scenario's `background:` count (the ENIs exhaust added go,
// newest first; the ones it removed come back). Runs and their ENIs are
// untouched, and entries of the scenario's fault timeline that are still to
// come apply at their time. It returns what it undid, in words.
func (r *Region) ResetFaults() ([]string, error) {
	defer r.lock()()
	var undone []string
	for _, name := range r.azOrder {
		if z := r.azs[name]; z.state != AZHealthy {
			undone = append(undone, fmt.Sprintf("zone %s %s -> healthy", name, z.state))
			z.state = AZHealthy
		}
	}
	for _, f := range []struct {
		what string
		m    map[string]float64
	}{{"throttle", r.faults.throttle}, {"errors", r.faults.errors}} {
		for _, svc := range slices.Sorted(maps.Keys(f.m)) {
			undone = append(undone, fmt.Sprintf("%s %s %v -> 0", f.what, svc, f.m[svc]))
			delete(f.m, svc)
		}
	}
	for _, svc := range slices.Sorted(maps.Keys(r.faults.latency)) {
		undone = append(undone, fmt.Sprintf("latency %s %v -> 0", svc, r.faults.latency[svc]))
		delete(r.faults.latency, svc)
	}
	want := r.scenarioBackground()
	have := r.backgroundENIs()
	for _, id := range r.subnetOrder {
		if have[id] == want[id] {
			continue
		}
		s := r.subnets[id]
		var bg []*eni
		for _, e := range r.enis {
			if e.background && e.subnetID == id {
				bg = append(bg, e)
			}
		}
		slices.SortFunc(bg, func(a, b *eni) int { return cmp.Compare(b.seq, a.seq) })
		for i := 0; i < have[id]-want[id]; i++ {
			r.deleteENI(bg[i])
		}
		for i := have[id]; i < want[id]; i++ {
			if _, err := r.addBackgroundENI(s); err != nil {
				return undone, fmt.Errorf("reset faults: background ENIs in %s: %w", id, err)
			}
		}
		undone = append(undone, fmt.Sprintf("exhaust %s: %d background ENIs -> %d, %d free IPs", id, have[id], want[id], s.free()))
	}
	r.log.Info("faults reset", "undone", len(undone))
	return undone, nil
}

// backgroundENIs counts the background ENIs per subnet.
func (r *Region) backgroundENIs() map[string]int {
	bg := map[string]int{}
	for _, e := range r.enis {
		if e.background {
			bg[e.subnetID]++
		}
	}
	return bg
}

// State returns a snapshot of the region at its current time.
func (r *Region) State() State {
	defer r.lock()()
	st := State{
		Now: r.now, Start: r.start, Region: r.sc.Region,
		VPC:     VPCState{ID: r.vpc.id, CIDR: r.vpc.prefix.String()},
		AZs:     []AZInfo{},
		Subnets: []SubnetState{},
		Runs:    []RunState{},
		Faults: FaultsState{
			Throttle: map[string]float64{}, ServerErrors: map[string]float64{}, Latency: map[string]string{},
			Exhausted: []ExhaustedSubnet{},
		},
	}
	for _, name := range r.azOrder {
		z := r.azs[name]
		st.AZs = append(st.AZs, AZInfo{Name: z.name, ID: z.id, State: z.state})
	}
	scenarioBG := r.scenarioBackground()
	enis, bg := map[string]int{}, map[string]int{}
	for _, e := range r.enis {
		enis[e.subnetID]++
		if e.background {
			bg[e.subnetID]++
		}
	}
	for _, id := range r.subnetOrder {
		s := r.subnets[id]
		st.Subnets = append(st.Subnets, SubnetState{
			ID: s.id, Name: s.name, AZ: s.az, CIDR: s.prefix.String(), Capacity: s.capacity(),
			FreeIPs: s.free(), ReportedFreeIPs: s.reportedFree(), ENIs: enis[id], BackgroundENIs: bg[id],
		})
		if want := scenarioBG[id]; bg[id] != want {
			st.Faults.Exhausted = append(st.Faults.Exhausted, ExhaustedSubnet{
				SubnetID: id, FreeIPs: s.free(), BackgroundENIs: bg[id], ScenarioBackgroundENIs: want,
			})
		}
	}
	for _, ru := range r.runOrder {
		rs := RunState{
			ID: ru.id, Job: ru.job, State: ru.state, Connection: ru.connection, SubnetID: ru.subnetID,
			AZ: ru.az, RequestedIPs: ru.ipsWanted, AllocatedIPs: len(ru.enis), DriverIP: ru.driverIP,
			StartedOn: ru.startedOn, Error: ru.errorMessage, JobDeleted: ru.hidden, JobConnections: ru.jobConnections,
			StateDetail: ru.stateDetail,
		}
		if !ru.completedOn.IsZero() {
			c := ru.completedOn
			rs.CompletedOn = &c
		}
		st.Runs = append(st.Runs, rs)
	}
	for k, v := range r.faults.throttle {
		st.Faults.Throttle[k] = v
	}
	for k, v := range r.faults.errors {
		st.Faults.ServerErrors[k] = v
	}
	for k, v := range r.faults.latency {
		st.Faults.Latency[k] = v.String()
	}
	return st
}

// Control API request bodies.
type (
	azRequest struct {
		AZ    string `json:"az"`
		State string `json:"state"`
	}
	rateRequest struct {
		Service string   `json:"service"`
		Rate    *float64 `json:"rate"`
	}
	latencyRequest struct {
		Service string `json:"service"`
		Latency string `json:"latency"`
	}
	exhaustRequest struct {
		SubnetID  string `json:"subnet_id"`
		LeaveFree *int   `json:"leave_free"`
	}
)

// resetAnswer is POST /_sim/reset's answer: what it undid.
type resetAnswer struct {
	OK     bool     `json:"ok"`
	Undone []string `json:"undone"`
}

// controlError is the control API's error body.
type controlError struct {
	Error string `json:"error"`
}

func writeControl(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"could not encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// decodeControl decodes a control request strictly: a misspelt field is an
// error rather than a silently ignored fault.
func decodeControl(req *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("invalid JSON body: data after the object")
	}
	return nil
}

// serveControl answers the control API; see the package documentation.
func (r *Region) serveControl(w http.ResponseWriter, req *http.Request) {
	path := strings.TrimPrefix(req.URL.Path, controlPrefix)
	get := map[string]func() any{
		"state": func() any { return r.State() },
		"stats": func() any { return r.Stats() },
	}
	post := map[string]func() error{
		"az": func() error {
			var in azRequest
			if err := decodeControl(req, &in); err != nil {
				return err
			}
			st, err := ParseAZState(in.State)
			if err != nil {
				return err
			}
			return r.SetAZState(in.AZ, st)
		},
		"throttle": func() error {
			var in rateRequest
			if err := decodeControl(req, &in); err != nil {
				return err
			}
			if in.Rate == nil {
				return errors.New("rate is required")
			}
			return r.SetThrottle(in.Service, *in.Rate)
		},
		"errors": func() error {
			var in rateRequest
			if err := decodeControl(req, &in); err != nil {
				return err
			}
			if in.Rate == nil {
				return errors.New("rate is required")
			}
			return r.SetServerErrors(in.Service, *in.Rate)
		},
		"latency": func() error {
			var in latencyRequest
			if err := decodeControl(req, &in); err != nil {
				return err
			}
			d, err := time.ParseDuration(in.Latency)
			if err != nil {
				return fmt.Errorf("latency must be a Go duration such as 20ms: %w", err)
			}
			return r.SetLatency(in.Service, d)
		},
		"exhaust": func() error {
			var in exhaustRequest
			if err := decodeControl(req, &in); err != nil {
				return err
			}
			if in.LeaveFree == nil {
				return errors.New("leave_free is required")
			}
			return r.Exhaust(in.SubnetID, *in.LeaveFree)
		},
		"stats/reset": func() error {
			r.ResetStats()
			return nil
		},
	}
	if path == "reset" {
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeControl(w, http.StatusMethodNotAllowed, controlError{"use POST for " + req.URL.Path})
			return
		}
		undone, err := r.ResetFaults()
		if err != nil {
			writeControl(w, http.StatusInternalServerError, controlError{err.Error()})
			return
		}
		writeControl(w, http.StatusOK, resetAnswer{OK: true, Undone: append([]string{}, undone...)})
		return
	}
	if f, ok := get[path]; ok {
		if req.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeControl(w, http.StatusMethodNotAllowed, controlError{"use GET for " + req.URL.Path})
			return
		}
		writeControl(w, http.StatusOK, f())
		return
	}
	if f, ok := post[path]; ok {
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeControl(w, http.StatusMethodNotAllowed, controlError{"use POST for " + req.URL.Path})
			return
		}
		if err := f(); err != nil {
			writeControl(w, http.StatusBadRequest, controlError{err.Error()})
			return
		}
		writeControl(w, http.StatusOK, map[string]bool{"ok": true})
		return
	}
	writeControl(w, http.StatusNotFound, controlError{"no control endpoint " + req.URL.Path +
		" (GET state, stats; POST az, throttle, errors, latency, exhaust, reset, stats/reset under /_sim/)"})
}

// ControlClient calls the control API of a running region, for
// `gluenet sim fault ...` and scripts.
type ControlClient struct {
	endpoint string
	hc       *http.Client
}

// NewControlClient returns a client for the region at endpoint (such as
// http://127.0.0.1:4566, or InProcessEndpoint with the region's
// HTTPClient). A nil hc uses http.DefaultClient.
func NewControlClient(endpoint string, hc *http.Client) *ControlClient {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &ControlClient{endpoint: strings.TrimRight(endpoint, "/"), hc: hc}
}

func (c *ControlClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+controlPrefix+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var ce controlError
		if json.Unmarshal(b, &ce) == nil && ce.Error != "" {
			return fmt.Errorf("simulated region: %s", ce.Error)
		}
		return fmt.Errorf("simulated region answered %s", resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}

// SetAZState sets a zone's health.
func (c *ControlClient) SetAZState(ctx context.Context, az string, state AZState) error {
	if err := c.do(ctx, http.MethodPost, "az", azRequest{AZ: az, State: string(state)}, nil); err != nil {
		return fmt.Errorf("set AZ %s %s: %w", az, state, err)
	}
	return nil
}

// SetThrottle sets the throttling rate of a service (or "*").
func (c *ControlClient) SetThrottle(ctx context.Context, service string, rate float64) error {
	if err := c.do(ctx, http.MethodPost, "throttle", rateRequest{Service: service, Rate: &rate}, nil); err != nil {
		return fmt.Errorf("set throttle of %s: %w", service, err)
	}
	return nil
}

// SetServerErrors sets the 5xx rate of a service (or "*").
func (c *ControlClient) SetServerErrors(ctx context.Context, service string, rate float64) error {
	if err := c.do(ctx, http.MethodPost, "errors", rateRequest{Service: service, Rate: &rate}, nil); err != nil {
		return fmt.Errorf("set server errors of %s: %w", service, err)
	}
	return nil
}

// SetLatency sets the added latency of a service (or "*").
func (c *ControlClient) SetLatency(ctx context.Context, service string, d time.Duration) error {
	if err := c.do(ctx, http.MethodPost, "latency", latencyRequest{Service: service, Latency: d.String()}, nil); err != nil {
		return fmt.Errorf("set latency of %s: %w", service, err)
	}
	return nil
}

// Exhaust fills a subnet with background ENIs so leaveFree IPs stay free.
func (c *ControlClient) Exhaust(ctx context.Context, subnetID string, leaveFree int) error {
	if err := c.do(ctx, http.MethodPost, "exhaust", exhaustRequest{SubnetID: subnetID, LeaveFree: &leaveFree}, nil); err != nil {
		return fmt.Errorf("exhaust %s: %w", subnetID, err)
	}
	return nil
}

// ResetFaults undoes every fault in force (see Region.ResetFaults) and
// returns what it undid.
func (c *ControlClient) ResetFaults(ctx context.Context) ([]string, error) {
	var ans resetAnswer
	if err := c.do(ctx, http.MethodPost, "reset", nil, &ans); err != nil {
		return nil, fmt.Errorf("reset faults: %w", err)
	}
	return ans.Undone, nil
}

// GetState returns a snapshot of the region.
func (c *ControlClient) GetState(ctx context.Context) (State, error) {
	var st State
	if err := c.do(ctx, http.MethodGet, "state", nil, &st); err != nil {
		return State{}, fmt.Errorf("get state: %w", err)
	}
	return st, nil
}

// Stats returns the region's call counters.
func (c *ControlClient) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	if err := c.do(ctx, http.MethodGet, "stats", nil, &st); err != nil {
		return Stats{}, fmt.Errorf("get stats: %w", err)
	}
	return st, nil
}

// ResetStats sets the region's call counters back to zero.
func (c *ControlClient) ResetStats(ctx context.Context) error {
	if err := c.do(ctx, http.MethodPost, "stats/reset", nil, nil); err != nil {
		return fmt.Errorf("reset stats: %w", err)
	}
	return nil
}
