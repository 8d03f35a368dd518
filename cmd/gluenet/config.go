package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/gluenet/gluenet/admit"
	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/health"
	"github.com/gluenet/gluenet/internal/strictyaml"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/strategy"

	"github.com/gluenet/gluenet"
)

// fileConfig is the YAML config file. Every key is optional; unknown keys
// are an error, so that a typo never passes silently.
type fileConfig struct {
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

// jobFile overrides settings for one job.
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

// settings is the resolved configuration of one command: defaults, then the
// config file, then the environment, then flags.
type settings struct {
	Region, Profile string
	// RegionFrom says where Region came from ("--region", "the config
	// file F"); empty when the SDK's chain decides.
	RegionFrom       string
	Job              string
	Connections      []string
	Strategy         string
	NeedIPs          int
	MinIPs           int
	PreferAZ         []string
	PollInterval     time.Duration
	LockTTL          time.Duration
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

func defaultSettings() settings {
	return settings{
		Strategy:     defaultStrategy,
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

// defaultStrategy is gluenet's default ranking strategy.
const defaultStrategy = "weighted"

// usageError is bad input: a wrong flag, config or value. It maps to
// exitUsage and its message says what to fix.
type usageError struct {
	msg string
	err error // the cause, when there is one
}

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

// loadFile reads a YAML config file strictly (internal/strictyaml, the
// checker the scenarios use too): an unknown key or a value of the wrong
// kind is an error that names the key, the file and the line.
func loadFile(path string) (fileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return fileConfig{}, usagef("read config file: %v", err)
	}
	fc, err := strictyaml.Unmarshal[fileConfig](data)
	var se *strictyaml.Error
	var syn *strictyaml.SyntaxError
	switch {
	case err == nil:
		return *fc, nil
	case errors.Is(err, strictyaml.ErrEmpty):
		return fileConfig{}, nil
	case errors.Is(err, strictyaml.ErrMultipleDocuments):
		return fileConfig{}, usagef("config file %s holds more than one YAML document (a `---` line): keep one", path)
	case errors.As(err, &syn):
		return fileConfig{}, usagef("config file %s is %v", path, syn)
	case errors.As(err, &se) && se.Key == "" && se.Got != "":
		return fileConfig{}, usagef("config file %s, line %d: want keys such as `job:` and `connections:`, not %s", path, se.Line, se.Got)
	}
	return fileConfig{}, usagef("config file %s, %v (docs/reference.md lists the keys)", path, err)
}

// env is how settings read the environment; tests replace it.
type env func(string) (string, bool)

// resolve builds the settings from the config file, the environment and
// the flags that were set, in rising order of precedence.
func resolve(flags *pflag.FlagSet, getenv env) (settings, error) {
	s := defaultSettings()
	path := flagOrEnv(flags, "config", "GLUENET_CONFIG", getenv)
	var fc fileConfig
	if path != "" {
		var err error
		if fc, err = loadFile(path); err != nil {
			return s, err
		}
	}
	if err := s.applyFile(fc); err != nil {
		return s, err
	}
	if fc.Region != "" {
		s.RegionFrom = "region: in " + path
	}
	if err := s.applyEnv(getenv); err != nil {
		return s, err
	}
	if err := s.applyFlags(flags); err != nil {
		return s, err
	}
	// Per-job settings from the file apply when neither env nor flags set
	// the same thing.
	if jf, ok := fc.Jobs[s.Job]; ok && s.Job != "" {
		if len(jf.Connections) > 0 && !changed(flags, "connections") && !isSet(getenv, "GLUENET_CONNECTIONS") {
			s.Connections = jf.Connections
		}
		if jf.Strategy != "" && !changed(flags, "strategy") && !isSet(getenv, "GLUENET_STRATEGY") {
			s.Strategy = jf.Strategy
		}
		if jf.NeedIPs != 0 && !changed(flags, "need-ips") {
			s.NeedIPs = jf.NeedIPs
		}
		if len(jf.PreferAZ) > 0 && !changed(flags, "prefer-az") {
			s.PreferAZ = jf.PreferAZ
		}
	}
	return s, nil
}

func (s *settings) applyFile(fc fileConfig) error {
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
	var err error
	if fc.PollInterval != "" {
		if s.PollInterval, err = parseDuration("poll_interval", fc.PollInterval); err != nil {
			return err
		}
	}
	if fc.LockTTL != "" {
		if s.LockTTL, err = parseDuration("lock_ttl", fc.LockTTL); err != nil {
			return err
		}
	}
	if fc.CallTimeout != "" {
		if s.CallTimeout, err = parseDuration("call_timeout", fc.CallTimeout); err != nil {
			return err
		}
	}
	r := fc.Retry
	if r.Attempts != 0 {
		s.Retry.MaxAttempts = r.Attempts
	}
	if r.Delay != "" {
		if s.Retry.InitialDelay, err = parseDuration("retry.delay", r.Delay); err != nil {
			return err
		}
	}
	if r.MaxDelay != "" {
		if s.Retry.MaxDelay, err = parseDuration("retry.max_delay", r.MaxDelay); err != nil {
			return err
		}
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
			return usagef("config file: arguments must map names to strings: %v", err)
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
	if h.BaseEjection != "" {
		if s.Health.BaseEjection, err = parseDuration("health.base_ejection", h.BaseEjection); err != nil {
			return err
		}
	}
	if h.MaxEjection != "" {
		if s.Health.MaxEjection, err = parseDuration("health.max_ejection", h.MaxEjection); err != nil {
			return err
		}
	}
	if h.Enabled != nil {
		s.Memory = *h.Enabled
	}
	if fc.Admission.Wait != "" {
		if s.Admission.Wait, err = parseAdmitWait("admission.wait", fc.Admission.Wait); err != nil {
			return err
		}
	}
	if fc.Admission.Predict != nil {
		s.Admission.Predict = *fc.Admission.Predict
	}
	if fc.Admission.WhenShort != "" {
		if s.Admission.WhenShort, err = parseWhenShort("admission.when_short", fc.Admission.WhenShort); err != nil {
			return err
		}
	}
	if err := s.Health.Validate(); err != nil {
		return usagef("config file: health: %v", err)
	}
	setStr(&s.StatePath, fc.State.Path)
	setStr(&s.PostgresDSN, fc.State.PostgresDSN)
	if fc.State.Timeout != "" {
		if s.StateTimeout, err = parseStateTimeout("state.timeout", fc.State.Timeout); err != nil {
			return err
		}
	}
	for _, k := range []struct {
		name, v string
		dst     *time.Duration
	}{
		{"state.keep_runs", fc.State.KeepRuns, &s.Retention.Runs},
		{"state.keep_health_events", fc.State.KeepHealthEvents, &s.Retention.HealthEvents},
		{"state.prune_every", fc.State.PruneEvery, &s.Retention.Every},
	} {
		if k.v == "" {
			continue
		}
		if *k.dst, err = parseKeep(k.name, k.v); err != nil {
			return err
		}
	}
	return nil
}

// parseKeep reads a retention period: a Go duration (720h) or a number of
// days (30d); 0 means forever (keep) or never (prune_every).
func parseKeep(what, v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, usagef("%s: %q is not a number of days; write it like 30d or 720h (0 keeps forever)", what, v)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, usagef("%s: %q is not a period; write it like 30d or 720h (0 keeps forever)", what, v)
	}
	return d, nil
}

func (s *settings) applyEnv(getenv env) error {
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
	if v, ok := getenv("GLUENET_LOCK_TTL"); ok {
		d, err := parseDuration("GLUENET_LOCK_TTL", v)
		if err != nil {
			return err
		}
		s.LockTTL = d
	}
	for _, k := range []struct {
		name string
		dst  *time.Duration
	}{{"GLUENET_KEEP_RUNS", &s.Retention.Runs}, {"GLUENET_KEEP_HEALTH_EVENTS", &s.Retention.HealthEvents}} {
		if v, ok := getenv(k.name); ok {
			d, err := parseKeep(k.name, v)
			if err != nil {
				return err
			}
			*k.dst = d
		}
	}
	if v, ok := getenv("GLUENET_STATE_TIMEOUT"); ok {
		d, err := parseStateTimeout("GLUENET_STATE_TIMEOUT", v)
		if err != nil {
			return err
		}
		s.StateTimeout = d
	}
	if v, ok := getenv("GLUENET_CALL_TIMEOUT"); ok {
		d, err := parseDuration("GLUENET_CALL_TIMEOUT", v)
		if err != nil {
			return err
		}
		s.CallTimeout = d
	}
	if v, ok := getenv("GLUENET_ADMIT_WAIT"); ok {
		d, err := parseAdmitWait("GLUENET_ADMIT_WAIT", v)
		if err != nil {
			return err
		}
		s.Admission.Wait = d
	}
	if v, ok := getenv("GLUENET_ADMIT_PREDICT"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return usagef("GLUENET_ADMIT_PREDICT=%q: give true or false", v)
		}
		s.Admission.Predict = b
	}
	if v, ok := getenv("GLUENET_WHEN_SHORT"); ok {
		w, err := parseWhenShort("GLUENET_WHEN_SHORT", v)
		if err != nil {
			return err
		}
		s.Admission.WhenShort = w
	}
	if v, ok := getenv("GLUENET_ATTEMPTS"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return usagef("GLUENET_ATTEMPTS=%q is not a whole number", v)
		}
		s.Retry.MaxAttempts = n
	}
	return nil
}

func (s *settings) applyFlags(f *pflag.FlagSet) error {
	var err error
	str := func(name string, dst *string) {
		if changed(f, name) {
			*dst, _ = f.GetString(name)
		}
	}
	str("region", &s.Region)
	if changed(f, "region") {
		s.RegionFrom = "--region"
	}
	str("profile", &s.Profile)
	str("job", &s.Job)
	str("strategy", &s.Strategy)
	str("state", &s.StatePath)
	str("postgres-dsn", &s.PostgresDSN)
	if changed(f, "connections") {
		s.Connections, _ = f.GetStringSlice("connections")
	}
	if changed(f, "prefer-az") {
		s.PreferAZ, _ = f.GetStringSlice("prefer-az")
	}
	ints := map[string]*int{"need-ips": &s.NeedIPs, "min-ips": &s.MinIPs, "attempts": &s.Retry.MaxAttempts}
	for name, dst := range ints {
		if changed(f, name) {
			*dst, _ = f.GetInt(name)
		}
	}
	durs := map[string]*time.Duration{"poll-interval": &s.PollInterval, "retry-delay": &s.Retry.InitialDelay, "max-retry-delay": &s.Retry.MaxDelay, "call-timeout": &s.CallTimeout}
	for name, dst := range durs {
		if changed(f, name) {
			v, _ := f.GetString(name)
			if *dst, err = parseDuration("--"+name, v); err != nil {
				return err
			}
		}
	}
	if changed(f, "admit-wait") {
		v, _ := f.GetString("admit-wait")
		if s.Admission.Wait, err = parseAdmitWait("--admit-wait", v); err != nil {
			return err
		}
	}
	if changed(f, "admit-predict") {
		s.Admission.Predict, _ = f.GetBool("admit-predict")
	}
	if changed(f, "when-short") {
		v, _ := f.GetString("when-short")
		if s.Admission.WhenShort, err = parseWhenShort("--when-short", v); err != nil {
			return err
		}
	}
	if changed(f, "no-memory") {
		off, _ := f.GetBool("no-memory")
		s.Memory = !off
	}
	if changed(f, "retry-job-failures") {
		s.RetryJobFailures, _ = f.GetBool("retry-job-failures")
	}
	if changed(f, "arg") {
		args, _ := f.GetStringArray("arg")
		for _, a := range args {
			k, v, ok := strings.Cut(a, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return usagef("--arg %q: want KEY=VALUE, e.g. --arg --day=2026-11-27", a)
			}
			s.Arguments[k] = v
		}
	}
	return nil
}

// validate checks what every command that ranks needs.
func (s *settings) validate(needJob bool) error {
	if needJob && strings.TrimSpace(s.Job) == "" {
		return usagef("no job: give --job, GLUENET_JOB or job: in the config file")
	}
	s.Job = strings.TrimSpace(s.Job)
	conns, err := cleanConnections(s.Connections)
	if err != nil {
		return err
	}
	s.Connections = conns
	if _, err := strategy.Lookup(s.Strategy); err != nil {
		if near := suggestName(s.Strategy, strategy.Names()); near != "" {
			return usagef("%v; did you mean %s?", err, near)
		}
		return usagef("%v", err)
	}
	// The run's own rules are the executor's, for every driver alike.
	spec := executor.Spec{Job: s.Job, Connections: s.Connections, Strategy: s.Strategy, NeedIPs: s.NeedIPs, MinIPs: s.MinIPs,
		PreferAZ: s.PreferAZ, Policy: s.Retry, PollInterval: s.PollInterval, Admission: s.Admission}
	if !needJob && spec.Job == "" {
		spec.Job = "-" // plan-like commands that name no job still check the rest
	}
	if err := spec.Validate(); err != nil {
		return usagef("%v", err)
	}
	if s.LockTTL < 0 {
		return usagef("lock TTL must not be negative, got %s", s.LockTTL)
	}
	if s.CallTimeout <= 0 {
		return usagef("call timeout (--call-timeout, GLUENET_CALL_TIMEOUT, call_timeout:) must be positive, got %s", s.CallTimeout)
	}
	return nil
}

// cleanConnections trims names and rejects an empty list, empty names and
// duplicates.
func cleanConnections(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, usagef("no connections: give --connections a,b, GLUENET_CONNECTIONS or connections: in the config file")
	}
	out := make([]string, 0, len(in))
	for i, c := range in {
		c = strings.TrimSpace(c)
		if c == "" {
			return nil, usagef("connection %d of %d is empty: remove the stray comma in the connection list", i+1, len(in))
		}
		if err := gluenet.ValidateConnectionName(c); err != nil {
			return nil, usagef("%v", err)
		}
		if slices.Contains(out, c) {
			return nil, usagef("connection %q is listed twice: list each connection once", c)
		}
		out = append(out, c)
	}
	return out, nil
}

