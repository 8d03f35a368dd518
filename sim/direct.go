package sim

import (
	"maps"
	"slices"
	"time"
)

// Direct entry points into the model, for the strategy lab: the calls
// gluenet makes (GetJob, GetConnection, DescribeSubnets, UpdateJob,
// StartJobRun, GetJobRun) without the HTTP round trip and the JSON and
// query encodings, so that a fleet of ten thousand runs simulates in
// seconds. Each one goes through the same steps as its HTTP handler:
// preflight (call counting, injected throttling and server errors), then
// the region's lock (which applies the events due by the clock), then the
// same internal function. Injected latency is not applied: it is wall-clock
// time, which the lab does not spend.

// DirectError is an error answer of a direct call, with the code, message
// and HTTP status the HTTP endpoint would have sent.
type DirectError struct {
	Code    string
	Message string
	Status  int
}

func (e *DirectError) Error() string { return e.Code + ": " + e.Message }

func directErr(e *apiError) error {
	if e == nil {
		return nil
	}
	return &DirectError{Code: e.code, Message: e.msg, Status: e.status}
}

// directFault runs the preflight of a call and returns the injected fault's
// error, the same codes the HTTP handlers answer with.
func (r *Region) directFault(service, op string) error {
	v := r.preflight(service, op)
	switch {
	case v.throttled && service == "ec2":
		return &DirectError{Code: "RequestLimitExceeded", Message: "Request limit exceeded.", Status: 503}
	case v.throttled:
		return &DirectError{Code: "ThrottlingException", Message: "Rate exceeded", Status: 400}
	case v.serverError && service == "ec2":
		return &DirectError{Code: "InternalError", Message: "An internal error has occurred.", Status: 500}
	case v.serverError && service == "glue":
		return &DirectError{Code: "InternalServiceException", Message: "Internal service error (simulated)", Status: 500}
	case v.serverError:
		return &DirectError{Code: "ServiceUnavailableException", Message: "The service cannot complete the request (simulated).", Status: 500}
	}
	return nil
}

func (r *Region) directClientError(service string, e *apiError) error {
	r.countClientError(service)
	return directErr(e)
}

// DirectJob is what GetJob says about a job, as far as gluenet uses it.
type DirectJob struct {
	Name string
	// Workers is NumberOfWorkers, 0 when the job is sized in DPUs.
	Workers int
	// Connections is the job's connection list, in order.
	Connections []string
}

// DirectGetJob is GetJob.
func (r *Region) DirectGetJob(name string) (DirectJob, error) {
	if err := r.directFault("glue", "GetJob"); err != nil {
		return DirectJob{}, err
	}
	unlock := r.lock()
	j, ok := r.jobs[name]
	if !ok {
		unlock()
		return DirectJob{}, r.directClientError("glue", errNotFound("Job %s not found", name))
	}
	out := DirectJob{Name: j.name, Workers: j.spec.workers, Connections: slices.Clone(j.spec.connections)}
	unlock()
	return out, nil
}

// DirectConnection is what GetConnection says about a connection's network.
type DirectConnection struct {
	Name     string
	SubnetID string
	// AZ is PhysicalConnectionRequirements.AvailabilityZone, "" when unset.
	AZ string
}

// DirectGetConnection is GetConnection.
func (r *Region) DirectGetConnection(name string) (DirectConnection, error) {
	if err := r.directFault("glue", "GetConnection"); err != nil {
		return DirectConnection{}, err
	}
	unlock := r.lock()
	c, ok := r.conns[name]
	if !ok {
		unlock()
		return DirectConnection{}, r.directClientError("glue", errNotFound("Connection %s not found.", name))
	}
	out := DirectConnection{Name: c.name, SubnetID: c.subnetID}
	if pcr, ok := c.def["PhysicalConnectionRequirements"].(map[string]any); ok {
		out.AZ, _ = pcr["AvailabilityZone"].(string)
	}
	unlock()
	return out, nil
}

// DirectSubnet is a subnet as DescribeSubnets shows it.
type DirectSubnet struct {
	ID string
	AZ string
	// AvailableIPs is EC2's AvailableIpAddressCount: it lags behind the
	// ENIs of runs that started less than eni.lag ago.
	AvailableIPs int
	// CIDR is the subnet's CidrBlock.
	CIDR string
}

// DirectDescribeSubnets is DescribeSubnets with a subnet-id filter: it
// returns the subnets among ids that exist, in the region's order.
func (r *Region) DirectDescribeSubnets(ids []string) ([]DirectSubnet, error) {
	if err := r.directFault("ec2", "DescribeSubnets"); err != nil {
		return nil, err
	}
	defer r.lock()()
	var out []DirectSubnet
	for _, id := range r.subnetOrder {
		if !slices.Contains(ids, id) {
			continue
		}
		s := r.subnets[id]
		out = append(out, DirectSubnet{ID: s.id, AZ: s.az, AvailableIPs: s.reportedFree(), CIDR: s.prefix.String()})
	}
	return out, nil
}

