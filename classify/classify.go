// Package classify decides, in one place, what a failure means for gluenet:
// whether to retry, whether to rediscover and re-rank first, whether the
// subnet or its Availability Zone is to blame (health memory), and whether
// to give up at once because retrying cannot help.
//
// Two kinds of failure come in:
//
//   - errors returned by AWS API calls (APIError), recognised by the
//     smithy.APIError code the SDK exposes, the way karpenter's pkg/errors
//     does, plus the SDK's non-API errors (cancellation, credentials,
//     network);
//   - the terminal state and ErrorMessage of a Glue job run (RunOutcome).
//
// The decisions, class by class:
//
//	class            retry  rerank  blame subnet  blame AZ  fatal
//	succeeded        -      -       -             -         -
//	placement        yes    yes     yes           if the text points at the zone
//	job-code         no*    -       never         never     -
//	timeout (run)    yes    yes     no            no        -
//	stopped          no     -       no            no        -
//	concurrent-runs  yes    no      no            no        -
//	throttling       yes    no      no            no        -
//	capacity         yes    no (API) / yes (run)  no        -
//	conflict         yes    yes     no            no        -
//	network          yes, unless the endpoint does not resolve or refuses: fatal
//	not-found, validation, access-denied, credentials: fatal
//	canceled         no     -       -             -         -
//	unknown (run)    yes    yes     no            no        -
//	unknown (API)    only for server faults; a client fault is fatal
//
// (*) Options.RetryJobFailures retries job-code failures anyway, as Airflow
// would: see Verdict.WithOptions.
package classify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Class names a kind of outcome. The values are stable strings: they are
// stored in health records and shown to users.
type Class string

// The classes.
const (
	// Succeeded: the run succeeded (or the call did not fail).
	Succeeded Class = "succeeded"
	// Placement: the run could not get or keep its network: too few free
	// IPs in the subnet, ENI creation failed, the AZ is impaired, the
	// connection's network setup is broken.
	Placement Class = "placement"
	// JobCode: the job's own script failed. The network worked.
	JobCode Class = "job-code"
	// Timeout: the run exceeded its timeout, or an API call timed out on
	// the service side.
	Timeout Class = "timeout"
	// Stopped: someone stopped the run.
	Stopped Class = "stopped"
	// Throttling: the API rate limit was hit.
	Throttling Class = "throttling"
	// Capacity: the service is short of capacity or failed internally
	// (quota of concurrent DPUs, 5xx).
	Capacity Class = "capacity"
	// NotFound: the job, connection or subnet does not exist.
	NotFound Class = "not-found"
	// Validation: the request or the configuration is invalid.
	Validation Class = "validation"
	// ConcurrentRuns: the job already has its maximum of concurrent runs.
	ConcurrentRuns Class = "concurrent-runs"
	// Conflict: another process modified the same resource at the same
	// time (Glue's ConcurrentModificationException).
	Conflict Class = "conflict"
	// AccessDenied: the caller lacks an IAM permission.
	AccessDenied Class = "access-denied"
	// Credentials: no credentials, or credentials AWS rejects.
	Credentials Class = "credentials"
	// Network: the endpoint could not be reached.
	Network Class = "network"
	// Canceled: the caller's context was canceled or ran out.
	Canceled Class = "canceled"
	// Unknown: nothing recognisable.
	Unknown Class = "unknown"
)

// Verdict is what a failure means for the run loop and for health memory.
type Verdict struct {
	Class Class `json:"class"`
	// Retry says another try may succeed.
	Retry bool `json:"retry"`
	// Rerank says the next try should rediscover free IPs and re-rank the
	// connections first; false means retrying the same step after a delay
	// is enough (throttling, too many concurrent runs).
	Rerank bool `json:"rerank"`
	// BlameSubnet counts the failure against the subnet the run used.
	BlameSubnet bool `json:"blame_subnet"`
	// BlameAZ counts the failure against the subnet's Availability Zone
	// directly, because the failure points at the zone itself.
	BlameAZ bool `json:"blame_az"`
	// Fatal says give up now: an API or configuration problem that no
	// retry can fix.
	Fatal bool `json:"fatal"`
	// Reason says in a few words what the verdict rests on, for logs and
	// health events.
	Reason string `json:"reason,omitempty"`
}

