// Package config is gluenet's settings and the rules they follow: the YAML
// config file (read strictly by internal/strictyaml), the GLUENET_*
// environment, the precedence of defaults < file < environment < flags <
// a job's own block in the file (unless a flag or the environment names the
// same thing), and what must hold before a command runs (Validate). The
// flags themselves are the command line's: cmd/gluenet applies them between
// Base and ApplyJob.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/admit"
	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/health"
	"github.com/gluenet/gluenet/internal/strictyaml"
	"github.com/gluenet/gluenet/internal/suggest"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/strategy"
)

// Getenv is how settings read the environment (os.LookupEnv); tests
// replace it.
type Getenv = func(string) (string, bool)

// Base is the settings before flags: the defaults, then the config file at
// path ("" for none), then the environment. jobs are the file's per-job
// blocks, for ApplyJob once the flags are applied.
func Base(path string, getenv Getenv) (s Settings, jobs Jobs, err error) {
	s = Defaults()
	var fc File
	if path != "" {
		if fc, err = LoadFile(path); err != nil {
			return s, nil, err
		}
	}
	if err := s.applyFile(fc); err != nil {
		return s, nil, err
	}
	if fc.Region != "" {
		s.RegionFrom = "region: in " + path
	}
	if err := s.applyEnv(getenv); err != nil {
		return s, nil, err
	}
	return s, fc.Jobs, nil
}

// Jobs are the config file's per-job blocks, by job name.
type Jobs map[string]jobFile

// ApplyJob applies the config file's block for s.Job where neither a flag
// (flagSet says whether the flag of that name was given) nor the
// environment set the same thing.
func (s *Settings) ApplyJob(jobs Jobs, flagSet func(name string) bool, getenv Getenv) {
	jf, ok := jobs[s.Job]
	if !ok || s.Job == "" {
		return
	}
	if len(jf.Connections) > 0 && !flagSet("connections") && !isSet(getenv, "GLUENET_CONNECTIONS") {
		s.Connections = jf.Connections
	}
	if jf.Strategy != "" && !flagSet("strategy") && !isSet(getenv, "GLUENET_STRATEGY") {
		s.Strategy = jf.Strategy
	}
	if jf.NeedIPs != 0 && !flagSet("need-ips") {
		s.NeedIPs = jf.NeedIPs
	}
	if len(jf.PreferAZ) > 0 && !flagSet("prefer-az") {
		s.PreferAZ = jf.PreferAZ
	}
}

// File is the YAML config file (docs/reference.md lists its keys). Every
// key is optional; unknown keys are an error, so that a typo never passes
// silently.
type File struct {
	Region       string             `yaml:"region"`
	Profile      string             `yaml:"profile"`
	Job          string             `yaml:"job"`
	Connections  []string           `yaml:"connections"`
	Strategy     string             `yaml:"strategy"`
	NeedIPs      int                `yaml:"need_ips"`
	MinIPs       int                `yaml:"min_ips"`
	PreferAZ     []string           `yaml:"prefer_az"`
	PollInterval string             `yaml:"poll_interval"`
	LockTTL      string             `yaml:"lock_ttl"`
	CallTimeout  string             `yaml:"call_timeout"`
	Retry        retryFile          `yaml:"retry"`
	Arguments    yaml.Node          `yaml:"arguments"`
	Jobs         map[string]jobFile `yaml:"jobs"`
	State        stateFile          `yaml:"state"`
	Health       healthFile         `yaml:"health"`
	Admission    admissionFile      `yaml:"admission"`
}

// admissionFile is capacity-aware admission (see package admit).
type admissionFile struct {
	Wait      string `yaml:"wait"`
	WhenShort string `yaml:"when_short"`
	Predict   *bool  `yaml:"predict"`
}

type retryFile struct {
	Attempts         int      `yaml:"attempts"`
	Delay            string   `yaml:"delay"`
	MaxDelay         string   `yaml:"max_delay"`
	Multiplier       float64  `yaml:"multiplier"`
	Jitter           *float64 `yaml:"jitter"`
	RetryJobFailures *bool    `yaml:"retry_job_failures"`
}

