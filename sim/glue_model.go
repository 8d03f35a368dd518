package sim

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Glue job run states.
const (
	stateStarting  = "STARTING"
	stateRunning   = "RUNNING"
	stateStopping  = "STOPPING"
	stateStopped   = "STOPPED"
	stateSucceeded = "SUCCEEDED"
	stateFailed    = "FAILED"
	stateTimeout   = "TIMEOUT"
	// stateWaiting is a run queued by Glue's job run queuing: it waits,
	// holding no IPs, until it can start (see queue.go).
	stateWaiting = "WAITING"
)

// Log groups Glue writes to.
const (
	outputLogGroup = "/aws-glue/jobs/output"
	errorLogGroup  = "/aws-glue/jobs/error"
)

// minStartIPs is the fewest free IPs with which Glue starts a run in a
// subnet (a driver and one executor).
const minStartIPs = 2

// apiError is an error in the shape of the AWS JSON protocols.
type apiError struct {
	code, msg string
	status    int
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func newAPIError(code string, status int, format string, args ...any) *apiError {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...), status: status}
}

func errNotFound(format string, args ...any) *apiError {
	return newAPIError("EntityNotFoundException", 400, format, args...)
}

func errInvalid(format string, args ...any) *apiError {
	return newAPIError("InvalidInputException", 400, format, args...)
}

func errSerialization(format string, args ...any) *apiError {
	return newAPIError("SerializationException", 400, format, args...)
}

type connection struct {
	name     string
	def      map[string]any // the ConnectionInput as received; never mutated
	subnetID string
	connType string
	created  time.Time
	updated  time.Time
}

type job struct {
	name     string
	def      map[string]any // the definition as received, without Name; never mutated
	spec     jobSpec
	created  time.Time
	modified time.Time
	// live holds the job's runs that were not terminal when last looked
	// at, so that MaxConcurrentRuns is checked without scanning every run
	// ever started (the strategy lab starts 100,000).
	live []*run
}

// jobSpec is the part of a job definition the model uses, type-checked.
type jobSpec struct {
	role, commandName, workerType, glueVersion string
	workers                                    int
	maxCapacity                                float64
	hasMaxCapacity                             bool
	allocatedCapacity                          int
	timeout                                    int // minutes; 0 = default
	maxConcurrent                              int
	connections                                []string
	defaultArgs                                map[string]string
	// maxRetries is the job's MaxRetries: Glue itself retries a failed
	// run that many times, on the connection the failed run used.
	maxRetries int
	// queuing is the job's JobRunQueuingEnabled; nil when the definition
	// does not set it.
	queuing *bool
}

type run struct {
	id, job       string
	seq           uint64
	attempt       int
	previousRunID string
	state         string
	startedOn     time.Time
	modifiedOn    time.Time
	completedOn   time.Time
	runningSince  time.Time
	args          map[string]string
	// jobConnections is the job's connection list when the run started:
	// the order Glue tried.
	jobConnections []string

	workerType      string
	numberOfWorkers int
	maxCapacity     float64
	timeout         int
	glueVersion     string
	ipsWanted       int

	connection, subnetID, az string
	subnetName               string
	freeAtPlacement          int
	enis                     []*eni
	driverIP                 string
	errorMessage             string
	// queuing is the run's effective JobRunQueuingEnabled: StartJobRun's,
	// else the job's, else the scenario's glue.job_run_queuing.
	queuing bool
	// stateDetail is JobRun.StateDetail: why a WAITING run waits.
	stateDetail string
	// dequeuedOn is when a run that was WAITING left that state (started
	// or ended); zero for a run that never waited.
	dequeuedOn time.Time
	// launch is what the run needs to start, kept from StartJobRun so that
	// a queued run starts as it was submitted.
	launch launchPlan
	// hidden runs belong to a deleted job: the API no longer shows them,
	// but their ENIs still live out their lifecycle.
	hidden bool
}

func (r *run) terminal() bool {
	switch r.state {
	case stateStopped, stateSucceeded, stateFailed, stateTimeout:
		return true
	}
	return false
}

// active reports whether the run has not ended (WAITING included).
func (r *run) active() bool { return !r.terminal() }

// started reports whether the run holds one of its job's MaxConcurrentRuns
// slots: it has not ended and is not waiting in Glue's queue.
func (r *run) started() bool { return !r.terminal() && r.state != stateWaiting }

