package main

import (
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"

	"github.com/gluenet/gluenet/awsclient"
	ddbstore "github.com/gluenet/gluenet/store/dynamodb"
)

// iamPolicy is a least-privilege IAM policy document for gluenet.
type iamPolicy struct {
	Version   string         `json:"Version"`
	Statement []iamStatement `json:"Statement"`
}

type iamStatement struct {
	Sid       string         `json:"Sid"`
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  any            `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

type iamInput struct {
	Job         string
	Connections []string
	Partition   string
	Region      string // "" = any
	Account     string // "" = any
	RoleARN     string // the job's role; "" = the post's AWSGlueServiceRole* convention
	Logs        bool   // allow reading the job's logs (--follow-logs)
	StateTable  string // the DynamoDB state table (--state dynamodb://TABLE); "" = none
}

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)

// buildIAMPolicy generalises the post's inline policy: read the candidate
// connections, read/update/run/stop the job, describe subnets, pass the
// job's role to Glue (UpdateJob sends it), and optionally read its logs.
func buildIAMPolicy(in iamInput) (iamPolicy, error) {
	if in.Account != "" && !accountRE.MatchString(in.Account) {
		return iamPolicy{}, usagef("--account %q: an AWS account ID is 12 digits", in.Account)
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
	p := iamPolicy{Version: "2012-10-17", Statement: []iamStatement{
		{Sid: "ReadCandidateConnections", Effect: "Allow", Action: []string{awsclient.Action("GetConnection")}, Resource: conns},
		{Sid: "RankAndRunTheJob", Effect: "Allow",
			Action: []string{awsclient.Action("GetJob"), awsclient.Action("UpdateJob"), awsclient.Action("StartJobRun"), awsclient.Action("GetJobRun"),
				awsclient.Action("GetJobRuns"), awsclient.Action("BatchStopJobRun")},
			Resource: []string{glueARN("job/" + in.Job)}},
		// DescribeSubnets supports no resource-level permissions.
		{Sid: "ReadSubnetFreeIPs", Effect: "Allow", Action: []string{awsclient.Action("DescribeSubnets")}, Resource: "*"},
		{Sid: "PassTheJobRoleToGlue", Effect: "Allow", Action: []string{"iam:GetRole", "iam:PassRole"}, Resource: role,
			Condition: map[string]any{"StringEqualsIfExists": map[string]string{"iam:PassedToService": "glue.amazonaws.com"}}},
	}}
	if len(in.Connections) > awsclient.DefaultConcurrency {
		// With more candidates than one wave of GetConnection calls,
		// discovery lists the NETWORK connections in one GetConnections
		// call instead (docs/benchmarks.md). Listing cannot be limited to
		// named connections; without this statement gluenet falls back to
		// GetConnection, one call per connection, after one denied call.
		p.Statement = append(p.Statement, iamStatement{Sid: "ListConnectionsForLargeCandidateLists", Effect: "Allow",
			Action: []string{awsclient.Action("GetConnections")}, Resource: []string{glueARN("catalog"), glueARN("connection/*")}})
	}
	if in.Logs {
		var groups []string
		for _, g := range []string{"/aws-glue/jobs/output", "/aws-glue/jobs/error"} {
			groups = append(groups, fmt.Sprintf("arn:%s:logs:%s:%s:log-group:%s:*", part, region, account, g))
		}
		p.Statement = append(p.Statement, iamStatement{Sid: "FollowRunLogs", Effect: "Allow",
			Action: []string{awsclient.Action("FilterLogEvents"), "logs:GetLogEvents"}, Resource: groups})
	}
	if in.StateTable != "" {
		p.Statement = append(p.Statement, stateTableStatement(part, region, account, in.StateTable))
	}
	return p, nil
}

// stateTableStatement allows the DynamoDB calls the state store makes on
// its table and its runs index, and no others (gluenet state init needs
// ddbstore.InitOperations besides).
func stateTableStatement(part, region, account, table string) iamStatement {
	actions := make([]string, 0, len(ddbstore.Operations))
	for _, op := range ddbstore.Operations {
		actions = append(actions, "dynamodb:"+op)
	}
	arn := fmt.Sprintf("arn:%s:dynamodb:%s:%s:table/%s", part, region, account, table)
	return iamStatement{Sid: "KeepStateInTheDynamoDBTable", Effect: "Allow", Action: actions, Resource: []string{arn, arn + "/index/*"}}
}

// stateTableOf is the DynamoDB state table the settings name, or "".
func stateTableOf(s settings) string {
	if table, ok := dynamoTable(s.StatePath); ok && s.PostgresDSN == "" {
		return table
	}
	return ""
}

func orStar(s string) string {
	if strings.TrimSpace(s) == "" {
		return "*"
	}
	return s
}

// writeIAMTable prints the policy as a summary: one row per statement and
// resource, with its actions.
func writeIAMTable(w io.Writer, p iamPolicy) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATEMENT\tACTIONS\tRESOURCES")
	for _, st := range p.Statement {
		var res []string
		switch r := st.Resource.(type) {
		case string:
			res = []string{r}
		case []string:
			res = r
		}
		actions := strings.Join(st.Action, ", ")
		if st.Condition != nil {
			actions += " (only towards glue.amazonaws.com)"
		}
		for i, r := range res {
			sid := st.Sid
			if i > 0 {
				sid, actions = "", ""
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", sid, actions, r)
		}
	}
	return tw.Flush()
}

func writeIAMPolicy(w io.Writer, p iamPolicy) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	return enc.Encode(p)
}
