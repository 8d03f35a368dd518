package sim

import (
	"embed"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/gluenet/gluenet/internal/strictyaml"
	"go.yaml.in/yaml/v3"
)

//go:embed scenarios/*.yaml
var builtinFS embed.FS

// Scenario describes a simulated region: its network, its Glue connections
// and jobs, how runs behave and a timeline of faults. It is read from YAML;
// scenarios/default.yaml documents every field.
//
// Zero values mean "use the default" for time_scale, region, account_id, the
// run profile durations, glue delays and degraded_failure_after; for eni.lag
// and eni.linger zero means no delay.
type Scenario struct {
	// Seed makes every random choice (durations, failures, throttling, IDs)
	// repeatable.
	Seed int64 `yaml:"seed"`
	// TimeScale is simulated seconds per wall second when the region runs on
	// the wall clock (sim serve). Default 1.
	TimeScale float64 `yaml:"time_scale"`
	// Region is the AWS Region name. Default us-east-1.
	Region string `yaml:"region"`
	// AccountID is the 12-digit account that owns everything. Default
	// 123456789012.
	AccountID string  `yaml:"account_id"`
	VPC       VPCSpec `yaml:"vpc"`
	// AvailabilityZones lists extra zones of the Region beyond those of the
	// subnets, so DescribeAvailabilityZones can show zones without subnets.
	AvailabilityZones []string         `yaml:"availability_zones,omitempty"`
	Subnets           []SubnetSpec     `yaml:"subnets"`
	Connections       []ConnectionSpec `yaml:"connections"`
	Jobs              []JobSpec        `yaml:"jobs"`
	// RunDefaults is the run profile of jobs without their own (jobs
	// created through the API, or scenario jobs leaving fields at zero).
	RunDefaults RunProfile `yaml:"run_defaults"`
	Glue        GlueSpec   `yaml:"glue"`
	ENI         ENISpec    `yaml:"eni"`
	// DegradedFailureAfter is how long after it is placed in a degraded AZ
	// (or after its AZ degrades or goes down) a run fails. Default 2m.
	DegradedFailureAfter Duration         `yaml:"degraded_failure_after"`
	Background           []BackgroundSpec `yaml:"background"`
	Faults               []FaultSpec      `yaml:"faults"`
}

// VPCSpec is the one VPC of the region.
type VPCSpec struct {
	ID   string `yaml:"id"`
	CIDR string `yaml:"cidr"`
	Name string `yaml:"name,omitempty"`
}

// SubnetSpec is a subnet of the VPC.
type SubnetSpec struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name,omitempty"` // the Name tag
	CIDR string `yaml:"cidr"`
	AZ   string `yaml:"az"`
	// Tags are extra tags besides Name.
	Tags map[string]string `yaml:"tags,omitempty"`
}

// ConnectionSpec is a Glue NETWORK connection that exists at the start.
type ConnectionSpec struct {
	Name           string   `yaml:"name"`
	Subnet         string   `yaml:"subnet"`
	SecurityGroups []string `yaml:"security_groups,omitempty"`
	Description    string   `yaml:"description,omitempty"`
}

// RunProfile says how the runs of a job behave once they have their network.
type RunProfile struct {
	// Startup is the time from StartJobRun to RUNNING. Default 1m.
	Startup Duration `yaml:"startup,omitempty"`
	// Duration is the time the job's code runs. Default 10m.
	Duration Duration `yaml:"duration,omitempty"`
	// DurationJitter spreads Duration uniformly by up to ± this much.
	DurationJitter Duration `yaml:"duration_jitter,omitempty"`
	// FailureRate is the probability that the job's own code fails (an
	// error unrelated to the network), in [0, 1].
	FailureRate float64 `yaml:"failure_rate,omitempty"`
}

