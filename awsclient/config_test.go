package awsclient

import (
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/glue"
)

// isolateAWSEnv clears every setting the SDK's chains read, so that the
// machine's own AWS setup cannot leak into a test. Tests using it cannot run
// in parallel (t.Setenv).
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GLUE", "AWS_ENDPOINT_URL_EC2",
		"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
		// Unset, the SDK leaves aws.Config.HTTPClient nil, which once made
		// every call panic on machines without a CA bundle variable.
		"AWS_CA_BUNDLE",
	} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	// No instance metadata service here; asking for it would only be slow.
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		files   map[string]string // AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE contents
		opts    Options
		wantErr error // nil: success
	}{
		{name: "no credentials anywhere", opts: Options{Region: "us-east-1"}, wantErr: ErrNoCredentials},
		{name: "no region", opts: Options{Credentials: testCredentials}, wantErr: ErrNoRegion},
		{
			name: "environment credentials and region",
			env:  map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "eu-west-1"},
		},
		{
			name: "profile",
			files: map[string]string{
				"AWS_CONFIG_FILE":             "[profile team]\nregion = eu-central-1\n",
				"AWS_SHARED_CREDENTIALS_FILE": "[team]\naws_access_key_id = AKID\naws_secret_access_key = secret\n",
			},
			opts: Options{Profile: "team"},
		},
		{
			name:    "profile without credentials",
			files:   map[string]string{"AWS_CONFIG_FILE": "[profile team]\nregion = eu-central-1\n"},
			opts:    Options{Profile: "team"},
			wantErr: ErrNoCredentials,
		},
		{
			name:    "unknown profile",
			opts:    Options{Profile: "nope", Region: "us-east-1"},
			wantErr: errors.New("failed to get shared config profile, nope"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			for k, v := range tt.files {
				if err := os.WriteFile(os.Getenv(k), []byte(v), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := LoadConfig(t.Context(), tt.opts)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("LoadConfig: %v", err)
			case tt.wantErr == nil:
				if cfg.Region == "" || cfg.Credentials == nil {
					t.Errorf("config lacks region or credentials: %q %v", cfg.Region, cfg.Credentials)
				}
			case err == nil:
				t.Fatalf("LoadConfig succeeded, want %v", tt.wantErr)
			case tt.wantErr == ErrNoCredentials || tt.wantErr == ErrNoRegion:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("LoadConfig error = %v, want %v", err, tt.wantErr)
				}
			default:
				if !strings.Contains(err.Error(), tt.wantErr.Error()) {
					t.Errorf("LoadConfig error = %v, want it to say %q", err, tt.wantErr)
				}
			}
		})
	}
}

// endpointRecorder is a server that notes which AWS service each request was
// signed for, and fails it (the tests only look at where requests go).
type endpointRecorder struct {
	*httptest.Server
	mu       sync.Mutex
	services []string
}

var credentialScope = regexp.MustCompile(`Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request`)

func newEndpointRecorder(t *testing.T) *endpointRecorder {
	r := &endpointRecorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		m := credentialScope.FindStringSubmatch(req.Header.Get("Authorization"))
		r.mu.Lock()
		if m != nil {
			r.services = append(r.services, m[1])
		}
		r.mu.Unlock()
		http.Error(w, "recorded", http.StatusTeapot)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *endpointRecorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.services)
	slices.Sort(out)
	return out
}

