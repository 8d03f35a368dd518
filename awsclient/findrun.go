package awsclient

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
)

// FindRun returns the id of a run of the job, started at or after since,
// whose arguments hold arg=value; "" when there is none. GetJobRuns lists
// runs newest first, so the search stops at the first page that reaches
// back before since.
func (c *Client) FindRun(ctx context.Context, job, arg, value string, since time.Time) (string, error) {
	if arg == "" || value == "" {
		// A run without the argument would match an empty value.
		return "", fmt.Errorf("find run of %q: empty argument name or value", job)
	}
	p := glue.NewGetJobRunsPaginator(c.Glue, &glue.GetJobRunsInput{JobName: aws.String(job)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("get job runs %q: %w", job, err)
		}
		older := false
		for _, r := range out.JobRuns {
			if r.StartedOn != nil && r.StartedOn.Before(since) {
				older = true
				continue
			}
			if r.Arguments[arg] == value {
				return aws.ToString(r.Id), nil
			}
		}
		if older {
			break
		}
	}
	return "", nil
}