// DPUs per worker of each worker type, for MaxCapacity and AllocatedCapacity.
var workerDPUs = map[string]float64{
	"Standard": 1, "G.025X": 0.25, "G.1X": 1, "G.2X": 2, "G.4X": 4, "G.8X": 8,
	"G.12X": 12, "G.16X": 16, "R.1X": 1, "R.2X": 2, "R.4X": 4, "R.8X": 8, "Z.2X": 2,
}

// Accessors for generically stored JSON. Numbers may be json.Number (from a
// request) or Go numbers (from a scenario); a wrong type is a
// SerializationException, as AWS answers for a body that does not match the
// operation's shape.

func field(m map[string]any, key string) (any, bool) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

func strField(m map[string]any, key string) (string, bool, *apiError) {
	v, ok := field(m, key)
	if !ok {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", false, errSerialization("%s must be a string", key)
	}
	return s, true, nil
}

func numValue(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

func intField(m map[string]any, key string) (int, bool, *apiError) {
	v, ok := field(m, key)
	if !ok {
		return 0, false, nil
	}
	f, isNum := numValue(v)
	if !isNum || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		return 0, false, errSerialization("%s must be an integer", key)
	}
	return int(f), true, nil
}

func floatField(m map[string]any, key string) (float64, bool, *apiError) {
	v, ok := field(m, key)
	if !ok {
		return 0, false, nil
	}
	f, isNum := numValue(v)
	if !isNum || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false, errSerialization("%s must be a number", key)
	}
	return f, true, nil
}

func objField(m map[string]any, key string) (map[string]any, bool, *apiError) {
	v, ok := field(m, key)
	if !ok {
		return nil, false, nil
	}
	o, isObj := v.(map[string]any)
	if !isObj {
		return nil, false, errSerialization("%s must be an object", key)
	}
	return o, true, nil
}

func strListField(m map[string]any, key string) ([]string, bool, *apiError) {
	v, ok := field(m, key)
	if !ok {
		return nil, false, nil
	}
	var out []string
	switch l := v.(type) {
	case []any:
		for _, e := range l {
			s, isStr := e.(string)
			if !isStr {
				return nil, false, errSerialization("%s must be a list of strings", key)
			}
			out = append(out, s)
		}
	case []string:
		out = append(out, l...)
	default:
		return nil, false, errSerialization("%s must be a list of strings", key)
	}
	return out, true, nil
}

func strMapField(m map[string]any, key string) (map[string]string, *apiError) {
	o, ok, err := objField(m, key)
	if err != nil || !ok {
		return nil, err
	}
	out := make(map[string]string, len(o))
	for k, v := range o {
		s, isStr := v.(string)
		if !isStr {
			return nil, errSerialization("%s.%s must be a string", key, k)
		}
		out[k] = s
	}
	return out, nil
}

// parseConnectionInput checks a ConnectionInput.
func parseConnectionInput(def map[string]any) (name, connType, subnetID string, aerr *apiError) {
	name, _, aerr = strField(def, "Name")
	if aerr != nil {
		return
	}
	if name == "" || len(name) > 255 {
		return "", "", "", errInvalid("ConnectionInput.Name must be 1 to 255 characters long")
	}
	connType, _, aerr = strField(def, "ConnectionType")
	if aerr != nil {
		return
	}
	if connType == "" {
		return "", "", "", errInvalid("ConnectionInput.ConnectionType is required")
	}
	if _, aerr = strMapField(def, "ConnectionProperties"); aerr != nil {
		return
	}
	pcr, _, aerr := objField(def, "PhysicalConnectionRequirements")
	if aerr != nil {
		return "", "", "", aerr
	}
	if pcr != nil {
		if subnetID, _, aerr = strField(pcr, "SubnetId"); aerr != nil {
			return
		}
		if _, _, aerr = strListField(pcr, "SecurityGroupIdList"); aerr != nil {
			return
		}
		if _, _, aerr = strField(pcr, "AvailabilityZone"); aerr != nil {
			return
		}
	}
	if connType == "NETWORK" && subnetID == "" {
		return "", "", "", errInvalid("A NETWORK connection needs PhysicalConnectionRequirements.SubnetId")
	}
	return name, connType, subnetID, nil
}

