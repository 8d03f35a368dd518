package awsclient

import (
	"fmt"
	"regexp"
	"strings"
)

// IAMPolicy is a least-privilege IAM policy document for gluenet
// (`gluenet iam-policy`).
type IAMPolicy struct {
	Version   string         `json:"Version"`
	Statement []IAMStatement `json:"Statement"`
}

// IAMStatement is one statement of an IAMPolicy. Resource is a string or a
// []string.
type IAMStatement struct {
	Sid       string         `json:"Sid"`
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  any            `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

// IAMInput is what the policy is for.
type IAMInput struct {
	Job         string
	Connections []string
	Partition   string // "" = aws
	Region      string // "" = any
	Account     string // "" = any
	RoleARN     string // the job's role; "" = the post's AWSGlueServiceRole* convention
	Logs        bool   // allow reading the job's logs (--follow-logs)
	// StateTable is the DynamoDB state table (--state dynamodb://TABLE),
	// "" = none; StateOperations are the DynamoDB operations the state
	// store makes on it (store/dynamodb's Operations).
	StateTable      string
	StateOperations []string
}

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

// NewIAMPolicy generalises the post's inline policy: read the candidate
// connections, read/update/run/stop the job, describe subnets, pass the
// job's role to Glue (UpdateJob sends it), and optionally read its logs
// and keep state in a DynamoDB table. Its Glue, EC2 and Logs actions come
// from Permissions, so a call the client makes has its action here
// (TestIAMPolicyGrantsEveryCall).
func NewIAMPolicy(in IAMInput) (IAMPolicy, error) {
	if in.Account != "" && !accountRE.MatchString(in.Account) {
		return IAMPolicy{}, fmt.Errorf("--account %q: an AWS account ID is 12 digits", in.Account)
	}
	part := in.Partition
	if part == "" {
		part = "aws"
	}
	region, account := orStar(in.Region), orStar(in.Account)
	glueARN := func(res string) string {
		return fmt.Sprintf("arn:%s:glue:%s:%s:%s", part, region, account, res)
	}
	conns := []string{glueARN("catalog")}
	for _, c := range in.Connections {
		conns = append(conns, glueARN("connection/"+c))
	}
	role := in.RoleARN
	if role == "" {
		role = fmt.Sprintf("arn:%s:iam::%s:role/service-role/AWSGlueServiceRole*", part, account)
	}
	p := IAMPolicy{Version: "2012-10-17", Statement: []IAMStatement{
		{Sid: "ReadCandidateConnections", Effect: "Allow", Action: []string{Action("GetConnection")}, Resource: conns},
		{Sid: "RankAndRunTheJob", Effect: "Allow",
			Action: []string{Action("GetJob"), Action("UpdateJob"), Action("StartJobRun"), Action("GetJobRun"),
				Action("GetJobRuns"), Action("BatchStopJobRun")},
			Resource: []string{glueARN("job/" + in.Job)}},
		// DescribeSubnets supports no resource-level permissions.
		{Sid: "ReadSubnetFreeIPs", Effect: "Allow", Action: []string{Action("DescribeSubnets")}, Resource: "*"},
		{Sid: "PassTheJobRoleToGlue", Effect: "Allow", Action: []string{"iam:GetRole", "iam:PassRole"}, Resource: role,
			Condition: map[string]any{"StringEqualsIfExists": map[string]string{"iam:PassedToService": "glue.amazonaws.com"}}},
	}}
	if len(in.Connections) > DefaultConcurrency {
		// With more candidates than one wave of GetConnection calls,
		// discovery lists the NETWORK connections in one GetConnections
		// call instead (docs/benchmarks.md). Listing cannot be limited to
		// named connections; without this statement gluenet falls back to
		// GetConnection, one call per connection, after one denied call.
		p.Statement = append(p.Statement, IAMStatement{Sid: "ListConnectionsForLargeCandidateLists", Effect: "Allow",
			Action: []string{Action("GetConnections")}, Resource: []string{glueARN("catalog"), glueARN("connection/*")}})
	}
	if in.Logs {
		var groups []string
		for _, g := range []string{"/aws-glue/jobs/output", "/aws-glue/jobs/error"} {
			groups = append(groups, fmt.Sprintf("arn:%s:logs:%s:%s:log-group:%s:*", part, region, account, g))
		}
		p.Statement = append(p.Statement, IAMStatement{Sid: "FollowRunLogs", Effect: "Allow",
			Action: []string{Action("FilterLogEvents"), "logs:GetLogEvents"}, Resource: groups})
	}
	if in.StateTable != "" {
		p.Statement = append(p.Statement, stateTableStatement(part, region, account, in.StateTable, in.StateOperations))
	}
	return p, nil
}

// stateTableStatement allows the DynamoDB calls the state store makes on
// its table and its runs index, and no others (gluenet state init needs
// store/dynamodb's InitOperations besides).
func stateTableStatement(part, region, account, table string, ops []string) IAMStatement {
	actions := make([]string, 0, len(ops))
	for _, op := range ops {
		actions = append(actions, "dynamodb:"+op)
	}
	arn := fmt.Sprintf("arn:%s:dynamodb:%s:%s:table/%s", part, region, account, table)
	return IAMStatement{Sid: "KeepStateInTheDynamoDBTable", Effect: "Allow", Action: actions, Resource: []string{arn, arn + "/index/*"}}
}

func orStar(s string) string {
	if strings.TrimSpace(s) == "" {
		return "*"
	}
	return s
}
