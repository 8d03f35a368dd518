// Command compatwrite writes one of every record into a state store (a
// SQLite path or a postgres:// DSN) with the store code of the tree it is
// run in: run from an older checkout, it makes the fixture that
// storetest.CheckCompatRecords reads with the current code
// (testdata/state-v4.db was written by the commit before
// store/internal/sqldb):
//
//	go run ./store/sqlite/testdata/compatwrite /tmp/state.db
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/postgres"
	"github.com/gluenet/gluenet/store/sqlite"
)

func main() {
	ctx := context.Background()
	var (
		s   store.Store
		err error
	)
	if strings.HasPrefix(os.Args[1], "postgres://") {
		s, err = postgres.Open(ctx, os.Args[1], postgres.WithRetention(store.Retention{}))
	} else {
		s, err = sqlite.Open(ctx, os.Args[1], sqlite.WithRetention(store.Retention{}))
	}
	must(err)
	defer s.Close()
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC)
	_, _, err = s.BeginRun(ctx, store.Run{Key: "compat-1", Job: "job", Inputs: json.RawMessage(`{"job":"job"}`), CreatedAt: t0})
	must(err)
	must(s.PutAttempt(ctx, store.Attempt{RunKey: "compat-1", Number: 1, Plan: json.RawMessage(`{"order":["a","b"]}`),
		OrderApplied: []string{"conn-a", "conn-b"}, GlueRunID: "jr_1", Phase: "started", StartedAt: t0.Add(time.Second),
		EndedAt: t0.Add(time.Minute), Subnet: "subnet-a", AZ: "us-east-1a",
		States: []store.StateChange{{State: "RUNNING", At: t0.Add(2 * time.Second)}, {State: "SUCCEEDED", At: t0.Add(time.Minute)}}}))
	_, err = s.PutRunState(ctx, store.RunState{Key: "compat-1", Data: json.RawMessage(`{"v":1}`), UpdatedAt: t0.Add(3 * time.Second)})
	must(err)
	must(s.FinishRun(ctx, "compat-1", store.RunSucceeded, "succeeded", t0.Add(time.Minute)))
	must(s.UpdateHealth(ctx, func([]gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
		return []gluenet.HealthRecord{{Scope: gluenet.ScopeSubnet, Key: "subnet-a", ConsecutiveFailures: 2, Ejections: 1,
				EjectedUntil: t0.Add(time.Hour), LastFailure: t0, LastClass: "placement"}},
			[]store.HealthEvent{{At: t0, Scope: gluenet.ScopeSubnet, Key: "subnet-a", Kind: store.HealthEjected, Class: "placement"}}, nil
	}))
	must(s.AddReservation(ctx, gluenet.Reservation{ID: "r1", SubnetID: "subnet-a", AZ: "us-east-1a", IPs: 3, Job: "job",
		BaselineFree: 10, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	must(s.PutCachedSubnet(ctx, "conn-a", "subnet-a", t0.Add(time.Hour)))
	_, _, err = s.AcquireLease(ctx, "job", "holder-1", time.Hour, t0)
	must(err)
	must(s.AddSubnetSamples(ctx, []store.SubnetSample{{At: t0, SubnetID: "subnet-a", AZ: "us-east-1a", FreeIPs: 10, ReservedIPs: 3}}))
	fmt.Println("written")
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
