package sim

import (
	"fmt"
	"maps"
	"time"
)

// faultState holds the API faults per service.
type faultState struct {
	throttle map[string]float64
	errors   map[string]float64
	latency  map[string]time.Duration
}

func newFaultState() faultState {
	return faultState{throttle: map[string]float64{}, errors: map[string]float64{}, latency: map[string]time.Duration{}}
}

func expand(service string) []string {
	if service == "*" {
		return Services
	}
	return []string{service}
}

func (f faultState) set(m map[string]float64, service string, rate float64) error {
	if err := checkService(service); err != nil {
		return err
	}
	if rate < 0 || rate > 1 || rate != rate {
		return fmt.Errorf("rate must be in [0, 1], got %v", rate)
	}
	for _, s := range expand(service) {
		if rate == 0 {
			delete(m, s)
		} else {
			m[s] = rate
		}
	}
	return nil
}

func (f faultState) setLatency(service string, d time.Duration) error {
	if err := checkService(service); err != nil {
		return err
	}
	if d < 0 {
		return fmt.Errorf("latency must not be negative, got %v", d)
	}
	for _, s := range expand(service) {
		if d == 0 {
			delete(f.latency, s)
		} else {
			f.latency[s] = d
		}
	}
	return nil
}

// SetThrottle makes a share rate of a service's calls fail with its
// throttling error (glue, logs: ThrottlingException; ec2:
// RequestLimitExceeded). Service "*" means all; rate 0 turns it off.
func (r *Region) SetThrottle(service string, rate float64) error {
	defer r.lock()()
	if err := r.faults.set(r.faults.throttle, service, rate); err != nil {
		return fmt.Errorf("set throttle: %w", err)
	}
	r.log.Info("throttling set", "service", service, "rate", rate)
	return nil
}

// SetServerErrors makes a share rate of a service's calls fail with a 500
// (glue: InternalServiceException, logs: ServiceUnavailableException, ec2:
// InternalError).
func (r *Region) SetServerErrors(service string, rate float64) error {
	defer r.lock()()
	if err := r.faults.set(r.faults.errors, service, rate); err != nil {
		return fmt.Errorf("set server errors: %w", err)
	}
	r.log.Info("server errors set", "service", service, "rate", rate)
	return nil
}

// SetLatency adds d to every call of a service, waited through WithSleep.
func (r *Region) SetLatency(service string, d time.Duration) error {
	defer r.lock()()
	if err := r.faults.setLatency(service, d); err != nil {
		return fmt.Errorf("set latency: %w", err)
	}
	r.log.Info("latency set", "service", service, "latency", d)
	return nil
}

// verdict is what the faults decide for one call.
type verdict struct {
	throttled, serverError bool
	latency                time.Duration
}

// preflight counts a call and rolls its faults. Throttling is decided
// first; a throttled call is not also a server error.
func (r *Region) preflight(service, op string) verdict {
	defer r.lock()()
	st := r.serviceStats(service)
	st.Calls++
	st.Operations[op]++
	var v verdict
	v.latency = r.faults.latency[service]
	if rate := r.faults.throttle[service]; rate > 0 && r.rngFault.Float64() < rate {
		v.throttled = true
		st.Throttled++
		return v
	}
	if rate := r.faults.errors[service]; rate > 0 && r.rngFault.Float64() < rate {
		v.serverError = true
		st.ServerErrors++
	}
	return v
}

// countClientError records an error answer of an operation.
func (r *Region) countClientError(service string) {
	r.mu.Lock()
	r.serviceStats(service).Errors++
	r.mu.Unlock()
}

func (r *Region) serviceStats(service string) *ServiceStats {
	st, ok := r.stats[service]
	if !ok {
		st = &ServiceStats{Operations: map[string]int{}}
		r.stats[service] = st
	}
	return st
}

// ServiceStats counts the calls of one service.
type ServiceStats struct {
	// Calls counts every call, including throttled and failed ones.
	Calls int `json:"calls"`
	// Throttled counts calls refused by injected throttling.
	Throttled int `json:"throttled"`
	// ServerErrors counts injected 5xx answers.
	ServerErrors int `json:"server_errors"`
	// Errors counts error answers of the operations themselves (not found,
	// invalid input, ...), not injected faults.
	Errors int `json:"errors"`
	// Operations counts calls per operation name.
	Operations map[string]int `json:"operations"`
}

// Stats counts API calls per service ("glue", "ec2", "logs", and "unknown"
// for requests that name no known service).
type Stats struct {
	Services map[string]ServiceStats `json:"services"`
}

// TotalCalls is the number of calls to all services.
func (s Stats) TotalCalls() int {
	n := 0
	for _, st := range s.Services {
		n += st.Calls
	}
	return n
}

// Calls is the number of calls of one operation of a service.
func (s Stats) Calls(service, op string) int {
	return s.Services[service].Operations[op]
}

// Stats returns a copy of the call counters.
func (r *Region) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := Stats{Services: map[string]ServiceStats{}}
	for name, st := range r.stats {
		c := *st
		c.Operations = maps.Clone(st.Operations)
		out.Services[name] = c
	}
	return out
}

// ResetStats sets every counter back to zero.
func (r *Region) ResetStats() {
	r.mu.Lock()
	r.stats = map[string]*ServiceStats{}
	r.mu.Unlock()
}
