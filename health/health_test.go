package health

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
	"pgregory.net/rapid"
)

var t0 = time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC)

// Verdicts as classify produces them for the simulated region's texts.
var (
	ipShortage = classify.RunOutcome(classify.StateFailed, "Failed to create network interface in subnet subnet-x: The specified subnet does not have enough free addresses to satisfy the request. (Service: AmazonEC2; Status Code: 400; Error Code: InsufficientFreeAddressesInSubnet)")
	azDown     = classify.RunOutcome(classify.StateFailed, "Could not find subnet for AZ us-east-1a: the Availability Zone is not available for AWS Glue. Create and use a subnet in a different Availability Zone.")
	script     = classify.RunOutcome(classify.StateFailed, "Error Category: UNCLASSIFIED_ERROR; ValueError: simulated failure in the job script (not network related)")
	timedOut   = classify.RunOutcome(classify.StateTimeout, "Job run timed out after 5 minutes")
	succeeded  = classify.RunOutcome(classify.StateSucceeded, "")
	throttled  = classify.Verdict{Class: classify.Throttling, Retry: true}
)

func TestVerdictsFromClassify(t *testing.T) {
	t.Parallel()
	// The tables below rely on these; fail loudly if classify changes.
	if !ipShortage.BlameSubnet || ipShortage.BlameAZ || !azDown.BlameAZ || script.BlameSubnet || timedOut.BlameSubnet {
		t.Fatalf("unexpected verdicts: %v / %v / %v / %v", ipShortage, azDown, script, timedOut)
	}
}

// step is one observed outcome.
type step struct {
	after      time.Duration // since t0
	subnet, az string
	verdict    classify.Verdict
}

func run(recs []gluenet.HealthRecord, cfg Config, steps []step) ([]gluenet.HealthRecord, []Event) {
	var all []Event
	for _, s := range steps {
		var ev []Event
		recs, ev = Observe(recs, t0.Add(s.after), s.subnet, s.az, s.verdict, cfg)
		all = append(all, ev...)
	}
	return recs, all
}

func find(recs []gluenet.HealthRecord, scope gluenet.Scope, key string) gluenet.HealthRecord {
	for _, r := range recs {
		if r.Scope == scope && r.Key == key {
			return r
		}
	}
	return gluenet.HealthRecord{}
}

func kinds(events []Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = string(e.Scope) + ":" + e.Key + ":" + e.Kind
	}
	return out
}

