// Package ddbtest gives tests a DynamoDB table of their own on each of the
// emulators named by GLUENET_TEST_DYNAMODB_ENDPOINTS, which .ci/dynamodb.sh
// starts and prints:
//
//	eval "$(bash .ci/dynamodb.sh)"
//
// The variable is a comma-separated list of name=URL, for example
// moto=http://127.0.0.1:5601,dynalite=http://127.0.0.1:5602.
package ddbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// EndpointsEnv names the environment variable that lists the emulators.
const EndpointsEnv = "GLUENET_TEST_DYNAMODB_ENDPOINTS"

// Region is the region the tests sign for; emulators accept any.
const Region = "us-east-1"

// Endpoint is one emulator.
type Endpoint struct {
	Name, URL string
}

// Endpoints returns the emulators to test against. Without any the test
// skips, except in CI (CI=true), where skipping would hide that the
// DynamoDB store is untested.
func Endpoints(t testing.TB) []Endpoint {
	t.Helper()
	raw := os.Getenv(EndpointsEnv)
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is unset in CI: start the emulators with .ci/dynamodb.sh and export what it prints", EndpointsEnv)
		}
		t.Skipf("set %s to run the DynamoDB tests (eval \"$(bash .ci/dynamodb.sh)\" starts moto and dynalite and sets it)", EndpointsEnv)
	}
	var out []Endpoint
	for _, part := range strings.Split(raw, ",") {
		name, url, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || name == "" || url == "" {
			t.Fatalf("%s: %q is not name=URL", EndpointsEnv, part)
		}
		out = append(out, Endpoint{Name: name, URL: url})
	}
	return out
}

// Config is an SDK configuration for the emulator at url, with static
// test credentials.
func Config(url string) aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		BaseEndpoint: aws.String(url),
	}
}

// Client is a DynamoDB client for the emulator at url.
func Client(url string) *dynamodb.Client {
	return dynamodb.NewFromConfig(Config(url))
}

// TableName returns a fresh table name for a test; DeleteTable drops it.
func TableName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "gluenet-test-" + hex.EncodeToString(b)
}

// DeleteTable drops the table when the test ends.
func DeleteTable(t testing.TB, c *dynamodb.Client, table string) {
	t.Cleanup(func() {
		// t.Context is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &table}); err != nil {
			t.Logf("delete table %s: %v", table, err)
		}
	})
}