// Options adjusts verdicts to the user's retry policy.
type Options struct {
	// RetryJobFailures retries runs that failed in the job's own code, as
	// Airflow retries any failed task. They are still never blamed on the
	// subnet or the zone.
	RetryJobFailures bool
}

// WithOptions returns the verdict adjusted to the options.
func (v Verdict) WithOptions(o Options) Verdict {
	if v.Class == JobCode && o.RetryJobFailures {
		v.Retry = true
		v.Rerank = true
	}
	return v
}

func (v Verdict) String() string {
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{v.Retry, "retry"}, {v.Rerank, "rerank"}, {v.BlameSubnet, "blame-subnet"}, {v.BlameAZ, "blame-az"}, {v.Fatal, "fatal"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	s := string(v.Class)
	if len(flags) > 0 {
		s += " (" + strings.Join(flags, ", ") + ")"
	}
	if v.Reason != "" {
		s += ": " + v.Reason
	}
	return s
}

// APIError classifies an error returned by an AWS SDK call. A nil error is
// Succeeded.
//
// The order of the checks matters: a canceled context wins (the user asked
// to stop); then credential failures, which the SDK reports before any
// request is sent and which may wrap network or deadline errors from the
// metadata service; then the service's error code; then the transport.
func APIError(err error) Verdict {
	switch {
	case err == nil:
		return Verdict{Class: Succeeded}
	case errors.Is(err, context.Canceled):
		return Verdict{Class: Canceled, Reason: "context canceled"}
	case credentialsFailure(err):
		return Verdict{Class: Credentials, Fatal: true, Reason: "no usable AWS credentials"}
	case errors.Is(err, context.DeadlineExceeded):
		// The caller's deadline: treated like a cancellation, because
		// retrying past the caller's own deadline is not ours to decide.
		return Verdict{Class: Canceled, Reason: "context deadline exceeded"}
	}

	var ae smithy.APIError
	if errors.As(err, &ae) {
		return byCode(ae.ErrorCode(), ae.ErrorFault(), httpStatus(err))
	}

	// The SDK validates required fields before sending: a bug or a bad
	// input on our side, never fixed by retrying.
	// The validators return it by value.
	var params smithy.InvalidParamsError
	var paramsPtr *smithy.InvalidParamsError
	if errors.As(err, &params) || errors.As(err, &paramsPtr) {
		return Verdict{Class: Validation, Fatal: true, Reason: "invalid request parameters"}
	}
	var missingRegion *aws.MissingRegionError
	var noEndpoint *aws.EndpointNotFoundError
	if errors.As(err, &missingRegion) || errors.As(err, &noEndpoint) {
		return Verdict{Class: Validation, Fatal: true, Reason: "SDK configuration: " + err.Error()}
	}

	if v, ok := network(err); ok {
		return v
	}
	return Verdict{Class: Unknown, Reason: "unrecognised error"}
}

// credentialMarkers are the SDK's own words when it could not get
// credentials: its auth middleware wraps the provider's error in "get
// identity: get credentials:" (aws-sdk-go-v2 v1.48, internal/auth/smithy),
// older signers in "failed to retrieve credentials", and the credential
// cache in "failed to refresh cached credentials". The SDK has no typed
// error for this, so the text is all there is.
var credentialMarkers = []string{
	"get identity: get credentials:",
	"failed to retrieve credentials",
	"failed to refresh cached credentials",
	"static credentials are empty",
	"anonymouscredentials is not a valid credential provider",
}

func credentialsFailure(err error) bool {
	msg := strings.ToLower(err.Error())
	for _, m := range credentialMarkers {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// codes maps AWS error codes (Glue's JSON __type, EC2's query <Code>) to
// classes. Codes ending in ".NotFound" or ".Malformed" (EC2's
// InvalidSubnetID.NotFound, InvalidSubnetID.Malformed, ...) are handled by
// suffix in byCode.
var codes = map[string]Class{
	// Throttling, Glue and EC2 spellings and the SDK retryer's list.
	"ThrottlingException":                    Throttling,
	"Throttling":                             Throttling,
	"ThrottledException":                     Throttling,
	"RequestThrottledException":              Throttling,
	"RequestThrottled":                       Throttling,
	"TooManyRequestsException":               Throttling,
	"RequestLimitExceeded":                   Throttling,
	"BandwidthLimitExceeded":                 Throttling,
	"LimitExceededException":                 Throttling,
	"SlowDown":                               Throttling,
	"PriorRequestNotComplete":                Throttling,
	"EC2ThrottledException":                  Throttling,
	"ProvisionedThroughputExceededException": Throttling,

	"ConcurrentRunsExceededException": ConcurrentRuns,
	"ConcurrentModificationException": Conflict,

	// Service-side capacity and internal failures.
	"ResourceNumberLimitExceededException": Capacity,
	"ServiceQuotaExceededException":        Capacity,
	"InternalServiceException":             Capacity,
	"InternalServerException":              Capacity,
	"InternalServerError":                  Capacity,
	"InternalError":                        Capacity,
	"InternalFailure":                      Capacity,
	"ServiceUnavailable":                   Capacity,
	"ServiceUnavailableException":          Capacity,
	"Unavailable":                          Capacity,
	"InsufficientCapacity":                 Capacity,

	"OperationTimeoutException": Timeout,
	"RequestTimeout":            Timeout,
	"RequestTimeoutException":   Timeout,

	// EC2 says this when an ENI cannot be created in a full subnet.
	"InsufficientFreeAddressesInSubnet": Placement,

	"EntityNotFoundException":   NotFound,
	"ResourceNotFoundException": NotFound,
	"NoSuchEntity":              NotFound,

	"InvalidInputException":                Validation,
	"ValidationException":                  Validation,
	"ValidationError":                      Validation,
	"InvalidParameterValue":                Validation,
	"InvalidParameterCombination":          Validation,
	"InvalidParameter":                     Validation,
	"InvalidParameterException":            Validation,
	"InvalidParameterValueException":       Validation,
	"MissingParameter":                     Validation,
	"UnknownParameter":                     Validation,
	"InvalidAction":                        Validation,
	"SerializationException":               Validation,
	"JobDefinitionErrorException":          Validation,
	"IdempotentParameterMismatchException": Validation,
	"OperationNotSupportedException":       Validation,

	"AccessDeniedException": AccessDenied,
	"AccessDenied":          AccessDenied,
	"UnauthorizedOperation": AccessDenied,
	"UnauthorizedException": AccessDenied,
	"AuthorizationError":    AccessDenied,
	"OptInRequired":         AccessDenied,
	"Blocked":               AccessDenied,

	"UnrecognizedClientException":         Credentials,
	"InvalidClientTokenId":                Credentials,
	"InvalidAccessKeyId":                  Credentials,
	"SignatureDoesNotMatch":               Credentials,
	"InvalidSignatureException":           Credentials,
	"IncompleteSignature":                 Credentials,
	"ExpiredToken":                        Credentials,
	"ExpiredTokenException":               Credentials,
	"RequestExpired":                      Credentials,
	"AuthFailure":                         Credentials,
	"MissingAuthenticationToken":          Credentials,
	"MissingAuthenticationTokenException": Credentials,
	"InvalidToken":                        Credentials,
}

// apiVerdicts is what each class means when an API call fails: the call is
// retried as it was (Rerank false) unless the failure says the plan itself
// is stale.
var apiVerdicts = map[Class]Verdict{
	Throttling:     {Retry: true},
	ConcurrentRuns: {Retry: true},
	Capacity:       {Retry: true},
	Timeout:        {Retry: true},
	// Someone else changed the job between our GetJob and UpdateJob:
	// read it again and recompute.
	Conflict:     {Retry: true, Rerank: true},
	Placement:    {Retry: true, Rerank: true, BlameSubnet: true},
	NotFound:     {Fatal: true},
	Validation:   {Fatal: true},
	AccessDenied: {Fatal: true},
	Credentials:  {Fatal: true},
}

func byCode(code string, fault smithy.ErrorFault, status int) Verdict {
	class, ok := codes[code]
	switch {
	case ok:
	case strings.HasSuffix(code, ".NotFound"):
		class = NotFound
	case strings.HasSuffix(code, ".Malformed"):
		class = Validation
	default:
		return unknownCode(code, fault, status)
	}
	v := apiVerdicts[class]
	v.Class = class
	v.Reason = "error code " + code
	return v
}

// unknownCode falls back on who is at fault, then on the HTTP status: a
// server fault may pass, a client fault will not (the same request gets the
// same answer).
func unknownCode(code string, fault smithy.ErrorFault, status int) Verdict {
	reason := "unrecognised error code " + code
	switch {
	case fault == smithy.FaultServer || status >= 500:
		return Verdict{Class: Capacity, Retry: true, Reason: reason + " (server fault)"}
	case status == 429:
		return Verdict{Class: Throttling, Retry: true, Reason: reason + " (HTTP 429)"}
	case status == 401:
		return Verdict{Class: Credentials, Fatal: true, Reason: reason + " (HTTP 401)"}
	case status == 403:
		return Verdict{Class: AccessDenied, Fatal: true, Reason: reason + " (HTTP 403)"}
	case fault == smithy.FaultClient || status >= 400:
		return Verdict{Class: Unknown, Fatal: true, Reason: reason + " (client fault)"}
	default:
		return Verdict{Class: Unknown, Reason: reason}
	}
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && re.Response.Response != nil {
		return re.HTTPStatusCode()
	}
	return 0
}

// network recognises transport failures. The SDK has already retried them
// (three attempts by default) by the time they reach us, so a name that
// does not resolve or a port that refuses is taken as a wrong endpoint, not
// a blip: fatal, with a clear message. Timeouts and resets may pass.
func network(err error) (Verdict, bool) {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		if dns.IsNotFound {
			return Verdict{Class: Network, Fatal: true, Reason: fmt.Sprintf("endpoint host %q does not resolve", dns.Name)}, true
		}
		return Verdict{Class: Network, Retry: true, Reason: "DNS lookup failed"}, true
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return Verdict{Class: Network, Fatal: true, Reason: "endpoint refused the connection"}, true
	}
	var send *smithyhttp.RequestSendError
	var op *net.OpError
	var ne net.Error
	if errors.As(err, &send) || errors.As(err, &op) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return Verdict{Class: Network, Retry: true, Reason: "endpoint unreachable"}, true
	}
	// Errors that lost their types on the way (formatted with %v).
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "connection refused"):
		return Verdict{Class: Network, Fatal: true, Reason: "endpoint refused the connection"}, true
	case strings.Contains(msg, "no such host"):
		return Verdict{Class: Network, Fatal: true, Reason: "endpoint host does not resolve"}, true
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "i/o timeout"),
		strings.Contains(msg, "network is unreachable"), strings.Contains(msg, "no route to host"):
		return Verdict{Class: Network, Retry: true, Reason: "endpoint unreachable"}, true
	}
	return Verdict{}, false
}