// putConnection creates a connection; it fails if the name is taken.
func (r *Region) putConnection(def map[string]any) (*connection, *apiError) {
	name, connType, subnetID, aerr := parseConnectionInput(def)
	if aerr != nil {
		return nil, aerr
	}
	if _, exists := r.conns[name]; exists {
		return nil, newAPIError("AlreadyExistsException", 400, "Connection already exists.")
	}
	c := &connection{name: name, def: def, subnetID: subnetID, connType: connType, created: r.now, updated: r.now}
	r.conns[name] = c
	return c, nil
}

// parseJobDef type-checks the fields of a job definition that the model uses
// and applies Glue's validation rules. Other fields are kept as they are.
func parseJobDef(def map[string]any) (jobSpec, *apiError) {
	var s jobSpec
	var aerr *apiError
	var ok bool
	if s.role, _, aerr = strField(def, "Role"); aerr != nil {
		return s, aerr
	}
	if s.role == "" {
		return s, errInvalid("Role is required")
	}
	cmd, ok, aerr := objField(def, "Command")
	if aerr != nil {
		return s, aerr
	}
	if !ok {
		return s, errInvalid("Command is required")
	}
	if s.commandName, _, aerr = strField(cmd, "Name"); aerr != nil {
		return s, aerr
	}
	if s.commandName == "" {
		s.commandName = "glueetl"
	}
	if s.workerType, _, aerr = strField(def, "WorkerType"); aerr != nil {
		return s, aerr
	}
	if s.glueVersion, _, aerr = strField(def, "GlueVersion"); aerr != nil {
		return s, aerr
	}
	var hasWorkers, hasAllocated bool
	if s.workers, hasWorkers, aerr = intField(def, "NumberOfWorkers"); aerr != nil {
		return s, aerr
	}
	if s.maxCapacity, s.hasMaxCapacity, aerr = floatField(def, "MaxCapacity"); aerr != nil {
		return s, aerr
	}
	if s.allocatedCapacity, hasAllocated, aerr = intField(def, "AllocatedCapacity"); aerr != nil {
		return s, aerr
	}
	if aerr = checkCapacity(s.workerType, s.workers, hasWorkers, s.maxCapacity, s.hasMaxCapacity, hasAllocated && s.allocatedCapacity != 0); aerr != nil {
		return s, aerr
	}
	var hasTimeout bool
	if s.timeout, hasTimeout, aerr = intField(def, "Timeout"); aerr != nil {
		return s, aerr
	}
	if hasTimeout {
		if aerr := checkTimeout(s.timeout); aerr != nil {
			return s, aerr
		}
	}
	ep, _, aerr := objField(def, "ExecutionProperty")
	if aerr != nil {
		return s, aerr
	}
	if ep != nil {
		if s.maxConcurrent, _, aerr = intField(ep, "MaxConcurrentRuns"); aerr != nil {
			return s, aerr
		}
		if s.maxConcurrent < 0 {
			return s, errInvalid("ExecutionProperty.MaxConcurrentRuns must not be negative")
		}
	}
	if s.maxConcurrent == 0 {
		s.maxConcurrent = 1
	}
	conns, _, aerr := objField(def, "Connections")
	if aerr != nil {
		return s, aerr
	}
	if conns != nil {
		if s.connections, _, aerr = strListField(conns, "Connections"); aerr != nil {
			return s, aerr
		}
	}
	if s.defaultArgs, aerr = strMapField(def, "DefaultArguments"); aerr != nil {
		return s, aerr
	}
	if _, aerr = strMapField(def, "NonOverridableArguments"); aerr != nil {
		return s, aerr
	}
	if q, ok := def["JobRunQueuingEnabled"]; ok && q != nil {
		b, isBool := q.(bool)
		if !isBool {
			return s, errSerialization("JobRunQueuingEnabled must be a boolean")
		}
		s.queuing = &b
	}
	if mr, _, aerr := intField(def, "MaxRetries"); aerr != nil {
		return s, aerr
	} else if mr < 0 {
		return s, errInvalid("MaxRetries must not be negative")
	} else {
		s.maxRetries = mr
	}
	return s, nil
}

// maxTimeoutMinutes is Glue's limit on a job's Timeout (7 days).
const maxTimeoutMinutes = 10080

