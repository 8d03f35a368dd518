package classify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
)

// verdicts used by the tables, without Reason (compared separately).
var (
	vPlacementSubnet = Verdict{Class: Placement, Retry: true, Rerank: true, BlameSubnet: true}
	vPlacementAZ     = Verdict{Class: Placement, Retry: true, Rerank: true, BlameSubnet: true, BlameAZ: true}
	vJobCode         = Verdict{Class: JobCode}
	vUnknownRun      = Verdict{Class: Unknown, Retry: true, Rerank: true}
)

func TestRunOutcome(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, state, msg string
		want             Verdict
	}{
		// The exact texts the simulated region emits.
		{"sim: subnet out of IPs", StateFailed,
			"Failed to create network interface in subnet subnet-x: The specified subnet does not have enough free addresses to satisfy the request. (Service: AmazonEC2; Status Code: 400; Error Code: InsufficientFreeAddressesInSubnet)",
			vPlacementSubnet},
		{"sim: AZ not available", StateFailed,
			"Could not find subnet for AZ us-east-1a",
			vPlacementAZ},
		{"sim: workers lost in an impaired AZ", StateFailed,
			"Resource unavailable: lost contact with the workers in subnet subnet-x (us-east-1a): network unreachable",
			vPlacementAZ},
		{"sim: script failure", StateFailed,
			"Error Category: UNCLASSIFIED_ERROR; ValueError: simulated failure in the job script (not network related)",
			vJobCode},
		{"sim: the connection's subnet was deleted", StateFailed,
			"Failed to create network interface in subnet subnet-gone: The subnet ID 'subnet-gone' does not exist (Service: AmazonEC2; Status Code: 400; Error Code: InvalidSubnetID.NotFound)",
			vPlacementSubnet},
		{"sim: a listed connection does not exist: fatal, blamed on nothing", StateFailed,
			"JobName:j and JobRunId:jr_1 failed to execute with exception Could not find connection for the given criteria Failed to get catalog connections given names: MWAA-Glue-Blog-Subnet9 (Service: AWSGlueJobExecutor; Status Code: 400; Error Code: InvalidInputException)",
			Verdict{Class: NotFound, Fatal: true}},
		{"sim: timeout", StateTimeout, "Job run timed out after 5 minutes",
			Verdict{Class: Timeout, Retry: true, Rerank: true}},

		// Real texts reported by Glue users.
		{"real: free addresses (beyond5nines, part 1)", StateFailed,
			"The specified subnet does not have enough free addresses to satisfy the request",
			vPlacementSubnet},
		{"real: free IP addresses wording", StateFailed,
			"The specified subnet does not have enough free IP addresses",
			vPlacementSubnet},
		{"real: AZ does not correspond to subnet is a connection error, not an AZ outage", StateFailed,
			"JobName:sdlf-team-legislators and JobRunId:jr_4ea9c23e577346ee8530c3ba84210b6fd9fd50e7c9 failed to execute with exception Availability Zone us-east-1a does not correspond to subnet (Service: AWSGlueJobExecutor; Status Code: 400; Error Code: InvalidInputException; Request ID: 1e56b9d1-6f0c-404a-b9e8-3530c2f9b977; Proxy: null)",
			vPlacementSubnet},
		{"real: no S3 endpoint or NAT in the connection's subnet", StateFailed,
			"VPC S3 endpoint validation failed for SubnetId: subnet-0a1b2c3d. VPC: vpc-0e1f2a3b. Reason: Could not find S3 endpoint or NAT gateway for subnetId: subnet-0a1b2c3d in Vpc vpc-0e1f2a3b",
			vPlacementSubnet},
		{"real: security group without self-referencing rule", StateFailed,
			"At least one security group must open all ingress ports.To limit traffic, the source security group in your inbound rule can be restricted to the same security group",
			vPlacementSubnet},
		{"real: command failed", StateFailed, "Command failed with exit code 1", vJobCode},
		{"real: driver out of memory", StateFailed,
			"Command failed with exit code 1 - java.lang.OutOfMemoryError: Java heap space", vJobCode},
		{"real: py4j", StateFailed,
			"Py4JJavaError: An error occurred while calling o46.load", vJobCode},
		{"real: out of memory category", StateFailed,
			"Error Category: OUT_OF_MEMORY_ERROR; An error occurred while calling o112.pyWriteDynamicFrame. Job aborted due to stage failure", vJobCode},
		{"real: disk full", StateFailed, "No space left on device", vJobCode},
		{"job code wins over network words in the script's own error", StateFailed,
			"Error Category: CONNECTION_ERROR; OSError: [Errno 101] Network is unreachable", vJobCode},
		{"python traceback", StateFailed,
			"Traceback (most recent call last):\n  File \"/tmp/job.py\", line 12, in <module>\nKeyError: 'id'", vJobCode},
		{"real: max concurrent runs (FAILED per Glue docs)", StateFailed, "Max concurrent runs exceeded",
			Verdict{Class: ConcurrentRuns, Retry: true}},
		{"internal service error", StateFailed, "Internal Service Exception",
			Verdict{Class: Capacity, Retry: true, Rerank: true}},
		{"unrecognised failure is retried, blamed on nothing", StateFailed, "something odd happened", vUnknownRun},
		{"failed without message", StateFailed, "", vUnknownRun},
		{"ERROR without message", StateError, "", vUnknownRun},
		{"ERROR with a placement message", StateError,
			"Could not find subnet for AZ us-east-1a", vPlacementAZ},
		{"succeeded", StateSucceeded, "", Verdict{Class: Succeeded}},
		{"stopped", StateStopped, "", Verdict{Class: Stopped}},
		{"expired", StateExpired, "", Verdict{Class: Capacity, Retry: true, Rerank: true}},
		{"not terminal", "RUNNING", "", Verdict{Class: Unknown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := RunOutcome(tt.state, tt.msg)
			checkInvariants(t, got)
			if tt.want.Class != Succeeded && got.Reason == "" {
				t.Errorf("no reason given")
			}
			got.Reason = ""
			if got != tt.want {
				t.Fatalf("RunOutcome(%s, %q)\n got %v\nwant %v", tt.state, tt.msg, got, tt.want)
			}
		})
	}
}

