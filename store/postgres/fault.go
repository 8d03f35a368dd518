package postgres

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/lib/pq"

	"github.com/gluenet/gluenet/store"
)

// Classify says what a failed operation's error means, for store.Guard:
//   - FaultRetry: a serialization failure or deadlock (SQLSTATE class 40),
//     a server shutting down, restarting or not yet accepting connections
//     (57P01, 57P02, 57P03), a connection failure (class 08, 53300 too
//     many connections), or the connection refused, reset or closed under
//     the statement;
//   - FaultFull: 53100, the server's disk is full;
//   - FaultNone: anything else (a constraint, a bug, the caller's context).
//
// A connection reset while a COMMIT was in flight leaves it unknown
// whether the write took effect; retrying it is safe for every store
// operation but BeginRun's created flag and PutRunState's revision check,
// which the executor reads back (docs/state.md).
func Classify(err error) store.Fault {
	if err == nil {
		return store.FaultNone
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		code := string(pe.Code)
		switch {
		case code == "53100":
			return store.FaultFull
		case strings.HasPrefix(code, "40"), strings.HasPrefix(code, "08"),
			code == "57P01", code == "57P02", code == "57P03", code == "53300":
			return store.FaultRetry
		}
		return store.FaultNone
	}
	var ne net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne) && !ne.Timeout():
		return store.FaultRetry
	}
	return store.FaultNone
}

// Describe names the store a DSN points at, for messages: "postgres
// host:port/database", never the password.
func Describe(dsn string) string {
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		return "postgres"
	}
	return fmt.Sprintf("postgres %s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
}
