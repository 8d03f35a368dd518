package sim

import (
	"slices"
	"sort"

	"github.com/gluenet/gluenet/sim/ec2query"
)

// logsOperations are the CloudWatch Logs operations logsOp serves.
var logsOperations = []string{"FilterLogEvents", "GetLogEvents"}

// Operations lists, by service (the botocore model names "glue", "ec2",
// "logs"), every operation the region serves, sorted. The conformance tests
// hold each one's responses to AWS's service models.
func Operations() map[string][]string {
	glue := make([]string, 0, len(glueOps))
	for op := range glueOps {
		glue = append(glue, op)
	}
	sort.Strings(glue)
	return map[string][]string{
		"glue": glue,
		"ec2":  ec2query.Operations(),
		"logs": slices.Clone(logsOperations),
	}
}