func TestReasonQuotesTheMatch(t *testing.T) {
	t.Parallel()
	v := RunOutcome(StateFailed, "Resource unavailable: lost contact with the workers in subnet subnet-x (us-east-1a): network unreachable")
	if !strings.Contains(v.Reason, `"Resource unavailable"`) {
		t.Fatalf("reason %q should quote the matched text", v.Reason)
	}
}

func TestWithOptions(t *testing.T) {
	t.Parallel()
	script := RunOutcome(StateFailed, "Error Category: UNCLASSIFIED_ERROR; ValueError: simulated failure in the job script (not network related)")
	tests := []struct {
		name string
		in   Verdict
		o    Options
		want Verdict
	}{
		{"job code not retried by default", script, Options{}, script},
		{"flag retries job code, still blames nothing", script, Options{RetryJobFailures: true},
			Verdict{Class: JobCode, Retry: true, Rerank: true, Reason: script.Reason}},
		{"flag leaves stopped alone", Verdict{Class: Stopped}, Options{RetryJobFailures: true}, Verdict{Class: Stopped}},
		{"flag leaves placement alone", vPlacementAZ, Options{RetryJobFailures: true}, vPlacementAZ},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.in.WithOptions(tt.o); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func apiErr(code, msg string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: fault}
}

func TestAPIError(t *testing.T) {
	t.Parallel()
	fatal := func(c Class) Verdict { return Verdict{Class: c, Fatal: true} }
	retry := func(c Class) Verdict { return Verdict{Class: c, Retry: true} }
	tests := []struct {
		name string
		err  error
		want Verdict
	}{
		{"nil", nil, Verdict{Class: Succeeded}},
		{"glue throttling", apiErr("ThrottlingException", "Rate exceeded", smithy.FaultClient), retry(Throttling)},
		{"ec2 throttling", apiErr("RequestLimitExceeded", "Request limit exceeded.", smithy.FaultUnknown), retry(Throttling)},
		{"too many requests", apiErr("TooManyRequestsException", "Too many requests", smithy.FaultClient), retry(Throttling)},
		{"concurrent runs wait without re-ranking", apiErr("ConcurrentRunsExceededException",
			"Concurrent runs exceeded for iantest06-GlueStack-687EJNLXVGOW-amc-transformation-job", smithy.FaultClient), retry(ConcurrentRuns)},
		{"concurrent modification re-reads", apiErr("ConcurrentModificationException", "Two processes are trying to modify a resource simultaneously.", smithy.FaultClient),
			Verdict{Class: Conflict, Retry: true, Rerank: true}},
		{"job not found", apiErr("EntityNotFoundException", "Job with name: batchFiltersJob not found.", smithy.FaultClient), fatal(NotFound)},
		{"subnet not found", apiErr("InvalidSubnetID.NotFound", "The subnet ID 'subnet-0123' does not exist", smithy.FaultClient), fatal(NotFound)},
		{"malformed subnet", apiErr("InvalidSubnetID.Malformed", `Invalid id: "x" (expecting "subnet-...")`, smithy.FaultClient), fatal(Validation)},
		{"invalid input", apiErr("InvalidInputException", "Request size limit exceeded", smithy.FaultClient), fatal(Validation)},
		{"validation", apiErr("ValidationException", "1 validation error detected", smithy.FaultClient), fatal(Validation)},
		{"glue access denied", apiErr("AccessDeniedException",
			"User: arn:aws:iam::123456789012:user/ci is not authorized to perform: glue:UpdateJob on resource: arn:aws:glue:us-east-1:123456789012:job/etl because no identity-based policy allows the glue:UpdateJob action", smithy.FaultClient), fatal(AccessDenied)},
		{"ec2 unauthorized", apiErr("UnauthorizedOperation", "You are not authorized to perform this operation.", smithy.FaultClient), fatal(AccessDenied)},
		{"bad token", apiErr("UnrecognizedClientException", "The security token included in the request is invalid.", smithy.FaultClient), fatal(Credentials)},
		{"ec2 auth failure", apiErr("AuthFailure", "AWS was not able to validate the provided access credentials", smithy.FaultClient), fatal(Credentials)},
		{"expired token", apiErr("ExpiredTokenException", "The security token included in the request is expired", smithy.FaultClient), fatal(Credentials)},
		{"dpu quota", apiErr("ResourceNumberLimitExceededException", "Failed to start job run due to limit on number of concurrent DPUs", smithy.FaultClient), retry(Capacity)},
		{"internal", apiErr("InternalServiceException", "An internal service error occurred.", smithy.FaultServer), retry(Capacity)},
		{"ec2 internal", apiErr("InternalError", "An internal error has occurred", smithy.FaultServer), retry(Capacity)},
		{"operation timeout", apiErr("OperationTimeoutException", "The operation timed out.", smithy.FaultClient), retry(Timeout)},
		{"no free addresses as an API error", apiErr("InsufficientFreeAddressesInSubnet",
			"The specified subnet does not have enough free addresses to satisfy the request.", smithy.FaultClient), vPlacementSubnet},
		{"unknown server fault", apiErr("SomethingNew", "x", smithy.FaultServer), retry(Capacity)},
		{"unknown client fault", apiErr("SomethingNew", "x", smithy.FaultClient), fatal(Unknown)},
		{"unknown code, unknown fault", apiErr("SomethingNew", "x", smithy.FaultUnknown), Verdict{Class: Unknown}},
		{"wrapped by the caller", fmt.Errorf("update job %q: %w", "etl", apiErr("AccessDeniedException", "denied", smithy.FaultClient)), fatal(AccessDenied)},

		{"canceled", context.Canceled, Verdict{Class: Canceled}},
		{"canceled in the SDK", &smithy.OperationError{ServiceID: "Glue", OperationName: "GetJobRun", Err: &smithy.CanceledError{Err: context.Canceled}}, Verdict{Class: Canceled}},
		{"deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), Verdict{Class: Canceled}},
		{"credentials (SDK text)", errors.New(`operation error Glue: GetJob, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found, operation error ec2imds: GetMetadata, access disabled to EC2 IMDS via client option, or "AWS_EC2_METADATA_DISABLED" environment variable`), fatal(Credentials)},
		{"credentials win over the IMDS timeout they wrap", fmt.Errorf("get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found: %w", context.DeadlineExceeded), fatal(Credentials)},
		{"missing region", &aws.MissingRegionError{}, fatal(Validation)},

		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, fatal(Network)},
		{"host does not resolve", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "glue.nowhere.invalid", IsNotFound: true}}, fatal(Network)},
		{"DNS server trouble", &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "server misbehaving", Name: "glue.us-east-1.amazonaws.com", IsTemporary: true}}, retry(Network)},
		{"i/o timeout", &net.OpError{Op: "read", Net: "tcp", Err: timeoutErr{}}, retry(Network)},
		{"refused, as text only", errors.New(`Post "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused`), fatal(Network)},
		{"plain error", errors.New("boom"), Verdict{Class: Unknown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := APIError(tt.err)
			checkInvariants(t, got)
			if tt.err != nil && got.Reason == "" {
				t.Errorf("no reason given")
			}
			got.Reason = ""
			if got != tt.want {
				t.Fatalf("APIError(%v)\n got %v\nwant %v", tt.err, got, tt.want)
			}
		})
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestTerminal(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"SUCCEEDED", "FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED"} {
		if !Terminal(s) {
			t.Errorf("%s should be terminal", s)
		}
	}
	for _, s := range []string{"STARTING", "RUNNING", "STOPPING", "WAITING", ""} {
		if Terminal(s) {
			t.Errorf("%s should not be terminal", s)
		}
	}
}

