// Package classify decides, in one place, what a failure means for gluenet:
// whether to retry, whether to rediscover and re-rank first, whether the
// subnet or its Availability Zone is to blame (health memory), and whether
// to give up at once because retrying cannot help.
//
// Two kinds of failure come in:
//
//   - failed AWS API calls (API), described in domain terms by a Failure:
//     the service's error code, or what kind of transport, credential or
//     configuration problem stopped the call. classify knows no SDK type:
//     awsclient reads the SDK's errors (errors.As to smithy.APIError, the
//     SDK's own list of throttle codes, network errors) into a Failure,
//     and awsclient.Classify is the one call that does both;
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
//	not-found, validation, access-denied, credentials, config: fatal
//	canceled         no     -       -             -         -
//	unknown (run)    yes    yes     no            no        -
//	unknown (API)    only for server faults; a client fault is fatal
//
// (*) Options.RetryJobFailures retries job-code failures anyway, as Airflow
// would: see Verdict.WithOptions.
package classify

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"github.com/gluenet/gluenet"
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
	// Config: the AWS client's configuration can never work (a malformed
	// endpoint URL, an invalid region): the user must fix it.
	Config Class = "config"
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
	// Subnet and AZ are the subnet and the Availability Zone the failure
	// text names, when it names them ("Could not find subnet for AZ
	// us-east-1b", "... subnet is 0: subnet-0a1b..."); see Blame.
	Subnet string `json:"subnet,omitempty"`
	AZ     string `json:"availability_zone,omitempty"`
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

// Kind says what sort of failure an API call met, as the adapter that made
// the call (awsclient, which alone knows the SDK's error types) reads it.
type Kind string

// The kinds of API failure.
const (
	// KindService: the service answered with an error code (Failure.Code).
	KindService Kind = "service"
	// KindCanceled: the caller's context was canceled.
	KindCanceled Kind = "canceled"
	// KindDeadline: the caller's own context deadline passed.
	KindDeadline Kind = "deadline"
	// KindCredentials: no usable credentials; nothing was sent.
	KindCredentials Kind = "credentials"
	// KindInvalidRequest: the client refused to send the request (a
	// required parameter missing or invalid): a bug or bad input on our
	// side, never fixed by retrying.
	KindInvalidRequest Kind = "invalid-request"
	// KindConfig: the client's configuration can never work: a malformed
	// endpoint URL, a missing or invalid region, no endpoint for the
	// region.
	KindConfig Kind = "config"
	// KindUnreachable: the endpoint's host does not resolve, or refuses
	// connections, after the SDK's own retries: a wrong endpoint, not a
	// blip.
	KindUnreachable Kind = "unreachable"
	// KindNetwork: a transport failure that may pass (reset, DNS server
	// trouble, no route).
	KindNetwork Kind = "network"
	// KindCallTimeout: the endpoint did not answer within the call
	// timeout, the SDK's retries included.
	KindCallTimeout Kind = "call-timeout"
	// KindUnknown: nothing recognisable.
	KindUnknown Kind = "unknown"
)

// Fault is who the service says is at fault for a KindService failure.
type Fault int

// The faults.
const (
	FaultUnknown Fault = iota
	FaultClient
	FaultServer
)

// Failure is a failed API call in domain terms: what classify needs to
// know, with the SDK's types left behind in the adapter.
type Failure struct {
	Kind Kind
	// Code is the service's error code (Glue's JSON __type, EC2's query
	// <Code>), for KindService.
	Code string
	// Fault and HTTPStatus say who is to blame when Code is not one
	// classify knows.
	Fault      Fault
	HTTPStatus int
	// Throttling says the adapter recognises the failure as throttling
	// (awsclient asks the SDK's own list of throttle codes).
	Throttling bool
	// Detail says in a few words what the adapter saw (the endpoint that
	// did not answer, the setting that is wrong), for the verdict's
	// Reason.
	Detail string
}

