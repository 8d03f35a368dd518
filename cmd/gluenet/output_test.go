package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/runner"
)

// checkGolden compares got with testdata/NAME (go test -update rewrites it).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if intended):\n%s", golden, got)
	}
}

// TestRunTableGolden: run's final table has a CLASS column, leaves out
// attempts that started nothing, and says each thing once.
func TestRunTableGolden(t *testing.T) {
	t.Parallel()
	order := []string{"MWAA-Glue-Blog-Subnet1", "MWAA-Glue-Blog-Subnet2"}
	swapped := []string{"MWAA-Glue-Blog-Subnet2", "MWAA-Glue-Blog-Subnet1"}
	awsErr := `get job "AirflowBlogJob": operation error Glue: GetJob, dial tcp 127.0.0.1:1: connect: connection refused`
	tests := []struct {
		name string
		rep  runner.Report
	}{
		{"run-table-retried.golden", runner.Report{Job: "AirflowBlogJob", Result: policy.ResultSucceeded, Attempts: []runner.AttemptReport{
			{Attempt: 1, Order: order, RunID: "jr_1", State: "FAILED", Class: classify.Placement,
				ErrorMessage: "Resource unavailable: lost contact with the workers in subnet subnet-0a1b2c3d4e5f60011 (us-east-1a)"},
			{Attempt: 2, Order: swapped, RunID: "jr_2", State: "SUCCEEDED"},
		}}},
		// The error is the exit message's (on stderr, with what to do):
		// neither a row nor the Result line repeats it.
		{"run-table-aws-error.golden", runner.Report{Job: "AirflowBlogJob", Result: policy.ResultError, Error: awsErr,
			Attempts: []runner.AttemptReport{{Attempt: 1, ErrorMessage: awsErr}}}},
		// Interrupted while waiting to retry: attempt 2 never started.
		{"run-table-interrupted.golden", runner.Report{Job: "AirflowBlogJob", Result: policy.ResultInterrupted, Error: "interrupted",
			Attempts: []runner.AttemptReport{
				{Attempt: 1, Order: order, RunID: "jr_1", State: "FAILED", Class: classify.Timeout, ErrorMessage: "Job run timed out"},
				{Attempt: 2},
			}}},
		{"run-table-stopped.golden", runner.Report{Job: "AirflowBlogJob", Result: policy.ResultInterrupted, Error: "interrupted; the run ended STOPPED",
			Attempts: []runner.AttemptReport{{Attempt: 1, Order: order, RunID: "jr_1", State: "STOPPED", Class: classify.Stopped}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			a := &app{stdout: &out}
			if err := a.printReport("table", tt.rep); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.name, out.String())
		})
	}
}
