package lab

import (
	"embed"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gluenet/gluenet/internal/strictyaml"
	"github.com/gluenet/gluenet/sim"
)

//go:embed scenarios/*.yaml
var builtinFS embed.FS

// Scenario is a lab scenario: a simulated region, a fleet of job runs that
// arrive over time, and how long arrivals go on. It is read from YAML,
// strictly; scenarios/ip-pressure.yaml documents every field.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	// Seed is the first seed; seed i of a lab run is Seed+i.
	Seed int64 `yaml:"seed,omitempty"`
	// Region is the simulated region: the name of a built-in sim scenario
	// (gluenet sim serve --scenario NAME) or a whole sim scenario inline.
	Region RegionRef `yaml:"region"`
	// Duration is the window in which runs arrive; the simulation goes on
	// until the last run has ended.
	Duration sim.Duration `yaml:"duration"`
	// PollInterval is the time between GetJobRun calls. Default 30s.
	PollInterval sim.Duration `yaml:"poll_interval,omitempty"`
	// Connections are the candidate connections every run ranks, in the
	// configured order. Default: every connection of the region, in order.
	Connections []string `yaml:"connections,omitempty"`
	// PreferAZ is the AZ preference of the prefer-az strategy.
	PreferAZ []string `yaml:"prefer_az,omitempty"`
	// Jobs are the fleet: Glue jobs added to the region, and when their
	// runs arrive.
	Jobs []FleetJob `yaml:"jobs"`
}

// RegionRef names a built-in sim scenario or holds one inline.
type RegionRef struct {
	// Name is a built-in sim scenario; empty when Inline is set.
	Name string
	// Inline is a sim scenario written in the lab file.
	Inline *sim.Scenario
}

// UnmarshalYAML accepts a scalar (a built-in name) or a mapping (a sim
// scenario, decoded as strictly as sim.ParseScenario does).
func (r *RegionRef) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == "" {
			return fmt.Errorf("line %d: region: name a built-in sim scenario (%s) or write one inline", n.Line, strings.Join(sim.BuiltinScenarios(), ", "))
		}
		r.Name = n.Value
		return nil
	case yaml.MappingNode:
		// Node.Decode is not strict; re-encoding and parsing with
		// sim.ParseScenario is, and validates too.
		b, err := yaml.Marshal(n)
		if err != nil {
			return fmt.Errorf("line %d: region: %w", n.Line, err)
		}
		sc, err := sim.ParseScenario(b)
		if err != nil {
			return fmt.Errorf("line %d: region: %w", n.Line, err)
		}
		r.Inline = sc
		return nil
	}
	return fmt.Errorf("line %d: region: want a sim scenario name or an inline sim scenario", n.Line)
}

// MarshalYAML writes the name or the inline scenario.
func (r RegionRef) MarshalYAML() (any, error) {
	if r.Inline != nil {
		return r.Inline, nil
	}
	return r.Name, nil
}

// FleetJob is a Glue job of the fleet and the arrivals of its runs.
type FleetJob struct {
	Name string `yaml:"name"`
	// Workers is NumberOfWorkers: the IPs a run needs at full capacity.
	Workers int `yaml:"workers"`
	// WorkerType is the Glue worker type. Default G.1X.
	WorkerType string `yaml:"worker_type,omitempty"`
	// Startup, Duration, DurationJitter and FailureRate are the run
	// profile, as in a sim scenario's jobs.
	Startup        sim.Duration `yaml:"startup,omitempty"`
	Duration       sim.Duration `yaml:"duration"`
	DurationJitter sim.Duration `yaml:"duration_jitter,omitempty"`
	FailureRate    float64      `yaml:"failure_rate,omitempty"`
	// TimeoutMinutes is the job's Timeout. Default 2880, as in Glue.
	TimeoutMinutes int       `yaml:"timeout_minutes,omitempty"`
	Arrivals       []Arrival `yaml:"arrivals"`
}

// Arrival is one arrival process of a job; set exactly one field.
type Arrival struct {
	// Poisson: runs arrive at random, PerHour on average.
	Poisson *PoissonArrival `yaml:"poisson,omitempty"`
	// Burst: Count runs within Spread after At, repeated Every (if set)
	// until the end of the scenario's duration.
	Burst *BurstArrival `yaml:"burst,omitempty"`
	// Fixed: one run at each time.
	Fixed []sim.Duration `yaml:"fixed,omitempty"`
}

// PoissonArrival is a Poisson process between From and Until (default: the
// whole duration).
type PoissonArrival struct {
	PerHour float64      `yaml:"per_hour"`
	From    sim.Duration `yaml:"from,omitempty"`
	Until   sim.Duration `yaml:"until,omitempty"`
}