func checkTimeout(minutes int) *apiError {
	if minutes < 1 || minutes > maxTimeoutMinutes {
		return errInvalid("Timeout must be between 1 and %d minutes, got %d", maxTimeoutMinutes, minutes)
	}
	return nil
}

// checkCapacity applies Glue's rules on how a job or run sizes itself: a
// worker type with a number of workers, or a capacity in DPUs, never both.
// This is why the post deletes MaxCapacity and AllocatedCapacity from the
// GetJob output before reusing it for UpdateJob.
func checkCapacity(workerType string, workers int, hasWorkers bool, maxCap float64, hasMax, hasAllocated bool) *apiError {
	if hasMax && hasAllocated {
		return errInvalid("Please set only Allocated Capacity or Max Capacity.")
	}
	if (workerType != "") != hasWorkers {
		return errInvalid("Worker Type and Number of Workers must be set together.")
	}
	if workerType == "" {
		if hasMax && maxCap <= 0 {
			return errInvalid("Max Capacity must be positive, got %v", maxCap)
		}
		return nil
	}
	if hasMax {
		return errInvalid("Please do not set Max Capacity if using Worker Type and Number of Workers.")
	}
	if hasAllocated {
		return errInvalid("Please do not set Allocated Capacity if using Worker Type and Number of Workers.")
	}
	if _, known := workerDPUs[workerType]; !known {
		return errInvalid("Worker Type %s is not supported.", workerType)
	}
	if workers < minStartIPs {
		return errInvalid("To use Worker Type %s, minimum allowed value of Number of Workers is %d.", workerType, minStartIPs)
	}
	return nil
}

// putJob creates (create) or replaces the definition of a job.
func (r *Region) putJob(name string, def map[string]any, create bool) *apiError {
	if name == "" || len(name) > 255 {
		return errInvalid("Job name must be 1 to 255 characters long")
	}
	spec, aerr := parseJobDef(def)
	if aerr != nil {
		return aerr
	}
	j, exists := r.jobs[name]
	switch {
	case create && exists:
		return newAPIError("AlreadyExistsException", 400, "Job with name %s already exists", name)
	case !create && !exists:
		return errNotFound("Job %s not found", name)
	case create:
		j = &job{name: name, created: r.now}
		r.jobs[name] = j
	}
	j.def = def
	j.spec = spec
	j.modified = r.now
	// A higher MaxConcurrentRuns may let queued runs start.
	r.queueDirty = true
	return nil
}

// capacityOut returns the MaxCapacity and AllocatedCapacity Glue reports
// for a sizing: computed from the workers when a worker type is set.
func capacityOut(workerType string, workers int, maxCap float64, hasMax bool, commandName string) (float64, int) {
	switch {
	case workerType != "":
		c := float64(workers) * workerDPUs[workerType]
		return c, int(c)
	case hasMax:
		return maxCap, int(maxCap)
	case commandName == "pythonshell":
		return 0.0625, 0
	default:
		return 10, 10 // Glue's default for Spark jobs sized in DPUs
	}
}

// startRunInput is StartJobRun's request, already decoded.
type startRunInput struct {
	JobName           string
	JobRunId          string
	Arguments         map[string]string
	AllocatedCapacity *int
	Timeout           *int
	MaxCapacity       *float64
	WorkerType        string
	NumberOfWorkers   *int
	// JobRunQueuingEnabled overrides the job's setting for this run.
	JobRunQueuingEnabled *bool
	// retryOf is set when Glue itself retries a failed run (the job's
	// MaxRetries): never from a request.
	retryOf *run
}

// placement is Glue's choice of network for a run.
type placement struct {
	conn    *connection
	sub     *subnet
	outside bool   // no connection with a subnet: the run is outside the VPC
	failure string // why no connection qualified
	// executor says failure is one of the job executor's texts, which
	// come wrapped in its envelope (startFailure).
	executor bool
	// short says at least one connection failed only for want of free IPs:
	// Glue's "Resource unavailable", for which job run queuing waits.
	short bool
}