// API classifies a failed API call. A zero Failure (no Kind) is a call that
// did not fail: Succeeded.
func API(f Failure) Verdict {
	reason := func(def string) string {
		if f.Detail != "" {
			return f.Detail
		}
		return def
	}
	switch f.Kind {
	case "":
		return Verdict{Class: Succeeded}
	case KindService:
		return byCode(f)
	case KindCanceled:
		return Verdict{Class: Canceled, Reason: reason("context canceled")}
	case KindDeadline:
		// The caller's deadline: treated like a cancellation, because
		// retrying past the caller's own deadline is not ours to decide.
		return Verdict{Class: Canceled, Reason: reason("context deadline exceeded")}
	case KindCredentials:
		return Verdict{Class: Credentials, Fatal: true, Reason: reason("no usable AWS credentials")}
	case KindInvalidRequest:
		return Verdict{Class: Validation, Fatal: true, Reason: reason("invalid request parameters")}
	case KindConfig:
		return Verdict{Class: Config, Fatal: true, Reason: reason("the AWS client configuration is invalid")}
	case KindUnreachable:
		return Verdict{Class: Network, Fatal: true, Reason: reason("endpoint unreachable")}
	case KindNetwork:
		return Verdict{Class: Network, Retry: true, Reason: reason("endpoint unreachable")}
	case KindCallTimeout:
		// The endpoint took the connection but did not answer in time: it
		// may be overloaded, or a proxy in the way is stuck. Another try
		// later may pass; the caller's attempt limit bounds the tries.
		return Verdict{Class: Network, Retry: true, Reason: reason("no answer within the call timeout")}
	default:
		return Verdict{Class: Unknown, Reason: reason("unrecognised error")}
	}
}

// codes maps AWS error codes (Glue's JSON __type, EC2's query <Code>) to
// classes. Codes ending in ".NotFound" or ".Malformed" (EC2's
// InvalidSubnetID.NotFound, InvalidSubnetID.Malformed, ...) are handled by
// suffix in byCode. Throttling codes are not here: the adapter recognises
// them from the SDK's own list (Failure.Throttling).
var codes = map[string]Class{
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

func byCode(f Failure) Verdict {
	class, ok := codes[f.Code]
	switch {
	case f.Throttling:
		class = Throttling
	case ok:
	case strings.HasSuffix(f.Code, ".NotFound"):
		class = NotFound
	case strings.HasSuffix(f.Code, ".Malformed"):
		class = Validation
	default:
		return unknownCode(f)
	}
	v := apiVerdicts[class]
	v.Class = class
	v.Reason = "error code " + f.Code
	return v
}

// unknownCode falls back on who is at fault, then on the HTTP status: a
// server fault may pass, a client fault will not (the same request gets the
// same answer).
func unknownCode(f Failure) Verdict {
	reason := "unrecognised error code " + f.Code
	switch {
	case f.Fault == FaultServer || f.HTTPStatus >= 500:
		return Verdict{Class: Capacity, Retry: true, Reason: reason + " (server fault)"}
	case f.HTTPStatus == 429:
		return Verdict{Class: Throttling, Retry: true, Reason: reason + " (HTTP 429)"}
	case f.HTTPStatus == 401:
		return Verdict{Class: Credentials, Fatal: true, Reason: reason + " (HTTP 401)"}
	case f.HTTPStatus == 403:
		return Verdict{Class: AccessDenied, Fatal: true, Reason: reason + " (HTTP 403)"}
	case f.Fault == FaultClient || f.HTTPStatus >= 400:
		return Verdict{Class: Unknown, Fatal: true, Reason: reason + " (client fault)"}
	default:
		return Verdict{Class: Unknown, Reason: reason}
	}
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
		// Glue looks every listed connection up in the Data Catalog before it
		// places the run; a name it cannot find fails the run at once. The
		// job's definition is wrong, not the network: no retry on the same
		// definition helps, and no subnet is to blame.
		rules(Verdict{Class: NotFound, Fatal: true},
			`(?i)could not find connection for the given criteria`,
			`(?i)failed to get catalog connections given names`,
		),
		rules(Verdict{Class: ConcurrentRuns, Retry: true},
			`(?i)concurrent runs exceeded`,
			`ConcurrentRunsExceededException`,
		),
		rules(placementSubnet,
			`(?i)does not correspond to subnet`,
			// The connection has no AvailabilityZone in its physical
			// requirements: that connection cannot place a run.
			`CONNECTION_LIST_CONNECTION_WITH_AZ_NULL`,
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
			`(?i)number of ip addresses on subnet is 0`,
			// Executors that die as they launch in a VPC job: in practice the
			// subnet ran out of addresses for their ENIs mid-start.
			`(?i)threshold for executors failed after launch`,
			`(?i)does not have enough free addresses`,
			`(?i)free ip addresses`,
			`(?i)failed to create network interface`,
			`(?i)network interface`,
			`\bENIs?\b`,
		),
		rules(Verdict{Class: Capacity, Retry: true, Rerank: true},
			`(?i)max(imum)? concurrent compute`,
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
			// The place the text names, where it is what the verdict
			// blames: a zone named by a connection error ("Availability
			// Zone us-east-1a does not correspond to subnet") is the
			// connection's setting, not a zone in trouble.
			subnet, az := Named(msg)
			if v.BlameSubnet {
				v.Subnet = subnet
			}
			if v.BlameAZ {
				v.AZ = az
			}
			return v, true
		}
	}
	return Verdict{}, false
}

