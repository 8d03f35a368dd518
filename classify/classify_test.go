package classify

import (
	"strings"
	"testing"
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
			got.Reason, got.Subnet, got.AZ = "", "", "" // TestCorpus and TestBlame check the named place
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

func TestAPI(t *testing.T) {
	t.Parallel()
	fatal := func(c Class) Verdict { return Verdict{Class: c, Fatal: true} }
	retry := func(c Class) Verdict { return Verdict{Class: c, Retry: true} }
	svc := func(code string, fault Fault) Failure { return Failure{Kind: KindService, Code: code, Fault: fault} }
	tests := []struct {
		name string
		in   Failure
		want Verdict
	}{
		{"no failure", Failure{}, Verdict{Class: Succeeded}},
		{"throttling is what the adapter says it is", Failure{Kind: KindService, Code: "ThrottlingException", Throttling: true}, retry(Throttling)},
		{"a throttle code the adapter did not flag is unknown", svc("ThrottlingException", FaultUnknown), Verdict{Class: Unknown}},
		{"concurrent runs wait without re-ranking", svc("ConcurrentRunsExceededException", FaultClient), retry(ConcurrentRuns)},
		{"concurrent modification re-reads", svc("ConcurrentModificationException", FaultClient), Verdict{Class: Conflict, Retry: true, Rerank: true}},
		{"job not found", svc("EntityNotFoundException", FaultClient), fatal(NotFound)},
		{"subnet not found, by suffix", svc("InvalidSubnetID.NotFound", FaultClient), fatal(NotFound)},
		{"malformed subnet, by suffix", svc("InvalidSubnetID.Malformed", FaultClient), fatal(Validation)},
		{"invalid input", svc("InvalidInputException", FaultClient), fatal(Validation)},
		{"access denied", svc("AccessDeniedException", FaultClient), fatal(AccessDenied)},
		{"bad token", svc("UnrecognizedClientException", FaultClient), fatal(Credentials)},
		{"dpu quota", svc("ResourceNumberLimitExceededException", FaultClient), retry(Capacity)},
		{"internal", svc("InternalServiceException", FaultServer), retry(Capacity)},
		{"operation timeout", svc("OperationTimeoutException", FaultClient), retry(Timeout)},
		{"no free addresses as an API error", svc("InsufficientFreeAddressesInSubnet", FaultClient), vPlacementSubnet},
		{"unknown server fault", svc("SomethingNew", FaultServer), retry(Capacity)},
		{"unknown code, HTTP 503", Failure{Kind: KindService, Code: "SomethingNew", HTTPStatus: 503}, retry(Capacity)},
		{"unknown code, HTTP 429", Failure{Kind: KindService, Code: "SomethingNew", HTTPStatus: 429}, retry(Throttling)},
		{"unknown code, HTTP 401", Failure{Kind: KindService, Code: "SomethingNew", HTTPStatus: 401}, fatal(Credentials)},
		{"unknown code, HTTP 403", Failure{Kind: KindService, Code: "SomethingNew", HTTPStatus: 403}, fatal(AccessDenied)},
		{"unknown client fault", svc("SomethingNew", FaultClient), fatal(Unknown)},
		{"unknown code, unknown fault", svc("SomethingNew", FaultUnknown), Verdict{Class: Unknown}},
		{"canceled", Failure{Kind: KindCanceled}, Verdict{Class: Canceled}},
		{"the caller's deadline", Failure{Kind: KindDeadline}, Verdict{Class: Canceled}},
		{"credentials", Failure{Kind: KindCredentials}, fatal(Credentials)},
		{"invalid request", Failure{Kind: KindInvalidRequest}, fatal(Validation)},
		{"configuration", Failure{Kind: KindConfig, Detail: `endpoint URL "notaurl" has no scheme`}, fatal(Config)},
		{"unreachable", Failure{Kind: KindUnreachable}, fatal(Network)},
		{"network blip", Failure{Kind: KindNetwork}, retry(Network)},
		{"call timeout", Failure{Kind: KindCallTimeout}, retry(Network)},
		{"unknown", Failure{Kind: KindUnknown}, Verdict{Class: Unknown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := API(tt.in)
			checkInvariants(t, got)
			if tt.in.Kind != "" && got.Reason == "" {
				t.Errorf("no reason given")
			}
			if tt.in.Detail != "" && got.Reason != tt.in.Detail {
				t.Errorf("reason %q, want the adapter's detail %q", got.Reason, tt.in.Detail)
			}
			got.Reason, got.Subnet, got.AZ = "", "", "" // TestCorpus and TestBlame check the named place
			if got != tt.want {
				t.Fatalf("API(%+v)\n got %v\nwant %v", tt.in, got, tt.want)
			}
		})
	}
}

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