// BurstArrival is a burst of simultaneous starts, such as the top of the
// hour when many schedules fire.
type BurstArrival struct {
	At     sim.Duration `yaml:"at"`
	Count  int          `yaml:"count"`
	Spread sim.Duration `yaml:"spread,omitempty"`
	Every  sim.Duration `yaml:"every,omitempty"`
}

// Default values.
const (
	DefaultPollInterval = 30 * time.Second
	defaultWorkerType   = "G.1X"
	defaultRole         = "arn:aws:iam::123456789012:role/service-role/AWSGlueServiceRole-Lab"
	// fleetMaxConcurrent is the MaxConcurrentRuns of fleet jobs: the fleet
	// is many independent runs of each job, which Glue allows up to its
	// own limit.
	fleetMaxConcurrent = 1000
	maxRuns            = 2_000_000
)

// BuiltinScenarios lists the lab scenarios shipped in the binary.
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

// BuiltinSource returns the YAML text of a built-in lab scenario, to copy.
func BuiltinSource(name string) ([]byte, error) {
	name = strings.TrimSuffix(name, ".yaml")
	if name == "" || strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("no built-in lab scenario %q", name)
	}
	b, err := builtinFS.ReadFile(path.Join("scenarios", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("no built-in lab scenario %q (built-in: %s)", name, strings.Join(BuiltinScenarios(), ", "))
	}
	return b, nil
}

// ErrUnknownScenario is returned by Load for a name that is neither a
// built-in scenario nor a file.
var ErrUnknownScenario = errors.New("unknown lab scenario")

// Load loads a built-in lab scenario by name, or a scenario file.
func Load(nameOrPath string) (*Scenario, error) {
	sc, err := strictyaml.Load(nameOrPath, "lab scenario", BuiltinSource, BuiltinScenarios(), Parse)
	if errors.Is(err, strictyaml.ErrNoSuchDocument) {
		return nil, fmt.Errorf("%w: %w", ErrUnknownScenario, err)
	}
	return sc, err
}