// jobFile overrides Settings for one job.
type jobFile struct {
	Connections []string `yaml:"connections"`
	Strategy    string   `yaml:"strategy"`
	NeedIPs     int      `yaml:"need_ips"`
	PreferAZ    []string `yaml:"prefer_az"`
}

type healthFile struct {
	ConsecutiveFailures int    `yaml:"consecutive_failures"`
	AZFailingSubnets    int    `yaml:"az_failing_subnets"`
	BaseEjection        string `yaml:"base_ejection"`
	MaxEjection         string `yaml:"max_ejection"`
	Enabled             *bool  `yaml:"enabled"`
}

type stateFile struct {
	Path             string `yaml:"path"`
	PostgresDSN      string `yaml:"postgres_dsn"`
	KeepRuns         string `yaml:"keep_runs"`
	KeepHealthEvents string `yaml:"keep_health_events"`
	PruneEvery       string `yaml:"prune_every"`
	Timeout          string `yaml:"timeout"`
}

// Settings is the resolved configuration of one command: defaults, then the
// config file, then the environment, then flags (the caller's).
type Settings struct {
	Region, Profile string
	// RegionFrom says where Region came from ("--region", "the config
	// file F"); empty when the SDK's chain decides.
	RegionFrom   string
	Job          string
	Connections  []string
	Strategy     string
	NeedIPs      int
	MinIPs       int
	PreferAZ     []string
	PollInterval time.Duration
	LockTTL      time.Duration
	// LockTimeout bounds the wait for a job lock another gluenet holds
	// (--lock-timeout); 0: the executor's default.
	LockTimeout      time.Duration
	CallTimeout      time.Duration // bounds each AWS API call, the SDK's retries included
	Retry            policy.Config
	RetryJobFailures bool
	Arguments        map[string]string
	StatePath        string
	PostgresDSN      string
	Retention        store.Retention // what the state store keeps, and how often it prunes
	StateTimeout     time.Duration   // bounds each state store operation, its retries included
	StateLog         *slog.Logger    // for the state store's warnings; nil: slog.Default()
	Health           health.Config
	// Memory turns health memory and reservations on.
	Memory bool
	// Admission is capacity-aware admission: wait for room before a start.
	Admission admit.Config
}

// Defaults are the settings nothing overrides.
func Defaults() Settings {
	return Settings{
		Strategy:     DefaultStrategy,
		MinIPs:       2,
		PollInterval: 10 * time.Second,
		CallTimeout:  awsclient.DefaultCallTimeout,
		Retry:        policy.DefaultConfig(),
		Arguments:    map[string]string{},
		Health:       health.DefaultConfig(),
		Memory:       true,
		Retention:    store.DefaultRetention(),
		StateTimeout: store.DefaultTimeout,
		Admission:    admit.DefaultConfig(),
	}
}

// DefaultStrategy is gluenet's default ranking strategy.
const DefaultStrategy = "weighted"

// UsageError is bad input: a wrong flag, config or value. The CLI exits 2
// on it; its message says what to fix.
type UsageError struct {
	Msg string
	Err error // the cause, when there is one
}

func (e *UsageError) Error() string { return e.Msg }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef is a UsageError with the message format makes.
func Usagef(format string, a ...any) error { return &UsageError{Msg: fmt.Sprintf(format, a...)} }

// LoadFile reads a YAML config file strictly (internal/strictyaml, the
// checker the scenarios use too): an unknown key or a value of the wrong
// kind is an error that names the key, the file and the line.
func LoadFile(path string) (File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return File{}, Usagef("read config file: %v", err)
	}
	fc, err := strictyaml.Unmarshal[File](data)
	var se *strictyaml.Error
	var syn *strictyaml.SyntaxError
	switch {
	case err == nil:
		return *fc, nil
	case errors.Is(err, strictyaml.ErrEmpty):
		return File{}, nil
	case errors.Is(err, strictyaml.ErrMultipleDocuments):
		return File{}, Usagef("config file %s holds more than one YAML document (a `---` line): keep one", path)
	case errors.As(err, &syn):
		return File{}, Usagef("config file %s is %v", path, syn)
	case errors.As(err, &se) && se.Key == "" && se.Got != "":
		return File{}, Usagef("config file %s, line %d: want keys such as `job:` and `connections:`, not %s", path, se.Line, se.Got)
	}
	return File{}, Usagef("config file %s, %v (docs/reference.md lists the keys)", path, err)
}

