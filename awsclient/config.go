package awsclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ErrNoCredentials is returned (wrapped, with the SDK's reason) by LoadConfig
// when the standard credential chain yields no usable credentials.
var ErrNoCredentials = errors.New("no usable AWS credentials: set AWS_PROFILE, " +
	"or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an IAM role is available")

// ErrNoRegion is returned by LoadConfig when neither the options, the
// environment nor the profile name an AWS region.
var ErrNoRegion = errors.New("no AWS region: pass a region, or set AWS_REGION or a region in the profile")

// DefaultMaxAttempts is the attempts per API call gluenet asks of the SDK's
// standard retryer (the SDK's own default is 3). Measured
// (docs/benchmarks.md): with 30% of calls throttled, 5 attempts check every
// connection in 98% of decisions, 3 in 72%. The CLI uses it unless
// AWS_MAX_ATTEMPTS says otherwise, and the lab uses it, so that both retry
// alike.
const DefaultMaxAttempts = 5

// MaxAttempts is the Options.MaxAttempts of a command that runs jobs:
// DefaultMaxAttempts, unless AWS_MAX_ATTEMPTS is set (then 0, and the SDK
// reads the variable). getenv reads the environment (os.LookupEnv, or a
// test's).
func MaxAttempts(getenv func(string) (string, bool)) int {
	if _, ok := getenv("AWS_MAX_ATTEMPTS"); ok {
		return 0
	}
	return DefaultMaxAttempts
}

// Options say how to reach AWS. The zero value leaves everything to the
// SDK's standard chain (environment, shared config files, IAM role).
type Options struct {
	// Region and Profile override the environment and shared config.
	Region, Profile string
	// HTTPClient carries the API calls; nil means the SDK's default. The
	// simulated region passes its in-process client. Unless it is an
	// *awshttp.BuildableClient, AWS_CA_BUNDLE does not apply to it, and the
	// credential providers (SSO, STS, IMDS) keep the SDK's default client.
	HTTPClient aws.HTTPClient
	// BaseEndpoint, when set, sends every Glue, EC2 and CloudWatch Logs call
	// there, overriding even AWS_ENDPOINT_URL_GLUE and the other per-service
	// variables. When empty, the SDK's own endpoint configuration applies:
	// AWS_ENDPOINT_URL for every service, AWS_ENDPOINT_URL_GLUE,
	// AWS_ENDPOINT_URL_EC2 and AWS_ENDPOINT_URL_CLOUDWATCH_LOGS per service
	// (these win over AWS_ENDPOINT_URL), and endpoint_url in the profile.
	BaseEndpoint string
	// RetryMode is aws.RetryModeStandard or aws.RetryModeAdaptive; empty
	// leaves the SDK's choice (standard, or AWS_RETRY_MODE).
	RetryMode aws.RetryMode
	// MaxAttempts bounds the SDK's attempts per call, the first included;
	// 0 leaves the SDK's choice (3, or AWS_MAX_ATTEMPTS).
	MaxAttempts int
	// Credentials replaces the standard credential chain (tests, sim).
	Credentials aws.CredentialsProvider
	// Logger receives the SDK's own warnings; New also makes it the
	// Client's logger.
	Logger *slog.Logger
	// CallTimeout bounds every API call, the SDK's own retries and their
	// backoff included; a call that runs out fails with a
	// *CallTimeoutError naming the endpoint. 0 means DefaultCallTimeout.
	CallTimeout time.Duration
}

// DefaultCallTimeout bounds each AWS API call, retries included, unless
// Options.CallTimeout says otherwise. Glue, EC2 and CloudWatch Logs answer
// gluenet's calls in well under a second; a minute leaves room for the
// SDK's attempts and backoff under throttling, and ends a call to an
// endpoint that accepts connections but never answers.
const DefaultCallTimeout = time.Minute

// LoadConfig builds the SDK configuration with config.LoadDefaultConfig and
// checks, before any API call, that it names a region and that credentials
// can be retrieved, so that a missing login fails fast with ErrNoCredentials
// instead of as a signing error in the middle of discovery.
//
// A malformed endpoint URL or region is a *ConfigError, before any call.
func LoadConfig(ctx context.Context, o Options) (aws.Config, error) {
	if o.BaseEndpoint != "" {
		if err := CheckEndpoint(o.BaseEndpoint); err != nil {
			return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
		}
	}
	if o.CallTimeout < 0 {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", &ConfigError{Setting: "call timeout", Value: o.CallTimeout.String(), Problem: "must be positive"})
	}
	var opts []func(*config.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if _, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
		opts = append(opts, config.WithHTTPClient(o.HTTPClient))
	}
	if o.RetryMode != "" {
		opts = append(opts, config.WithRetryMode(o.RetryMode))
	}
	if o.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(o.MaxAttempts))
	}
	if o.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(o.Credentials))
	}
	if o.BaseEndpoint != "" {
		// cfg.BaseEndpoint alone would lose to a per-service variable such as
		// AWS_ENDPOINT_URL_GLUE, which each client resolves in NewFromConfig;
		// service options run after that, so an explicit endpoint really wins.
		opts = append(opts,
			config.WithBaseEndpoint(o.BaseEndpoint),
			config.WithServiceOptions(forceEndpoint(o.BaseEndpoint)))
	}
	if o.Logger != nil {
		opts = append(opts, config.WithLogger(sdkLogger{o.Logger}))
	}

	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	if o.HTTPClient != nil {
		// Set after loading: LoadDefaultConfig fails on a client it cannot
		// add AWS_CA_BUNDLE's roots to, while a custom client (the
		// simulated region's in-process one) owns its transport anyway.
		cfg.HTTPClient = o.HTTPClient
	}
	if cfg.HTTPClient == nil {
		// LoadDefaultConfig leaves it nil unless AWS_CA_BUNDLE made it
		// build one; the clients would then make their own, but the
		// wrapper below needs one to call.
		cfg.HTTPClient = awshttp.NewBuildableClient()
	}
	cfg.HTTPClient = hideWriterTo{next: cfg.HTTPClient}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", ErrNoRegion)
	}
	if err := CheckRegion(cfg.Region); err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	timeout := o.CallTimeout
	if timeout == 0 {
		timeout = DefaultCallTimeout
	}
	cfg.APIOptions = append(cfg.APIOptions, callTimeout(timeout))
	cfg.Retryer = retryer(cfg)
	if cfg.Credentials == nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", ErrNoCredentials)
	}
	// cfg.Credentials is a cache: this first retrieval is the one every
	// later call would have made anyway. It is bounded like a call: a
	// credential_process or SSO endpoint that hangs must not hang gluenet.
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(rctx); err != nil {
		if ctx.Err() != nil {
			return aws.Config{}, fmt.Errorf("load AWS config: %w", ctx.Err())
		}
		if rctx.Err() != nil {
			err = fmt.Errorf("no credentials within %s (the call timeout): %w", timeout, err)
		}
		return aws.Config{}, fmt.Errorf("load AWS config: %w: %w", ErrNoCredentials, err)
	}
	return cfg, nil
}

