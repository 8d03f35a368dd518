package awsclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/gluenet/gluenet/classify"
)

// This file is the one place that reads the SDK's errors: errors.As to
// smithy.APIError and its ErrorCode(), the way karpenter's pkg/errors does,
// the SDK's own list of throttle codes (aws/retry), and the transport's
// errors. It turns them into classify's domain input (classify.Failure);
// classify keeps the decision table.

// Classify says what a failed AWS call means for the run loop:
// classify.API(Failure(err)). A nil error is classify.Succeeded.
func Classify(err error) classify.Verdict {
	return classify.API(Failure(err))
}

// Classify is the package's Classify as a method, so that a Client reads
// the errors of its own calls for the executor (executor.Cloud).
func (*Client) Classify(err error) classify.Verdict { return Classify(err) }

// throttles is the SDK's own throttle check: its code list
// (retry.DefaultThrottleErrorCodes) and unmodelled HTTP 429 answers.
var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

// Failure reads an SDK error as classify's domain input.
//
// The order of the checks matters: a call timeout first (it wraps the
// context error the SDK saw); then a canceled context (the user asked to
// stop); then credential failures, which the SDK reports before any request
// is sent and which may wrap network or deadline errors from the metadata
// service; then the service's error code; then configuration and the
// transport.
func Failure(err error) classify.Failure {
	var timeout *CallTimeoutError
	var cfgErr *ConfigError
	switch {
	case err == nil:
		return classify.Failure{}
	case errors.As(err, &timeout):
		return classify.Failure{Kind: classify.KindCallTimeout, Detail: timeout.Error()}
	case errors.As(err, &cfgErr):
		return classify.Failure{Kind: classify.KindConfig, Detail: cfgErr.Error()}
	case errors.Is(err, context.Canceled):
		return classify.Failure{Kind: classify.KindCanceled}
	case credentialsFailure(err):
		return classify.Failure{Kind: classify.KindCredentials}
	case errors.Is(err, context.DeadlineExceeded):
		return classify.Failure{Kind: classify.KindDeadline}
	}

	var ae smithy.APIError
	if errors.As(err, &ae) {
		f := classify.Failure{
			Kind:       classify.KindService,
			Code:       ae.ErrorCode(),
			HTTPStatus: httpStatus(err),
			Throttling: throttles.IsErrorThrottle(err) == aws.TrueTernary,
		}
		switch ae.ErrorFault() {
		case smithy.FaultClient:
			f.Fault = classify.FaultClient
		case smithy.FaultServer:
			f.Fault = classify.FaultServer
		}
		return f
	}

	// The SDK validates required fields before sending: a bug or a bad
	// input on our side, never fixed by retrying. The validators return
	// it by value.
	var params smithy.InvalidParamsError
	var paramsPtr *smithy.InvalidParamsError
	if errors.As(err, &params) || errors.As(err, &paramsPtr) {
		return classify.Failure{Kind: classify.KindInvalidRequest}
	}
	var missingRegion *aws.MissingRegionError
	var noEndpoint *aws.EndpointNotFoundError
	if errors.As(err, &missingRegion) || errors.As(err, &noEndpoint) {
		return classify.Failure{Kind: classify.KindConfig, Detail: "SDK configuration: " + err.Error()}
	}
	if d, ok := profileProblem(err); ok {
		return classify.Failure{Kind: classify.KindConfig, Detail: d}
	}
	if d, ok := hopeless(err); ok {
		return classify.Failure{Kind: classify.KindConfig, Detail: d}
	}
	return transportFailure(err)
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

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && re.Response.Response != nil {
		return re.HTTPStatusCode()
	}
	return 0
}

// profileProblem recognises a shared config profile that cannot work: it
// does not exist, or its role settings are incomplete.
func profileProblem(err error) (string, bool) {
	var missing config.SharedConfigProfileNotExistError
	var missingPtr *config.SharedConfigProfileNotExistError
	var role config.SharedConfigAssumeRoleError
	var rolePtr *config.SharedConfigAssumeRoleError
	switch {
	case errors.As(err, &missing):
		return fmt.Sprintf("AWS profile %q is not in the shared config files; check --profile, AWS_PROFILE and AWS_CONFIG_FILE", missing.Profile), true
	case errors.As(err, &missingPtr):
		return fmt.Sprintf("AWS profile %q is not in the shared config files; check --profile, AWS_PROFILE and AWS_CONFIG_FILE", missingPtr.Profile), true
	case errors.As(err, &role), errors.As(err, &rolePtr):
		return "the AWS profile's role settings are incomplete: " + err.Error(), true
	}
	return "", false
}