// parseAdmitWait reads an admission wait: a duration, 0 to turn waiting
// for room off.
func parseAdmitWait(what, v string) (time.Duration, error) {
	if strings.TrimSpace(v) == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < 0 {
		return 0, usagef("%s %q: give how long a run may wait for room, such as 10m, or 0 to start at once", what, v)
	}
	return d, nil
}

func parseWhenShort(what, v string) (admit.WhenShort, error) {
	w, err := admit.ParseWhenShort(v)
	if err != nil {
		return "", usagef("%s %q: give start (start the run with the IPs there are) or fail (exit 3 without starting it)", what, v)
	}
	return w, nil
}

func parseDuration(what, v string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return 0, usagef("%s: %q is not a duration; write it like 30s, 5m or 1h30m", what, v)
	}
	return d, nil
}

// parseStateTimeout reads the state store's timeout: a positive duration.
func parseStateTimeout(what, v string) (time.Duration, error) {
	d, err := parseDuration(what, v)
	if err == nil && d <= 0 {
		err = usagef("%s: %q: the state store's timeout must be positive, such as 30s or 2m", what, v)
	}
	return d, err
}

func setStr(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func changed(f *pflag.FlagSet, name string) bool {
	fl := f.Lookup(name)
	return fl != nil && fl.Changed
}

func flagOrEnv(f *pflag.FlagSet, name, envName string, getenv env) string {
	if changed(f, name) {
		v, _ := f.GetString(name)
		return v
	}
	if v, ok := getenv(envName); ok {
		return v
	}
	return ""
}

func isSet(getenv env, name string) bool {
	_, ok := getenv(name)
	return ok
}

// regionInEffect says which region AWS calls go to and where that came
// from, the way the SDK decides: --region or the config file, then
// AWS_REGION, then AWS_DEFAULT_REGION, then the profile.
func regionInEffect(s settings, getenv env) string {
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
