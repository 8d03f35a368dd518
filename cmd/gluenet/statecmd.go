package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/spf13/cobra"

	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/store"
	ddbstore "github.com/gluenet/gluenet/store/dynamodb"
)

// dynamoScheme prefixes a --state that names a DynamoDB table.
const dynamoScheme = "dynamodb://"

// dynamoTable returns the table a --state of dynamodb://TABLE names.
func dynamoTable(state string) (string, bool) {
	return strings.CutPrefix(state, dynamoScheme)
}

// dynamoClient builds the DynamoDB client for the state table from the
// usual AWS settings (--region, --profile, the SDK's chain), never from
// --endpoint-url, which names where Glue and EC2 are: the SDK's
// AWS_ENDPOINT_URL_DYNAMODB (or AWS_ENDPOINT_URL) points it elsewhere.
func dynamoClient(ctx context.Context, s settings, table string) (*dynamodb.Client, aws.Config, error) {
	if err := ddbstore.ValidateTableName(table); err != nil {
		return nil, aws.Config{}, &usageError{Err: err, Msg: fmt.Sprintf("--state %s%s: %v", dynamoScheme, table, err)}
	}
	cfg, err := awsclient.LoadConfig(ctx, awsclient.Options{Region: s.Region, Profile: s.Profile, CallTimeout: ddbstore.DefaultCallTimeout})
	if err != nil {
		var ce *awsclient.ConfigError
		if errors.As(err, &ce) || errors.Is(err, awsclient.ErrNoRegion) {
			return nil, aws.Config{}, &usageError{Err: err, Msg: fmt.Sprintf("the DynamoDB state table %s: %v", table, err)}
		}
		return nil, aws.Config{}, &unreachableError{err: fmt.Errorf("the DynamoDB state table %s: %w", table, err)}
	}
	return dynamodb.NewFromConfig(cfg), cfg, nil
}

// openDynamo opens the state store on the table.
func openDynamo(ctx context.Context, s settings, table string) (store.Store, string, error) {
	client, cfg, err := dynamoClient(ctx, s, table)
	if err != nil {
		return nil, "", err
	}
	st, err := store.Open(ctx, stateGuard(ctx, s, ddbstore.Describe(table), ddbstore.Classify), func(ctx context.Context) (store.Store, error) {
		return ddbstore.Open(ctx, client, table, ddbstore.WithRetention(s.Retention), ddbstore.WithLogger(s.StateLog))
	})
	var te *ddbstore.TableError
	switch {
	case errors.As(err, &te):
		// Missing or not gluenet's: only creating or naming another
		// table mends it (exit 2).
		return nil, "", &usageError{Err: err, Msg: fmt.Sprintf("open the DynamoDB state store in %s: %v", cfg.Region, err)}
	case isUnavailable(err), err != nil && !errors.Is(err, context.Canceled):
		// Not reached, refused (access denied) or slow: exit 4, as an
		// AWS endpoint's failure.
		return nil, "", &unreachableError{err: fmt.Errorf("open the DynamoDB state table %s in %s (endpoint from AWS_ENDPOINT_URL_DYNAMODB or the region): %w", table, cfg.Region, err)}
	case err != nil:
		return nil, "", err
	}
	return st, dynamoScheme + table, nil
}

func (a *app) stateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Set up where gluenet keeps its state",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(a.stateInitCommand())
	return cmd
}

func (a *app) stateInitCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init dynamodb://TABLE",
		Short: "Create gluenet's DynamoDB state table (pay per request, with TTL) and print its CloudFormation and Terraform",
		Long: `Creates the DynamoDB table gluenet keeps its state in, unless it exists,
waits until it is active and turns on TTL on its "ttl" attribute; then prints
a CloudFormation resource and a Terraform resource that create the same
table, for those who keep their infrastructure as code. Running it again
changes nothing. With --print, it only prints them.

The region and credentials are the usual AWS settings (--region, --profile,
AWS_REGION, ...); AWS_ENDPOINT_URL_DYNAMODB points it at another endpoint.
The IAM actions it needs beyond gluenet's own: dynamodb:CreateTable,
dynamodb:DescribeTable, dynamodb:DescribeTimeToLive, dynamodb:UpdateTimeToLive.`,
		Example: `  gluenet state init dynamodb://gluenet-state --region eu-west-1
  gluenet state init dynamodb://gluenet-state --print   # only the snippets`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			table, ok := dynamoTable(args[0])
			if !ok {
				return usagef("state init %q: name a table as dynamodb://TABLE (SQLite files and Postgres schemas are created on first use)", args[0])
			}
			if err := ddbstore.ValidateTableName(table); err != nil {
				return &usageError{Err: err, Msg: err.Error()}
			}
			printOnly, _ := cmd.Flags().GetBool("print")
			if !printOnly {
				s, err := resolve(cmd.Flags(), a.getenv)
				if err != nil {
					return err
				}
				client, cfg, err := dynamoClient(cmd.Context(), s, table)
				if err != nil {
					return err
				}
				res, err := ddbstore.Init(cmd.Context(), client, table)
				var ttlErr *ddbstore.TTLError
				var te *ddbstore.TableError
				switch {
				case errors.As(err, &te):
					return &usageError{Err: err, Msg: err.Error()}
				case errors.As(err, &ttlErr):
					fmt.Fprintf(a.stderr, "warning: table %s is ready but %v\nPrune still deletes what is over; TTL is only its backstop.\n", table, err)
				case err != nil:
					return &unreachableError{err: fmt.Errorf("create the DynamoDB state table %s in %s: %w", table, cfg.Region, err)}
				}
				switch {
				case res.Created:
					fmt.Fprintf(a.stdout, "Created table %s in %s (pay per request, TTL on %q).\n", table, cfg.Region, "ttl")
				default:
					fmt.Fprintf(a.stdout, "Table %s in %s exists already; it is ready.\n", table, cfg.Region)
				}
				fmt.Fprintf(a.stdout, "Use it with: gluenet --state %s%s ...\n\n", dynamoScheme, table)
			}
			fmt.Fprintf(a.stdout, "# CloudFormation\n%s\n# Terraform\n%s", ddbstore.CloudFormation(table), ddbstore.Terraform(table))
			return nil
		},
	}
	cmd.Flags().Bool("print", false, "only print the CloudFormation and Terraform; create nothing")
	return cmd
}
