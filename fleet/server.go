package fleet

import (
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
}

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
		runs, err := s.View.Runs(r.Context(), f)
		return map[string]any{"runs": nonNil(runs)}, err
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
	return s.auth(newHTTPMetrics(reg).instrument(mux, mux))
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
	want := []byte("Bearer " + s.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
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
		v, err := fn(r)
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

// MaxRuns is the most runs one request lists.
const MaxRuns = 1000

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
