package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gluenet/gluenet/internal/httpstatus"
	"github.com/gluenet/gluenet/sim/ec2query"
)

// InProcessEndpoint is the base endpoint to give the SDK together with
// HTTPClient(): requests to it never leave the process.
const InProcessEndpoint = "http://sim.gluenet.internal"

// maxBody is the largest request body the region reads.
const maxBody = 8 << 20

// JSON protocol target prefixes.
const (
	glueTargetPrefix = "AWSGlue."
	logsTargetPrefix = "Logs_20140328."
	jsonContentType  = "application/x-amz-json-1.1"
	controlPrefix    = "/_sim/"
)

// Handler returns the region's HTTP handler: Glue and CloudWatch Logs by
// X-Amz-Target, the control API under /_sim/, and EC2 for everything else.
func (r *Region) Handler() http.Handler { return http.HandlerFunc(r.serveHTTP) }

func (r *Region) serveHTTP(w http.ResponseWriter, req *http.Request) {
	// The handlers do not panic on bad input by design; this is the last
	// defense so that a bug answers 500 instead of killing sim serve.
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("panic in simulated region", "panic", p, "path", req.URL.Path)
			writeJSONError(w, "", &apiError{code: "InternalFailure", msg: "internal error in the simulated region", status: 500}, false)
		}
	}()
	if strings.HasPrefix(req.URL.Path, controlPrefix) {
		r.serveControl(w, req)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeJSONError(w, r.requestID(), &apiError{code: "SerializationException", msg: "request body unreadable or too large", status: 400}, false)
		return
	}
	target := req.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, glueTargetPrefix):
		r.serveJSON(w, req, "glue", strings.TrimPrefix(target, glueTargetPrefix), body)
	case strings.HasPrefix(target, logsTargetPrefix):
		r.serveJSON(w, req, "logs", strings.TrimPrefix(target, logsTargetPrefix), body)
	case target != "":
		r.countCall("unknown", target)
		writeJSONError(w, r.requestID(), &apiError{code: "UnknownOperationException",
			msg: fmt.Sprintf("The target %s is not served by the simulated region (Glue, CloudWatch Logs)", target), status: 400}, false)
	default:
		if form, action, ok := iamAction(req, body); ok {
			r.serveIAM(w, req, form, action)
			return
		}
		r.serveEC2(w, req, body)
	}
}

func (r *Region) countCall(service, op string) {
	r.mu.Lock()
	st := r.serviceStats(service)
	st.Calls++
	st.Operations[op]++
	r.mu.Unlock()
}