// forceEndpoint sets the endpoint on each client gluenet builds.
func forceEndpoint(url string) func(string, any) {
	return func(_ string, opts any) {
		switch o := opts.(type) {
		case *glue.Options:
			o.BaseEndpoint = aws.String(url)
		case *ec2.Options:
			o.BaseEndpoint = aws.String(url)
		case *cloudwatchlogs.Options:
			o.BaseEndpoint = aws.String(url)
		}
	}
}

// sdkLogger passes the SDK's log lines to slog.
type sdkLogger struct{ l *slog.Logger }

func (s sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	s.l.Log(context.Background(), level, fmt.Sprintf(format, v...), "from", "aws-sdk")
}

// CheckEndpoint says whether raw can serve as an endpoint URL: an absolute
// http or https URL with a host. A *ConfigError says what is wrong.
func CheckEndpoint(raw string) error {
	bad := func(problem string) error {
		return &ConfigError{Setting: "endpoint URL", Value: raw,
			Problem: problem + "; give an absolute URL such as https://glue.us-east-1.amazonaws.com or http://127.0.0.1:4566"}
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return bad(err.Error())
	case u.Scheme == "":
		return bad("no scheme (http:// or https://)")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad(fmt.Sprintf("scheme %q is not http or https", u.Scheme))
	case u.Host == "" || u.Hostname() == "":
		return bad("no host")
	}
	return nil
}

