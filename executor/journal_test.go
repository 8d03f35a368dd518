package executor_test

import (
	"testing"

	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/executor/journaltest"
)

// TestMemJournalConformance: the lab's in-process journal passes the
// journal suite the state stores pass.
func TestMemJournalConformance(t *testing.T) {
	journaltest.Run(t, func(*testing.T) executor.Journal { return executor.NewMemJournal() })
}
