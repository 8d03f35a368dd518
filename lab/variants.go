package lab

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gluenet/gluenet/admit"
	"github.com/gluenet/gluenet/health"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/reserve"
	"github.com/gluenet/gluenet/strategy"
)

// Variant is one contender of the lab: a ranking strategy with a retry
// policy, with or without gluenet's memory (health and in-flight
// reservations).
type Variant struct {
	// Name is what the report shows: "post-capacity", "gluenet-weighted".
	Name string `json:"name"`
	// Strategy is the ranking strategy's name (strategy.Lookup).
	Strategy string `json:"strategy"`
	// Memory turns on health memory and in-flight reservations, as
	// `gluenet run` does by default; without it the run behaves like the
	// post's DAG and `gluenet run --no-memory`.
	Memory bool          `json:"memory"`
	Retry  policy.Config `json:"-"`
	// RetrySummary says the retry policy in words, for the report.
	RetrySummary string        `json:"retry"`
	Health       health.Config `json:"-"`
	// ReservationTTL bounds a reservation (reserve.DefaultTTL when zero).
	ReservationTTL time.Duration `json:"-"`
	// Admission is the variant's capacity-aware admission: gluenet-*
	// variants use the CLI's defaults, so that the lab measures what a
	// user gets; a "+waitN" suffix sets another wait (N minutes, 0: off).
	Admission   admit.Config `json:"admission,omitzero"`
	Description string       `json:"description"`
}

// AirflowRetry is the post's retry policy: the DAG's task has 2 retries
// (3 attempts), a 30s first delay and Airflow's exponential backoff, whose
// delays spread over [d, 2d) (jitter 1).
func AirflowRetry() policy.Config {
	c := policy.DefaultConfig()
	c.MaxAttempts = 3
	c.InitialDelay = 30 * time.Second
	c.Multiplier = 2
	c.Jitter = 1
	return c
}

func summary(c policy.Config) string {
	return fmt.Sprintf("%d attempts, %s x%g, jitter %g", c.MaxAttempts, c.InitialDelay, c.Multiplier, c.Jitter)
}

func postVariant(name, strat, desc string) Variant {
	r := AirflowRetry()
	return Variant{Name: name, Strategy: strat, Retry: r, RetrySummary: summary(r), Description: desc}
}

func gluenetVariant(strat string) Variant {
	r := policy.DefaultConfig()
	s, _ := strategy.Lookup(strat)
	desc := "gluenet with health memory and reservations"
	if s != nil {
		desc = s.Describe() + ", with health memory and in-flight reservations"
	}
	return Variant{Name: "gluenet-" + strat, Strategy: strat, Memory: true, Retry: r, RetrySummary: summary(r),
		Health: health.DefaultConfig(), ReservationTTL: reserve.DefaultTTL, Admission: admit.DefaultConfig(), Description: desc}
}

// withWait is v with another admission wait, named v.Name+"+waitN" (N in
// minutes).
func withWait(v Variant, wait time.Duration) Variant {
	v.Name = fmt.Sprintf("%s+wait%s", strings.TrimSuffix(v.Name, "+predict"), minutes(wait))
	if v.Admission.Predict {
		v.Name += "+predict"
	}
	v.Admission.Wait = wait
	if v.Admission.WhenShort == "" {
		v.Admission.WhenShort = admit.DefaultWhenShort
	}
	if wait == 0 {
		v.Description += "; never waits for room"
	} else {
		v.Description += fmt.Sprintf("; waits up to %s for room", wait)
	}
	return v
}

// minutes writes a wait as minutes for a variant name: 10, 2.5.
func minutes(d time.Duration) string {
	return strconv.FormatFloat(d.Minutes(), 'f', -1, 64)
}

// Variants are the built-in contenders, by name.
var builtinVariants = func() map[string]Variant {
	m := map[string]Variant{
		"ordered":       postVariant("ordered", "ordered", "configured order, as Glue does alone; Airflow retries"),
		"post-random":   postVariant("post-random", "random", "the post's random strategy, no memory, Airflow retries"),
		"post-capacity": postVariant("post-capacity", "capacity", "the post's capacity strategy, no memory, Airflow retries"),
	}
	for _, s := range []string{"capacity", "weighted", "spread", "random", "prefer-az", "ordered"} {
		v := gluenetVariant(s)
		m[v.Name] = v
	}
	return m
}()

// DefaultVariants is what the lab compares when no list is given.
var DefaultVariants = []string{"ordered", "post-random", "post-capacity",
	"gluenet-capacity", "gluenet-weighted", "gluenet-spread", "gluenet-random"}

// VariantNames lists every known variant name, sorted.
func VariantNames() []string {
	out := make([]string, 0, len(builtinVariants))
	for n := range builtinVariants {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// LookupVariant finds a variant by name. Besides the built-in names, any
// registered strategy name S works as "gluenet-S" (with memory) and
// "post-S" (without, Airflow retries).
func LookupVariant(name string) (Variant, error) {
	if base, ok := strings.CutSuffix(name, "+fail"); ok {
		v, err := LookupVariant(base)
		if err != nil {
			return Variant{}, err
		}
		if !v.Admission.Enabled() {
			return Variant{}, fmt.Errorf("strategy %q: +fail says what to do when a wait for room runs out, and %s does not wait", name, base)
		}
		v.Name, v.Admission.WhenShort = name, admit.FailShort
		v.Description += "; a run that finds no room in time does not start (--when-short fail)"
		return v, nil
	}
	if base, ok := strings.CutSuffix(name, "+predict"); ok {
		v, err := LookupVariant(base)
		if err != nil {
			return Variant{}, err
		}
		if !v.Admission.Enabled() {
			return Variant{}, fmt.Errorf("strategy %q: +predict bounds a wait for room, and %s does not wait", name, base)
		}
		v.Name, v.Admission.Predict = name, true
		v.Description += "; the wait is bounded by when room is predicted"
		return v, nil
	}
	if base, n, ok := strings.Cut(name, "+wait"); ok {
		m, err := strconv.ParseFloat(n, 64)
		if err != nil || m < 0 || math.IsInf(m, 0) {
			return Variant{}, fmt.Errorf("strategy %q: +wait takes the admission wait in minutes, such as %s+wait10 (0: never wait)", name, base)
		}
		v, err := LookupVariant(base)
		if err != nil {
			return Variant{}, err
		}
		return withWait(v, time.Duration(m*float64(time.Minute))), nil
	}
	if v, ok := builtinVariants[name]; ok {
		return v, nil
	}
	for _, p := range []struct {
		prefix string
		make   func(string) Variant
	}{
		{"gluenet-", gluenetVariant},
		{"post-", func(s string) Variant {
			return postVariant("post-"+s, s, "strategy "+s+", no memory, Airflow retries")
		}},
	} {
		if s, ok := strings.CutPrefix(name, p.prefix); ok {
			if _, err := strategy.Lookup(s); err == nil {
				return p.make(s), nil
			}
		}
	}
	return Variant{}, fmt.Errorf("unknown strategy %q: choose among %s (or gluenet-S / post-S for any strategy S: %s)",
		name, strings.Join(VariantNames(), ", "), strings.Join(strategy.Names(), ", "))
}