// Glue's terminal job run states.
const (
	StateSucceeded = "SUCCEEDED"
	StateFailed    = "FAILED"
	StateError     = "ERROR"
	StateTimeout   = "TIMEOUT"
	StateStopped   = "STOPPED"
	StateExpired   = "EXPIRED"
)

// Terminal reports whether a Glue job run state is final.
func Terminal(state string) bool {
	switch state {
	case StateSucceeded, StateFailed, StateError, StateTimeout, StateStopped, StateExpired:
		return true
	}
	return false
}

// rule matches a run's ErrorMessage.
type rule struct {
	re      *regexp.Regexp
	verdict Verdict
}

func rules(v Verdict, patterns ...string) []rule {
	out := make([]rule, len(patterns))
	for i, p := range patterns {
		out[i] = rule{re: regexp.MustCompile(p), verdict: v}
	}
	return out
}

var (
	placementSubnet = Verdict{Class: Placement, Retry: true, Rerank: true, BlameSubnet: true}
	placementAZ     = Verdict{Class: Placement, Retry: true, Rerank: true, BlameSubnet: true, BlameAZ: true}
	jobCode         = Verdict{Class: JobCode}
)

// messageRules are tried in order; the first match wins.
//
// Job-code markers come first: Glue only writes them once the job's script
// has run, which means the run got its network. A script may well print
// "network" or "unreachable" about its own connections (a JDBC source
// that is down); that is not the subnet's fault.
//
// Then the connection configuration errors that name the zone but do not
// mean the zone is impaired ("Availability Zone us-east-1a does not
// correspond to subnet"), blamed on the subnet only, before the zone rules.
//
// Then the zone: Glue reporting that it cannot use the AZ, or losing its
// workers to an unreachable network, points at the zone, so the failure is
// also counted directly against the AZ. IP shortage and ENI failures are
// the subnet's own: they blame the subnet, and count against the AZ only
// through the health package's several-subnets rule.
//
// The rules are compiled on first use, not at start-up: most gluenet
// processes (plan, --help) never classify a run.
var messageRules = sync.OnceValue(func() []rule {
	return concat(
		rules(jobCode,
			`(?i)error category:`,
			`(?i)traceback \(most recent call last\)`,
			`(?i)an error occurred while calling o\d+`,
			`(?i)command failed with exit code`,
			`Py4JJavaError`,
			`(?i)exception in user class`,
			`\bAnalysisException\b`,
			`java\.lang\.OutOfMemoryError`,
			`(?i)container killed by yarn`,
			`(?i)no space left on device`,
		),
		rules(Verdict{Class: ConcurrentRuns, Retry: true},
			`(?i)concurrent runs exceeded`,
			`ConcurrentRunsExceededException`,
		),
		rules(placementSubnet,
			`(?i)does not correspond to subnet`,
			`(?i)s3 endpoint validation failed`,
			`(?i)could not find s3 endpoint or nat gateway`,
			`(?i)security group`,
			`InvalidSubnetID`,
		),
		rules(placementAZ,
			`(?i)could not find subnet for az`,
			`(?i)availability zone is not available`,
			`(?i)availability zone .*(unavailable|impaired|not available)`,
			`(?i)resource unavailable`,
			`(?i)network unreachable`,
			`(?i)network is unreachable`,
			`(?i)lost contact with the workers`,
		),
		rules(placementSubnet,
			`InsufficientFreeAddressesInSubnet`,
			`(?i)does not have enough free addresses`,
			`(?i)free ip addresses`,
			`(?i)failed to create network interface`,
			`(?i)network interface`,
			`\bENIs?\b`,
		),
		rules(Verdict{Class: Capacity, Retry: true, Rerank: true},
			`(?i)max concurrent compute`,
			`ResourceNumberLimitExceeded`,
			`(?i)internal service (error|exception)`,
			`InternalServiceException`,
		),
	)
})

