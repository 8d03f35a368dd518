package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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

// FaultsState is the API faults in force.
type FaultsState struct {
	Throttle     map[string]float64 `json:"throttle"`
	ServerErrors map[string]float64 `json:"server_errors"`
	Latency      map[string]string  `json:"latency"`
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
		},
	}
	for _, name := range r.azOrder {
		z := r.azs[name]
		st.AZs = append(st.AZs, AZInfo{Name: z.name, ID: z.id, State: z.state})
	}
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
		" (GET state, stats; POST az, throttle, errors, latency, exhaust, stats/reset under /_sim/)"})
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