// applyFile applies the config file's settings over s.
func (s *Settings) applyFile(fc File) error {
	setStr(&s.Region, fc.Region)
	setStr(&s.Profile, fc.Profile)
	setStr(&s.Job, fc.Job)
	setStr(&s.Strategy, fc.Strategy)
	if fc.Connections != nil {
		s.Connections = fc.Connections
	}
	if fc.NeedIPs != 0 {
		s.NeedIPs = fc.NeedIPs
	}
	if fc.MinIPs != 0 {
		s.MinIPs = fc.MinIPs
	}
	if fc.PreferAZ != nil {
		s.PreferAZ = fc.PreferAZ
	}
	r := fc.Retry
	if r.Attempts != 0 {
		s.Retry.MaxAttempts = r.Attempts
	}
	if err := parseEach([]durationKey{
		{"poll_interval", fc.PollInterval, ParseDuration, &s.PollInterval},
		{"lock_ttl", fc.LockTTL, ParseDuration, &s.LockTTL},
		{"call_timeout", fc.CallTimeout, ParseDuration, &s.CallTimeout},
		{"retry.delay", r.Delay, ParseDuration, &s.Retry.InitialDelay},
		{"retry.max_delay", r.MaxDelay, ParseDuration, &s.Retry.MaxDelay},
	}); err != nil {
		return err
	}
	if r.Multiplier != 0 {
		s.Retry.Multiplier = r.Multiplier
	}
	if r.Jitter != nil {
		s.Retry.Jitter = *r.Jitter
	}
	if r.RetryJobFailures != nil {
		s.RetryJobFailures = *r.RetryJobFailures
	}
	if fc.Arguments.Kind != 0 {
		args := map[string]string{}
		if err := fc.Arguments.Decode(&args); err != nil {
			return Usagef("config file: arguments must map names to strings: %v", err)
		}
		for k, v := range args {
			s.Arguments[k] = v
		}
	}
	h := fc.Health
	if h.ConsecutiveFailures != 0 {
		s.Health.ConsecutiveFailures = h.ConsecutiveFailures
	}
	if h.AZFailingSubnets != 0 {
		s.Health.AZFailingSubnets = h.AZFailingSubnets
	}
	if h.Enabled != nil {
		s.Memory = *h.Enabled
	}
	if err := parseEach([]durationKey{
		{"health.base_ejection", h.BaseEjection, ParseDuration, &s.Health.BaseEjection},
		{"health.max_ejection", h.MaxEjection, ParseDuration, &s.Health.MaxEjection},
		{"admission.wait", fc.Admission.Wait, ParseAdmitWait, &s.Admission.Wait},
	}); err != nil {
		return err
	}
	if fc.Admission.Predict != nil {
		s.Admission.Predict = *fc.Admission.Predict
	}
	if fc.Admission.WhenShort != "" {
		w, err := ParseWhenShort("admission.when_short", fc.Admission.WhenShort)
		if err != nil {
			return err
		}
		s.Admission.WhenShort = w
	}
	if err := s.Health.Validate(); err != nil {
		return Usagef("config file: health: %v", err)
	}
	setStr(&s.StatePath, fc.State.Path)
	setStr(&s.PostgresDSN, fc.State.PostgresDSN)
	return parseEach([]durationKey{
		{"state.timeout", fc.State.Timeout, parseStateTimeout, &s.StateTimeout},
		{"state.keep_runs", fc.State.KeepRuns, ParseKeep, &s.Retention.Runs},
		{"state.keep_health_events", fc.State.KeepHealthEvents, ParseKeep, &s.Retention.HealthEvents},
		{"state.prune_every", fc.State.PruneEvery, ParseKeep, &s.Retention.Every},
	})
}