func TestObserve(t *testing.T) {
	t.Parallel()
	type want struct {
		scope      gluenet.Scope
		key        string
		failures   int
		ejections  int
		ejectedFor time.Duration // from the time of the last step; 0: not ejected then
	}
	tests := []struct {
		name   string
		cfg    Config
		steps  []step
		wants  []want
		events []string
	}{
		{"job-code failure changes nothing",
			Config{}, []step{{0, "s1", "a", script}}, nil, []string{}},
		{"timeout and throttling change nothing",
			Config{}, []step{{0, "s1", "a", timedOut}, {time.Minute, "s1", "a", throttled}}, nil, []string{}},
		{"IP shortage ejects the subnet, counts once against the AZ",
			Config{}, []step{{0, "s1", "a", ipShortage}},
			[]want{{gluenet.ScopeSubnet, "s1", 1, 1, 5 * time.Minute}, {gluenet.ScopeAZ, "a", 1, 0, 0}},
			[]string{"subnet:s1:failure", "subnet:s1:ejected", "az:a:failure"}},
		{"a failure pointing at the zone ejects the AZ too",
			Config{}, []step{{0, "s1", "a", azDown}},
			[]want{{gluenet.ScopeSubnet, "s1", 1, 1, 5 * time.Minute}, {gluenet.ScopeAZ, "a", 1, 1, 5 * time.Minute}},
			[]string{"subnet:s1:failure", "subnet:s1:ejected", "az:a:failure", "az:a:ejected"}},
		{"two failing subnets of one AZ eject the AZ",
			Config{}, []step{{0, "s1", "a", ipShortage}, {time.Minute, "s2", "a", ipShortage}},
			[]want{{gluenet.ScopeSubnet, "s2", 1, 1, 5 * time.Minute}, {gluenet.ScopeAZ, "a", 2, 1, 5 * time.Minute}},
			[]string{"subnet:s1:failure", "subnet:s1:ejected", "az:a:failure",
				"subnet:s2:failure", "subnet:s2:ejected", "az:a:failure", "az:a:ejected"}},
		{"one subnet failing again does not eject its AZ, its second ejection is twice as long",
			Config{}, []step{{0, "s1", "a", ipShortage}, {10 * time.Minute, "s1", "a", ipShortage}},
			[]want{{gluenet.ScopeSubnet, "s1", 2, 2, 10 * time.Minute}, {gluenet.ScopeAZ, "a", 1, 0, 0}},
			[]string{"subnet:s1:failure", "subnet:s1:ejected", "az:a:failure", "subnet:s1:failure", "subnet:s1:ejected"}},
		{"subnets of different AZs do not add up",
			Config{}, []step{{0, "s1", "a", ipShortage}, {0, "s3", "b", ipShortage}},
			[]want{{gluenet.ScopeAZ, "a", 1, 0, 0}, {gluenet.ScopeAZ, "b", 1, 0, 0}},
			nil},
		{"higher threshold: ejected at the third failure in a row",
			Config{ConsecutiveFailures: 3}, []step{{0, "s1", "a", ipShortage}, {0, "s1", "a", ipShortage}, {0, "s1", "a", ipShortage}},
			[]want{{gluenet.ScopeSubnet, "s1", 3, 1, 5 * time.Minute}},
			[]string{"subnet:s1:failure", "az:a:failure", "subnet:s1:failure", "subnet:s1:failure", "subnet:s1:ejected"}},
		{"higher threshold: a success breaks the streak",
			Config{ConsecutiveFailures: 2}, []step{{0, "s1", "a", ipShortage}, {0, "s1", "a", succeeded}, {0, "s1", "a", ipShortage}},
			[]want{{gluenet.ScopeSubnet, "s1", 1, 0, 0}, {gluenet.ScopeAZ, "a", 1, 0, 0}},
			[]string{"subnet:s1:failure", "az:a:failure", "subnet:s1:success", "az:a:success", "subnet:s1:failure", "az:a:failure"}},
		{"success ends an ejection early and lowers the count",
			Config{}, []step{{0, "s1", "a", azDown}, {time.Minute, "s1", "a", succeeded}},
			[]want{{gluenet.ScopeSubnet, "s1", 0, 0, 0}, {gluenet.ScopeAZ, "a", 0, 0, 0}},
			[]string{"subnet:s1:failure", "subnet:s1:ejected", "az:a:failure", "az:a:ejected", "subnet:s1:success", "az:a:success"}},
		{"a success with nothing to clear is not an event",
			Config{}, []step{{0, "s1", "a", succeeded}},
			[]want{{gluenet.ScopeSubnet, "s1", 0, 0, 0}},
			[]string{}},
		{"capped at the maximum",
			Config{BaseEjection: 20 * time.Minute, MaxEjection: 30 * time.Minute},
			[]step{{0, "s1", "", ipShortage}, {time.Hour, "s1", "", ipShortage}, {2 * time.Hour, "s1", "", ipShortage}},
			[]want{{gluenet.ScopeSubnet, "s1", 3, 3, 30 * time.Minute}},
			nil},
		{"unknown subnet: a failure pointing at the zone still counts against it",
			Config{}, []step{{0, "", "a", azDown}},
			[]want{{gluenet.ScopeAZ, "a", 1, 1, 5 * time.Minute}},
			[]string{"az:a:failure", "az:a:ejected"}},
		{"unknown subnet and zone: nothing to record",
			Config{}, []step{{0, "", "", azDown}}, nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			recs, events := run(nil, tt.cfg, tt.steps)
			last := t0.Add(tt.steps[len(tt.steps)-1].after)
			for _, w := range tt.wants {
				r := find(recs, w.scope, w.key)
				if r.Key != w.key {
					t.Fatalf("no record for %s %s in %+v", w.scope, w.key, recs)
				}
				if r.ConsecutiveFailures != w.failures || r.Ejections != w.ejections {
					t.Errorf("%s %s: failures %d ejections %d, want %d %d", w.scope, w.key, r.ConsecutiveFailures, r.Ejections, w.failures, w.ejections)
				}
				if w.ejectedFor == 0 {
					if r.Ejected(last) {
						t.Errorf("%s %s: ejected until %v, want not ejected", w.scope, w.key, r.EjectedUntil)
					}
				} else if got := r.EjectedUntil.Sub(last); got != w.ejectedFor {
					t.Errorf("%s %s: ejected for %v, want %v", w.scope, w.key, got, w.ejectedFor)
				}
			}
			if tt.events != nil {
				if got := kinds(events); !slices.Equal(got, tt.events) {
					t.Errorf("events\n got %v\nwant %v", got, tt.events)
				}
			}
			for _, e := range events {
				if e.At.IsZero() || e.Key == "" || e.Kind == "" {
					t.Errorf("incomplete event %+v", e)
				}
				if e.Kind != KindSuccess && e.Class != string(classify.Placement) {
					t.Errorf("event %+v: class %q, want placement", e, e.Class)
				}
			}
		})
	}
}