var (
	// namedSubnet is an EC2 subnet id: subnet- and 8 or 17 hex digits.
	namedSubnet = regexp.MustCompile(`\bsubnet-(?:[0-9a-f]{17}|[0-9a-f]{8})\b`)
	// namedAZ is an Availability Zone name (us-east-1b, eu-west-3a,
	// us-gov-west-1a, ap-northeast-1d) or id (use1-az4).
	namedAZ = regexp.MustCompile(`\b(?:[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d[a-z]|[a-z]{3,4}\d-az\d{1,2})\b`)
)

// Named returns the subnet id and the Availability Zone a failure text
// names (the first of each), or empty strings: the place Glue says it
// could not use, which may not be the one the run was expected to use
// (Glue tries a job's connections in order, and says which one failed).
func Named(msg string) (subnet, az string) {
	return namedSubnet.FindString(msg), namedAZ.FindString(msg)
}

// Blame returns the subnet and the zone health memory counts the failure
// against: those the failure text names (Verdict.Subnet and AZ) when it
// names one, else the expected ones, where the plan sent the run. A named
// zone other than the expected subnet's blames no subnet (Glue used one of
// that zone that the text does not name); a named subnet gets its zone
// from the plan's placements (empty when they do not list it).
func (v Verdict) Blame(subnet, az string, placements []gluenet.Placement) (string, string) {
	switch {
	case v.Subnet != "":
		zone := v.AZ
		for _, p := range placements {
			if zone == "" && p.SubnetID == v.Subnet {
				zone = p.AZ
			}
		}
		if zone == "" && v.Subnet == subnet {
			zone = az
		}
		return v.Subnet, zone
	case v.AZ != "":
		if v.AZ == az {
			return subnet, az
		}
		return "", v.AZ
	}
	return subnet, az
}

// LogUnknown logs a failed run's ErrorMessage in full, with the verdict it
// got, when no rule recognised it: the text is what a user needs to report
// so that it joins the corpus (classify/testdata/glue_errors.json) and gets
// its right class. Recognised messages and other states log nothing.
func LogUnknown(log *slog.Logger, state, errorMessage string, v Verdict) {
	if log == nil || v.Class != Unknown || !Terminal(state) {
		return
	}
	log.Warn("Glue failure message not recognised; please report it at https://github.com/gluenet/gluenet/issues with the text",
		"state", state, "error_message", errorMessage, "class", string(v.Class), "verdict", v.String())
}