// hopelessMarkers are net/http's words for a request URL it cannot send
// to at all (it has no typed error for them): the same request fails the
// same way every time, so no retry can help.
var hopelessMarkers = []string{
	"unsupported protocol scheme",
	"no host in request url",
	"invalid control character in url",
	"invalid url escape",
	"missing protocol scheme",
}

// hopeless recognises a request that could not be sent because its URL is
// malformed (an endpoint URL such as "notaurl" that slipped past
// CheckEndpoint, from AWS_ENDPOINT_URL_GLUE or a profile's endpoint_url).
func hopeless(err error) (string, bool) {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return "", false
	}
	msg := strings.ToLower(ue.Err.Error())
	for _, m := range hopelessMarkers {
		if strings.Contains(msg, m) {
			return fmt.Sprintf("endpoint URL %q cannot be used: %v; give a URL such as https://glue.us-east-1.amazonaws.com", ue.URL, ue.Err), true
		}
	}
	return "", false
}

// transportFailure recognises transport failures. The SDK has already retried them
// (three attempts by default) by the time they reach us, so a name that
// does not resolve or a port that refuses is taken as a wrong endpoint, not
// a blip: fatal, with a clear message. Timeouts and resets may pass.
func transportFailure(err error) classify.Failure {
	unreachable := func(d string) classify.Failure { return classify.Failure{Kind: classify.KindUnreachable, Detail: d} }
	blip := func(d string) classify.Failure { return classify.Failure{Kind: classify.KindNetwork, Detail: d} }
	var dns *net.DNSError
	if errors.As(err, &dns) {
		if dns.IsNotFound {
			return unreachable(fmt.Sprintf("endpoint host %q does not resolve", dns.Name))
		}
		return blip("DNS lookup failed")
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return unreachable("endpoint refused the connection")
	}
	var send *smithyhttp.RequestSendError
	var op *net.OpError
	var ne net.Error
	if errors.As(err, &send) || errors.As(err, &op) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return blip("endpoint unreachable")
	}
	// Errors that lost their types on the way (formatted with %v).
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "connection refused"):
		return unreachable("endpoint refused the connection")
	case strings.Contains(msg, "no such host"):
		return unreachable("endpoint host does not resolve")
	case strings.Contains(msg, "connection reset"), strings.Contains(msg, "i/o timeout"),
		strings.Contains(msg, "network is unreachable"), strings.Contains(msg, "no route to host"):
		return blip("endpoint unreachable")
	}
	return classify.Failure{Kind: classify.KindUnknown}
}

// ErrorCode returns the AWS error code carried by err, such as
// "EntityNotFoundException", or "" when err is not an AWS API error.
func ErrorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// IsNotFound reports whether err says that the named Glue entity, log group
// or subnet does not exist.
func IsNotFound(err error) bool {
	return err != nil && Classify(err).Class == classify.NotFound
}

// IsAccessDenied reports whether err is an authorization failure: the
// caller's IAM policy lacks the action or the resource.
func IsAccessDenied(err error) bool {
	return err != nil && Classify(err).Class == classify.AccessDenied
}

// CallTimeoutError is an AWS call that got no answer within the call timeout
// (Options.CallTimeout), the SDK's own retries included.
type CallTimeoutError struct {
	// Endpoint is where the last attempt was sent, when known.
	Endpoint string
	Timeout  time.Duration
	Err      error
}

func (e *CallTimeoutError) Error() string {
	where := e.Endpoint
	if where == "" {
		where = "the AWS endpoint"
	}
	return fmt.Sprintf("no answer from %s within %s (the call timeout: --call-timeout, GLUENET_CALL_TIMEOUT)", where, e.Timeout)
}

func (e *CallTimeoutError) Unwrap() error { return e.Err }

// ConfigError is an AWS client setting that can never work: a malformed
// endpoint URL or region. Nothing was sent.
type ConfigError struct {
	// Setting names what is wrong, such as "endpoint URL" or "region".
	Setting string
	Value   string
	Problem string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s %q: %s", e.Setting, e.Value, e.Problem)
}

// problemText is err shortened for Candidate.Problem: the AWS code and
// message without the SDK's operation and request-id preamble, which the
// warning log keeps.
func problemText(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if msg := apiErr.ErrorMessage(); msg != "" {
			return apiErr.ErrorCode() + ": " + msg
		}
		return apiErr.ErrorCode()
	}
	return err.Error()
}
