package sqlite

import (
	"errors"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gluenet/gluenet/store"
)

// Classify says what a failed operation's error means, for store.Guard:
// SQLITE_BUSY and SQLITE_LOCKED (another connection or process held the
// lock through the busy timeout: the write did not happen) are
// FaultRetry, SQLITE_FULL is FaultFull, anything else FaultNone.
func Classify(err error) store.Fault {
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return store.FaultNone
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return store.FaultRetry
	case sqlite3.SQLITE_FULL:
		return store.FaultFull
	}
	return store.FaultNone
}
