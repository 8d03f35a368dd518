package sim

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestBuiltinScenarios(t *testing.T) {
	names := BuiltinScenarios()
	want := []string{"az-degraded", "az-down", "default", "ip-pressure", "throttling"}
	if !slices.Equal(names, want) {
		t.Errorf("built-in scenarios = %q, want %q", names, want)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			sc, err := LoadScenario(name)
			mustOK(t, err)
			if _, err := New(sc, WithClock(NewManualClock(t0))); err != nil {
				t.Errorf("New(%s): %v", name, err)
			}
		})
	}
}

// TestScenarioAliases: the former names still load the renamed scenarios.
func TestScenarioAliases(t *testing.T) {
	for old, name := range map[string]string{"az-outage": "az-down", "throttle-storm": "throttling"} {
		a, err := LoadScenario(old)
		mustOK(t, err)
		b, err := LoadScenario(name)
		mustOK(t, err)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s does not load %s", old, name)
		}
		src, err := BuiltinScenarioSource(old)
		if err != nil || len(src) == 0 {
			t.Errorf("BuiltinScenarioSource(%s): %v", old, err)
		}
	}
}

// The default scenario is the post's setup, and a run finishes within a few
// seconds of wall time.
func TestDefaultScenarioIsThePost(t *testing.T) {
	for _, name := range []string{"", "default"} {
		sc, err := LoadScenario(name)
		mustOK(t, err)
		if sc.Region != "us-east-1" || sc.VPC.CIDR != "10.192.0.0/16" {
			t.Errorf("region %s VPC %s", sc.Region, sc.VPC.CIDR)
		}
		var subnets []string
		for _, s := range sc.Subnets {
			subnets = append(subnets, s.Name+" "+s.CIDR+" "+s.AZ)
		}
		if want := []string{"PrivateSubnet1 10.192.20.0/24 us-east-1a", "PrivateSubnet2 10.192.21.0/24 us-east-1b"}; !slices.Equal(subnets, want) {
			t.Errorf("subnets = %q, want %q", subnets, want)
		}
		if len(sc.Connections) != 2 || sc.Connections[0].Name != conn1 || sc.Connections[1].Name != conn2 {
			t.Errorf("connections = %+v", sc.Connections)
		}
		j := sc.Jobs[0]
		if j.Name != blogJob || j.Workers != 2 || j.WorkerType != "G.1X" || j.Role != "arn:aws:iam::123456789012:role/service-role/AWSGlueServiceRole-Blog" {
			t.Errorf("job = %+v", j)
		}
		longest := j.Startup.D() + j.Duration.D() + j.DurationJitter.D()
		if wall := time.Duration(float64(longest) / sc.TimeScale); wall > 5*time.Second || wall < time.Second {
			t.Errorf("a run lasts %v of wall time at scale %v, want a few seconds", wall, sc.TimeScale)
		}
		if lag := time.Duration(sc.ENI.Lag); lag != time.Minute {
			t.Errorf("ENI lag = %v, want 1m", lag)
		}
	}
}

// Every field of default.yaml is explained in a comment, since users copy
// the file to write their own.
func TestDefaultScenarioIsCommented(t *testing.T) {
	b, err := BuiltinScenarioSource("default")
	mustOK(t, err)
	var comments strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if _, c, ok := strings.Cut(line, "#"); ok {
			comments.WriteString(c + "\n")
		}
	}
	var root yaml.Node
	mustOK(t, yaml.Unmarshal(b, &root))
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				key := n.Content[i].Value
				if !regexp.MustCompile(`\b` + regexp.QuoteMeta(key) + `\b`).MatchString(comments.String()) {
					t.Errorf("default.yaml line %d: key %q is not explained in any comment", n.Content[i].Line, key)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
}

const minimal = `
vpc: {id: vpc-1, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24, az: us-east-1a}
`