// checkInvariants holds for every verdict, whatever the input.
func checkInvariants(t *testing.T, v Verdict) {
	t.Helper()
	if v.Fatal && v.Retry {
		t.Fatalf("fatal and retry: %v", v)
	}
	if v.BlameAZ && !v.BlameSubnet {
		t.Fatalf("blames the AZ but not the subnet: %v", v)
	}
	if (v.BlameSubnet || v.BlameAZ) && v.Class != Placement {
		t.Fatalf("only placement failures blame: %v", v)
	}
	if v.Class == "" {
		t.Fatalf("empty class: %v", v)
	}
}

func FuzzRunOutcome(f *testing.F) {
	for _, s := range []string{
		"Failed to create network interface in subnet subnet-x: The specified subnet does not have enough free addresses to satisfy the request. (Service: AmazonEC2; Status Code: 400; Error Code: InsufficientFreeAddressesInSubnet)",
		"Could not find subnet for AZ us-east-1a: the Availability Zone is not available for AWS Glue.",
		"Error Category: UNCLASSIFIED_ERROR; ValueError: simulated failure in the job script (not network related)",
		"Command failed with exit code 1",
		"",
	} {
		f.Add(StateFailed, s)
	}
	f.Add(StateTimeout, "Job run timed out after 5 minutes")
	f.Fuzz(func(t *testing.T, state, msg string) {
		v := RunOutcome(state, msg)
		checkInvariants(t, v)
		jc := v.WithOptions(Options{RetryJobFailures: true})
		checkInvariants(t, jc)
		if v.Class == JobCode && (v.Retry || !jc.Retry) {
			t.Fatalf("job code: default %v, with flag %v", v, jc)
		}
	})
}