// place picks the first listed connection whose subnet exists, whose AZ
// passes the health check and which has at least minIPs free IPs (two for
// a Spark run, one for a Python shell run), the way Glue does. It looks at the real free count, not EC2's lagging one.
//
// Glue first looks every listed name up in the Data Catalog: one that does
// not exist fails the run whatever the others are. The failure texts are
// the real ones of classify/testdata/glue_errors.json; executor marks the
// ones Glue's job executor wraps in its envelope (see startFailure).
func (r *Region) place(conns []string, minIPs int) placement {
	for _, name := range conns {
		if _, ok := r.conns[name]; !ok {
			return placement{executor: true, failure: "Could not find connection for the given criteria " +
				"Failed to get catalog connections given names: " + name}
		}
	}
	var failure string
	executor, short := false, false
	vpcConns := 0
	for _, name := range conns {
		c := r.conns[name]
		if c.subnetID == "" {
			continue // not a VPC connection: it does not place the run
		}
		vpcConns++
		executor = false
		s, ok := r.subnets[c.subnetID]
		if !ok {
			failure = fmt.Sprintf("Failed to create network interface in subnet %s: The subnet ID '%s' does not exist "+
				"(Service: AmazonEC2; Status Code: 400; Error Code: InvalidSubnetID.NotFound)", c.subnetID, c.subnetID)
			continue
		}
		if r.azs[s.az].state == AZDown {
			failure = fmt.Sprintf("Could not find subnet for AZ %s", s.az)
			continue
		}
		switch free := s.free(); {
		case free == 0:
			failure, executor, short = "Number of IP addresses on subnet is 0: "+s.id, true, true
			continue
		case free < minIPs:
			short = true
			failure = fmt.Sprintf("Failed to create network interface in subnet %s: The specified subnet does not have enough "+
				"free addresses to satisfy the request. (Service: AmazonEC2; Status Code: 400; Error Code: InsufficientFreeAddressesInSubnet)", s.id)
			continue
		}
		return placement{conn: c, sub: s}
	}
	if vpcConns == 0 {
		return placement{outside: true}
	}
	return placement{failure: failure, executor: executor, short: short}
}

// startFailure is the ErrorMessage of a run that could not be placed: the
// job executor's InvalidInputException texts come wrapped the way real
// runs show them.
func startFailure(job, runID string, p placement) string {
	if !p.executor {
		return p.failure
	}
	return fmt.Sprintf("JobName:%s and JobRunId:%s failed to execute with exception %s "+
		"(Service: AWSGlueJobExecutor; Status Code: 400; Error Code: InvalidInputException)", job, runID, p.failure)
}

// launchPlan is what a run needs to start: drawn or decided at StartJobRun,
// kept so that a run Glue queues starts later exactly as it was submitted.
type launchPlan struct {
	// conns is the connection list Glue tries, in order: the job's at
	// StartJobRun (or the failed run's connection for Glue's own retry).
	conns  []string
	minIPs int
	role   string
	prof   RunProfile
	// The run's random numbers, drawn at StartJobRun for every run.
	jitterU, failU, failAtU float64
}