// serveJSON answers a Glue or Logs call: faults first, then the operation.
func (r *Region) serveJSON(w http.ResponseWriter, req *http.Request, service, op string, body []byte) {
	reqID := r.requestID()
	glue := service == "glue"
	v := r.preflight(service, op)
	if err := r.sleep(req.Context(), v.latency); err != nil {
		return // the client went away
	}
	switch {
	case v.throttled:
		writeJSONError(w, reqID, &apiError{code: "ThrottlingException", msg: "Rate exceeded", status: 400}, glue)
		return
	case v.serverError && glue:
		writeJSONError(w, reqID, &apiError{code: "InternalServiceException", msg: "Internal service error (simulated)", status: 500}, glue)
		return
	case v.serverError:
		writeJSONError(w, reqID, &apiError{code: "ServiceUnavailableException", msg: "The service cannot complete the request (simulated).", status: 500}, glue)
		return
	}
	body, aerr := validateInput(service, op, body)
	var out any
	other, elsewhere := r.elsewhere(req)
	switch {
	case aerr != nil:
	case elsewhere:
		out, aerr = r.elsewhereJSON(service, op, other)
	case glue:
		f, ok := glueOps[op]
		if !ok {
			aerr = &apiError{code: "UnknownOperationException", msg: fmt.Sprintf("Unknown operation %s", op), status: 400}
		} else {
			out, aerr = f(r, body)
		}
	default:
		out, aerr = r.logsOp(op, body)
	}
	if aerr != nil {
		r.countClientError(service)
		r.log.Debug("api error", "service", service, "op", op, "code", aerr.code, "msg", aerr.msg)
		writeJSONError(w, reqID, aerr, glue)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		r.log.Error("encode response", "service", service, "op", op, "err", err)
		writeJSONError(w, reqID, &apiError{code: "InternalFailure", msg: "could not encode the response", status: 500}, glue)
		return
	}
	h := w.Header()
	h.Set("Content-Type", jsonContentType)
	h.Set("X-Amzn-RequestId", reqID)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (r *Region) logsOp(op string, body []byte) (any, *apiError) {
	switch op {
	case "GetLogEvents":
		var in getLogEventsInput
		if aerr := decodeBody(body, &in); aerr != nil {
			return nil, aerr
		}
		defer r.lock()()
		return r.getLogEvents(in)
	case "FilterLogEvents":
		var in filterLogEventsInput
		if aerr := decodeBody(body, &in); aerr != nil {
			return nil, aerr
		}
		defer r.lock()()
		return r.filterLogEvents(in)
	}
	return nil, &apiError{code: "UnknownOperationException", msg: fmt.Sprintf("Unknown operation %s", op), status: 400}
}

// writeJSONError writes the JSON protocols' error shape. Glue's modeled
// errors carry their text in "Message" (the SDK reads that member), Logs'
// in "message"; Glue answers get both so that any client finds it.
func writeJSONError(w http.ResponseWriter, reqID string, e *apiError, glue bool) {
	body := map[string]string{"__type": e.code, "message": e.msg}
	if glue {
		body["Message"] = e.msg
	}
	b, _ := json.Marshal(body)
	h := w.Header()
	h.Set("Content-Type", jsonContentType)
	h.Set("X-Amzn-ErrorType", e.code)
	if reqID != "" {
		h.Set("X-Amzn-RequestId", reqID)
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

// serveEC2 answers an EC2 query call: faults first, then the ec2query
// handler on the model.
func (r *Region) serveEC2(w http.ResponseWriter, req *http.Request, body []byte) {
	action := ec2Action(req, body)
	v := r.preflight("ec2", action)
	if err := r.sleep(req.Context(), v.latency); err != nil {
		return
	}
	switch {
	case v.throttled:
		ec2query.WriteError(w, r.requestID(), &ec2query.Error{Code: "RequestLimitExceeded", Message: "Request limit exceeded.", Status: http.StatusServiceUnavailable})
		return
	case v.serverError:
		ec2query.WriteError(w, r.requestID(), &ec2query.Error{Code: "InternalError", Message: "An internal error has occurred.", Status: http.StatusInternalServerError})
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	sw := &httpstatus.Writer{ResponseWriter: w}
	if other, elsewhere := r.elsewhere(req); elsewhere {
		r.elsewhereEC2(other).ServeHTTP(sw, req)
	} else {
		r.ec2.ServeHTTP(sw, req)
	}
	if sw.Code >= 400 {
		r.countClientError("ec2")
	}
}

// ec2Action reads the Action of an EC2 query request, for counting and
// faults; the ec2query handler parses the request fully.
func ec2Action(req *http.Request, body []byte) string {
	if req.Method == http.MethodPost {
		if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
			return form.Get("Action")
		}
	}
	if q, err := url.ParseQuery(req.URL.RawQuery); err == nil && q.Get("Action") != "" {
		return q.Get("Action")
	}
	return "(none)"
}

// HTTPClient returns a client whose transport calls the region's handler
// directly, without a socket. Use it with InProcessEndpoint.
func (r *Region) HTTPClient() *http.Client {
	return &http.Client{Transport: inProcessTransport{h: r.Handler()}}
}

type inProcessTransport struct{ h http.Handler }

// RoundTrip serves the request in the calling goroutine and returns the
// recorded response.
func (t inProcessTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("in-process round trip: read request body: %w", err)
		}
		body = b
	}
	sreq := req.Clone(req.Context())
	sreq.Body = io.NopCloser(bytes.NewReader(body))
	sreq.ContentLength = int64(len(body))
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "in-process"
	if sreq.Host == "" {
		sreq.Host = req.URL.Host
	}
	rec := &recorder{header: http.Header{}}
	t.h.ServeHTTP(rec, sreq)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}, nil
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }
func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}

// Serve serves the region on addr until ctx is cancelled. An address
// without a host (":4566") listens on loopback only; give 0.0.0.0
// explicitly to listen on every interface. It logs the address it listens
// on (attribute "addr"), useful with port 0.
func Serve(ctx context.Context, addr string, r *Region, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("serve simulated region: address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return fmt.Errorf("serve simulated region: %w", err)
	}
	log.Info("simulated region listening", "addr", ln.Addr().String(), "endpoint", "http://"+ln.Addr().String())
	return ServeListener(ctx, ln, r, log)
}

// ServeListener serves the region on ln until ctx is cancelled, then shuts
// down gracefully (waiting up to five seconds for calls in flight).
func ServeListener(ctx context.Context, ln net.Listener, r *Region, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           r.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve simulated region: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("shut down simulated region: %w", err)
	}
	log.Info("simulated region stopped")
	return nil
}
