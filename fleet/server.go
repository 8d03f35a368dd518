package fleet

import (
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gluenet/gluenet/store"
)

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the OpenAPI 3 document of /api/v1.
func OpenAPI() []byte { return openAPI }

// Server serves the fleet view.
type Server struct {
	View *View
	// Token, when set, is the bearer token every request but /healthz
	// must carry (Authorization: Bearer TOKEN).
	Token string
	Log   *slog.Logger
	// Version is the build's, for gluenet_build_info.
	Version string
	// Sampler, when serve runs one (--watch), has its outcomes in /metrics.
	Sampler *Sampler
	// MaxInFlight bounds the requests served at once (DefaultMaxInFlight
	// when 0); the others wait up to BusyWait, then get 503. It bounds
	// the store connections and memory a burst of requests can take.
	MaxInFlight int
}

// DefaultMaxInFlight is the requests served at once by default.
const DefaultMaxInFlight = 16

// BusyWait is how long a request waits for a free slot before its 503.
const BusyWait = 10 * time.Second

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Handler returns the server's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	// Anything else under /api/v1 answers in JSON: 404, or 405 for
	// another method than GET on a path that exists.
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": r.Method + " is not allowed: the API only reads (GET)"})
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such path: " + r.URL.Path + " (see /api/v1/openapi.yaml)"})
	})
	mux.HandleFunc("GET /api/v1/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openAPI)
	})
	mux.HandleFunc("GET /api/v1/fleet", s.api(func(r *http.Request) (any, error) { return s.View.Fleet(r.Context()) }))
	mux.HandleFunc("GET /api/v1/subnets", s.api(func(r *http.Request) (any, error) {
		f, err := s.View.Fleet(r.Context())
		return map[string]any{"at": f.At, "subnets": f.Subnets}, err
	}))
	mux.HandleFunc("GET /api/v1/zones", s.api(func(r *http.Request) (any, error) {
		f, err := s.View.Fleet(r.Context())
		return map[string]any{"at": f.At, "zones": f.Zones}, err
	}))
	mux.HandleFunc("GET /api/v1/reservations", s.api(func(r *http.Request) (any, error) {
		f, err := s.View.Fleet(r.Context())
		return map[string]any{"at": f.At, "reservations": f.Reservations}, err
	}))
	mux.HandleFunc("GET /api/v1/health", s.api(func(r *http.Request) (any, error) { return s.View.Health(r.Context()) }))
	mux.HandleFunc("GET /api/v1/history", s.api(func(r *http.Request) (any, error) {
		h, err := s.View.History(r.Context())
		return map[string]any{"since": s.View.Since(), "observations": nonNil(h)}, err
	}))
	mux.HandleFunc("GET /api/v1/runs", s.api(func(r *http.Request) (any, error) {
		f, err := parseRunFilter(r, s.View.now())
		if err != nil {
			return nil, err
		}
		page, err := s.View.RunsPage(r.Context(), f)
		out := map[string]any{"runs": nonNil(page.Runs)}
		if page.Next != "" {
			out["next_cursor"] = page.Next
		}
		return out, err
	}))
	mux.HandleFunc("GET /api/v1/runs/{key...}", s.api(func(r *http.Request) (any, error) {
		return s.View.Run(r.Context(), r.PathValue("key"))
	}))
	mux.HandleFunc("GET /api/v1/strategies", s.api(func(*http.Request) (any, error) {
		return map[string]any{"strategies": Strategies()}, nil
	}))
	reg := s.registry()
	mux.Handle("GET /metrics", s.metricsHandler(reg))
	s.pages(mux)
	// The HTTP metrics count every answer: refused ones (421, 401, 503)
	// too.
	return secure(newHTTPMetrics(reg).instrument(mux, s.hosts(s.auth(s.limit(mux)))))
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// auth requires the bearer token when one is set; /healthz stays open for
// load balancers and probes.
func (s *Server) auth(next http.Handler) http.Handler {
	if s.Token == "" {
		return next
	}
	want := []byte(s.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme is case-insensitive (RFC 9110 11.1), the token not.
		scheme, got, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		ok := strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), want) == 1
		if r.URL.Path != "/healthz" && !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gluenet"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token: send Authorization: Bearer <the --token of gluenet serve>"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// healthz answers 200 when the store answers a read, 503 when it does not.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.View.R.Health(r.Context()); err != nil {
		s.log().Warn("healthz: the state store does not answer", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// badRequest is an error in the request, answered with 400.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func (s *Server) api(fn func(r *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := any(nil), checkQuery(r)
		if err == nil {
			v, err = fn(r)
		}
		var br *badRequest
		switch {
		case errors.As(err, &br):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": br.msg})
		case errors.Is(err, store.ErrNotFound):
			writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		case err != nil:
			s.log().Error("fleet API: store read failed", "path", r.URL.Path, "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "reading the state store failed: " + err.Error()})
		default:
			writeJSON(w, http.StatusOK, v)
		}
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

// MaxRuns is the most runs one request lists; next_cursor pages on.
const MaxRuns = 1000

// queryParams are the query parameters each API path takes; the others
// take none.
var queryParams = map[string][]string{"/api/v1/runs": {"job", "outcome", "since", "limit", "cursor"}}

// checkQuery refuses what the API would otherwise ignore: a query that
// does not parse (an unencoded ';' would drop a filter silently), a
// parameter the path does not take (?status=failed would list every
// run), and a parameter given twice.
func checkQuery(r *http.Request) error {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return &badRequest{fmt.Sprintf("the query %q does not parse (%v): separate parameters with '&' and percent-encode ';' as %%3B", r.URL.RawQuery, err)}
	}
	allowed := queryParams[r.URL.Path]
	for k, vs := range q {
		if !slices.Contains(allowed, k) {
			if len(allowed) == 0 {
				return &badRequest{fmt.Sprintf("unknown parameter %q: %s takes no parameters", k, r.URL.Path)}
			}
			return &badRequest{fmt.Sprintf("unknown parameter %q: %s takes %s", k, r.URL.Path, strings.Join(allowed, ", "))}
		}
		if len(vs) > 1 {
			return &badRequest{fmt.Sprintf("parameter %q is given %d times: give it once", k, len(vs))}
		}
	}
	return nil
}

// parseRunFilter reads job, outcome, since and limit from the query.
func parseRunFilter(r *http.Request, now time.Time) (RunFilter, error) {
	q := r.URL.Query()
	f := RunFilter{Job: q.Get("job"), Limit: 100}
	if o := q.Get("outcome"); o != "" {
		f.Status = store.RunStatus(o)
		if !f.Status.Valid() {
			return f, &badRequest{fmt.Sprintf("outcome %q: use pending, running, succeeded, failed or interrupted", o)}
		}
	}
	if v := q.Get("since"); v != "" {
		t, err := parseSince(v, now)
		if err != nil {
			return f, err
		}
		f.Since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxRuns {
			return f, &badRequest{fmt.Sprintf("limit %q: use a number from 1 to %d", v, MaxRuns)}
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		c, err := parseCursor(v)
		if err != nil {
			return f, err
		}
		f.Cursor = &c
	}
	return f, nil
}

// parseSince reads an RFC 3339 time or a duration back from now ("6h").
func parseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, &badRequest{fmt.Sprintf("since %q: use an RFC 3339 time (2026-12-01T08:00:00Z) or a duration back from now (6h, 30m)", strings.TrimSpace(v))}
}

// contentSecurityPolicy lets a page use its own style sheet (by hash) and
// nothing else: no script, no image, font or frame from anywhere, no
// framing by another site, forms only back to serve.
var contentSecurityPolicy = func() string {
	sum := sha256.Sum256([]byte(styleCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
}()

// secure sets the security headers of every answer.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		// Every answer is the store's state now, and may name the jobs:
		// no cache keeps it.
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// hosts refuses, when serve has no token, a Host header that is not a
// loopback name: without it a web page on any site could read the fleet
// through DNS rebinding (its own name resolving to 127.0.0.1).
func (s *Server) hosts(next http.Handler) http.Handler {
	if s.Token != "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			writeJSON(w, http.StatusMisdirectedRequest, map[string]string{"error": fmt.Sprintf(
				"Host %q is not a loopback name: without a token gluenet serve answers only requests to localhost, 127.0.0.1 or [::1] (set --token to serve other names)", r.Host)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackHost reports whether a Host header (host or host:port) names
// loopback: localhost, a name under .localhost, or a loopback IP.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// limit serves at most MaxInFlight requests at once; the others wait up
// to BusyWait for a slot, then get 503 with Retry-After.
func (s *Server) limit(next http.Handler) http.Handler {
	n := s.MaxInFlight
	if n <= 0 {
		n = DefaultMaxInFlight
	}
	slots := make(chan struct{}, n)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(BusyWait)
		defer t.Stop()
		select {
		case slots <- struct{}{}:
		case <-r.Context().Done():
			return
		case <-t.C:
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "gluenet serve is busy: try again in a second"})
			return
		}
		defer func() { <-slots }()
		next.ServeHTTP(w, r)
	})
}