// DirectSetJobConnections is UpdateJob with the job's own definition and a
// new connection list, which is what gluenet's ApplyOrder sends.
func (r *Region) DirectSetJobConnections(job string, connections []string) error {
	if err := r.directFault("glue", "UpdateJob"); err != nil {
		return err
	}
	unlock := r.lock()
	j, ok := r.jobs[job]
	if !ok {
		unlock()
		return r.directClientError("glue", errNotFound("Job %s not found", job))
	}
	// The stored definition is never mutated: a copy carries the change.
	def := maps.Clone(j.def)
	def["Connections"] = map[string]any{"Connections": stringsToAny(connections)}
	aerr := r.putJob(job, def, false)
	unlock()
	if aerr != nil {
		return r.directClientError("glue", aerr)
	}
	return nil
}

// DirectStartJobRun is StartJobRun with the job's own settings.
func (r *Region) DirectStartJobRun(job string) (string, error) {
	return r.DirectStartJobRunWith(job, DirectStartOptions{})
}

// DirectStartOptions are the StartJobRun parameters a direct call may set.
type DirectStartOptions struct {
	// JobRunQueuingEnabled overrides the job's setting when not nil.
	JobRunQueuingEnabled *bool
	// Arguments are the run's own arguments.
	Arguments map[string]string
}

// DirectStartJobRunWith is StartJobRun with the job's settings and the
// given overrides.
func (r *Region) DirectStartJobRunWith(job string, o DirectStartOptions) (string, error) {
	if err := r.directFault("glue", "StartJobRun"); err != nil {
		return "", err
	}
	unlock := r.lock()
	ru, aerr := r.startJobRun(startRunInput{JobName: job, Arguments: maps.Clone(o.Arguments), JobRunQueuingEnabled: o.JobRunQueuingEnabled})
	unlock()
	if aerr != nil {
		return "", r.directClientError("glue", aerr)
	}
	return ru.id, nil
}

// DirectRun is what GetJobRun says about a run.
type DirectRun struct {
	ID           string
	State        string
	ErrorMessage string
	// StateDetail is Glue's reason for a WAITING run ("Resource
	// unavailable", "Max concurrent job runs per job exceeded"), else "".
	StateDetail string
}

// DirectGetJobRun is GetJobRun.
func (r *Region) DirectGetJobRun(job, runID string) (DirectRun, error) {
	if err := r.directFault("glue", "GetJobRun"); err != nil {
		return DirectRun{}, err
	}
	unlock := r.lock()
	var aerr *apiError
	var out DirectRun
	if _, ok := r.jobs[job]; !ok {
		aerr = errNotFound("Job %s not found", job)
	} else if ru, ok := r.runs[runID]; !ok || ru.hidden || ru.job != job {
		aerr = errNotFound("Job Run Id %s not found for job %s", runID, job)
	} else {
		out = DirectRun{ID: ru.id, State: ru.state, ErrorMessage: ru.errorMessage, StateDetail: ru.stateDetail}
	}
	unlock()
	if aerr != nil {
		return DirectRun{}, r.directClientError("glue", aerr)
	}
	return out, nil
}

// RunRecord is what the model knows about a run after the fact: where Glue
// placed it and with how many IPs, for the lab's metrics. It is not part
// of any AWS API.
type RunRecord struct {
	ID           string
	Job          string
	State        string
	SubnetID     string
	AZ           string
	RequestedIPs int
	AllocatedIPs int
	StartedOn    time.Time
	// RunningSince is zero when the run never reached RUNNING.
	RunningSince time.Time
	// CompletedOn is zero while the run has not ended.
	CompletedOn time.Time
	// WaitedUntil is when the run left Glue's queue (WAITING) to start or
	// end; zero when it never waited. A run still WAITING has State
	// WAITING and a zero WaitedUntil.
	WaitedUntil time.Time
	// StateDetail is Glue's reason while the run is WAITING.
	StateDetail string
}

// RunRecords returns the record of every run started so far, in start
// order, after applying the events due by the clock. It is not counted in
// Stats and not subject to faults (like the control API).
func (r *Region) RunRecords() []RunRecord {
	defer r.lock()()
	out := make([]RunRecord, 0, len(r.runOrder))
	for _, ru := range r.runOrder {
		out = append(out, RunRecord{
			ID: ru.id, Job: ru.job, State: ru.state, SubnetID: ru.subnetID, AZ: ru.az,
			RequestedIPs: ru.ipsWanted, AllocatedIPs: len(ru.enis),
			StartedOn: ru.startedOn, RunningSince: ru.runningSince, CompletedOn: ru.completedOn,
			WaitedUntil: ru.dequeuedOn, StateDetail: ru.stateDetail,
		})
	}
	return out
}
