package awsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/gluenet/gluenet/classify"
)

// The mapping from the SDK's errors to classify's decisions, end to end:
// Failure reads the error, classify.API decides.

func apiErr(code, msg string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: fault}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	fatal := func(c classify.Class) classify.Verdict { return classify.Verdict{Class: c, Fatal: true} }
	retry := func(c classify.Class) classify.Verdict { return classify.Verdict{Class: c, Retry: true} }
	tests := []struct {
		name string
		err  error
		want classify.Verdict
	}{
		{"nil", nil, classify.Verdict{Class: classify.Succeeded}},
		{"glue throttling", apiErr("ThrottlingException", "Rate exceeded", smithy.FaultClient), retry(classify.Throttling)},
		{"ec2 throttling", apiErr("RequestLimitExceeded", "Request limit exceeded.", smithy.FaultUnknown), retry(classify.Throttling)},
		{"too many requests", apiErr("TooManyRequestsException", "Too many requests", smithy.FaultClient), retry(classify.Throttling)},
		{"concurrent runs wait without re-ranking", apiErr("ConcurrentRunsExceededException",
			"Concurrent runs exceeded for iantest06-GlueStack-687EJNLXVGOW-amc-transformation-job", smithy.FaultClient), retry(classify.ConcurrentRuns)},
		{"concurrent modification re-reads", apiErr("ConcurrentModificationException", "Two processes are trying to modify a resource simultaneously.", smithy.FaultClient),
			classify.Verdict{Class: classify.Conflict, Retry: true, Rerank: true}},
		{"job not found", apiErr("EntityNotFoundException", "Job with name: batchFiltersJob not found.", smithy.FaultClient), fatal(classify.NotFound)},
		{"subnet not found", apiErr("InvalidSubnetID.NotFound", "The subnet ID 'subnet-0123' does not exist", smithy.FaultClient), fatal(classify.NotFound)},
		{"malformed subnet", apiErr("InvalidSubnetID.Malformed", `Invalid id: "x" (expecting "subnet-...")`, smithy.FaultClient), fatal(classify.Validation)},
		{"invalid input", apiErr("InvalidInputException", "Request size limit exceeded", smithy.FaultClient), fatal(classify.Validation)},
		{"validation", apiErr("ValidationException", "1 validation error detected", smithy.FaultClient), fatal(classify.Validation)},
		{"glue access denied", apiErr("AccessDeniedException",
			"User: arn:aws:iam::123456789012:user/ci is not authorized to perform: glue:UpdateJob on resource: arn:aws:glue:us-east-1:123456789012:job/etl because no identity-based policy allows the glue:UpdateJob action", smithy.FaultClient), fatal(classify.AccessDenied)},
		{"ec2 unauthorized", apiErr("UnauthorizedOperation", "You are not authorized to perform this operation.", smithy.FaultClient), fatal(classify.AccessDenied)},
		{"bad token", apiErr("UnrecognizedClientException", "The security token included in the request is invalid.", smithy.FaultClient), fatal(classify.Credentials)},
		{"ec2 auth failure", apiErr("AuthFailure", "AWS was not able to validate the provided access credentials", smithy.FaultClient), fatal(classify.Credentials)},
		{"expired token", apiErr("ExpiredTokenException", "The security token included in the request is expired", smithy.FaultClient), fatal(classify.Credentials)},
		{"dpu quota", apiErr("ResourceNumberLimitExceededException", "Failed to start job run due to limit on number of concurrent DPUs", smithy.FaultClient), retry(classify.Capacity)},
		{"internal", apiErr("InternalServiceException", "An internal service error occurred.", smithy.FaultServer), retry(classify.Capacity)},
		{"ec2 internal", apiErr("InternalError", "An internal error has occurred", smithy.FaultServer), retry(classify.Capacity)},
		{"operation timeout", apiErr("OperationTimeoutException", "The operation timed out.", smithy.FaultClient), retry(classify.Timeout)},
		{"no free addresses as an API error", apiErr("InsufficientFreeAddressesInSubnet",
			"The specified subnet does not have enough free addresses to satisfy the request.", smithy.FaultClient), classify.Verdict{Class: classify.Placement, Retry: true, Rerank: true, BlameSubnet: true}},
		{"unknown server fault", apiErr("SomethingNew", "x", smithy.FaultServer), retry(classify.Capacity)},
		{"unknown client fault", apiErr("SomethingNew", "x", smithy.FaultClient), fatal(classify.Unknown)},
		{"unknown code, unknown fault", apiErr("SomethingNew", "x", smithy.FaultUnknown), classify.Verdict{Class: classify.Unknown}},
		{"wrapped by the caller", fmt.Errorf("update job %q: %w", "etl", apiErr("AccessDeniedException", "denied", smithy.FaultClient)), fatal(classify.AccessDenied)},

		{"canceled", context.Canceled, classify.Verdict{Class: classify.Canceled}},
		{"canceled in the SDK", &smithy.OperationError{ServiceID: "Glue", OperationName: "GetJobRun", Err: &smithy.CanceledError{Err: context.Canceled}}, classify.Verdict{Class: classify.Canceled}},
		{"deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), classify.Verdict{Class: classify.Canceled}},
		{"credentials (SDK text)", errors.New(`operation error Glue: GetJob, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: GetMetadata, access disabled to EC2 IMDS via client option, or "AWS_EC2_METADATA_DISABLED" environment variable`), fatal(classify.Credentials)},
		{"credentials win over the IMDS timeout they wrap", fmt.Errorf("get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found: %w", context.DeadlineExceeded), fatal(classify.Credentials)},
		{"missing region", &aws.MissingRegionError{}, fatal(classify.Config)},

		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, fatal(classify.Network)},
		{"host does not resolve", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "glue.nowhere.invalid", IsNotFound: true}}, fatal(classify.Network)},
		{"DNS server trouble", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "server misbehaving", Name: "glue.us-east-1.amazonaws.com", IsTemporary: true}}, retry(classify.Network)},
		{"i/o timeout", &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, retry(classify.Network)},
		{"refused, as text only", errors.New(`Post "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused`), fatal(classify.Network)},
		{"plain error", errors.New("boom"), classify.Verdict{Class: classify.Unknown}},

		{"call timeout wins over the deadline it wraps", &smithy.OperationError{ServiceID: "Glue", OperationName: "GetJob",
			Err: &CallTimeoutError{Endpoint: "http://127.0.0.1:1", Timeout: time.Second, Err: &smithy.CanceledError{Err: context.DeadlineExceeded}}}, retry(classify.Network)},
		{"malformed endpoint URL, as net/http refuses it", &smithy.OperationError{ServiceID: "Glue", OperationName: "GetJob",
			Err: &url.Error{Op: "Post", URL: "notaurl", Err: errors.New(`unsupported protocol scheme ""`)}}, fatal(classify.Config)},
		{"configuration error from LoadConfig", fmt.Errorf("load AWS config: %w", &ConfigError{Setting: "region", Value: "us east 1", Problem: "bad"}), fatal(classify.Config)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Classify(tt.err)
			checkInvariants(t, got)
			if tt.err != nil && got.Reason == "" {
				t.Errorf("no reason given")
			}
			got.Reason = ""
			if got != tt.want {
				t.Fatalf("Classify(%v)\n got %v\nwant %v", tt.err, got, tt.want)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// checkInvariants holds for every verdict, whatever the input.
func checkInvariants(t *testing.T, v classify.Verdict) {
	t.Helper()
	if v.Fatal && v.Retry {
		t.Fatalf("fatal and retry: %v", v)
	}
	if v.BlameAZ && !v.BlameSubnet {
		t.Fatalf("blames the AZ but not the subnet: %v", v)
	}
	if v.Class == "" {
		t.Fatalf("empty class: %v", v)
	}
}

// TestThrottleCodesAreTheSDKs checks that every code on the SDK's own
// throttle list classifies as throttling: gluenet keeps no copy of it.
func TestThrottleCodesAreTheSDKs(t *testing.T) {
	t.Parallel()
	for code := range retry.DefaultThrottleErrorCodes {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			v := Classify(apiErr(code, "slow down", smithy.FaultClient))
			if v.Class != classify.Throttling || !v.Retry {
				t.Fatalf("Classify(%s) = %v, want throttling (retry)", code, v)
			}
		})
	}
}
