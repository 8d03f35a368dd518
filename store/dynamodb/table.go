package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// InitAPI is the part of the DynamoDB client Init calls.
type InitAPI interface {
	CreateTable(context.Context, *dynamodb.CreateTableInput, ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	DescribeTimeToLive(context.Context, *dynamodb.DescribeTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	UpdateTimeToLive(context.Context, *dynamodb.UpdateTimeToLiveInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

// InitOperations are the DynamoDB actions Init calls, beyond Operations:
// only `gluenet state init` needs them.
var InitOperations = []string{"CreateTable", "DescribeTimeToLive", "UpdateTimeToLive"}

// InitResult says what Init did.
type InitResult struct {
	// Created: the table did not exist and Init created it.
	Created bool
	// TTLEnabled: Init turned on TTL on the ttl attribute (false when it
	// was on already).
	TTLEnabled bool
}

// TTLError is Init's error when the table exists but TTL could not be
// turned on. The store works without TTL (Prune deletes what is over);
// TTL is its backstop.
type TTLError struct{ Err error }

func (e *TTLError) Error() string {
	return "turn on TTL on attribute " + attrTTL + ": " + e.Err.Error()
}
func (e *TTLError) Unwrap() error { return e.Err }

// Init creates gluenet's table, with the runs index, billed per request,
// unless it exists, waits until it is active, and turns on TTL on the ttl
// attribute. Running it again changes nothing.
func Init(ctx context.Context, client InitAPI, table string) (InitResult, error) {
	var res InitResult
	if err := ValidateTableName(table); err != nil {
		return res, err
	}
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		if _, err := client.CreateTable(ctx, TableInput(table)); err != nil {
			var inUse *types.ResourceInUseException
			if !errors.As(err, &inUse) { // another init created it meanwhile
				return res, fmt.Errorf("create table %q: %w", table, err)
			}
		} else {
			res.Created = true
		}
		w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 200*time.Millisecond, 5*time.Second
		})
		if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &table}, 5*time.Minute); err != nil {
			return res, fmt.Errorf("wait for table %q to be active: %w", table, err)
		}
	case err != nil:
		return res, fmt.Errorf("describe table %q: %w", table, err)
	case !gluenetKeys(desc.Table):
		return res, &TableError{Table: table, Reason: "exists and is not a gluenet state table: its key must be pk (string, HASH) and sk (string, RANGE)"}
	}
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: &table})
	if err != nil {
		return res, &TTLError{Err: err}
	}
	if d := ttl.TimeToLiveDescription; d != nil && aws.ToString(d.AttributeName) == attrTTL &&
		(d.TimeToLiveStatus == types.TimeToLiveStatusEnabled || d.TimeToLiveStatus == types.TimeToLiveStatusEnabling) {
		return res, nil
	}
	if _, err := client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: &table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String(attrTTL), Enabled: aws.Bool(true)}}); err != nil {
		return res, &TTLError{Err: err}
	}
	res.TTLEnabled = true
	return res, nil
}

// TableInput is the CreateTable request of gluenet's table.
func TableInput(table string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   &table,
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrSK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrG1PK), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(attrG1SK), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(indexRuns),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrG1PK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrG1SK), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: runProjection},
		}},
	}
}

// CloudFormation is a template resource that creates the same table as
// Init.
func CloudFormation(table string) string {
	return fmt.Sprintf(`Resources:
  GluenetStateTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: %s
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: %s, AttributeType: S}
        - {AttributeName: %s, AttributeType: S}
        - {AttributeName: %s, AttributeType: S}
        - {AttributeName: %s, AttributeType: S}
      KeySchema:
        - {AttributeName: %s, KeyType: HASH}
        - {AttributeName: %s, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: %s
          KeySchema:
            - {AttributeName: %s, KeyType: HASH}
            - {AttributeName: %s, KeyType: RANGE}
          Projection:
            ProjectionType: INCLUDE
            NonKeyAttributes: [%s]
      TimeToLiveSpecification:
        AttributeName: %s
        Enabled: true
`, table, attrPK, attrSK, attrG1PK, attrG1SK, attrPK, attrSK, indexRuns, attrG1PK, attrG1SK,
		strings.Join(runProjection, ", "), attrTTL)
}

// Terraform is a resource block (AWS provider) that creates the same table
// as Init.
func Terraform(table string) string {
	quoted := make([]string, len(runProjection))
	for i, a := range runProjection {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	var attrs strings.Builder
	for _, a := range []string{attrPK, attrSK, attrG1PK, attrG1SK} {
		fmt.Fprintf(&attrs, "  attribute {\n    name = %q\n    type = \"S\"\n  }\n", a)
	}
	return fmt.Sprintf(`resource "aws_dynamodb_table" "gluenet_state" {
  name         = %q
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = %q
  range_key    = %q

%s
  global_secondary_index {
    name               = %q
    hash_key           = %q
    range_key          = %q
    projection_type    = "INCLUDE"
    non_key_attributes = [%s]
  }

  ttl {
    attribute_name = %q
    enabled        = true
  }
}
`, table, attrPK, attrSK, attrs.String(), indexRuns, attrG1PK, attrG1SK, strings.Join(quoted, ", "), attrTTL)
}