func TestParseScenario(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"minimal", minimal, ""},
		{"unknown key names its line", minimal + "colour: blue\n", "line 5: unknown key `colour`"},
		{"unknown nested key", "vpc: {id: vpc-1, cidr: 10.0.0.0/16, size: 3}\n", "line 1: unknown key `vpc.size`"},
		{"bare number duration", minimal + "eni: {lag: 60, linger: 0}\n", "invalid duration"},
		{"bad duration", minimal + "degraded_failure_after: soon\n", "invalid duration"},
		{"empty", "  \n", "empty document"},
		{"two documents", minimal + "---\nseed: 1\n", "more than one"},
		{"bad VPC CIDR", "vpc: {id: vpc-1, cidr: 10.0.0.0/33}\n", "vpc.cidr"},
		{"subnet outside the VPC", "vpc: {id: vpc-1, cidr: 10.0.0.0/16}\nsubnets: [{id: subnet-a, cidr: 10.1.0.0/24, az: us-east-1a}]\n", "not inside the VPC"},
		{"overlapping subnets", minimal + "  - {id: subnet-b, cidr: 10.0.1.128/25, az: us-east-1b}\n", "overlaps"},
		{"duplicate subnet", minimal + "  - {id: subnet-a, cidr: 10.0.2.0/24, az: us-east-1b}\n", "duplicate subnet"},
		{"subnet too large", "vpc: {id: vpc-1, cidr: 10.0.0.0/16}\nsubnets: [{id: subnet-a, cidr: 10.0.0.0/15, az: us-east-1a}]\n", "between /16 and /28"},
		{"host bits", "vpc: {id: vpc-1, cidr: 10.0.0.0/16}\nsubnets: [{id: subnet-a, cidr: 10.0.1.7/24, az: us-east-1a}]\n", "host bits"},
		{"AZ of another region", minimal + "  - {id: subnet-b, cidr: 10.0.2.0/24, az: eu-west-1a}\n", "not a zone of us-east-1"},
		{"job with unknown connection", minimal + "jobs: [{name: j, role: r, workers: 2, worker_type: G.1X, connections: [nope]}]\n", `no connection "nope"`},
		{"job with one worker", minimal + "jobs: [{name: j, role: r, workers: 1, worker_type: G.1X}]\n", "at least 2 workers"},
		{"failure rate", minimal + "run_defaults: {failure_rate: 1.5}\n", "failure_rate"},
		{"background too big", minimal + "background: [{subnet: subnet-a, enis: 252}]\n", "between 0 and the subnet's 251"},
		{"fault with two kinds", minimal + "faults: [{at: 1m, az: us-east-1a, state: down, throttle: {service: glue, rate: 0.1}}]\n", "exactly one"},
		{"fault with no kind", minimal + "faults: [{at: 1m}]\n", "exactly one"},
		{"fault on unknown AZ", minimal + "faults: [{at: 1m, az: us-east-1f, state: down}]\n", "no zone"},
		{"fault with bad state", minimal + "faults: [{at: 1m, az: us-east-1a, state: sideways}]\n", "unknown AZ state"},
		{"fault on unknown service", minimal + "faults: [{at: 1m, errors: {service: s3, rate: 0.1}}]\n", "unknown service"},
		{"negative time", minimal + "faults: [{at: -1m, latency: {service: glue, latency: 1ms}}]\n", "must not be negative"},
		{"connection to a missing subnet is allowed", minimal + "connections: [{name: c, subnet: subnet-gone}]\n", ""},
		{"account", minimal + "account_id: '12'\n", "12 digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tt.yaml))
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestScenarioDefaults(t *testing.T) {
	sc := mustScenario(t, minimal+"jobs: [{name: j, role: r, workers: 2, worker_type: G.1X}]\n")
	d := sc.withDefaults()
	if d.TimeScale != 1 || d.Region != "us-east-1" || d.AccountID != "123456789012" {
		t.Errorf("defaults = scale %v region %s account %s", d.TimeScale, d.Region, d.AccountID)
	}
	j := d.Jobs[0]
	if j.Startup.D() != time.Minute || j.Duration.D() != 10*time.Minute || j.MaxConcurrentRuns != 1 || j.TimeoutMinutes != 2880 {
		t.Errorf("job defaults = %+v", j)
	}
	if sc.Jobs[0].Startup != 0 {
		t.Errorf("withDefaults changed the caller's scenario")
	}
}

func TestLoadScenarioFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "mine.yaml")
	mustOK(t, os.WriteFile(path, []byte(minimal), 0o600))
	sc, err := LoadScenario(path)
	mustOK(t, err)
	if sc.Subnets[0].ID != "subnet-a" {
		t.Errorf("loaded %+v", sc.Subnets)
	}
	if _, err := LoadScenario(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "built-in: ") {
		t.Errorf("missing file: %v, want an error listing the built-ins", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	mustOK(t, os.WriteFile(bad, []byte(minimal+"oops: 1\n"), 0o600))
	if _, err := LoadScenario(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad file: %v, want an error naming the file", err)
	}
}

func TestNewRejectsInvalidScenario(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	sc := mustScenario(t, minimal)
	sc.Subnets[0].CIDR = "nonsense"
	if _, err := New(sc); err == nil {
		t.Error("New with an invalid scenario succeeded")
	}
}