// Parse decodes a lab scenario strictly (an unknown key is an error with
// its line) and validates it.
func Parse(data []byte) (*Scenario, error) {
	sc, err := strictyaml.Decode[Scenario](data, "lab scenario")
	if err != nil {
		return nil, err
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return sc, nil
}

// RegionScenario returns the sim scenario of the region with the fleet's
// jobs added (a copy: the lab scenario is not modified).
func (sc *Scenario) RegionScenario() (*sim.Scenario, error) {
	var base sim.Scenario
	switch {
	case sc.Region.Inline != nil:
		base = *sc.Region.Inline
	case sc.Region.Name != "":
		src, err := sim.BuiltinScenarioSource(sc.Region.Name)
		if err != nil {
			return nil, fmt.Errorf("region: %w", err)
		}
		s, err := sim.ParseScenario(src)
		if err != nil {
			return nil, fmt.Errorf("region %s: %w", sc.Region.Name, err)
		}
		base = *s
	default:
		return nil, errors.New("region: not set")
	}
	base.Jobs = slices.Clone(base.Jobs)
	conns := sc.candidates(&base)
	for _, j := range sc.Jobs {
		wt := j.WorkerType
		if wt == "" {
			wt = defaultWorkerType
		}
		base.Jobs = append(base.Jobs, sim.JobSpec{
			Name: j.Name, Role: defaultRole, Workers: j.Workers, WorkerType: wt, GlueVersion: "4.0",
			Connections: slices.Clone(conns), MaxConcurrentRuns: fleetMaxConcurrent, TimeoutMinutes: j.TimeoutMinutes,
			RunProfile: sim.RunProfile{Startup: j.Startup, Duration: j.Duration, DurationJitter: j.DurationJitter, FailureRate: j.FailureRate},
		})
	}
	if err := base.Validate(); err != nil {
		return nil, fmt.Errorf("region with the fleet's jobs: %w", err)
	}
	return &base, nil
}

// candidates is the candidate connections: the configured ones, or all of
// the region's.
func (sc *Scenario) candidates(region *sim.Scenario) []string {
	if len(sc.Connections) > 0 {
		return slices.Clone(sc.Connections)
	}
	out := make([]string, len(region.Connections))
	for i, c := range region.Connections {
		out[i] = c.Name
	}
	return out
}

// Validate says what is wrong with the scenario, naming the field.
func (sc *Scenario) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if sc.Name == "" {
		bad("name: required")
	}
	if sc.Region.Name == "" && sc.Region.Inline == nil {
		bad("region: required: a built-in sim scenario (%s) or one inline", strings.Join(sim.BuiltinScenarios(), ", "))
	}
	if sc.Duration <= 0 {
		bad("duration: must be positive, such as 4h")
	}
	if sc.PollInterval < 0 || (sc.PollInterval > 0 && sc.PollInterval.D() < time.Second) {
		bad("poll_interval: must be at least 1s")
	}
	if len(sc.Jobs) == 0 {
		bad("jobs: at least one fleet job is required")
	}
	names := map[string]bool{}
	expected := 0.0
	for i, j := range sc.Jobs {
		where := fmt.Sprintf("jobs[%d]", i)
		if j.Name == "" || len(j.Name) > 255 {
			bad("%s.name: required, at most 255 characters", where)
		}
		if names[j.Name] {
			bad("%s.name: duplicate job %q", where, j.Name)
		}
		names[j.Name] = true
		if j.Workers < 2 {
			bad("%s.workers: Glue needs at least 2 workers, got %d", where, j.Workers)
		}
		if j.Duration <= 0 || j.Startup < 0 || j.DurationJitter < 0 || j.DurationJitter > j.Duration {
			bad("%s: duration must be positive, startup not negative, duration_jitter between 0 and duration", where)
		}
		if j.FailureRate < 0 || j.FailureRate > 1 {
			bad("%s.failure_rate: must be in [0, 1], got %v", where, j.FailureRate)
		}
		if j.TimeoutMinutes < 0 {
			bad("%s.timeout_minutes: must not be negative", where)
		}
		if len(j.Arrivals) == 0 {
			bad("%s.arrivals: at least one arrival process is required", where)
		}
		for k, a := range j.Arrivals {
			w := fmt.Sprintf("%s.arrivals[%d]", where, k)
			kinds := 0
			if a.Poisson != nil {
				kinds++
				p := a.Poisson
				if p.PerHour <= 0 || p.PerHour > 1e6 {
					bad("%s.poisson.per_hour: must be in (0, 1e6], got %v", w, p.PerHour)
				}
				if p.From < 0 || p.Until < 0 || (p.Until > 0 && p.Until <= p.From) {
					bad("%s.poisson: from and until must not be negative, and until after from", w)
				}
				until := p.Until
				if until == 0 || until > sc.Duration {
					until = sc.Duration
				}
				expected += p.PerHour * max(0, until.D()-p.From.D()).Hours()
			}
			if a.Burst != nil {
				kinds++
				b := a.Burst
				if b.Count < 1 || b.Count > maxRuns {
					bad("%s.burst.count: must be between 1 and %d, got %d", w, maxRuns, b.Count)
				}
				if b.At < 0 || b.Spread < 0 || b.Every < 0 || (b.Every > 0 && b.Every.D() < time.Second) {
					bad("%s.burst: at and spread must not be negative, every at least 1s", w)
				}
				reps := 1.0
				if b.Every > 0 && sc.Duration > b.At {
					reps = float64((sc.Duration.D()-b.At.D())/b.Every.D()) + 1
				}
				expected += reps * float64(b.Count)
			}
			if len(a.Fixed) > 0 {
				kinds++
				for m, at := range a.Fixed {
					if at < 0 {
						bad("%s.fixed[%d]: must not be negative", w, m)
					}
				}
				expected += float64(len(a.Fixed))
			}
			if kinds != 1 {
				bad("%s: set exactly one of poisson, burst, fixed (found %d)", w, kinds)
			}
		}
	}
	if expected > maxRuns {
		bad("jobs: about %.0f runs expected; the lab handles at most %d per seed", expected, maxRuns)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid lab scenario: %w", errors.Join(errs...))
	}
	// The region and the fleet must fit together: job names free (the
	// region's validation says so), the candidate connections present.
	region, err := sc.RegionScenario()
	if err != nil {
		return fmt.Errorf("invalid lab scenario: %w", err)
	}
	have := map[string]bool{}
	for _, c := range region.Connections {
		have[c.Name] = true
	}
	for i, c := range sc.Connections {
		if !have[c] {
			errs = append(errs, fmt.Errorf("connections[%d]: no connection %q in the region", i, c))
		}
	}
	if len(sc.candidates(region)) == 0 {
		errs = append(errs, errors.New("connections: the region has no connections to rank"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid lab scenario: %w", errors.Join(errs...))
	}
	return nil
}

func (sc *Scenario) pollInterval() time.Duration {
	if sc.PollInterval > 0 {
		return sc.PollInterval.D()
	}
	return DefaultPollInterval
}
