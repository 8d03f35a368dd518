// Command sdkfloor is the least a Go process that makes gluenet's decision
// calls through the AWS SDK for Go v2 can take, measured from outside like
// `gluenet plan` (scripts/bench_process.py runs it beside gluenet).
//
// It loads the SDK's default configuration, makes the Glue and EC2 clients,
// and makes the calls of one decision with the most overlap the data
// allows, then exits: warm (the subnets known, -subnets), GetJob alongside
// one DescribeSubnets; cold (-connections), GetJob alongside the
// connections' concurrent GetConnection calls followed by one
// DescribeSubnets. No state store, no ranking, no output, no CloudWatch
// Logs client, no metrics: what is left is the Go runtime, the SDK's
// package initialisation and the round trips. gluenet's whole-process
// figures are read against it in docs/benchmarks.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/glue"
)

func main() {
	endpoint := flag.String("endpoint-url", "", "the endpoint of every call (the simulated region)")
	job := flag.String("job", "", "the Glue job to read")
	subnets := flag.String("subnets", "", "comma-separated subnet IDs: a warm decision")
	connections := flag.String("connections", "", "comma-separated Glue connection names: a cold decision")
	flag.Parse()
	if err := decide(context.Background(), *endpoint, *job, split(*subnets), split(*connections)); err != nil {
		fmt.Fprintln(os.Stderr, "sdkfloor:", err)
		os.Exit(1)
	}
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func decide(ctx context.Context, endpoint, job string, subnets, connections []string) error {
	if job == "" || (len(subnets) == 0) == (len(connections) == 0) {
		return fmt.Errorf("give -job and one of -subnets or -connections")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	if endpoint != "" {
		cfg.BaseEndpoint = aws.String(endpoint)
	}
	gc, ec := glue.NewFromConfig(cfg), ec2.NewFromConfig(cfg)

	var wg sync.WaitGroup
	var jobErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, jobErr = gc.GetJob(ctx, &glue.GetJobInput{JobName: aws.String(job)})
	}()
	if len(connections) > 0 {
		subnets = make([]string, len(connections))
		errs := make([]error, len(connections))
		var lookups sync.WaitGroup
		for i, name := range connections {
			lookups.Add(1)
			go func() {
				defer lookups.Done()
				out, err := gc.GetConnection(ctx, &glue.GetConnectionInput{Name: aws.String(name), HidePassword: true})
				if err != nil {
					errs[i] = err
					return
				}
				if r := out.Connection.PhysicalConnectionRequirements; r != nil {
					subnets[i] = aws.ToString(r.SubnetId)
				}
			}()
		}
		lookups.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
	}
	out, err := ec.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: subnets})
	wg.Wait()
	if err != nil {
		return err
	}
	if jobErr != nil {
		return jobErr
	}
	if len(out.Subnets) != len(subnets) {
		return fmt.Errorf("DescribeSubnets returned %d subnets, want %d", len(out.Subnets), len(subnets))
	}
	return nil
}
