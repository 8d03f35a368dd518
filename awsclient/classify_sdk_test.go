package awsclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/gluenet/gluenet/classify"
)

// These tests classify errors produced by the real SDK clients, talking to
// a local server that answers in the Glue JSON 1.1 and EC2 query protocols,
// so that the classification follows what the SDK really returns (its
// error types, wrapping and codes), not what we think it returns.

var staticCreds = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", Source: "test"}, nil
})

func glueClient(url string, creds aws.CredentialsProvider) *glue.Client {
	return glue.New(glue.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  creds,
		// One attempt: the SDK's own retries would only slow the test.
		Retryer: aws.NopRetryer{},
	})
}

func ec2Client(url string) *ec2.Client {
	return ec2.New(ec2.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  staticCreds,
		Retryer:      aws.NopRetryer{},
	})
}

func glueError(status int, code, msg string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-RequestId", "5c0a1a0e-0000-4000-8000-000000000000")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":%q,"Message":%q}`, code, msg)
	}))
}

func ec2Error(status int, code, msg string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>ac32605b-8594-4bdf-961d-5e1d4db7ad64</RequestID></Response>`, code, msg)
	}))
}

func TestClassifyRealSDKErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		call func(t *testing.T) error
		want classify.Verdict
	}{
		{"glue StartJobRun: concurrent runs exceeded", func(t *testing.T) error {
			srv := glueError(400, "ConcurrentRunsExceededException", "Concurrent runs exceeded for etl-nightly")
			t.Cleanup(srv.Close)
			_, err := glueClient(srv.URL, staticCreds).StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String("etl-nightly")})
			return err
		}, classify.Verdict{Class: classify.ConcurrentRuns, Retry: true}},
		{"glue GetJobRun: throttled", func(t *testing.T) error {
			srv := glueError(400, "ThrottlingException", "Rate exceeded")
			t.Cleanup(srv.Close)
			_, err := glueClient(srv.URL, staticCreds).GetJobRun(ctx, &glue.GetJobRunInput{JobName: aws.String("etl"), RunId: aws.String("jr_1")})
			return err
		}, classify.Verdict{Class: classify.Throttling, Retry: true}},
		{"glue GetJob: unknown job", func(t *testing.T) error {
			srv := glueError(400, "EntityNotFoundException", "Job with name: nojob not found.")
			t.Cleanup(srv.Close)
			_, err := glueClient(srv.URL, staticCreds).GetJob(ctx, &glue.GetJobInput{JobName: aws.String("nojob")})
			return err
		}, classify.Verdict{Class: classify.NotFound, Fatal: true}},
		{"glue UpdateJob: access denied", func(t *testing.T) error {
			srv := glueError(400, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: glue:UpdateJob on resource: arn:aws:glue:us-east-1:123456789012:job/etl")
			t.Cleanup(srv.Close)
			_, err := glueClient(srv.URL, staticCreds).UpdateJob(ctx, &glue.UpdateJobInput{JobName: aws.String("etl"),
				JobUpdate: &gluetypes.JobUpdate{Role: aws.String("arn:aws:iam::123456789012:role/glue")}})
			return err
		}, classify.Verdict{Class: classify.AccessDenied, Fatal: true}},
		{"glue UpdateJob: missing field, refused by the SDK before sending", func(t *testing.T) error {
			srv := glueError(400, "ShouldNotBeReached", "x")
			t.Cleanup(srv.Close)
			_, err := glueClient(srv.URL, staticCreds).UpdateJob(ctx, &glue.UpdateJobInput{JobName: aws.String("etl")})
			return err
		}, classify.Verdict{Class: classify.Validation, Fatal: true}},
		{"glue StartJobRun: internal error (500)", func(t *testing.T) error {
			srv := glueError(500, "InternalServiceException", "An internal service error occurred.")
			t.Cleanup(srv.Close)
			_, err := glueClient(srv.URL, staticCreds).StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String("etl")})
			return err
		}, classify.Verdict{Class: classify.Capacity, Retry: true}},
		{"glue: unknown code from a 503", func(t *testing.T) error {
			srv := glueError(503, "BrandNewOutage", "Try later")
			t.Cleanup(srv.Close)
			_, err := glueClient(srv.URL, staticCreds).GetJob(ctx, &glue.GetJobInput{JobName: aws.String("etl")})
			return err
		}, classify.Verdict{Class: classify.Capacity, Retry: true}},
		{"ec2 DescribeSubnets: request limit (503)", func(t *testing.T) error {
			srv := ec2Error(503, "RequestLimitExceeded", "Request limit exceeded.")
			t.Cleanup(srv.Close)
			_, err := ec2Client(srv.URL).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-0123"}})
			return err
		}, classify.Verdict{Class: classify.Throttling, Retry: true}},
		{"ec2 DescribeSubnets: unknown subnet ID", func(t *testing.T) error {
			srv := ec2Error(400, "InvalidSubnetID.NotFound", "The subnet ID 'subnet-0123' does not exist")
			t.Cleanup(srv.Close)
			_, err := ec2Client(srv.URL).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-0123"}})
			return err
		}, classify.Verdict{Class: classify.NotFound, Fatal: true}},
		{"ec2 DescribeSubnets: unauthorized (403)", func(t *testing.T) error {
			srv := ec2Error(403, "UnauthorizedOperation", "You are not authorized to perform this operation.")
			t.Cleanup(srv.Close)
			_, err := ec2Client(srv.URL).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
			return err
		}, classify.Verdict{Class: classify.AccessDenied, Fatal: true}},
		{"connection refused", func(t *testing.T) error {
			srv := httptest.NewServer(http.NotFoundHandler())
			url := srv.URL
			srv.Close() // nothing listens on the port any more
			_, err := glueClient(url, staticCreds).GetJob(ctx, &glue.GetJobInput{JobName: aws.String("etl")})
			return err
		}, classify.Verdict{Class: classify.Network, Fatal: true}},
		{"credentials cannot be retrieved", func(t *testing.T) error {
			srv := glueError(400, "ShouldNotBeReached", "the request must fail before it is sent")
			t.Cleanup(srv.Close)
			failing := aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{}, errors.New("no EC2 IMDS role found")
			}))
			_, err := glueClient(srv.URL, failing).GetJob(ctx, &glue.GetJobInput{JobName: aws.String("etl")})
			return err
		}, classify.Verdict{Class: classify.Credentials, Fatal: true}},
		{"canceled context", func(t *testing.T) error {
			srv := glueError(400, "ShouldNotBeReached", "x")
			t.Cleanup(srv.Close)
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_, err := glueClient(srv.URL, staticCreds).GetJob(cctx, &glue.GetJobInput{JobName: aws.String("etl")})
			return err
		}, classify.Verdict{Class: classify.Canceled}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(t)
			if err == nil {
				t.Fatal("the call succeeded; the test server should have failed it")
			}
			got := Classify(err)
			checkInvariants(t, got)
			got.Reason = ""
			if got != tt.want {
				t.Fatalf("Classify(%v)\n got %v\nwant %v", err, got, tt.want)
			}
		})
	}
}
