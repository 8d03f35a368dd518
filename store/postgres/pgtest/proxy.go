package pgtest

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
)

// Proxy is a TCP proxy in front of a Postgres server, for fault tests. It
// can stop answering (Freeze: connections stay open, new ones are
// accepted, and no byte goes through either way, as from a server under
// SIGSTOP or behind a dead network path) and it can drop every connection
// and refuse new ones for a while (Outage: a server restart as its
// clients see it).
type Proxy struct {
	target, addr string

	mu     sync.Mutex
	ln     net.Listener
	thawed chan struct{} // closed while not frozen
	conns  map[net.Conn]struct{}
	closed bool
}

// NewProxy starts a proxy on a free port of 127.0.0.1 to the server the
// DSN names, closed when the test ends.
func NewProxy(t testing.TB, dsn string) *Proxy {
	t.Helper()
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	thawed := make(chan struct{})
	close(thawed)
	p := &Proxy{target: net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), addr: ln.Addr().String(),
		ln: ln, thawed: thawed, conns: map[net.Conn]struct{}{}}
	go p.serve(ln)
	t.Cleanup(p.close)
	return p
}

// DSN returns dsn pointed at the proxy.
func (p *Proxy) DSN(t testing.TB, dsn string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(p.addr)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		u.Host = p.addr
		return u.String()
	}
	return dsn + " host=" + host + " port=" + port
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Freeze stops every byte between clients and the server until Thaw.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
		p.thawed = make(chan struct{})
	default: // frozen already
	}
}

// Thaw lets bytes through again.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.thawed:
	default:
		close(p.thawed)
	}
}

// Outage closes every connection and the listening port, so that clients
// see their connections reset and new ones refused, for d, then listens
// again on the same port.
func (p *Proxy) Outage(d time.Duration) error {
	p.mu.Lock()
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	time.Sleep(d) // the outage itself
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.serve(ln)
	return nil
}

func (p *Proxy) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	select {
	case <-p.thawed:
	default:
		close(p.thawed)
	}
}

func (p *Proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		go p.forward(c)
	}
}

// track remembers c for Outage; false once the proxy is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

// pass waits while the proxy is frozen.
func (p *Proxy) pass() {
	p.mu.Lock()
	ch := p.thawed
	p.mu.Unlock()
	<-ch
}

func (p *Proxy) forward(client net.Conn) {
	defer p.untrack(client)
	defer client.Close()
	p.pass() // a frozen proxy accepts and never answers
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		server.Close()
		return
	}
	defer p.untrack(server)
	defer server.Close()
	done := make(chan struct{}, 2)
	go func() { p.copy(server, client); done <- struct{}{} }()
	go func() { p.copy(client, server); done <- struct{}{} }()
	<-done // either side closed: close both
}

// copy copies from src to dst, holding each chunk while frozen.
func (p *Proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.pass()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or closed
		}
	}
}
