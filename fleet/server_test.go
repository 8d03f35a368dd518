package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
)

func do(t *testing.T, method, url string, header map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestSecurityHeaders: every answer, page, API, metrics or error, carries
// the headers that keep a browser from sniffing, framing, caching it or
// running anything in it.
func TestSecurityHeaders(t *testing.T) {
	ts, _ := newServer(t, "")
	for _, path := range []string{"/", "/runs", "/runs/run-2", "/strategies", "/api/v1/fleet", "/api/v1/nope", "/metrics", "/healthz", "/nope"} {
		resp, _ := do(t, http.MethodGet, ts.URL+path, nil)
		h := resp.Header
		for k, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Cache-Control":          "no-store",
			"X-Frame-Options":        "DENY",
		} {
			if h.Get(k) != want {
				t.Errorf("%s: %s = %q, want %q", path, k, h.Get(k), want)
			}
		}
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "style-src 'sha256-", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: Content-Security-Policy %q lacks %s", path, csp, want)
			}
		}
	}
}

// TestHostCheck: without a token only loopback names are served (DNS
// rebinding); with a token the token decides.
func TestHostCheck(t *testing.T) {
	tests := []struct {
		host, token string
		want        int
	}{
		{"127.0.0.1:8080", "", 200},
		{"localhost:8080", "", 200},
		{"LOCALHOST", "", 200},
		{"[::1]:8080", "", 200},
		{"gluenet.localhost:8080", "", 200},
		{"127.0.0.2", "", 200},
		{"evil.example", "", 421},
		{"evil.example:8080", "", 421},
		{"127.0.0.1.evil.example", "", 421},
		{"10.0.0.1:8080", "", 421},
		{"evil.example", "s3cret", 200},
	}
	for _, tt := range tests {
		t.Run(tt.host+" "+tt.token, func(t *testing.T) {
			ts, _ := newServer(t, tt.token)
			h := map[string]string{"Host": tt.host}
			if tt.token != "" {
				h["Authorization"] = "Bearer " + tt.token
			}
			resp, body := do(t, http.MethodGet, ts.URL+"/api/v1/runs", h)
			if resp.StatusCode != tt.want {
				t.Errorf("Host %s: %d, want %d: %s", tt.host, resp.StatusCode, tt.want, body)
			}
			if tt.want == 421 && !strings.Contains(body, "loopback") {
				t.Errorf("the refusal does not say why: %s", body)
			}
		})
	}
}

// TestBearerScheme: the scheme is case-insensitive, the token is not; a
// blank token is no token.
func TestBearerScheme(t *testing.T) {
	ts, _ := newServer(t, "s3cret")
	tests := []struct {
		auth string
		want int
	}{
		{"Bearer s3cret", 200},
		{"bearer s3cret", 200},
		{"BEARER s3cret", 200},
		{"Bearer  s3cret ", 200},
		{"Bearer S3CRET", 401},
		{"Bearer ", 401},
		{"Bearer", 401},
		{"Basic s3cret", 401},
		{"s3cret", 401},
		{"", 401},
	}
	for _, tt := range tests {
		resp, _ := do(t, http.MethodGet, ts.URL+"/api/v1/fleet", map[string]string{"Authorization": tt.auth})
		if resp.StatusCode != tt.want {
			t.Errorf("Authorization %q: %d, want %d", tt.auth, resp.StatusCode, tt.want)
		}
	}
}

// TestAPIRefusesWhatItWouldIgnore: unknown parameters, a parameter twice,
// an unencoded ';', unknown paths and writes answer in JSON, never with
// a list that ignored the filter.
func TestAPIRefusesWhatItWouldIgnore(t *testing.T) {
	ts, _ := newServer(t, "")
	tests := []struct {
		method, path string
		want         int
		says         string
	}{
		{"GET", "/api/v1/runs?status=failed", 400, `unknown parameter \"status\"`},
		{"GET", "/api/v1/runs?outcome=failed;x", 400, "%3B"},
		{"GET", "/api/v1/runs?outcome=failed&outcome=succeeded", 400, "given 2 times"},
		{"GET", "/api/v1/fleet?verbose=1", 400, "takes no parameters"},
		{"GET", "/api/v1/runs?cursor=xyz", 400, "not a cursor"},
		{"GET", "/api/v1/nope", 404, "no such path"},
		{"GET", "/api/v1/", 404, "no such path"},
		{"POST", "/api/v1/runs", 405, "only reads"},
		{"DELETE", "/api/v1/runs/run-2", 405, "only reads"},
		{"GET", "/api/v1/runs?outcome=failed", 200, `"runs"`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			resp, body := do(t, tt.method, ts.URL+tt.path, nil)
			if resp.StatusCode != tt.want || !strings.Contains(body, tt.says) {
				t.Errorf("%d %s; want %d saying %s", resp.StatusCode, body, tt.want, tt.says)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
		})
	}
}

