package main

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/gluenet/gluenet/store/dynamodb/ddbtest"
)

// dynamoState creates a fresh state table on the emulator with `gluenet
// state init` and points the SDK (and so the processes the test starts) at
// the emulator with AWS_ENDPOINT_URL_DYNAMODB. It returns the --state
// arguments.
func dynamoState(t *testing.T, ep ddbtest.Endpoint) []string {
	t.Helper()
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ep.URL)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	table := ddbtest.TableName(t)
	ddbtest.DeleteTable(t, ddbtest.Client(ep.URL), table)
	var out, errb bytes.Buffer
	code := execute(t.Context(), []string{"--region", ddbtest.Region, "state", "init", "dynamodb://" + table}, &out, &errb,
		func(string) (string, bool) { return "", false })
	if code != 0 {
		t.Fatalf("gluenet state init: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "Created table "+table) {
		t.Fatalf("gluenet state init did not say it created the table:\n%s", out.String())
	}
	return []string{"--state", "dynamodb://" + table}
}

// The DynamoDB store under the tests every store passes: crashes at every
// step of an attempt, and 20 processes for one job. Each on both emulators
// (.ci/dynamodb.sh), one after the other: AWS_ENDPOINT_URL_DYNAMODB is the
// process's environment.
func TestDynamoDBCrashAtEveryStep(t *testing.T) {
	for _, ep := range ddbtest.Endpoints(t) {
		t.Run(ep.Name, func(t *testing.T) { crashAtEveryStep(t, dynamoState(t, ep)) })
	}
}

func TestDynamoDBConcurrentRunsDoNotInterleave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 20 processes")
	}
	for _, ep := range ddbtest.Endpoints(t) {
		t.Run(ep.Name, func(t *testing.T) { concurrentRuns(t, dynamoState(t, ep)) })
	}
}

// TestDynamoDBStateErrors: a table that does not exist is a configuration
// problem (exit 2, naming the command that creates it); an endpoint that
// cannot be reached, or does not answer, is exit 4.
func TestDynamoDBStateErrors(t *testing.T) {
	eps := ddbtest.Endpoints(t)
	e := newSimEnv(t, nil, nil)
	// An endpoint that accepts connections and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		var held []net.Conn
		for {
			c, err := silent.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	tests := []struct {
		name, endpoint string
		code           int
		contains       string
	}{
		{"missing table", eps[0].URL, exitUsage, "gluenet state init dynamodb://gluenet-no-such-table"},
		{"unreachable", "http://127.0.0.1:1", exitAWS, "DynamoDB state table gluenet-no-such-table"},
		{"silent", "http://" + silent.Addr().String(), exitAWS, "no answer within"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", tt.endpoint)
			t.Setenv("AWS_MAX_ATTEMPTS", "1")
			code, out, errb := e.gluenet(t.Context(), "--state", "dynamodb://gluenet-no-such-table", "health")
			if code != tt.code || !strings.Contains(errb, tt.contains) {
				t.Errorf("exit %d, want %d; stderr %q, want it to contain %q (stdout %q)", code, tt.code, errb, tt.contains, out)
			}
		})
	}
}