func concat(parts ...[]rule) []rule {
	var out []rule
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// RunOutcome classifies how a Glue job run ended, from its JobRunState and
// ErrorMessage.
//
//   - SUCCEEDED: Succeeded.
//   - FAILED: by the message (see messageRules). A failure no rule
//     recognises is retried with re-ranking and blamed on nothing, as the
//     post's Airflow retries did: it may be the network, but unproven
//     suspicion must not eject a subnet.
//   - TIMEOUT: retried with re-ranking, blamed on nothing. The network
//     worked, but a run that started under capacity in a short subnet runs
//     slower and may time out where a full-capacity start would not. The
//     caller's attempt limit bounds the retries.
//   - STOPPED: someone stopped the run on purpose; not retried.
//   - ERROR: per Glue's documentation, a trigger tried to run a deleted
//     job. The message is classified first; failing a match it is retried
//     (Unknown): if the job is gone, the next attempt's GetJob fails with
//     EntityNotFoundException, which is fatal and says so clearly.
//   - EXPIRED: the run never got resources before it expired (Glue's
//     queueing). Capacity: retried with re-ranking, blamed on nothing.
//   - Any other state is not terminal: Unknown, not retried. Callers only
//     classify terminal states (see Terminal).
func RunOutcome(state, errorMessage string) Verdict {
	switch state {
	case StateSucceeded:
		return Verdict{Class: Succeeded}
	case StateTimeout:
		return Verdict{Class: Timeout, Retry: true, Rerank: true, Reason: "run timed out"}
	case StateStopped:
		return Verdict{Class: Stopped, Reason: "run was stopped"}
	case StateExpired:
		return Verdict{Class: Capacity, Retry: true, Rerank: true, Reason: "run expired before it got resources"}
	case StateFailed, StateError:
		if v, ok := byMessage(errorMessage); ok {
			return v
		}
		reason := "unrecognised failure"
		if strings.TrimSpace(errorMessage) == "" {
			reason = "failed without an error message"
		}
		return Verdict{Class: Unknown, Retry: true, Rerank: true, Reason: reason}
	default:
		return Verdict{Class: Unknown, Reason: fmt.Sprintf("state %q is not terminal", state)}
	}
}

func byMessage(msg string) (Verdict, bool) {
	for _, r := range messageRules() {
		if loc := r.re.FindStringIndex(msg); loc != nil {
			v := r.verdict
			v.Reason = fmt.Sprintf("message matches %q", msg[loc[0]:loc[1]])
			return v, true
		}
	}
	return Verdict{}, false
}