// regionLike reports whether s can be an AWS region: the lower-case DNS
// label the SDK puts in every endpoint's host name (us-east-1,
// us-gov-west-1, fips-us-east-1, or a test region): 1 to 64 lower-case
// letters, digits and dashes, not starting or ending with a dash. (A
// function rather than a regexp: compiling that regexp at start-up cost
// every gluenet process 44 KB and a few hundred microseconds.)
func regionLike(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// CheckRegion says whether region can be an AWS region name. A
// *ConfigError says what is wrong; a well-formed name the SDK does not
// know is left to the endpoint to refuse.
func CheckRegion(region string) error {
	if regionLike(region) {
		return nil
	}
	problem := "is not a region name such as us-east-1 (lower-case letters, digits and dashes)"
	if strings.ToLower(region) != region && regionLike(strings.ToLower(region)) {
		problem = fmt.Sprintf("region names are lower case: %s", strings.ToLower(region))
	}
	return &ConfigError{Setting: "region", Value: region, Problem: problem}
}

// endpointKey holds, in a call's context, where its last attempt was sent.
type endpointKey struct{}

// callTimeout bounds each operation, retries included: it sits in the
// Initialize step, before the SDK's retry loop (Finalize). Another
// middleware at the end of Finalize records where each attempt goes, so
// the timeout can name the endpoint.
func callTimeout(d time.Duration) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		bound := middleware.InitializeMiddlewareFunc("gluenet.CallTimeout", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			var endpoint string
			tctx, cancel := context.WithTimeoutCause(ctx, d, errCallTimeout)
			defer cancel()
			out, md, err := next.HandleInitialize(context.WithValue(tctx, endpointKey{}, &endpoint), in)
			if err != nil && ctx.Err() == nil && errors.Is(context.Cause(tctx), errCallTimeout) {
				err = &CallTimeoutError{Endpoint: endpoint, Timeout: d, Err: err}
			}
			return out, md, err
		})
		if err := st.Initialize.Add(bound, middleware.Before); err != nil {
			return err
		}
		record := middleware.FinalizeMiddlewareFunc("gluenet.RecordEndpoint", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if req, ok := in.Request.(*smithyhttp.Request); ok && req.URL != nil {
				if p, ok := ctx.Value(endpointKey{}).(*string); ok {
					*p = (&url.URL{Scheme: req.URL.Scheme, Host: req.URL.Host}).String()
				}
			}
			return next.HandleFinalize(ctx, in)
		})
		return st.Finalize.Add(record, middleware.After)
	}
}

var errCallTimeout = errors.New("AWS call timeout")

// retryer is the SDK's retryer (standard or adaptive, as cfg says; the
// clients still apply cfg.RetryMaxAttempts) with one more check in front:
// a request that cannot be sent at all (a malformed endpoint URL) is not
// retried. The SDK takes net/http's refusal for a connection error and
// would retry it, and gluenet's own loop would then retry the SDK's
// attempts for minutes.
func retryer(cfg aws.Config) func() aws.Retryer {
	next, mode := cfg.Retryer, cfg.RetryMode
	return func() aws.Retryer {
		if next != nil {
			r := next()
			if v2, ok := r.(aws.RetryerV2); ok {
				return hopelessRetryer{v2}
			}
			return r
		}
		first := func(o *retry.StandardOptions) {
			o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(notHopeless)}, o.Retryables...)
		}
		if mode == aws.RetryModeAdaptive {
			return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
				o.StandardOptions = append(o.StandardOptions, first)
			})
		}
		return retry.NewStandard(first)
	}
}

func notHopeless(err error) aws.Ternary {
	if _, ok := hopeless(err); ok {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
}

// hopelessRetryer adds notHopeless to a retryer someone else built.
type hopelessRetryer struct{ aws.RetryerV2 }

// IsErrorRetryable implements aws.Retryer.
func (r hopelessRetryer) IsErrorRetryable(err error) bool {
	return notHopeless(err) != aws.FalseTernary && r.RetryerV2.IsErrorRetryable(err)
}