// startJobRun starts a run: it checks the request, places the run, takes
// its IPs and schedules its lifecycle. With job run queuing, a run that
// cannot start now (its job's MaxConcurrentRuns reached, or no subnet of
// its connections with the IPs to start) is WAITING instead (queue.go).
func (r *Region) startJobRun(in startRunInput) (*run, *apiError) {
	j, ok := r.jobs[in.JobName]
	if !ok {
		return nil, errNotFound("Job %s not found", in.JobName)
	}
	live := j.live[:0]
	for _, x := range j.live {
		if !x.hidden && x.active() {
			live = append(live, x)
		}
	}
	clear(j.live[len(live):])
	j.live = live
	// The run's JobRunQueuingEnabled wins over the job's ("If this field
	// does not match the value set in the job run, then the value from the
	// job run field will be used", Glue API, Job structure).
	queuing := r.sc.Glue.JobRunQueuing
	if j.spec.queuing != nil {
		queuing = *j.spec.queuing
	}
	if in.JobRunQueuingEnabled != nil {
		queuing = *in.JobRunQueuingEnabled
	}
	concurrencyFull := j.startedRuns() >= j.spec.maxConcurrent
	if concurrencyFull && !queuing {
		return nil, newAPIError("ConcurrentRunsExceededException", 400, "Concurrent runs exceeded for %s", j.name)
	}
	attempt, previous := 0, ""
	if in.retryOf != nil {
		attempt, previous = in.retryOf.attempt+1, in.retryOf.id
	} else if in.JobRunId != "" {
		prev, ok := r.runs[in.JobRunId]
		if !ok || prev.hidden || prev.job != j.name {
			return nil, errNotFound("Job run %s not found for job %s", in.JobRunId, j.name)
		}
		attempt, previous = prev.attempt+1, prev.id
	}

	// Effective sizing: the run's overrides, else the job's.
	spec := j.spec
	workerType, workers := spec.workerType, spec.workers
	maxCap, hasMax := spec.maxCapacity, spec.hasMaxCapacity
	bySize := in.WorkerType != "" || in.NumberOfWorkers != nil
	byDPU := in.MaxCapacity != nil || in.AllocatedCapacity != nil
	if bySize {
		if in.WorkerType != "" {
			workerType = in.WorkerType
		}
		if in.NumberOfWorkers != nil {
			workers = *in.NumberOfWorkers
		}
		hasMax = false
	}
	if byDPU {
		if !bySize {
			workerType, workers = "", 0
		}
		if in.MaxCapacity != nil {
			maxCap = *in.MaxCapacity
		} else {
			maxCap = float64(*in.AllocatedCapacity)
		}
		hasMax = true
	}
	if bySize || byDPU {
		hasWorkers := workers > 0 || in.NumberOfWorkers != nil
		if aerr := checkCapacity(workerType, workers, hasWorkers, maxCap, in.MaxCapacity != nil, in.AllocatedCapacity != nil); aerr != nil {
			return nil, aerr
		}
	}
	timeout := spec.timeout
	if in.Timeout != nil {
		if aerr := checkTimeout(*in.Timeout); aerr != nil {
			return nil, aerr
		}
		timeout = *in.Timeout
	}
	if timeout == 0 {
		timeout = r.sc.Glue.DefaultTimeoutMinutes
	}
	ips := workers
	if workerType == "" {
		c, _ := capacityOut("", 0, maxCap, hasMax, spec.commandName)
		ips = max(1, int(math.Ceil(c)))
	}

	id := ""
	if in.retryOf != nil {
		// Glue names its own retries after the first run: <run>_attempt_N.
		root, _, _ := strings.Cut(in.retryOf.id, "_attempt_")
		id = fmt.Sprintf("%s_attempt_%d", root, attempt)
	} else {
		id = r.runID()
	}
	ru := &run{
		id: id, job: j.name, attempt: attempt, previousRunID: previous,
		state: stateStarting, startedOn: r.now, modifiedOn: r.now, args: maps.Clone(in.Arguments),
		workerType: workerType, timeout: timeout, glueVersion: spec.glueVersion, ipsWanted: ips,
		queuing: queuing,
	}
	if workerType != "" {
		ru.numberOfWorkers = workers
	}
	ru.maxCapacity, _ = capacityOut(workerType, workers, maxCap, hasMax, spec.commandName)
	r.seq++
	ru.seq = r.seq
	r.runs[ru.id] = ru
	r.runOrder = append(r.runOrder, ru)
	j.live = append(j.live, ru)

	// Draw the same random numbers for every run, whatever happens to it,
	// so one run's fate does not shift the next run's.
	lp := launchPlan{role: spec.role, prof: r.profile(j.name)}
	lp.jitterU, lp.failU, lp.failAtU = r.rngModel.Float64(), r.rngModel.Float64(), r.rngModel.Float64()
	if id, ok := in.Arguments[RunIDArgument]; ok {
		// The caller names the unit of work: its length is the same
		// whichever run does it, and whenever.
		lp.jitterU = RunJitter(r.sc.Seed, j.name, id)
	}

	ru.jobConnections = slices.Clone(spec.connections)
	lp.conns = ru.jobConnections
	if in.retryOf != nil && in.retryOf.connection != "" {
		// Glue's retries reuse the connection the failed run used (AWS
		// re:Post, "AWS Glue job networking: managing multiple
		// connections"): they bypass any failover.
		lp.conns = []string{in.retryOf.connection}
	}
	// Glue starts a Spark run with a driver and one executor; a Python
	// shell run is one node.
	lp.minIPs = minStartIPs
	if spec.commandName == "pythonshell" {
		lp.minIPs = 1
	}
	lp.minIPs = min(lp.minIPs, ips)
	ru.launch = lp
	if concurrencyFull {
		r.enqueue(ru, waitJobConcurrency)
		return ru, nil
	}
	p := r.place(lp.conns, lp.minIPs)
	if queuing && p.short {
		r.enqueue(ru, waitResourceUnavailable)
		return ru, nil
	}
	r.launchRun(ru, p)
	return ru, nil
}

