// Package pgtest gives tests a schema of their own in the Postgres test
// database named by GLUENET_TEST_POSTGRES_DSN, which .ci/postgres.sh
// starts and prints:
//
//	eval "$(bash .ci/postgres.sh)"
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
)

// DSNEnv names the environment variable that holds the test database's DSN.
const DSNEnv = "GLUENET_TEST_POSTGRES_DSN"

// DSN returns the test database's DSN. Without one the test skips, except
// in CI (CI=true), where skipping would hide that the Postgres store is
// untested.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(DSNEnv)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is unset in CI: start Postgres with .ci/postgres.sh and export what it prints", DSNEnv)
		}
		t.Skipf("set %s to run the Postgres tests (eval \"$(bash .ci/postgres.sh)\" starts a local server and sets it)", DSNEnv)
	}
	return dsn
}

// Schema creates an empty schema for the test, dropped when it ends, and
// returns a DSN whose connections use it. Tests in separate schemas of one
// database cannot see each other.
func Schema(t testing.TB) string {
	t.Helper()
	dsn := DSN(t)
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema := "gluenet_test_" + hex.EncodeToString(b)
	exec(t.Context(), t, dsn, "CREATE SCHEMA "+schema)
	t.Cleanup(func() {
		// t.Context is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		exec(ctx, t, dsn, "DROP SCHEMA "+schema+" CASCADE")
	})
	return WithParam(t, dsn, "search_path", schema)
}

// WithParam returns dsn with the parameter key set to value, in either DSN
// form (URL or key=value).
func WithParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parse %s: %v", DSNEnv, err)
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}

// Connect opens a connection pool on dsn for a test's own queries, closed
// when the test ends.
func Connect(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db := open(t, dsn)
	t.Cleanup(func() { db.Close() })
	return db
}

// exec runs one statement on a connection of its own.
func exec(ctx context.Context, t testing.TB, dsn, query string) {
	t.Helper()
	db := open(t, dsn)
	defer db.Close()
	if _, err := db.ExecContext(ctx, query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// open opens a pool on dsn that, like the store, prefers SSL when the DSN
// does not say.
func open(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		t.Fatalf("parse the DSN in %s: %v", DSNEnv, err)
	}
	if cfg.SSLMode == "" {
		cfg.SSLMode = pq.SSLModePrefer
	}
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sql.OpenDB(connector)
}