// durationKey is a period the config file may set: its key, its value
// ("" when unset), how to read it and where it goes.
type durationKey struct {
	name, v string
	parse   func(what, v string) (time.Duration, error)
	dst     *time.Duration
}

// parseEach reads each set value into its place, in order; the first bad
// one is the error.
func parseEach(keys []durationKey) error {
	for _, k := range keys {
		if k.v == "" {
			continue
		}
		d, err := k.parse(k.name, k.v)
		if err != nil {
			return err
		}
		*k.dst = d
	}
	return nil
}

// ParseKeep reads a retention period: a Go duration (720h) or a number of
// days (30d); 0 means forever (keep) or never (prune_every).
func ParseKeep(what, v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, Usagef("%s: %q is not a number of days; write it like 30d or 720h (0 keeps forever)", what, v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, Usagef("%s: %q is not a period; write it like 30d or 720h (0 keeps forever)", what, v)
	}
	return d, nil
}

// applyEnv applies the GLUENET_* environment variables over s.
func (s *Settings) applyEnv(getenv Getenv) error {
	if v, ok := getenv("GLUENET_JOB"); ok {
		s.Job = v
	}
	if v, ok := getenv("GLUENET_CONNECTIONS"); ok {
		s.Connections = strings.Split(v, ",")
	}
	if v, ok := getenv("GLUENET_STRATEGY"); ok {
		s.Strategy = v
	}
	if v, ok := getenv("GLUENET_STATE"); ok {
		s.StatePath = v
	}
	if v, ok := getenv("GLUENET_POSTGRES_DSN"); ok {
		s.PostgresDSN = v
	}
	for _, d := range []struct {
		name  string
		parse func(what, v string) (time.Duration, error)
		dst   *time.Duration
	}{
		{"GLUENET_LOCK_TTL", ParseDuration, &s.LockTTL},
		{"GLUENET_KEEP_RUNS", ParseKeep, &s.Retention.Runs},
		{"GLUENET_KEEP_HEALTH_EVENTS", ParseKeep, &s.Retention.HealthEvents},
		{"GLUENET_STATE_TIMEOUT", parseStateTimeout, &s.StateTimeout},
		{"GLUENET_CALL_TIMEOUT", ParseDuration, &s.CallTimeout},
		{"GLUENET_ADMIT_WAIT", ParseAdmitWait, &s.Admission.Wait},
	} {
		if v, ok := getenv(d.name); ok {
			v, err := d.parse(d.name, v)
			if err != nil {
				return err
			}
			*d.dst = v
		}
	}
	if v, ok := getenv("GLUENET_ADMIT_PREDICT"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Usagef("GLUENET_ADMIT_PREDICT=%q: give true or false", v)
		}
		s.Admission.Predict = b
	}
	if v, ok := getenv("GLUENET_WHEN_SHORT"); ok {
		w, err := ParseWhenShort("GLUENET_WHEN_SHORT", v)
		if err != nil {
			return err
		}
		s.Admission.WhenShort = w
	}
	if v, ok := getenv("GLUENET_ATTEMPTS"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Usagef("GLUENET_ATTEMPTS=%q is not a whole number", v)
		}
		s.Retry.MaxAttempts = n
	}
	return nil
}

// Spec is the run the settings describe, as the executor records it (the
// command's own flags, --workers and the like, go on top).
func (s Settings) Spec() executor.Spec {
	return executor.Spec{Job: s.Job, Connections: s.Connections, Strategy: s.Strategy, NeedIPs: s.NeedIPs, MinIPs: s.MinIPs,
		PreferAZ: s.PreferAZ, Policy: s.Retry, Classify: classify.Options{RetryJobFailures: s.RetryJobFailures},
		PollInterval: s.PollInterval, Start: gluenet.StartInput{Arguments: s.Arguments}, Admission: s.Admission}
}

