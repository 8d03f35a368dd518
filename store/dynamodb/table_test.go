package dynamodb

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/dynamodb/ddbtest"
)

// TestCloudFormationCreatesTheSameTable deploys the template `gluenet
// state init` prints to moto's CloudFormation with the AWS CLI, and checks
// that the table it made is the one Init makes (keys, billing, the runs
// index and its projection) and that the store works on it. moto's
// CloudFormation does not apply TimeToLiveSpecification (DynamoDB's does);
// TTL is only the store's backstop.
func TestCloudFormationCreatesTheSameTable(t *testing.T) {
	eps := ddbtest.Endpoints(t)
	i := slices.IndexFunc(eps, func(e ddbtest.Endpoint) bool { return e.Name == "moto" })
	if i < 0 {
		t.Skip("needs moto (CloudFormation) among " + ddbtest.EndpointsEnv)
	}
	awsCLI, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the AWS CLI is missing in CI (.ci/run installs awscli)")
		}
		t.Skip("needs the AWS CLI")
	}
	ep := eps[i]
	c := ddbtest.Client(ep.URL)
	table := ddbtest.TableName(t)
	ddbtest.DeleteTable(t, c, table)
	tmpl := filepath.Join(t.TempDir(), "table.yaml")
	if err := os.WriteFile(tmpl, []byte(CloudFormation(table)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), awsCLI, "--endpoint-url", ep.URL, "--region", ddbtest.Region,
		"cloudformation", "create-stack", "--stack-name", table, "--template-body", "file://"+tmpl)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_CONFIG_FILE=/dev/null")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aws cloudformation create-stack: %v\n%s", err, out)
	}
	w := dynamodb.NewTableExistsWaiter(c)
	if err := w.Wait(t.Context(), &dynamodb.DescribeTableInput{TableName: &table}, 2*time.Minute); err != nil {
		t.Fatalf("the stack made no table %s: %v", table, err)
	}
	got, err := c.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: &table})
	if err != nil {
		t.Fatal(err)
	}
	want := TableInput(table)
	d := got.Table
	if !gluenetKeys(d) {
		t.Errorf("key schema %+v, want pk HASH and sk RANGE", d.KeySchema)
	}
	if d.BillingModeSummary == nil || d.BillingModeSummary.BillingMode != want.BillingMode {
		t.Errorf("billing %+v, want %s", d.BillingModeSummary, want.BillingMode)
	}
	if len(d.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("indexes %+v, want one", d.GlobalSecondaryIndexes)
	}
	gi, wi := d.GlobalSecondaryIndexes[0], want.GlobalSecondaryIndexes[0]
	if aws.ToString(gi.IndexName) != aws.ToString(wi.IndexName) || gi.Projection == nil ||
		gi.Projection.ProjectionType != wi.Projection.ProjectionType ||
		!slices.Equal(slices.Sorted(slices.Values(gi.Projection.NonKeyAttributes)), slices.Sorted(slices.Values(wi.Projection.NonKeyAttributes))) {
		t.Errorf("index %s %+v, want %s %+v", aws.ToString(gi.IndexName), gi.Projection, aws.ToString(wi.IndexName), wi.Projection)
	}
	for k := range 2 {
		if aws.ToString(gi.KeySchema[k].AttributeName) != aws.ToString(wi.KeySchema[k].AttributeName) || gi.KeySchema[k].KeyType != wi.KeySchema[k].KeyType {
			t.Errorf("index key %d: %+v, want %+v", k, gi.KeySchema[k], wi.KeySchema[k])
		}
	}
	s := openOn(t, c, table)
	if _, _, err := s.BeginRun(t.Context(), store.Run{Key: "k", Job: "j", CreatedAt: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if runs, err := s.ListRuns(t.Context(), store.RunFilter{}); err != nil || len(runs) != 1 {
		t.Errorf("ListRuns on the CloudFormation table = %v, %v; want the one run", runs, err)
	}
}