// TestCursorPaging: pages of 1,000 list every run exactly once, in order,
// runs created at the same microsecond included.
func TestCursorPaging(t *testing.T) {
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			ctx := context.Background()
			st := sk.open(t)
			const n = 2503
			for i := range n {
				// Groups of 3 runs share a creation time.
				at := now.Add(-time.Duration(i/3) * time.Second)
				if _, _, err := st.BeginRun(ctx, store.Run{Key: fmt.Sprintf("run-%05d", i), Job: "etl", Status: store.RunSucceeded, CreatedAt: at}); err != nil {
					t.Fatal(err)
				}
			}
			ts, _ := newServerOn(t, st, "")
			seen := map[string]bool{}
			var order []string
			url := ts.URL + "/api/v1/runs?limit=1000"
			pages := 0
			for url != "" {
				pages++
				if pages > 5 {
					t.Fatal("more pages than runs allow")
				}
				var page struct {
					Runs       []RunSummary `json:"runs"`
					NextCursor string       `json:"next_cursor"`
				}
				getJSON(t, url, &page)
				for _, r := range page.Runs {
					if seen[r.Key] {
						t.Errorf("%s listed twice", r.Key)
					}
					seen[r.Key] = true
					order = append(order, r.Key)
				}
				url = ""
				if page.NextCursor != "" {
					url = ts.URL + "/api/v1/runs?limit=1000&cursor=" + page.NextCursor
				}
			}
			if len(seen) != n || pages != 3 {
				t.Errorf("%d runs in %d pages, want %d in 3", len(seen), pages, n)
			}
			for i := 1; i < len(order); i++ {
				// Same time: key descending; older groups have higher
				// numbers, so the keys ascend by group and descend within.
				a, b := order[i-1], order[i]
				var ia, ib int
				fmt.Sscanf(a, "run-%d", &ia)
				fmt.Sscanf(b, "run-%d", &ib)
				if ia/3 > ib/3 || (ia/3 == ib/3 && ia < ib) {
					t.Fatalf("%s listed before %s: not newest first", a, b)
				}
			}
		})
	}
}

// slowReader holds every health read until released, and records how
// many run at once.
type slowReader struct {
	Reader
	release        chan struct{}
	inFlight, most atomic.Int32
}

func (r *slowReader) Health(ctx context.Context) ([]gluenet.HealthRecord, error) {
	n := r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	for {
		m := r.most.Load()
		if n <= m || r.most.CompareAndSwap(m, n) {
			break
		}
	}
	<-r.release
	return r.Reader.Health(ctx)
}

// TestMaxInFlight: a burst of requests reaches the store at most
// MaxInFlight at a time; the others wait their turn and are answered.
func TestMaxInFlight(t *testing.T) {
	r := &slowReader{Reader: seed(t), release: make(chan struct{})}
	ts := httptest.NewServer((&Server{View: &View{R: r, Now: func() time.Time { return now }}, MaxInFlight: 3}).Handler())
	t.Cleanup(ts.Close)
	var wg sync.WaitGroup
	codes := make(chan int, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(ts.URL + "/healthz")
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	for r.inFlight.Load() < 3 {
		time.Sleep(time.Millisecond) // until three requests hold the store
	}
	close(r.release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("a request got %d, want 200", c)
		}
	}
	if m := r.most.Load(); m != 3 {
		t.Errorf("%d health reads at once, want at most (and here exactly) 3", m)
	}
}

// TestNotFoundJSONSchema: the 404 of an unknown run has the Error schema.
func TestNotFoundJSONSchema(t *testing.T) {
	ts, _ := newServer(t, "")
	resp, body := do(t, http.MethodGet, ts.URL+"/api/v1/runs/no-such-run", nil)
	var e struct{ Error string }
	if resp.StatusCode != 404 || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
		t.Errorf("%d %s; want a JSON 404 with an error", resp.StatusCode, body)
	}
}
