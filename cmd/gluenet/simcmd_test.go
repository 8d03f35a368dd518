package main

import (
	"net"
	"strings"
	"testing"

	"github.com/gluenet/gluenet/sim"
)

// TestSimEndpoint: the endpoint sim serve prints is one a client can use,
// and a listener beyond loopback is flagged (sim serve warns about it).
func TestSimEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr    *net.TCPAddr
		want    string
		exposed bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4566}, "http://127.0.0.1:4566", false},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 4566}, "http://127.0.0.1:4566", true},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 4566}, "http://127.0.0.1:4566", true},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 4566}, "http://[::1]:4566", false},
		{&net.TCPAddr{IP: net.IPv4(192, 168, 1, 7), Port: 80}, "http://192.168.1.7:80", true},
	}
	for _, tt := range tests {
		t.Run(tt.addr.String(), func(t *testing.T) {
			got, exposed := simEndpoint(tt.addr)
			if got != tt.want || exposed != tt.exposed {
				t.Errorf("got %s exposed=%v, want %s exposed=%v", got, exposed, tt.want, tt.exposed)
			}
		})
	}
	if got := simExports("http://127.0.0.1:4566", ""); got != "export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \\\n       AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test\n" {
		t.Errorf("exports: %q", got)
	}
}

// TestVersion: --version says which gluenet this is.
func TestVersion(t *testing.T) {
	t.Parallel()
	var out, errb strings.Builder
	if code := execute(t.Context(), []string{"--version"}, &out, &errb, func(string) (string, bool) { return "", false }); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if want := "gluenet version " + buildVersion(); !strings.HasPrefix(out.String(), want) || buildVersion() == "" {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// TestFaultList: sim fault list names each fault in force in the words of
// the command that sets it, and says when there is none.
func TestFaultList(t *testing.T) {
	t.Parallel()
	healthy := []sim.AZInfo{{Name: "us-east-1a", State: sim.AZHealthy}, {Name: "us-east-1b", State: sim.AZHealthy}}
	none := sim.FaultsState{Throttle: map[string]float64{}, ServerErrors: map[string]float64{}, Latency: map[string]string{}}
	tests := []struct {
		name string
		st   sim.State
		want string
	}{
		{"none", sim.State{AZs: healthy, Faults: none}, "No fault is in force.\n"},
		{"every kind", sim.State{
			AZs: []sim.AZInfo{{Name: "us-east-1a", State: sim.AZDown}, {Name: "us-east-1b", State: sim.AZHealthy}},
			Faults: sim.FaultsState{
				Throttle: map[string]float64{"glue": 0.3, "ec2": 0.1}, ServerErrors: map[string]float64{"logs": 0.5},
				Latency:   map[string]string{"glue": "20ms"},
				Exhausted: []sim.ExhaustedSubnet{{SubnetID: "subnet-1", FreeIPs: 3, BackgroundENIs: 248, ScenarioBackgroundENIs: 0}},
			},
		}, "az us-east-1a down\nthrottle ec2 0.1\nthrottle glue 0.3\nerrors logs 0.5\nlatency glue 20ms\n" +
			"exhaust subnet-1: 3 free IPs (other workloads hold 248; the scenario starts with 0)\n" +
			"(gluenet sim fault reset undoes them all.)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := faultList(tt.st); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
