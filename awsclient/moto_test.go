package awsclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/middleware"
)

// moto's server is the second, independent implementation of the AWS wire
// protocols that the adapter's tests run against, next to gluenet's own
// simulated region (see backend_test.go), so that a wire-format mistake
// shared by gluenet and the simulator cannot pass unseen. One server per
// test binary, shared by the tests, which use distinct names.

var moto struct {
	once sync.Once
	url  string
	err  error
	cmd  *exec.Cmd
}

func TestMain(m *testing.M) {
	code := m.Run()
	if moto.cmd != nil {
		_ = moto.cmd.Process.Kill()
		_ = moto.cmd.Wait()
	}
	os.Exit(code)
}

// motoURL returns the endpoint of the shared moto server, starting it on
// first use. Without moto_server on PATH the test is skipped, unless CI=true.
func motoURL(t *testing.T) string {
	t.Helper()
	moto.once.Do(startMoto)
	if moto.err != nil {
		if errors.Is(moto.err, exec.ErrNotFound) && os.Getenv("CI") != "true" {
			t.Skip("moto_server is not on PATH (pip install 'moto[server]'); skipping the tests against it")
		}
		t.Fatalf("start moto_server: %v", moto.err)
	}
	return moto.url
}

func startMoto() {
	path, err := exec.LookPath("moto_server")
	if err != nil {
		moto.err = err
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		moto.err = err
		return
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()

	cmd := exec.Command(path, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	setDeathSignal(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		moto.err = err
		return
	}
	if err := cmd.Start(); err != nil {
		moto.err = err
		return
	}
	moto.cmd = cmd

	// The server says "Running on http://..." on stderr once it listens;
	// the rest of its output (a line per request) is drained so that it
	// never blocks on a full pipe.
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var head []string
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Running on") {
				ready <- nil
				_, _ = io.Copy(io.Discard, stderr)
				return
			}
			head = append(head, sc.Text())
		}
		ready <- fmt.Errorf("moto_server exited before listening: %s", strings.Join(head, "\n"))
	}()
	// A bound on start-up only, so that a wedged server fails the tests
	// instead of hanging them.
	select {
	case moto.err = <-ready:
	case <-time.After(time.Minute):
		moto.err = errors.New("moto_server did not start within a minute")
	}
	if moto.err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		moto.cmd = nil
		return
	}
	moto.url = "http://127.0.0.1:" + strconv.Itoa(port)
}

// testCredentials are static credentials for local servers.
var testCredentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "testing", SecretAccessKey: "testing", Source: "test"}, nil
})

// testConfig points the SDK at url with one attempt per call, so that no
// test waits for the SDK's backoff.
func testConfig(t *testing.T, url string, apiOptions ...func(*middleware.Stack) error) aws.Config {
	t.Helper()
	cfg, err := LoadConfig(t.Context(), Options{
		Region:       "us-east-1",
		BaseEndpoint: url,
		Credentials:  testCredentials,
		MaxAttempts:  1,
	})
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	cfg.APIOptions = append(cfg.APIOptions, apiOptions...)
	return cfg
}

// callCounter counts the operations the SDK clients perform, by name.
type callCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func newCallCounter() *callCounter { return &callCounter{n: make(map[string]int)} }

func (c *callCounter) apiOption(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("gluenetCountCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.n[middleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func (c *callCounter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.n
	c.n = make(map[string]int)
	return out
}

// uniqueName makes names that no other test on the shared server uses.
func uniqueName(t *testing.T, suffix string) string {
	r := strings.NewReplacer("/", "-", " ", "-", "_", "-")
	return strings.ToLower(r.Replace(t.Name())) + "-" + suffix
}