// JobSpec is a Glue job that exists at the start, with its run profile.
type JobSpec struct {
	Name              string   `yaml:"name"`
	Role              string   `yaml:"role"`
	Workers           int      `yaml:"workers"`
	WorkerType        string   `yaml:"worker_type"`
	GlueVersion       string   `yaml:"glue_version,omitempty"`
	Connections       []string `yaml:"connections"`
	MaxConcurrentRuns int      `yaml:"max_concurrent_runs,omitempty"`
	TimeoutMinutes    int      `yaml:"timeout_minutes,omitempty"`
	RunProfile        `yaml:",inline"`
}

// GlueSpec holds Glue service delays.
type GlueSpec struct {
	// PlacementFailureDelay is how long a run whose connections all fail
	// stays STARTING before it is FAILED. Default 15s.
	PlacementFailureDelay Duration `yaml:"placement_failure_delay,omitempty"`
	// StopDelay is how long a stopped run stays STOPPING. Default 10s.
	StopDelay Duration `yaml:"stop_delay,omitempty"`
	// DefaultTimeoutMinutes is the Timeout of jobs that set none. Default
	// 2880 (48 hours), as in Glue.
	DefaultTimeoutMinutes int `yaml:"default_timeout_minutes,omitempty"`
	// JobRunQueuing turns Glue's job run queuing on for every job that
	// does not set JobRunQueuingEnabled itself (a run's or job's own
	// setting wins). Default false, as in Glue.
	JobRunQueuing bool `yaml:"job_run_queuing,omitempty"`
	// MaxQueueWait is how long a queued run may stay WAITING before it
	// ends FAILED. Default 15m (see queue.go for the documented figure).
	MaxQueueWait Duration `yaml:"max_queue_wait,omitempty"`
	// UnderCapacitySlowdown is how a run that starts with fewer workers
	// than it asked for lasts longer: "proportional" (the default: its
	// duration times requested/allocated workers) or "none".
	UnderCapacitySlowdown string `yaml:"under_capacity_slowdown,omitempty"`
}

// The values of glue.under_capacity_slowdown.
const (
	SlowdownProportional = "proportional"
	SlowdownNone         = "none"
)

// ENISpec is the eventual consistency of EC2's free-IP count.
type ENISpec struct {
	// Lag is how long after a run starts its ENIs show in DescribeSubnets'
	// AvailableIpAddressCount (Glue's own placement sees them at once).
	Lag Duration `yaml:"lag"`
	// Linger is how long after a run ends its IPs come back.
	Linger Duration `yaml:"linger"`
}

// BackgroundSpec puts ENIs of other workloads in a subnet at the start.
type BackgroundSpec struct {
	Subnet string `yaml:"subnet"`
	ENIs   int    `yaml:"enis"`
}

// FaultSpec is one entry of the fault timeline: at At after the start, one
// of the faults (az+state, throttle, errors, latency, exhaust) is set.
type FaultSpec struct {
	At       Duration      `yaml:"at"`
	AZ       string        `yaml:"az,omitempty"`
	State    AZState       `yaml:"state,omitempty"`
	Throttle *RateFault    `yaml:"throttle,omitempty"`
	Errors   *RateFault    `yaml:"errors,omitempty"`
	Latency  *LatencyFault `yaml:"latency,omitempty"`
	Exhaust  *ExhaustFault `yaml:"exhaust,omitempty"`
}

// RateFault makes a share of a service's calls fail (throttling or 5xx).
type RateFault struct {
	Service string  `yaml:"service"` // glue, ec2, logs or *
	Rate    float64 `yaml:"rate"`    // in [0, 1]
}

// LatencyFault adds a delay to every call of a service.
type LatencyFault struct {
	Service string   `yaml:"service"`
	Latency Duration `yaml:"latency"`
}

// ExhaustFault fills a subnet with background ENIs.
type ExhaustFault struct {
	Subnet    string `yaml:"subnet"`
	LeaveFree int    `yaml:"leave_free"`
}

