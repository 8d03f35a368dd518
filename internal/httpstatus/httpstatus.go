// Package httpstatus records the status code an http.Handler answered
// with, for the servers that count their responses (the simulated region,
// gluenet serve).
package httpstatus

import "net/http"

// Writer is an http.ResponseWriter that remembers the status written:
// Code is 0 until the handler writes, then the first status written (200
// for a body written without one).
type Writer struct {
	http.ResponseWriter
	Code int
}

// WriteHeader implements http.ResponseWriter.
func (w *Writer) WriteHeader(code int) {
	if w.Code == 0 {
		w.Code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *Writer) Write(b []byte) (int, error) {
	if w.Code == 0 {
		w.Code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