func TestEjectionEndsWithTime(t *testing.T) {
	t.Parallel()
	recs, _ := Observe(nil, t0, "s1", "a", azDown, Config{})
	for _, r := range recs {
		if !r.Ejected(t0.Add(5*time.Minute - time.Nanosecond)) {
			t.Errorf("%s %s should still be ejected just before 5m", r.Scope, r.Key)
		}
		if r.Ejected(t0.Add(5 * time.Minute)) {
			t.Errorf("%s %s should be back after 5m", r.Scope, r.Key)
		}
	}
}

func TestEjectionNeverShortened(t *testing.T) {
	t.Parallel()
	long := t0.Add(3 * time.Hour)
	in := []gluenet.HealthRecord{{Scope: gluenet.ScopeSubnet, Key: "s1", EjectedUntil: long, Ejections: 1}}
	out, _ := Observe(in, t0, "s1", "a", ipShortage, Config{})
	if r := find(out, gluenet.ScopeSubnet, "s1"); !r.EjectedUntil.Equal(long) || r.Ejections != 2 {
		t.Fatalf("record %+v: the running 3h ejection must be kept", r)
	}
}

func TestObserveDoesNotModifyInput(t *testing.T) {
	t.Parallel()
	in := []gluenet.HealthRecord{{Scope: gluenet.ScopeSubnet, Key: "s1", ConsecutiveFailures: 1}, {Scope: gluenet.ScopeAZ, Key: "a"}}
	keep := slices.Clone(in)
	out, _ := Observe(in, t0, "s1", "a", azDown, Config{})
	if !reflect.DeepEqual(in, keep) {
		t.Fatalf("input modified: %+v", in)
	}
	if out[0].Key != "s1" || out[1].Key != "a" || len(out) != 2 {
		t.Fatalf("order not kept: %+v", out)
	}
}

func TestEventDetails(t *testing.T) {
	t.Parallel()
	_, events := Observe(nil, t0, "subnet-0abc", "us-east-1a", azDown, Config{})
	var joined []string
	for _, e := range events {
		joined = append(joined, e.Detail)
	}
	all := strings.Join(joined, "\n")
	for _, want := range []string{"Could not find subnet for AZ", "ejected for 5m0s (ejection 1) until 2026-03-01T07:05:00Z",
		"after 1 placement failure", "after 1 piece of evidence against the zone"} {
		if !strings.Contains(all, want) {
			t.Errorf("details do not mention %q:\n%s", want, all)
		}
	}
}

func TestReset(t *testing.T) {
	t.Parallel()
	recs := []gluenet.HealthRecord{
		{Scope: gluenet.ScopeSubnet, Key: "s1"}, {Scope: gluenet.ScopeSubnet, Key: "s2"},
		{Scope: gluenet.ScopeAZ, Key: "a"}, {Scope: gluenet.ScopeAZ, Key: "b"},
	}
	tests := []struct {
		name  string
		scope gluenet.Scope
		key   string
		want  []string
	}{
		{"one subnet", gluenet.ScopeSubnet, "s1", []string{"s2", "a", "b"}},
		{"one AZ", gluenet.ScopeAZ, "b", []string{"s1", "s2", "a"}},
		{"a key of another scope is kept", gluenet.ScopeAZ, "s1", []string{"s1", "s2", "a", "b"}},
		{"every subnet", gluenet.ScopeSubnet, "", []string{"a", "b"}},
		{"everything", "", "", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := Reset(recs, tt.scope, tt.key)
			got := []string{}
			for _, r := range out {
				got = append(got, r.Key)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if len(recs) != 4 {
				t.Fatal("input modified")
			}
		})
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config takes defaults: %v", err)
	}
	for _, bad := range []Config{
		{ConsecutiveFailures: -1}, {AZFailingSubnets: -1}, {BaseEjection: -time.Second}, {MaxEjection: -time.Second},
		{BaseEjection: time.Hour, MaxEjection: time.Minute},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v should be invalid", bad)
		}
	}
	if got := (Config{}).Ejection(1); got != DefaultBaseEjection {
		t.Errorf("default first ejection %v", got)
	}
}