// Duration is a time.Duration written in YAML as a Go duration string
// ("90s", "10m"). A bare number other than 0 is refused, because "lag: 60"
// would silently mean 60 nanoseconds.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a string such as 90s or 10m", n.Line)
	}
	if n.Value == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: invalid duration %q: use a Go duration such as 90s or 10m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// AZState is the health of an Availability Zone as Glue sees it.
type AZState string

// The AZ states.
const (
	// AZHealthy: Glue places runs in the AZ and they work.
	AZHealthy AZState = "healthy"
	// AZDown: Glue's health check fails, so Glue skips the AZ's subnets.
	AZDown AZState = "down"
	// AZDegraded: the health check passes, but runs placed in the AZ lose
	// their workers and fail after degraded_failure_after.
	AZDegraded AZState = "degraded"
)

// ParseAZState parses an AZ state name.
func ParseAZState(s string) (AZState, error) {
	switch st := AZState(strings.ToLower(strings.TrimSpace(s))); st {
	case AZHealthy, AZDown, AZDegraded:
		return st, nil
	}
	return "", fmt.Errorf("unknown AZ state %q: use healthy, down or degraded", s)
}

// Services are the service names the faults accept ("*" means all).
var Services = []string{"glue", "ec2", "logs"}

func checkService(s string) error {
	if s == "*" || slices.Contains(Services, s) {
		return nil
	}
	return fmt.Errorf("unknown service %q: use glue, ec2, logs or *", s)
}

// BuiltinScenarios returns the names of the scenarios shipped in the binary.
func BuiltinScenarios() []string {
	entries, err := builtinFS.ReadDir("scenarios")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	slices.Sort(names)
	return names
}

// BuiltinScenarioSource returns the YAML text of a built-in scenario, so a
// user can copy it (gluenet sim scenario show default > mine.yaml).
func BuiltinScenarioSource(name string) ([]byte, error) {
	if name == "" {
		name = "default"
	}
	name = strings.TrimSuffix(name, ".yaml")
	if n, ok := scenarioAliases[name]; ok {
		name = n
	}
	if strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("no built-in scenario %q", name)
	}
	b, err := builtinFS.ReadFile(path.Join("scenarios", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("no built-in scenario %q (built-in: %s)", name, strings.Join(BuiltinScenarios(), ", "))
	}
	return b, nil
}

// scenarioAliases are the built-in scenarios' former names: the region
// and the strategy lab now share one set (az-down, throttling, ...).
var scenarioAliases = map[string]string{
	"az-outage":      "az-down",
	"throttle-storm": "throttling",
}

// LoadScenario loads a scenario: "" or "default" is the built-in default,
// another built-in name (or a former name, see scenarioAliases) loads that
// one, anything else is a file path.
func LoadScenario(nameOrPath string) (*Scenario, error) {
	if n, ok := scenarioAliases[nameOrPath]; ok {
		nameOrPath = n
	}
	return strictyaml.Load(nameOrPath, "scenario", BuiltinScenarioSource, BuiltinScenarios(), ParseScenario)
}

