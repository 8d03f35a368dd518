package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// sdkOperations is every method of the AWS SDK service clients that the
// gluenet binary may link: the operations awsclient calls (GlueAPI, EC2API,
// LogsAPI), the shell completion's GetJobs (job names for --job, in
// completion.go) and the client's own Options. Anything else in `go tool nm`
// means something makes the linker keep every exported method of reachable
// types (a reflection-driven template execution, reflect.Value.Method,
// MethodByName...), which costs the binary tens of megabytes (issue 12).
var sdkOperations = map[string][]string{
	"glue":           {"BatchStopJobRun", "GetConnection", "GetConnections", "GetJob", "GetJobRun", "GetJobRuns", "GetJobs", "StartJobRun", "UpdateJob"},
	"ec2":            {"DescribeSubnets"},
	"cloudwatchlogs": {"FilterLogEvents"},
	// The DynamoDB state store's calls (store/dynamodb: Operations, then
	// InitOperations for gluenet state init), sorted, and DescribeEndpoints,
	// which the SDK's endpoint discovery middleware links and calls only
	// when AWS_ENABLE_ENDPOINT_DISCOVERY=true (DynamoDB requires it of no
	// operation).
	"dynamodb": {"BatchGetItem", "BatchWriteItem", "CreateTable", "DeleteItem", "DescribeEndpoints", "DescribeTable", "DescribeTimeToLive",
		"GetItem", "PutItem", "Query", "UpdateItem", "UpdateTimeToLive"},
}

// clientMethod matches a method of a service client in `go tool nm` output.
var clientMethod = regexp.MustCompile(`github\.com/aws/aws-sdk-go-v2/service/(glue|ec2|cloudwatchlogs|dynamodb)\.\(\*Client\)\.([A-Z]\w*)$`)

// TestBinaryLinksOnlyTheSDKOperationsItCalls builds the command and lists
// the SDK client methods its symbol table holds: only the operations gluenet
// calls may be there (not, say, (*ec2.Client).CreateVpc).
func TestBinaryLinksOnlyTheSDKOperationsItCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gluenet binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "gluenet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	linked := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		if m := clientMethod.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			linked[m[1]] = append(linked[m[1]], m[2])
		}
	}
	for svc, allowed := range sdkOperations {
		t.Run(svc, func(t *testing.T) {
			var extra []string
			for _, op := range linked[svc] {
				if op != "Options" && !slices.Contains(allowed, op) {
					extra = append(extra, op)
				}
			}
			if len(extra) > 0 {
				slices.Sort(extra)
				t.Errorf("the binary links %d (*%s.Client) methods gluenet never calls, e.g. %s; "+
					"something executes a reflection-driven template or calls methods by name",
					len(extra), svc, strings.Join(extra[:min(len(extra), 5)], ", "))
			}
			// The check must see the operations that are called, or the
			// pattern no longer matches the symbol names.
			if !slices.Contains(linked[svc], allowed[0]) && !slices.Contains(linked[svc], allowed[len(allowed)-1]) {
				t.Errorf("no (*%s.Client) operation found in the symbol table (found %v): is the nm pattern stale?", svc, linked[svc])
			}
		})
	}
}

// TestPlanReportsAStateFileThatCannotOpen: plan opens its state in the
// background while it reads the job; when the file cannot be opened, that
// is the error it reports (not the job lookup that failed meanwhile).
func TestPlanReportsAStateFileThatCannotOpen(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"EntityNotFoundException","Message":"Job not found"}`)
	}))
	defer srv.Close()
	env := map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for k, v := range env {
		t.Setenv(k, v)
	}
	bad := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(bad, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	code := execute(t.Context(), []string{"plan", "--job", "j", "--connections", "a", "--endpoint-url", srv.URL,
		"--state", filepath.Join(bad, "state.db"), "--log-level", "error"}, &out, &errb, getenv)
	if code != exitUsage || !strings.Contains(errb.String(), "cannot use the state file") {
		t.Errorf("exit %d, stderr %q; want %d (a configuration problem) and the state file's error", code, errb.String(), exitUsage)
	}
}