// Property: ejection lengths grow linearly with the ejection count and are
// capped.
func TestEjectionLengthProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		base := time.Duration(rapid.IntRange(1, 600).Draw(t, "base_s")) * time.Second
		maxD := base * time.Duration(rapid.IntRange(1, 50).Draw(t, "max_x"))
		cfg := Config{BaseEjection: base, MaxEjection: maxD}
		n := rapid.IntRange(1, 1<<40).Draw(t, "n")
		got := cfg.Ejection(n)
		want := maxD
		if int64(n) <= int64(maxD/base) {
			want = base * time.Duration(n)
		}
		if got != want || got > maxD {
			t.Fatalf("Ejection(%d) = %v, want %v (base %v, max %v)", n, got, want, base, maxD)
		}
		if next := cfg.Ejection(n + 1); next < got || next-got > base {
			t.Fatalf("Ejection(%d) = %v after %v: not linear-then-capped", n+1, next, got)
		}
	})
}

// Property, over random histories of outcomes: a success always clears the
// consecutive failures (and any ejection) of its subnet and zone; anything
// other than a placement failure or a success changes nothing; every
// ejection lasts Ejection(n) for its n-th ejection, never shortening one
// already running; ejection counts move by one at a time.
func TestObserveProperties(t *testing.T) {
	t.Parallel()
	azOf := map[string]string{"s1": "a", "s2": "a", "s3": "b", "s4": "b", "": "c"}
	subnets := []string{"s1", "s2", "s3", "s4", ""}
	verdicts := []classify.Verdict{ipShortage, azDown, script, timedOut, succeeded, throttled,
		classify.RunOutcome(classify.StateStopped, ""), classify.RunOutcome(classify.StateFailed, "Command failed with exit code 1")}
	rapid.Check(t, func(t *rapid.T) {
		cfg := Config{
			ConsecutiveFailures: rapid.IntRange(0, 4).Draw(t, "consecutive"),
			AZFailingSubnets:    rapid.IntRange(0, 4).Draw(t, "az_subnets"),
			BaseEjection:        time.Duration(rapid.IntRange(0, 30).Draw(t, "base_min")) * time.Minute,
		}
		cfg.MaxEjection = cfg.withDefaults().BaseEjection * time.Duration(rapid.IntRange(1, 10).Draw(t, "max_x"))
		now := t0
		var recs []gluenet.HealthRecord
		steps := rapid.IntRange(1, 40).Draw(t, "steps")
		for i := 0; i < steps; i++ {
			now = now.Add(time.Duration(rapid.IntRange(0, 120).Draw(t, "gap_min")) * time.Minute)
			subnet := rapid.SampledFrom(subnets).Draw(t, "subnet")
			az := azOf[subnet]
			v := rapid.SampledFrom(verdicts).Draw(t, "verdict")
			before := slices.Clone(recs)
			out, events := Observe(recs, now, subnet, az, v, cfg)

			switch {
			case v.Class == classify.Succeeded:
				for _, k := range []struct {
					s   gluenet.Scope
					key string
				}{{gluenet.ScopeSubnet, subnet}, {gluenet.ScopeAZ, az}} {
					if k.key == "" {
						continue
					}
					r := find(out, k.s, k.key)
					if r.ConsecutiveFailures != 0 || r.Ejected(now) {
						t.Fatalf("after a success %s %s still has %d failures, ejected until %v", k.s, k.key, r.ConsecutiveFailures, r.EjectedUntil)
					}
				}
			case !v.BlameSubnet && !v.BlameAZ:
				if !reflect.DeepEqual(out, before) && !(len(out) == 0 && len(before) == 0) {
					t.Fatalf("%v changed the records:\n%+v\n%+v", v, before, out)
				}
				if len(events) != 0 {
					t.Fatalf("%v produced events %+v", v, events)
				}
			}
			for _, e := range events {
				r := find(out, e.Scope, e.Key)
				old := find(before, e.Scope, e.Key)
				if e.Kind != KindEjected {
					continue
				}
				if r.Ejections != old.Ejections+1 {
					t.Fatalf("ejection count %d -> %d", old.Ejections, r.Ejections)
				}
				want := now.Add(cfg.Ejection(r.Ejections))
				if old.EjectedUntil.After(want) {
					want = old.EjectedUntil
				}
				if !r.EjectedUntil.Equal(want) {
					t.Fatalf("%s %s ejected until %v, want %v", e.Scope, e.Key, r.EjectedUntil, want)
				}
			}
			for _, r := range out {
				old := find(before, r.Scope, r.Key)
				if d := r.Ejections - old.Ejections; d < -1 || d > 1 {
					t.Fatalf("%s %s ejections jumped %d -> %d", r.Scope, r.Key, old.Ejections, r.Ejections)
				}
			}
			recs = out
		}
	})
}
