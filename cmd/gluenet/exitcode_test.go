package main

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/gluenet/gluenet/store/postgres/pgtest"
)

// TestExitCodesFromTypes: configuration and usage problems exit 2 because
// of what the error is, whatever its words.
func TestExitCodesFromTypes(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	ctx := context.Background()
	conns := conn1 + "," + conn2
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = e.glue.CreateJob(ctx, &glue.CreateJobInput{Name: aws.String("OtherJob"), Role: aws.String("arn:aws:iam::123456789012:role/r"),
		Command:    &gluetypes.JobCommand{Name: aws.String("glueetl"), ScriptLocation: aws.String("s3://b/s.py")},
		WorkerType: gluetypes.WorkerTypeG1x, NumberOfWorkers: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if code, out, stderr := e.gluenet(ctx, append([]string{"run", "--job", job, "--connections", conns, "--run-key", "k1"}, fast...)...); code != 0 {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, stderr)
	}

	tests := []struct {
		name    string
		args    []string
		message string
	}{
		{"state file cannot be created", []string{"plan", "--job", job, "--connections", conns, "--state", filepath.Join(file, "state.db")}, "--state"},
		{"run key reused for another job", append([]string{"run", "--job", "OtherJob", "--connections", conns, "--run-key", "k1"}, fast...), `was used for job "AirflowBlogJob"`},
		{"sim serve on a port in use", []string{"sim", "serve", "--addr", busy.Addr().String()}, "another program holds that port"},
		{"prefer-az without zones", []string{"plan", "--job", job, "--connections", conns, "--strategy", "prefer-az"}, "--prefer-az"},
		{"unknown command", []string{"plna"}, "unknown command"},
		{"bad flag value", []string{"plan", "--min-ips", "two"}, `--min-ips "two": want a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := e.gluenet(ctx, tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, exitUsage, out, stderr)
			}
			if !strings.Contains(stderr, tt.message) {
				t.Errorf("stderr does not say %q:\n%s", tt.message, stderr)
			}
		})
	}
}

// TestPreferAZNoneMatch: zones none of the connections is in are a warning
// and a note of the plan, not a silent no-op.
func TestPreferAZNoneMatch(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	code, out, stderr := e.gluenet(context.Background(), "plan", "--job", job, "--connections", conn1+","+conn2,
		"--strategy", "prefer-az", "--prefer-az", "us-west-2a", "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var p planJSON
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	want := "none of the connections is in the preferred zone(s) us-west-2a"
	if len(p.Notes) == 0 || !strings.Contains(p.Notes[len(p.Notes)-1], want) || !strings.Contains(p.Notes[len(p.Notes)-1], "us-east-1a, us-east-1b") {
		t.Errorf("notes %q lack %q", p.Notes, want)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("no warning on stderr:\n%s", stderr)
	}
	// A zone that matches: no such note.
	code, out, _ = e.gluenet(context.Background(), "plan", "--job", job, "--connections", conn1+","+conn2,
		"--strategy", "prefer-az", "--prefer-az", "us-east-1b", "--output", "json")
	if code != 0 || strings.Contains(out, "none of the connections") {
		t.Errorf("exit %d, note for a matching zone:\n%s", code, out)
	}
}

// TestRegionInEffect: the unknown-job hint names the region the SDK uses
// and where it came from.
func TestRegionInEffect(t *testing.T) {
	t.Parallel()
	envOf := func(kv ...string) env {
		return func(k string) (string, bool) {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1], true
				}
			}
			return "", false
		}
	}
	tests := []struct {
		name string
		s    settings
		env  env
		want string
	}{
		{"flag", settings{Region: "eu-west-1", RegionFrom: "--region"}, envOf("AWS_REGION", "us-east-1"), "eu-west-1 (from --region)"},
		{"AWS_REGION", settings{}, envOf("AWS_REGION", "us-east-1", "AWS_DEFAULT_REGION", "us-west-2"), "us-east-1 (from AWS_REGION)"},
		{"AWS_DEFAULT_REGION", settings{}, envOf("AWS_DEFAULT_REGION", "us-west-2"), "us-west-2 (from AWS_DEFAULT_REGION)"},
		{"profile", settings{}, envOf(), "the region of the AWS profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.s.RegionInEffect(tt.env); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestJSONOutputIsQuiet: --output json writes no log lines unless
// --log-level asks; --log-level info gives the post's three lines.
func TestJSONOutputIsQuiet(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	args := []string{"plan", "--job", job, "--connections", conn1 + "," + conn2, "--output", "json"}
	code, _, stderr := e.gluenet(context.Background(), args...)
	if code != 0 || stderr != "" {
		t.Errorf("exit %d, stderr not empty:\n%s", code, stderr)
	}
	code, _, stderr = e.gluenet(context.Background(), append(args, "--log-level", "info")...)
	for _, want := range []string{"Good connections", "Usable connections"} {
		if code != 0 || !strings.Contains(stderr, want) {
			t.Errorf("with --log-level info, exit %d and stderr lacks %q:\n%s", code, want, stderr)
		}
	}
	code, _, stderr = e.gluenet(context.Background(), args[:len(args)-2]...)
	if code != 0 || !strings.Contains(stderr, "Good connections") {
		t.Errorf("table output keeps the log lines: exit %d\n%s", code, stderr)
	}
}

// TestAWSErrorPrintedOnce: an AWS error that stops run is printed once,
// on standard error with what to do, not in the table and the Result line
// as well.
func TestAWSErrorPrintedOnce(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	code, out, stderr := e.gluenet(context.Background(), "run", "--job", job, "--connections", conn1+","+conn2,
		"--endpoint-url", "http://127.0.0.1:1")
	if code != exitAWS {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitAWS, out, stderr)
	}
	if n := strings.Count(out+stderr, "connection refused"); n != 1 {
		t.Errorf("the error is printed %d times, want once:\nstdout:\n%s\nstderr:\n%s", n, out, stderr)
	}
	if !strings.Contains(out, "Result: error") || !strings.Contains(stderr, "Cannot reach the AWS endpoint") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, stderr)
	}
}

// TestPostgresStoreFailures: a Postgres server that refuses the login or
// the database is a configuration problem (exit 2); one that cannot be
// reached may pass (exit 4, which a scheduler may retry). Nothing is
// started either way.
func TestPostgresStoreFailures(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	ctx := context.Background()
	unreachable := "postgres://gluenet:s3cret@127.0.0.1:1/gluenet?sslmode=disable"
	type row struct {
		name    string
		args    []string
		code    int
		message string
	}
	tests := []row{
		{"unreachable: runs list", []string{"runs", "list", "--postgres-dsn", unreachable}, exitAWS, "connection refused"},
		{"unreachable: run", []string{"run", "--job", job, "--connections", conn1 + "," + conn2, "--postgres-dsn", unreachable}, exitAWS, "open postgres state on 127.0.0.1:1/gluenet"},
		{"unreachable: plan", []string{"plan", "--job", job, "--connections", conn1 + "," + conn2, "--postgres-dsn", unreachable}, exitAWS, "connection refused"},
	}
	if os.Getenv("GLUENET_TEST_POSTGRES_DSN") != "" || os.Getenv("CI") == "true" { // pgtest.DSN fails in CI without it
		u, err := url.Parse(pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(u.User.Username(), "not-the-password")
		tests = append(tests, row{"wrong password: run", []string{"run", "--job", job, "--connections", conn1 + "," + conn2, "--postgres-dsn", u.String()}, exitUsage, "Check the user, password and database"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := e.gluenet(ctx, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, stderr)
			}
			if !strings.Contains(stderr, tt.message) || strings.Contains(stderr, "s3cret") || strings.Contains(stderr, "not-the-password") {
				t.Errorf("stderr should say %q and no password:\n%s", tt.message, stderr)
			}
			if n := len(e.region.State().Runs); n != 0 {
				t.Errorf("%d Glue runs started, want none", n)
			}
		})
	}
}

// TestExitCodeTables: the exit-code tables of the README and the docs list
// exactly the codes gluenet exits with, in order, and the README's and
// reference.md's rows begin with each code's meaning in brief.
func TestExitCodeTables(t *testing.T) {
	for _, doc := range []string{"../../README.md", "../../docs/reference.md", "../../docs/troubleshooting.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		i := strings.Index(text, "xit code")
		if i < 0 {
			t.Fatalf("%s has no exit-code section", doc)
		}
		var rows [][2]string
		for _, l := range strings.Split(text[i:], "\n") {
			cells := strings.Split(l, "|")
			if len(cells) < 4 {
				if len(rows) > 0 {
					break
				}
				continue
			}
			code := strings.TrimSpace(cells[1])
			if _, err := strconv.Atoi(code); err == nil {
				rows = append(rows, [2]string{code, strings.TrimSpace(cells[2])})
			}
		}
		if len(rows) != len(exitCodes) {
			t.Fatalf("%s lists %d exit codes, gluenet has %d: %v", doc, len(rows), len(exitCodes), rows)
		}
		for k, want := range exitCodes {
			if rows[k][0] != strconv.Itoa(want.code) {
				t.Errorf("%s: row %d is code %s, want %d", doc, k+1, rows[k][0], want.code)
			}
			if !strings.HasSuffix(doc, "troubleshooting.md") && !strings.HasPrefix(rows[k][1], want.brief) {
				t.Errorf("%s: code %d says %q, want it to begin with %q", doc, want.code, rows[k][1], want.brief)
			}
		}
	}
}
