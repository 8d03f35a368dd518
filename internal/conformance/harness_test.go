package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet/sim"
)

// clockStart is the simulated time at which every test region starts.
var clockStart = time.Date(2024, 6, 11, 9, 0, 0, 0, time.UTC)

// extraSubnets are added to the default scenario so that DescribeSubnets
// has more than one page at the smallest MaxResults EC2 accepts (5).
var extraSubnets = []sim.SubnetSpec{
	{ID: "subnet-0e1f2a3b4c5d60031", Name: "ConfSubnet3", CIDR: "10.192.30.0/24", AZ: "us-east-1c"},
	{ID: "subnet-0e1f2a3b4c5d60032", Name: "ConfSubnet4", CIDR: "10.192.31.0/24", AZ: "us-east-1c"},
	{ID: "subnet-0e1f2a3b4c5d60033", Name: "ConfSubnet5", CIDR: "10.192.32.0/26", AZ: "us-east-1c"},
	{ID: "subnet-0e1f2a3b4c5d60034", Name: "ConfSubnet6", CIDR: "10.192.33.0/27", AZ: "us-east-1b"},
	{ID: "subnet-0e1f2a3b4c5d60035", Name: "ConfSubnet7", CIDR: "10.192.34.0/28", AZ: "us-east-1a"},
}

// testRegion is a simulated region served on a loopback socket.
type testRegion struct {
	region   *sim.Region
	clock    *sim.ManualClock
	endpoint string
}

// startRegion serves the default scenario plus extraSubnets on 127.0.0.1
// with a manual clock, until the test ends.
func startRegion(t *testing.T) *testRegion {
	t.Helper()
	sc, err := sim.LoadScenario("default")
	if err != nil {
		t.Fatalf("load default scenario: %v", err)
	}
	sc.Subnets = append(sc.Subnets, extraSubnets...)
	clock := sim.NewManualClock(clockStart)
	region, err := sim.New(sc, sim.WithClock(clock))
	if err != nil {
		t.Fatalf("new region: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.ServeListener(ctx, ln, region, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve region: %v", err)
		}
	})
	return &testRegion{region: region, clock: clock, endpoint: "http://" + ln.Addr().String()}
}

// missingTool skips the test, or fails it when CI=true: in CI every
// conformance check must run.
func missingTool(t *testing.T, what, install string) {
	t.Helper()
	msg := fmt.Sprintf("%s is not available; install it with `%s` to run this conformance test", what, install)
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %s", msg)
	}
	t.Skip("skipping: " + msg)
}

// clientEnv is the environment of an external client: throwaway credentials
// from the environment, empty config and credentials files, no pager, one
// attempt per call (a 5xx or throttle must show, not be retried away), and
// nothing else of the caller's AWS settings. The interpreter's own settings
// (pyenv, Python, locale) pass through so that the tools start.
func clientEnv(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	config := filepath.Join(home, "config")
	creds := filepath.Join(home, "credentials")
	for _, f := range []string{config, creds} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatalf("write empty AWS file: %v", err)
		}
	}
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYENV") || strings.HasPrefix(kv, "PYTHON") ||
			strings.HasPrefix(kv, "LANG=") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+config,
		"AWS_SHARED_CREDENTIALS_FILE="+creds,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1",
		"AWS_RETRY_MODE=standard",
		"AWS_PAGER=",
	)
}

// runTool runs a command and returns its stdout, stderr and error.
func runTool(env []string, name string, args ...string) ([]byte, string, error) {
	// A guard against a hung subprocess, not a performance assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = os.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.Bytes(), stderr.String(), err
}

var cliVersionRE = regexp.MustCompile(`aws-cli/(\d+)\.\d+\.\d+`)

// cliCandidates lists the `aws` executables to try: pyenv's real binary
// (cheaper to start than its shim), every `aws` on PATH, and Debian's.
func cliCandidates() []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if p == "" || seen[p] {
			return
		}
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return
		}
		seen[p] = true
		out = append(out, p)
	}
	resolved := false
	if pyenv, err := exec.LookPath("pyenv"); err == nil {
		if b, err := exec.Command(pyenv, "which", "aws").Output(); err == nil {
			add(strings.TrimSpace(string(b)))
			resolved = true
		}
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		// A pyenv shim only dispatches to what `pyenv which` returned, and
		// asking it for its version costs a full CLI start.
		if resolved && filepath.Base(dir) == "shims" {
			continue
		}
		add(filepath.Join(dir, "aws"))
	}
	add("/usr/bin/aws")
	add("/usr/local/bin/aws")
	return out
}

// findCLIs returns the first AWS CLI of each major version found, by
// asking each candidate for its version.
func findCLIs(t *testing.T) map[int]string {
	t.Helper()
	env := clientEnv(t)
	found := map[int]string{}
	for _, path := range cliCandidates() {
		if len(found) == 2 {
			break
		}
		stdout, stderr, err := runTool(env, path, "--version")
		if err != nil {
			t.Logf("%s --version: %v: %s", path, err, stderr)
			continue
		}
		// CLI v1 printed its version on stderr in old releases.
		m := cliVersionRE.FindStringSubmatch(string(stdout) + stderr)
		if m == nil {
			continue
		}
		major := int(m[1][0] - '0')
		if _, ok := found[major]; !ok {
			found[major] = path
			t.Logf("AWS CLI v%d: %s (%s)", major, path, strings.TrimSpace(string(stdout)+stderr))
		}
	}
	return found
}

// subnetByName returns the subnet named name in a snapshot.
func subnetByName(t *testing.T, st sim.State, name string) sim.SubnetState {
	t.Helper()
	for _, s := range st.Subnets {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no subnet named %s in the region", name)
	return sim.SubnetState{}
}

// subnetByID returns the subnet with the given ID in a snapshot.
func subnetByID(t *testing.T, st sim.State, id string) sim.SubnetState {
	t.Helper()
	for _, s := range st.Subnets {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no subnet %s in the region", id)
	return sim.SubnetState{}
}

// runByID returns the run with the given ID in a snapshot.
func runByID(t *testing.T, st sim.State, id string) sim.RunState {
	t.Helper()
	for _, r := range st.Runs {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no run %s in the region", id)
	return sim.RunState{}
}

// inCIDR reports whether ip is an address of cidr.
func inCIDR(ip, cidr string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	p, err := netip.ParsePrefix(cidr)
	return err == nil && p.Contains(a)
}

// driverLineRE is the driver line the post's test script prints.
var driverLineRE = regexp.MustCompile(`^The driver node has been assigned the ip: (\S+) which belongs to the subnet: (\S+)$`)

// parseDriverLine returns the IP and subnet name of a driver line.
func parseDriverLine(line string) (ip, subnet string, err error) {
	m := driverLineRE.FindStringSubmatch(line)
	if m == nil {
		return "", "", errors.New("not a driver line: " + line)
	}
	return m[1], m[2], nil
}