// TestLoadConfigEndpoints checks that the SDK's standard endpoint variables
// reach every client New builds, and that Options.BaseEndpoint wins.
func TestLoadConfigEndpoints(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string // values name recorders: "A", "B", "C"
		opt  string            // Options.BaseEndpoint recorder, "" = none
		want map[string][]string
	}{
		{
			name: "AWS_ENDPOINT_URL for all",
			env:  map[string]string{"AWS_ENDPOINT_URL": "A"},
			want: map[string][]string{"A": {"ec2", "glue", "logs"}},
		},
		{
			name: "per-service variables win",
			env: map[string]string{"AWS_ENDPOINT_URL": "A", "AWS_ENDPOINT_URL_GLUE": "B",
				"AWS_ENDPOINT_URL_EC2": "C", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": "B"},
			want: map[string][]string{"B": {"glue", "logs"}, "C": {"ec2"}},
		},
		{
			name: "BaseEndpoint wins over everything",
			env:  map[string]string{"AWS_ENDPOINT_URL": "A", "AWS_ENDPOINT_URL_GLUE": "B"},
			opt:  "C",
			want: map[string][]string{"C": {"ec2", "glue", "logs"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			rec := map[string]*endpointRecorder{"A": newEndpointRecorder(t), "B": newEndpointRecorder(t), "C": newEndpointRecorder(t)}
			for k, v := range tt.env {
				t.Setenv(k, rec[v].URL)
			}
			opts := Options{Region: "us-east-1", Credentials: testCredentials, MaxAttempts: 1}
			if tt.opt != "" {
				opts.BaseEndpoint = rec[tt.opt].URL
			}
			cfg, err := LoadConfig(t.Context(), opts)
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			c := New(cfg)
			ctx := t.Context()
			_, _ = c.Glue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String("j")})
			_, _ = c.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
			_, _ = c.Logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("g")})
			for name, r := range rec {
				if got := r.seen(); !slices.Equal(got, tt.want[name]) {
					t.Errorf("endpoint %s got %v, want %v", name, got, tt.want[name])
				}
			}
		})
	}
}

// countingHTTPClient stands for the simulated region's in-process client.
type countingHTTPClient struct {
	mu sync.Mutex
	n  int
}

func (c *countingHTTPClient) Do(*http.Request) (*http.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return nil, errors.New("in-process client: no region here")
}

func TestLoadConfigOptions(t *testing.T) {
	isolateAWSEnv(t)
	// A CA bundle in the environment must not stop a custom HTTP client.
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	tlsSrv.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
	logger := slog.New(&logCapture{})
	hc := &countingHTTPClient{}
	cfg, err := LoadConfig(t.Context(), Options{
		Region: "ap-south-1", Credentials: testCredentials, HTTPClient: hc,
		RetryMode: aws.RetryModeAdaptive, MaxAttempts: 1, Logger: logger,
	})
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.Region != "ap-south-1" || cfg.RetryMode != aws.RetryModeAdaptive || cfg.RetryMaxAttempts != 1 {
		t.Errorf("config = region %q, retry %q x %d", cfg.Region, cfg.RetryMode, cfg.RetryMaxAttempts)
	}
	c := New(cfg)
	if c.Logger != logger {
		t.Error("New did not take the logger from the options")
	}
	if _, err := c.Glue.GetJob(t.Context(), &glue.GetJobInput{JobName: aws.String("j")}); err == nil {
		t.Fatal("GetJob through a failing HTTP client succeeded")
	}
	if hc.n != 1 {
		t.Errorf("the HTTP client carried %d requests, want 1", hc.n)
	}
}

// Regression: without AWS_CA_BUNDLE, LoadDefaultConfig leaves HTTPClient
// nil, and the body-race wrapper carried a nil client: every API call
// panicked (nil pointer dereference in hideWriterTo.Do). CI machines that
// set AWS_CA_BUNDLE never saw it; MWAA workers do not set it.
func TestLoadConfigWithoutCABundle(t *testing.T) {
	isolateAWSEnv(t)
	t.Setenv("AWS_CA_BUNDLE", "")
	os.Unsetenv("AWS_CA_BUNDLE")
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"EntityNotFoundException","Message":"no such job"}`))
	}))
	defer srv.Close()
	cfg, err := LoadConfig(t.Context(), Options{Region: "us-east-1", Credentials: testCredentials, BaseEndpoint: srv.URL, MaxAttempts: 1})
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if cfg.HTTPClient == nil {
		t.Fatal("no HTTP client")
	}
	_, err = New(cfg).Glue.GetJob(t.Context(), &glue.GetJobInput{JobName: aws.String("j")})
	if err == nil || !strings.Contains(err.Error(), "no such job") {
		t.Errorf("GetJob: %v, want the server's EntityNotFoundException", err)
	}
	if calls != 1 {
		t.Errorf("server saw %d calls, want 1", calls)
	}
}

// TestMaxAttempts: gluenet's 5 attempts per call unless AWS_MAX_ATTEMPTS
// is set at all (then the SDK reads it).
func TestMaxAttempts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want int
	}{
		{"unset", nil, DefaultMaxAttempts},
		{"set", map[string]string{"AWS_MAX_ATTEMPTS": "2"}, 0},
		{"set empty", map[string]string{"AWS_MAX_ATTEMPTS": ""}, 0},
	}
	for _, tt := range tests {
		getenv := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
		if got := MaxAttempts(getenv); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
