package awsclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/gluenet/gluenet/classify"
)

// silentListener accepts TCP connections on loopback and never answers:
// an endpoint that hangs.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read or written
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

func TestCallTimeout(t *testing.T) {
	isolateAWSEnv(t)
	endpoint := silentListener(t)
	cfg, err := LoadConfig(t.Context(), Options{
		Region: "us-east-1", Credentials: testCredentials, BaseEndpoint: endpoint,
		CallTimeout: 300 * time.Millisecond, MaxAttempts: 3,
	})
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	_, err = New(cfg).JobNeeds(t.Context(), "etl", 0)
	if err == nil {
		t.Fatal("a call to an endpoint that never answers succeeded")
	}
	var te *CallTimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("error = %v (%T), want a *CallTimeoutError", err, err)
	}
	if te.Endpoint != endpoint || !strings.Contains(err.Error(), endpoint) {
		t.Errorf("error %q (endpoint %q) should name the endpoint %s", err, te.Endpoint, endpoint)
	}
	if v := Classify(err); v.Class != classify.Network || !v.Retry {
		t.Errorf("Classify = %v, want network (retry)", v)
	}
	if t.Context().Err() != nil {
		t.Fatal("the caller's context must be untouched")
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		setting string
	}{
		{"endpoint without a scheme", Options{BaseEndpoint: "notaurl"}, "endpoint URL"},
		{"endpoint with another scheme", Options{BaseEndpoint: "ftp://127.0.0.1:21"}, "endpoint URL"},
		{"endpoint without a host", Options{BaseEndpoint: "http://"}, "endpoint URL"},
		{"endpoint that does not parse", Options{BaseEndpoint: "http://[::1"}, "endpoint URL"},
		{"region with spaces", Options{Region: "us east 1"}, "region"},
		{"region in capitals", Options{Region: "US-EAST-1"}, "region"},
		{"region with a slash", Options{Region: "us-east-1/"}, "region"},
		{"negative call timeout", Options{CallTimeout: -time.Second}, "call timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			hc := &countingHTTPClient{}
			o := tt.opts
			o.Credentials, o.HTTPClient = testCredentials, hc
			if o.Region == "" {
				o.Region = "us-east-1"
			}
			_, err := LoadConfig(t.Context(), o)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Setting != tt.setting {
				t.Fatalf("LoadConfig error = %v, want a *ConfigError about the %s", err, tt.setting)
			}
			if v := Classify(err); v.Class != classify.Config || !v.Fatal {
				t.Errorf("Classify = %v, want config (fatal)", v)
			}
			if hc.n != 0 {
				t.Errorf("%d requests sent, want none", hc.n)
			}
		})
	}
	for _, ok := range []string{"http://127.0.0.1:4566", "https://glue.us-east-1.amazonaws.com", "http://localhost:8080/prefix"} {
		if err := CheckEndpoint(ok); err != nil {
			t.Errorf("CheckEndpoint(%q) = %v, want nil", ok, err)
		}
	}
	for _, ok := range []string{"us-east-1", "us-gov-west-1", "fips-us-east-1", "cn-north-1"} {
		if err := CheckRegion(ok); err != nil {
			t.Errorf("CheckRegion(%q) = %v, want nil", ok, err)
		}
	}
}

// relayHTTPClient counts the requests it passes to net/http.
type relayHTTPClient struct {
	mu sync.Mutex
	n  int
}

func (c *relayHTTPClient) Do(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return http.DefaultClient.Do(r)
}

// TestMalformedEndpointIsNotRetried sends a call to an endpoint URL that
// slipped past CheckEndpoint (as AWS_ENDPOINT_URL_GLUE or a profile's
// endpoint_url would): net/http refuses it, and the SDK must not retry.
func TestMalformedEndpointIsNotRetried(t *testing.T) {
	isolateAWSEnv(t)
	hc := &relayHTTPClient{}
	cfg, err := LoadConfig(t.Context(), Options{
		Region: "us-east-1", Credentials: testCredentials, HTTPClient: hc, MaxAttempts: 5,
	})
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	gc := glue.NewFromConfig(cfg, func(o *glue.Options) { o.BaseEndpoint = aws.String("notaurl") })
	_, err = gc.GetJob(t.Context(), &glue.GetJobInput{JobName: aws.String("etl")})
	if err == nil {
		t.Fatal("a call to notaurl succeeded")
	}
	if hc.n != 1 {
		t.Errorf("the request was sent %d times, want 1 (not retried)", hc.n)
	}
	if v := Classify(err); v.Class != classify.Config || !v.Fatal {
		t.Errorf("Classify(%v) = %v, want config (fatal)", err, v)
	}
}

// TestCredentialsTimeout: a credential source that never answers (a hung
// credential_process or SSO endpoint) fails LoadConfig after the call
// timeout instead of hanging.
func TestCredentialsTimeout(t *testing.T) {
	isolateAWSEnv(t)
	hung := aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		<-ctx.Done()
		return aws.Credentials{}, ctx.Err()
	})
	_, err := LoadConfig(t.Context(), Options{Region: "us-east-1", Credentials: hung, CallTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrNoCredentials) || !strings.Contains(err.Error(), "within 200ms") {
		t.Fatalf("LoadConfig = %v, want ErrNoCredentials saying it ran out of time", err)
	}
}

func TestUnknownProfileIsConfig(t *testing.T) {
	isolateAWSEnv(t)
	_, err := LoadConfig(t.Context(), Options{Profile: "nope", Region: "us-east-1"})
	if err == nil {
		t.Fatal("LoadConfig with an unknown profile succeeded")
	}
	if v := Classify(err); v.Class != classify.Config || !v.Fatal || !strings.Contains(v.Reason, `"nope"`) {
		t.Errorf("Classify(%v) = %v, want config (fatal) naming the profile", err, v)
	}
}

// TestRegionLike: the region check accepts what the SDK can put in a host
// name and refuses the rest, as the regular expression it replaced did
// (^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$).
func TestRegionLike(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"us-east-1", true},
		{"a", true},
		{"9", true},
		{"local", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"-us-east-1", false},
		{"us-east-1-", false},
		{"US-EAST-1", false},
		{"us_east_1", false},
		{"us-east-1.", false},
		{"us east 1", false},
		{"us-ëast-1", false},
	} {
		if got := regionLike(tt.in); got != tt.want {
			t.Errorf("regionLike(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	if err := CheckRegion("US-EAST-1"); err == nil || !strings.Contains(err.Error(), "lower case: us-east-1") {
		t.Errorf("CheckRegion(US-EAST-1) = %v, want the lower-case hint", err)
	}
}
