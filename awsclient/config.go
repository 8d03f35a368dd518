package awsclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/smithy-go/logging"
)

// ErrNoCredentials is returned (wrapped, with the SDK's reason) by LoadConfig
// when the standard credential chain yields no usable credentials.
var ErrNoCredentials = errors.New("no usable AWS credentials: set AWS_PROFILE, " +
	"or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an IAM role is available")

// ErrNoRegion is returned by LoadConfig when neither the options, the
// environment nor the profile name an AWS region.
var ErrNoRegion = errors.New("no AWS region: pass a region, or set AWS_REGION or a region in the profile")

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
}

// LoadConfig builds the SDK configuration with config.LoadDefaultConfig and
// checks, before any API call, that it names a region and that credentials
// can be retrieved, so that a missing login fails fast with ErrNoCredentials
// instead of as a signing error in the middle of discovery.
func LoadConfig(ctx context.Context, o Options) (aws.Config, error) {
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
	next := cfg.HTTPClient
	if next == nil {
		// LoadDefaultConfig builds a client only when it must (a CA bundle
		// in AWS_CA_BUNDLE); otherwise each service client would make its
		// own default one, which the wrapper must then carry itself.
		next = awshttp.NewBuildableClient()
	}
	cfg.HTTPClient = hideWriterTo{next: next}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", ErrNoRegion)
	}
	if cfg.Credentials == nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", ErrNoCredentials)
	}
	// cfg.Credentials is a cache: this first retrieval is the one every
	// later call would have made anyway.
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return aws.Config{}, fmt.Errorf("load AWS config: %w", ctx.Err())
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
