package awsclient

// Permissions is the IAM action each operation of GlueAPI, EC2API and
// LogsAPI needs, kept beside the interfaces: a call added to an interface
// without its action here fails TestEveryCallHasItsPermission, and
// NewIAMPolicy (`gluenet iam-policy`) builds its statements from this map.
var Permissions = map[string]string{
	"GetConnection":   "glue:GetConnection",
	"GetConnections":  "glue:GetConnections",
	"GetJob":          "glue:GetJob",
	"UpdateJob":       "glue:UpdateJob",
	"StartJobRun":     "glue:StartJobRun",
	"GetJobRun":       "glue:GetJobRun",
	"GetJobRuns":      "glue:GetJobRuns",
	"BatchStopJobRun": "glue:BatchStopJobRun",
	"GetJobs":         "glue:GetJobs",
	"DescribeSubnets": "ec2:DescribeSubnets",
	"FilterLogEvents": "logs:FilterLogEvents",
}

// Action is the IAM action of one of the interfaces' operations; it panics
// on an operation the interfaces do not have (a programming error).
func Action(op string) string {
	a, ok := Permissions[op]
	if !ok {
		panic("awsclient: no IAM action for " + op)
	}
	return a
}
