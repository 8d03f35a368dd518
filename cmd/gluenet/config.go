package main

import (
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gluenet/gluenet/internal/config"
)

// settings is the resolved configuration of one command (package config).
type settings = config.Settings

// usageError is bad input: it maps to exitUsage (package config's type, so
// that settings and flags report bad input alike).
type usageError = config.UsageError

func usagef(format string, a ...any) error { return config.Usagef(format, a...) }

// env is how settings read the environment; tests replace it.
type env func(string) (string, bool)

// resolve builds the settings from the config file, the environment and
// the flags that were set, in rising order of precedence (package config
// holds the rules; the flags are this command line's).
func resolve(flags *pflag.FlagSet, getenv env) (settings, error) {
	s, jobs, err := config.Base(flagOrEnv(flags, "config", "GLUENET_CONFIG", getenv), getenv)
	if err != nil {
		return s, err
	}
	if err := applyFlags(&s, flags); err != nil {
		return s, err
	}
	s.ApplyJob(jobs, func(name string) bool { return changed(flags, name) }, getenv)
	return s, nil
}

// applyFlags applies the flags that were given over s.
func applyFlags(s *settings, f *pflag.FlagSet) error {
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
			if *dst, err = config.ParseDuration("--"+name, v); err != nil {
				return err
			}
		}
	}
	if changed(f, "admit-wait") {
		v, _ := f.GetString("admit-wait")
		if s.Admission.Wait, err = config.ParseAdmitWait("--admit-wait", v); err != nil {
			return err
		}
	}
	if changed(f, "lock-timeout") {
		v, _ := f.GetString("lock-timeout")
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return usagef("--lock-timeout %q: give a positive duration such as 2m", v)
		}
		s.LockTimeout = d
	}
	if changed(f, "admit-predict") {
		s.Admission.Predict, _ = f.GetBool("admit-predict")
	}
	if changed(f, "when-short") {
		v, _ := f.GetString("when-short")
		if s.Admission.WhenShort, err = config.ParseWhenShort("--when-short", v); err != nil {
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
