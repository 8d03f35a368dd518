package dynamodb

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"

	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/executor/journaltest"
	"github.com/gluenet/gluenet/executor/memorytest"
	"github.com/gluenet/gluenet/health"
	"github.com/gluenet/gluenet/memory"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/dynamodb/ddbtest"
	"github.com/gluenet/gluenet/store/storetest"
)

// newTable creates a fresh gluenet table on the emulator with Init, as
// `gluenet state init` does, and drops it when the test ends.
func newTable(t *testing.T, ep ddbtest.Endpoint) (*dynamodb.Client, string) {
	t.Helper()
	c := ddbtest.Client(ep.URL)
	table := ddbtest.TableName(t)
	_, err := Init(t.Context(), c, table)
	ddbtest.DeleteTable(t, c, table)
	var ttlErr *TTLError
	switch {
	case errors.As(err, &ttlErr) && unknownOperation(err) && ep.Name == "dynalite":
		// dynalite implements DescribeTimeToLive but not UpdateTimeToLive
		// (moto and DynamoDB do). gluenet relies on TTL only as a
		// backstop: Prune deletes what is over, tested here on both.
	case err != nil:
		t.Fatalf("Init on %s: %v", ep.Name, err)
	}
	return c, table
}

// unknownOperation: the emulator does not implement the call.
func unknownOperation(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (strings.Contains(ae.ErrorCode(), "UnknownOperation") || strings.Contains(ae.ErrorMessage(), "not supported"))
}

func openOn(t *testing.T, c *dynamodb.Client, table string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(t.Context(), c, table, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eachEmulator runs fn once per emulator, in parallel.
func eachEmulator(t *testing.T, fn func(t *testing.T, ep ddbtest.Endpoint)) {
	for _, ep := range ddbtest.Endpoints(t) {
		t.Run(ep.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, ep)
		})
	}
}

func TestConformance(t *testing.T) {
	eachEmulator(t, func(t *testing.T, ep ddbtest.Endpoint) {
		storetest.Run(t, func(t *testing.T) store.Store {
			c, table := newTable(t, ep)
			return openOn(t, c, table)
		})
	})
}

// TestExecutorSuites: the executor's journal and memory suites, which the
// lab's in-process journal and memory pass too.
func TestExecutorSuites(t *testing.T) {
	eachEmulator(t, func(t *testing.T, ep ddbtest.Endpoint) {
		open := func(t *testing.T) *Store {
			c, table := newTable(t, ep)
			return openOn(t, c, table)
		}
		journaltest.Run(t, func(t *testing.T) executor.Journal { return open(t) })
		memorytest.Run(t, func(t *testing.T) executor.Memory { return memory.New(open(t), health.DefaultConfig()) })
	})
}

// TestShared opens several handles, each with its own client, on one
// table, as gluenets on several machines would.
func TestShared(t *testing.T) {
	eachEmulator(t, func(t *testing.T, ep ddbtest.Endpoint) {
		storetest.RunShared(t, func(t *testing.T, n int) []store.Store {
			_, table := newTable(t, ep)
			out := make([]store.Store, n)
			for i := range out {
				out[i] = openOn(t, ddbtest.Client(ep.URL), table)
			}
			return out
		})
	})
}

func TestRetention(t *testing.T) {
	eachEmulator(t, func(t *testing.T, ep ddbtest.Endpoint) {
		storetest.RunRetention(t, func(t *testing.T, n int, r store.Retention) []store.Store {
			_, table := newTable(t, ep)
			out := make([]store.Store, n)
			for i := range out {
				out[i] = openOn(t, ddbtest.Client(ep.URL), table, WithRetention(r))
			}
			return out
		})
	})
}