// Validate checks what every command that ranks needs; needJob is false
// for commands that name no job.
func (s *Settings) Validate(needJob bool) error {
	if needJob && strings.TrimSpace(s.Job) == "" {
		return Usagef("no job: give --job, GLUENET_JOB or job: in the config file")
	}
	s.Job = strings.TrimSpace(s.Job)
	conns, err := CleanConnections(s.Connections)
	if err != nil {
		return err
	}
	s.Connections = conns
	if _, err := strategy.Lookup(s.Strategy); err != nil {
		if near := suggest.Name(s.Strategy, strategy.Names()); near != "" {
			return Usagef("%v; did you mean %s?", err, near)
		}
		return Usagef("%v", err)
	}
	// The run's own rules are the executor's, for every driver alike.
	spec := s.Spec()
	if !needJob && spec.Job == "" {
		spec.Job = "-" // plan-like commands that name no job still check the rest
	}
	if err := spec.Validate(); err != nil {
		return Usagef("%v", err)
	}
	if s.LockTTL < 0 {
		return Usagef("lock TTL must not be negative, got %s", s.LockTTL)
	}
	if s.CallTimeout <= 0 {
		return Usagef("call timeout (--call-timeout, GLUENET_CALL_TIMEOUT, call_timeout:) must be positive, got %s", s.CallTimeout)
	}
	return nil
}

// CleanConnections trims names and rejects an empty list, empty names and
// duplicates.
func CleanConnections(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, Usagef("no connections: give --connections a,b, GLUENET_CONNECTIONS or connections: in the config file")
	}
	out := make([]string, 0, len(in))
	for i, c := range in {
		c = strings.TrimSpace(c)
		if c == "" {
			return nil, Usagef("connection %d of %d is empty: remove the stray comma in the connection list", i+1, len(in))
		}
		if err := gluenet.ValidateConnectionName(c); err != nil {
			return nil, Usagef("%v", err)
		}
		if slices.Contains(out, c) {
			return nil, Usagef("connection %q is listed twice: list each connection once", c)
		}
		out = append(out, c)
	}
	return out, nil
}

// ParseAdmitWait reads an admission wait: a duration, 0 to turn waiting
// for room off.
func ParseAdmitWait(what, v string) (time.Duration, error) {
	if strings.TrimSpace(v) == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < 0 {
		return 0, Usagef("%s %q: give how long a run may wait for room, such as 10m, or 0 to start at once", what, v)
	}
	return d, nil
}

// ParseWhenShort reads what to do when the wait for room runs out; what
// names where the value came from in the error.
func ParseWhenShort(what, v string) (admit.WhenShort, error) {
	w, err := admit.ParseWhenShort(v)
	if err != nil {
		return "", Usagef("%s %q: give start (start the run with the IPs there are) or fail (exit 3 without starting it)", what, v)
	}
	return w, nil
}

// ParseDuration reads a Go duration; what names where the value came from
// in the error.
func ParseDuration(what, v string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return 0, Usagef("%s: %q is not a duration; write it like 30s, 5m or 1h30m", what, v)
	}
	return d, nil
}

// parseStateTimeout reads the state store's timeout: a positive duration.
func parseStateTimeout(what, v string) (time.Duration, error) {
	d, err := ParseDuration(what, v)
	if err == nil && d <= 0 {
		err = Usagef("%s: %q: the state store's timeout must be positive, such as 30s or 2m", what, v)
	}
	return d, err
}

func setStr(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func isSet(getenv Getenv, name string) bool {
	_, ok := getenv(name)
	return ok
}

// RegionInEffect says which region AWS calls go to and where that came
// from, the way the SDK decides: --region or the config file, then
// AWS_REGION, then AWS_DEFAULT_REGION, then the profile.
func (s Settings) RegionInEffect(getenv Getenv) string {
	if s.Region != "" {
		return fmt.Sprintf("%s (from %s)", s.Region, s.RegionFrom)
	}
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if v, ok := getenv(k); ok && v != "" {
			return fmt.Sprintf("%s (from %s)", v, k)
		}
	}
	return "the region of the AWS profile (no --region, AWS_REGION or AWS_DEFAULT_REGION)"
}
