package awsclient

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
)

// namesPage is how many names one listing asks for: shell completion shows
// one page, never walks a large catalog.
const namesPage = 200

// JobNames lists up to one page of the account's Glue job names (shell
// completion of --job).
func (c *Client) JobNames(ctx context.Context) ([]string, error) {
	out, err := c.Glue.GetJobs(ctx, &glue.GetJobsInput{MaxResults: aws.Int32(namesPage)})
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	names := make([]string, 0, len(out.Jobs))
	for _, j := range out.Jobs {
		names = append(names, aws.ToString(j.Name))
	}
	return names, nil
}

// ConnectionNames lists up to one page of the Data Catalog's connection
// names (shell completion of --connections).
func (c *Client) ConnectionNames(ctx context.Context) ([]string, error) {
	out, err := c.Glue.GetConnections(ctx, &glue.GetConnectionsInput{MaxResults: aws.Int32(namesPage), HidePassword: true})
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	names := make([]string, 0, len(out.ConnectionList))
	for _, cn := range out.ConnectionList {
		names = append(names, aws.ToString(cn.Name))
	}
	return names, nil
}
