package dynamodb

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/dynamodb/ddbtest"
	"github.com/gluenet/gluenet/store/storetest"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want store.Fault
	}{
		{"throughput exceeded", &types.ProvisionedThroughputExceededException{}, store.FaultRetry},
		{"request limit", fmt.Errorf("put: %w", &types.RequestLimitExceeded{}), store.FaultRetry},
		{"internal error", &types.InternalServerError{}, store.FaultRetry},
		{"throttled", &smithy.GenericAPIError{Code: "ThrottlingException"}, store.FaultRetry},
		{"unavailable", &smithy.GenericAPIError{Code: "ServiceUnavailable"}, store.FaultRetry},
		{"sdk retries ran out", &retry.MaxAttemptsError{Attempt: 3, Err: errors.New("x")}, store.FaultRetry},
		{"contended", fmt.Errorf("update health: %w", errContended), store.FaultRetry},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, store.FaultRetry},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), store.FaultRetry},
		{"eof", io.ErrUnexpectedEOF, store.FaultRetry},
		{"access denied", &smithy.GenericAPIError{Code: "AccessDeniedException"}, store.FaultNone},
		{"no table", &types.ResourceNotFoundException{}, store.FaultNone},
		{"validation", &smithy.GenericAPIError{Code: "ValidationException"}, store.FaultNone},
		{"not found", store.ErrNotFound, store.FaultNone},
		{"nil", nil, store.FaultNone},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

// TestGuardedWritesOutlastAnOutage: the emulator goes away (connections
// reset, new ones refused) while many goroutines write, and comes back a
// second later: through store.Guard with Classify, every write lands.
func TestGuardedWritesOutlastAnOutage(t *testing.T) {
	eachEmulator(t, func(t *testing.T, ep ddbtest.Endpoint) {
		_, table := newTable(t, ep)
		p := startProxy(t, ep.URL[len("http://"):])
		s := openOn(t, ddbtest.Client("http://"+p.addr), table)
		g := store.Guard(s, store.GuardOptions{Name: Describe(table), Classify: Classify, Timeout: time.Minute})
		const writers = 8
		storetest.BeginRuns(t, g, writers)
		p.down()
		wait := storetest.Writers(t, writers, func(int) store.Store { return g })
		time.Sleep(time.Second) // the outage: not an assertion
		p.up(t)
		wait(g)
	})
}

// proxy forwards TCP connections to a backend; down resets them and
// refuses new ones until up.
type proxy struct {
	addr, backend string
	mu            sync.Mutex
	ln            net.Listener
	conns         []net.Conn
}

func startProxy(t *testing.T, backend string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String(), backend: backend}
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(b, c); b.Close() }()
			go func() { _, _ = io.Copy(c, b); c.Close() }()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, as a crashed server's
		}
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) up(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}