// launchRun starts a placed run now: it takes its IPs and schedules its
// lifecycle, or its failure when no connection qualified.
func (r *Region) launchRun(ru *run, p placement) {
	lp := ru.launch
	t0 := r.now
	if p.failure != "" {
		msg := startFailure(ru.job, ru.id, p)
		r.log.Info("run cannot be placed", "run", ru.id, "job", ru.job, "reason", msg)
		r.schedule(t0.Add(r.sc.Glue.PlacementFailureDelay.D()), func() { r.finishRun(ru, stateFailed, msg) })
		return
	}
	ips := ru.ipsWanted
	if p.outside {
		ru.driverIP = fmt.Sprintf("172.34.%d.%d", r.rngID.IntN(256), 1+r.rngID.IntN(254))
		ru.subnetName = "unknown"
	} else {
		s := p.sub
		ru.connection, ru.subnetID, ru.az, ru.subnetName = p.conn.name, s.id, s.az, s.name
		ru.freeAtPlacement = s.free()
		n := min(ips, s.free())
		desc := fmt.Sprintf("Attached to Glue using role: %s (job run %s)", lp.role, ru.id)
		for range n {
			e, err := r.newENI(s, 1, netip.Addr{}, false)
			if err != nil {
				break // cannot happen: n <= free
			}
			e.description = desc
			e.requesterManaged = true
			if sgs := p.conn.securityGroups(); len(sgs) > 0 {
				e.groups = sgs
			}
			e.runID = ru.id
			ru.enis = append(ru.enis, e)
		}
		ru.driverIP = ru.enis[0].ips[0].String()
		enis := ru.enis
		r.schedule(t0.Add(r.sc.ENI.Lag.D()), func() {
			for _, e := range enis {
				r.showENI(e)
			}
		})
		if r.azs[s.az].state == AZDegraded {
			r.scheduleLostContact(ru)
		}
	}
	r.log.Info("run started", "run", ru.id, "job", ru.job, "connection", ru.connection,
		"subnet", ru.subnetID, "ips", len(ru.enis), "wanted", ips)

	prof := lp.prof
	startup := prof.Startup.D()
	d := r.underCapacityDuration(ru, prof.CodeDuration(lp.jitterU))
	// Glue reports times in milliseconds; whole-millisecond durations keep
	// the reported times exact.
	d = d.Round(time.Millisecond)
	r.schedule(t0.Add(startup), func() { r.markRunning(ru) })
	if lp.failU < prof.FailureRate {
		at := t0.Add(startup + time.Duration((0.2+0.6*lp.failAtU)*float64(d)).Round(time.Millisecond))
		r.schedule(at, func() {
			r.finishRun(ru, stateFailed, "Error Category: UNCLASSIFIED_ERROR; ValueError: simulated failure in the job script (not network related)")
		})
	} else {
		r.schedule(t0.Add(startup+d), func() { r.finishRun(ru, stateSucceeded, "") })
	}
	// The Timeout counts from the real start: it is "the maximum time that
	// a job run can consume resources" (Glue API, JobRun.Timeout), and a
	// WAITING run consumes none.
	timeout := ru.timeout
	r.schedule(t0.Add(time.Duration(timeout)*time.Minute), func() {
		r.finishRun(ru, stateTimeout, fmt.Sprintf("Job run timed out after %d minutes", timeout))
	})
}

func (r *Region) profile(jobName string) RunProfile {
	if p, ok := r.profiles[jobName]; ok {
		return p
	}
	return r.sc.RunDefaults
}

func (r *Region) scheduleLostContact(ru *run) {
	msg := fmt.Sprintf("Resource unavailable: lost contact with the workers in subnet %s (%s): network unreachable", ru.subnetID, ru.az)
	r.schedule(r.now.Add(r.sc.DegradedFailureAfter.D()), func() { r.finishRun(ru, stateFailed, msg) })
}