// ParseScenario decodes and validates a scenario. Decoding is strict: an
// unknown key is an error that names its line.
func ParseScenario(data []byte) (*Scenario, error) {
	sc, err := strictyaml.Decode[Scenario](data, "scenario")
	if err != nil {
		return nil, err
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return sc, nil
}

// Default values of a scenario.
const (
	defaultRegion                = "us-east-1"
	defaultAccountID             = "123456789012"
	defaultStartup               = time.Minute
	defaultDuration              = 10 * time.Minute
	defaultPlacementFailureDelay = 15 * time.Second
	defaultStopDelay             = 10 * time.Second
	defaultTimeoutMinutes        = 2880
	defaultDegradedFailureAfter  = 2 * time.Minute
	defaultMaxQueueWait          = 15 * time.Minute
)

// withDefaults returns a deep enough copy of sc with the defaults filled in;
// the region keeps it, so a caller may reuse its Scenario.
func (sc *Scenario) withDefaults() *Scenario {
	c := *sc
	if c.TimeScale <= 0 {
		c.TimeScale = 1
	}
	if c.Region == "" {
		c.Region = defaultRegion
	}
	if c.AccountID == "" {
		c.AccountID = defaultAccountID
	}
	if c.RunDefaults.Startup <= 0 {
		c.RunDefaults.Startup = Duration(defaultStartup)
	}
	if c.RunDefaults.Duration <= 0 {
		c.RunDefaults.Duration = Duration(defaultDuration)
	}
	if c.Glue.PlacementFailureDelay <= 0 {
		c.Glue.PlacementFailureDelay = Duration(defaultPlacementFailureDelay)
	}
	if c.Glue.StopDelay <= 0 {
		c.Glue.StopDelay = Duration(defaultStopDelay)
	}
	if c.Glue.DefaultTimeoutMinutes <= 0 {
		c.Glue.DefaultTimeoutMinutes = defaultTimeoutMinutes
	}
	if c.DegradedFailureAfter <= 0 {
		c.DegradedFailureAfter = Duration(defaultDegradedFailureAfter)
	}
	if c.Glue.MaxQueueWait <= 0 {
		c.Glue.MaxQueueWait = Duration(defaultMaxQueueWait)
	}
	if c.Glue.UnderCapacitySlowdown == "" {
		c.Glue.UnderCapacitySlowdown = SlowdownProportional
	}
	c.Jobs = slices.Clone(sc.Jobs)
	for i := range c.Jobs {
		j := &c.Jobs[i]
		if j.Startup <= 0 {
			j.Startup = c.RunDefaults.Startup
		}
		if j.Duration <= 0 {
			j.Duration = c.RunDefaults.Duration
		}
		if j.DurationJitter == 0 {
			j.DurationJitter = c.RunDefaults.DurationJitter
		}
		if j.FailureRate == 0 {
			j.FailureRate = c.RunDefaults.FailureRate
		}
		if j.MaxConcurrentRuns <= 0 {
			j.MaxConcurrentRuns = 1
		}
		if j.TimeoutMinutes <= 0 {
			j.TimeoutMinutes = c.Glue.DefaultTimeoutMinutes
		}
		j.Connections = slices.Clone(j.Connections)
	}
	return &c
}

// Validate reports the first problem of the scenario, naming the field.
func (sc *Scenario) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	if sc.TimeScale < 0 {
		bad("time_scale: must be positive, got %v", sc.TimeScale)
	}
	region := sc.Region
	if region == "" {
		region = defaultRegion
	}
	if sc.AccountID != "" && !isDigits(sc.AccountID, 12) {
		bad("account_id: must be 12 digits, got %q", sc.AccountID)
	}
	if !strings.HasPrefix(sc.VPC.ID, "vpc-") {
		bad("vpc.id: must start with vpc-, got %q", sc.VPC.ID)
	}
	vpcPrefix, err := netip.ParsePrefix(sc.VPC.CIDR)
	switch {
	case err != nil:
		bad("vpc.cidr: %q is not an IPv4 CIDR block", sc.VPC.CIDR)
	case !vpcPrefix.Addr().Is4() || vpcPrefix.Bits() < 16 || vpcPrefix.Bits() > 28:
		bad("vpc.cidr: %s must be IPv4 with a prefix between /16 and /28", sc.VPC.CIDR)
	case vpcPrefix.Masked() != vpcPrefix:
		bad("vpc.cidr: %s has host bits set (use %s)", sc.VPC.CIDR, vpcPrefix.Masked())
	}
	for i, az := range sc.AvailabilityZones {
		if !validAZName(region, az) {
			bad("availability_zones[%d]: %q is not a zone of %s (such as %sa)", i, az, region, region)
		}
	}
	subnets := map[string]SubnetSpec{}
	var prefixes []netip.Prefix
	for i, s := range sc.Subnets {
		where := fmt.Sprintf("subnets[%d]", i)
		if !strings.HasPrefix(s.ID, "subnet-") {
			bad("%s.id: must start with subnet-, got %q", where, s.ID)
		}
		if _, dup := subnets[s.ID]; dup {
			bad("%s.id: duplicate subnet %s", where, s.ID)
		}
		subnets[s.ID] = s
		if !validAZName(region, s.AZ) {
			bad("%s.az: %q is not a zone of %s (such as %sa)", where, s.AZ, region, region)
		}
		p, err := netip.ParsePrefix(s.CIDR)
		if err != nil || !p.Addr().Is4() {
			bad("%s.cidr: %q is not an IPv4 CIDR block", where, s.CIDR)
			continue
		}
		if p.Bits() < 16 || p.Bits() > 28 {
			bad("%s.cidr: %s: AWS subnets are between /16 and /28", where, s.CIDR)
			continue
		}
		if p.Masked() != p {
			bad("%s.cidr: %s has host bits set (use %s)", where, s.CIDR, p.Masked())
			continue
		}
		if vpcPrefix.IsValid() && (!vpcPrefix.Contains(p.Addr()) || p.Bits() < vpcPrefix.Bits()) {
			bad("%s.cidr: %s is not inside the VPC's %s", where, s.CIDR, sc.VPC.CIDR)
		}
		for _, q := range prefixes {
			if q.Overlaps(p) {
				bad("%s.cidr: %s overlaps %s", where, s.CIDR, q)
			}
		}
		prefixes = append(prefixes, p)
	}
	conns := map[string]bool{}
	for i, c := range sc.Connections {
		where := fmt.Sprintf("connections[%d]", i)
		if c.Name == "" || len(c.Name) > 255 {
			bad("%s.name: required, at most 255 characters", where)
		}
		if conns[c.Name] {
			bad("%s.name: duplicate connection %q", where, c.Name)
		}
		conns[c.Name] = true
		// A connection may name a subnet that does not exist: Glue skips
		// it at run time, which is worth simulating.
		if !strings.HasPrefix(c.Subnet, "subnet-") {
			bad("%s.subnet: must start with subnet-, got %q", where, c.Subnet)
		}
	}
	jobs := map[string]bool{}
	checkProfile := func(where string, p RunProfile) {
		if p.Startup < 0 || p.Duration < 0 || p.DurationJitter < 0 {
			bad("%s: startup, duration and duration_jitter must not be negative", where)
		}
		if p.FailureRate < 0 || p.FailureRate > 1 {
			bad("%s.failure_rate: must be in [0, 1], got %v", where, p.FailureRate)
		}
	}
	checkProfile("run_defaults", sc.RunDefaults)
	for i, j := range sc.Jobs {
		where := fmt.Sprintf("jobs[%d]", i)
		if j.Name == "" || len(j.Name) > 255 {
			bad("%s.name: required, at most 255 characters", where)
		}
		if jobs[j.Name] {
			bad("%s.name: duplicate job %q", where, j.Name)
		}
		jobs[j.Name] = true
		if j.Role == "" {
			bad("%s.role: required", where)
		}
		if _, ok := workerDPUs[j.WorkerType]; !ok {
			bad("%s.worker_type: %q is not a Glue worker type (such as G.1X)", where, j.WorkerType)
		}
		if j.Workers < 2 {
			bad("%s.workers: Glue needs at least 2 workers, got %d", where, j.Workers)
		}
		for k, c := range j.Connections {
			if !conns[c] {
				bad("%s.connections[%d]: no connection %q in connections", where, k, c)
			}
		}
		if j.MaxConcurrentRuns < 0 {
			bad("%s.max_concurrent_runs: must not be negative", where)
		}
		if j.TimeoutMinutes < 0 || j.TimeoutMinutes > maxTimeoutMinutes {
			bad("%s.timeout_minutes: must be between 0 (default) and %d", where, maxTimeoutMinutes)
		}
		checkProfile(where, j.RunProfile)
	}
	if sc.ENI.Lag < 0 || sc.ENI.Linger < 0 {
		bad("eni: lag and linger must not be negative")
	}
	if sc.Glue.PlacementFailureDelay < 0 || sc.Glue.StopDelay < 0 || sc.DegradedFailureAfter < 0 {
		bad("glue delays and degraded_failure_after must not be negative")
	}
	if sc.Glue.MaxQueueWait < 0 {
		bad("glue.max_queue_wait: must not be negative")
	}
	switch sc.Glue.UnderCapacitySlowdown {
	case "", SlowdownProportional, SlowdownNone:
	default:
		bad("glue.under_capacity_slowdown: %q is not one of %s, %s", sc.Glue.UnderCapacitySlowdown, SlowdownProportional, SlowdownNone)
	}
	if sc.Glue.DefaultTimeoutMinutes < 0 || sc.Glue.DefaultTimeoutMinutes > maxTimeoutMinutes {
		bad("glue.default_timeout_minutes: must be between 0 (default) and %d", maxTimeoutMinutes)
	}
	for i, b := range sc.Background {
		where := fmt.Sprintf("background[%d]", i)
		s, ok := subnets[b.Subnet]
		if !ok {
			bad("%s.subnet: no subnet %q in subnets", where, b.Subnet)
			continue
		}
		if p, err := netip.ParsePrefix(s.CIDR); err == nil && (b.ENIs < 0 || b.ENIs > usableAddresses(p)) {
			bad("%s.enis: must be between 0 and the subnet's %d usable addresses, got %d", where, usableAddresses(p), b.ENIs)
		}
	}
	azs := map[string]bool{}
	for _, s := range sc.Subnets {
		azs[s.AZ] = true
	}
	for _, az := range sc.AvailabilityZones {
		azs[az] = true
	}
	for i, f := range sc.Faults {
		where := fmt.Sprintf("faults[%d]", i)
		if f.At < 0 {
			bad("%s.at: must not be negative", where)
		}
		kinds := 0
		if f.AZ != "" || f.State != "" {
			kinds++
			if !azs[f.AZ] {
				bad("%s.az: no zone %q in the scenario", where, f.AZ)
			}
			if _, err := ParseAZState(string(f.State)); err != nil {
				bad("%s.state: %v", where, err)
			}
		}
		for name, rf := range map[string]*RateFault{"throttle": f.Throttle, "errors": f.Errors} {
			if rf == nil {
				continue
			}
			kinds++
			if err := checkService(rf.Service); err != nil {
				bad("%s.%s.service: %v", where, name, err)
			}
			if rf.Rate < 0 || rf.Rate > 1 {
				bad("%s.%s.rate: must be in [0, 1], got %v", where, name, rf.Rate)
			}
		}
		if f.Latency != nil {
			kinds++
			if err := checkService(f.Latency.Service); err != nil {
				bad("%s.latency.service: %v", where, err)
			}
			if f.Latency.Latency < 0 {
				bad("%s.latency.latency: must not be negative", where)
			}
		}
		if f.Exhaust != nil {
			kinds++
			if _, ok := subnets[f.Exhaust.Subnet]; !ok {
				bad("%s.exhaust.subnet: no subnet %q in subnets", where, f.Exhaust.Subnet)
			}
			if f.Exhaust.LeaveFree < 0 {
				bad("%s.exhaust.leave_free: must not be negative", where)
			}
		}
		if kinds != 1 {
			bad("%s: set exactly one of az+state, throttle, errors, latency, exhaust (found %d)", where, kinds)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid scenario: %w", errors.Join(errs...))
	}
	return nil
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validAZName accepts the Region's name followed by one lower-case letter.
func validAZName(region, az string) bool {
	rest, ok := strings.CutPrefix(az, region)
	return ok && len(rest) == 1 && rest[0] >= 'a' && rest[0] <= 'z'
}

// usableAddresses is the number of addresses ENIs can take: AWS reserves
// the first four and the last address of every subnet.
func usableAddresses(p netip.Prefix) int {
	return 1<<(32-p.Bits()) - 5
}
