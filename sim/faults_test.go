package sim

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/glue"
)

// serviceCall makes one cheap call to a service through the SDK.
func (e *env) serviceCall(service string) error {
	var err error
	switch service {
	case "glue":
		_, err = e.glue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String(blogJob)})
	case "ec2":
		_, err = e.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	case "logs":
		_, err = e.logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(outputLogGroup)})
	}
	return err
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestThrottlingRate(t *testing.T) {
	const n, rate = 1000, 0.3
	// Five standard deviations of the binomial count: a correct rate stays
	// inside with certainty for practical purposes, and the seed is fixed,
	// so the test is deterministic anyway.
	bound := 5 * math.Sqrt(n*rate*(1-rate))
	tests := []struct {
		service, code string
		status        int
	}{
		{"glue", "ThrottlingException", 400},
		{"ec2", "RequestLimitExceeded", 503},
		{"logs", "ThrottlingException", 400},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			pattern := func(opts ...Option) []bool {
				e := newEnv(t, defaultScenario(t), opts...)
				mustOK(t, e.r.SetThrottle(tt.service, rate))
				var throttled []bool
				for range n {
					err := e.serviceCall(tt.service)
					if err != nil && (errorCode(err) != tt.code || httpStatus(err) != tt.status) {
						t.Fatalf("error %v (status %d), want %s with %d", err, httpStatus(err), tt.code, tt.status)
					}
					throttled = append(throttled, err != nil)
				}
				count := 0
				for _, th := range throttled {
					if th {
						count++
					}
				}
				if math.Abs(float64(count)-n*rate) > bound {
					t.Errorf("%d of %d calls throttled, want %v ± %.0f", count, n, n*rate, bound)
				}
				if st := e.r.Stats().Services[tt.service]; st.Throttled != count || st.Calls != n {
					t.Errorf("stats = %+v, want %d throttled of %d", st, count, n)
				}
				return throttled
			}
			a, b := pattern(), pattern()
			if !slices.Equal(a, b) {
				t.Errorf("same seed, different throttled calls")
			}
			if c := pattern(WithSeed(99)); slices.Equal(a, c) {
				t.Errorf("another seed throttled the very same calls")
			}
		})
	}
	t.Run("off again and other services untouched", func(t *testing.T) {
		e := newEnv(t, defaultScenario(t))
		mustOK(t, e.r.SetThrottle("*", 1))
		mustOK(t, e.r.SetThrottle("glue", 0))
		if err := e.serviceCall("glue"); err != nil {
			t.Errorf("glue throttled after rate 0: %v", err)
		}
		if err := e.serviceCall("ec2"); errorCode(err) != "RequestLimitExceeded" {
			t.Errorf("ec2 with rate 1: %v", err)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		e := newEnv(t, defaultScenario(t))
		for _, bad := range []struct {
			service string
			rate    float64
		}{{"s3", 0.5}, {"glue", 1.5}, {"glue", -0.1}, {"glue", math.NaN()}} {
			if err := e.r.SetThrottle(bad.service, bad.rate); err == nil {
				t.Errorf("SetThrottle(%q, %v) succeeded", bad.service, bad.rate)
			}
		}
	})
}

func TestServerErrors(t *testing.T) {
	tests := []struct{ service, code string }{
		{"glue", "InternalServiceException"},
		{"ec2", "InternalError"},
		{"logs", "ServiceUnavailableException"},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			e := newEnv(t, defaultScenario(t))
			mustOK(t, e.r.SetServerErrors(tt.service, 1))
			err := e.serviceCall(tt.service)
			if errorCode(err) != tt.code || httpStatus(err) != 500 {
				t.Errorf("error %v (status %d), want %s 500", err, httpStatus(err), tt.code)
			}
			if st := e.r.Stats().Services[tt.service]; st.ServerErrors != 1 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

func TestLatency(t *testing.T) {
	var mu sync.Mutex
	var slept []time.Duration
	sleep := func(_ context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return nil
	}
	e := newEnv(t, defaultScenario(t), WithSleep(sleep))
	mustOK(t, e.r.SetLatency("glue", 20*time.Millisecond))
	mustOK(t, e.serviceCall("glue"))
	mustOK(t, e.serviceCall("ec2"))
	mu.Lock()
	defer mu.Unlock()
	var nonZero []time.Duration
	for _, d := range slept {
		if d > 0 {
			nonZero = append(nonZero, d)
		}
	}
	if !slices.Equal(nonZero, []time.Duration{20 * time.Millisecond}) {
		t.Errorf("waited %v, want one 20ms wait for the Glue call", nonZero)
	}
	if err := e.r.SetLatency("glue", -time.Second); err == nil {
		t.Error("negative latency accepted")
	}
}

// A client that gives up while the latency runs gets no answer, and the
// in-process transport reports its context's error.
func TestLatencyHonoursContext(t *testing.T) {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slept := false
	e := newEnv(t, defaultScenario(t), WithSleep(func(ctx context.Context, d time.Duration) error {
		if d > 0 {
			slept = true
			cancel() // the client gives up during the wait
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}))
	mustOK(t, e.r.SetLatency("glue", time.Hour))
	_, err := e.glue.GetJob(cctx, &glue.GetJobInput{JobName: aws.String(blogJob)})
	if !slept || !errors.Is(err, context.Canceled) {
		t.Errorf("GetJob cancelled during the latency: slept %v, err %v", slept, err)
	}
}