// markRunning moves a run from STARTING to RUNNING and writes what its
// script prints: the driver line of the post's test script, after a note
// when the run got fewer workers than it asked for.
func (r *Region) markRunning(ru *run) {
	if ru.state != stateStarting {
		return
	}
	ru.state = stateRunning
	ru.runningSince = r.now
	ru.modifiedOn = r.now
	if ru.subnetID != "" && len(ru.enis) < ru.ipsWanted {
		r.appendLog(outputLogGroup, ru.id, fmt.Sprintf(
			"Running with %d of %d requested workers: subnet %s had %d free IP addresses",
			len(ru.enis), ru.ipsWanted, ru.subnetID, ru.freeAtPlacement))
	}
	r.appendLog(outputLogGroup, ru.id, fmt.Sprintf(
		"The driver node has been assigned the ip: %s which belongs to the subnet: %s", ru.driverIP, ru.subnetName))
}

// finishRun ends a run unless it already ended. A run being stopped ends
// only as STOPPED. Its IPs come back after the ENI linger.
func (r *Region) finishRun(ru *run, state, msg string) {
	if ru.terminal() || (ru.state == stateStopping && state != stateStopped) {
		return
	}
	if ru.state == stateWaiting {
		ru.dequeuedOn = r.now
		ru.stateDetail = ""
	}
	ru.state = state
	ru.completedOn = r.now
	ru.modifiedOn = r.now
	ru.errorMessage = msg
	// Its MaxConcurrentRuns slot is free: queued runs may start.
	r.queueDirty = true
	if msg != "" && (state == stateFailed || state == stateTimeout) {
		r.appendLog(errorLogGroup, ru.id, msg)
	}
	if enis := ru.enis; len(enis) > 0 {
		// Detached but not yet deleted: the ENIs linger "available",
		// holding their IPs, as users report of Glue's ENIs.
		for _, e := range enis {
			e.status = "available"
		}
		r.schedule(r.now.Add(r.sc.ENI.Linger.D()), func() {
			for _, e := range enis {
				r.deleteENI(e)
			}
		})
	}
	r.log.Info("run ended", "run", ru.id, "job", ru.job, "state", state, "error", msg)
	r.glueRetry(ru)
}

// glueRetry models the job's MaxRetries: Glue starts a failed run again
// itself, without StartJobRun, as attempt N+1 named <run>_attempt_N, on the
// same connection.
func (r *Region) glueRetry(ru *run) {
	j, ok := r.jobs[ru.job]
	if ru.state != stateFailed || ru.hidden || !ok || ru.attempt >= j.spec.maxRetries {
		return
	}
	// The retry queues as the failed run did.
	queuing := ru.queuing
	next, aerr := r.startJobRun(startRunInput{JobName: ru.job, Arguments: ru.args, JobRunQueuingEnabled: &queuing, retryOf: ru})
	if aerr != nil {
		r.log.Info("Glue could not retry the run", "run", ru.id, "job", ru.job, "error", aerr.msg)
		return
	}
	r.log.Info("Glue retries the failed run", "run", ru.id, "retry", next.id, "attempt", next.attempt, "connection", ru.connection)
}

// stopRun asks a run to stop; it is STOPPED after the stop delay.
func (r *Region) stopRun(ru *run) {
	if ru.state == stateStopping {
		return
	}
	if ru.state == stateWaiting {
		ru.dequeuedOn = r.now
		ru.stateDetail = ""
	}
	ru.state = stateStopping
	ru.modifiedOn = r.now
	r.schedule(r.now.Add(r.sc.Glue.StopDelay.D()), func() { r.finishRun(ru, stateStopped, "") })
}

// executionTime is the seconds a run used its workers.
func (ru *run) executionTime() int {
	if ru.runningSince.IsZero() || ru.completedOn.IsZero() {
		return 0
	}
	return int(ru.completedOn.Sub(ru.runningSince).Round(time.Second) / time.Second)
}

// securityGroups are the connection's SecurityGroupIdList: Glue puts its
// ENIs in them.
func (c *connection) securityGroups() []string {
	pcr, _ := c.def["PhysicalConnectionRequirements"].(map[string]any)
	list, _ := pcr["SecurityGroupIdList"].([]any)
	var out []string
	for _, v := range list {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
