package sim

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/glue"
)

// addrHandler passes the address Serve logs to a channel.
type addrHandler struct{ addr chan string }

func (h addrHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h addrHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h addrHandler) WithGroup(string) slog.Handler            { return h }
func (h addrHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "addr" {
			h.addr <- a.Value.String()
			return false
		}
		return true
	})
	return nil
}

func TestServeOverSocket(t *testing.T) {
	r, err := New(defaultScenario(t), WithClock(NewManualClock(t0)))
	mustOK(t, err)
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(sctx, "127.0.0.1:0", r, slog.New(addrHandler{addrs})) }()
	var addr string
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("Serve returned early: %v", err)
	}
	endpoint := "http://" + addr
	hc := &http.Client{}

	g := glueClient(hc, endpoint)
	job, err := g.GetJob(ctx, &glue.GetJobInput{JobName: aws.String(blogJob)})
	mustOK(t, err)
	if aws.ToInt32(job.Job.NumberOfWorkers) != 2 {
		t.Errorf("job over the socket = %+v", job.Job)
	}
	run, err := g.StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String(blogJob)})
	mustOK(t, err)
	sn, err := ec2Client(hc, endpoint).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{sub1, sub2}})
	mustOK(t, err)
	if len(sn.Subnets) != 2 || aws.ToInt32(sn.Subnets[0].AvailableIpAddressCount) != 251 {
		t.Errorf("subnets over the socket = %+v", sn.Subnets)
	}
	_, err = logsClient(hc, endpoint).GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(outputLogGroup), LogStreamName: run.JobRunId})
	if errorCode(err) != "ResourceNotFoundException" {
		t.Errorf("log stream of a STARTING run: %v, want ResourceNotFoundException", err)
	}
	st, err := NewControlClient(endpoint, nil).GetState(ctx)
	mustOK(t, err)
	if len(st.Runs) != 1 {
		t.Errorf("state over the socket = %+v", st.Runs)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
}

func TestServeBadAddress(t *testing.T) {
	r, err := New(defaultScenario(t), WithClock(NewManualClock(t0)))
	mustOK(t, err)
	if err := Serve(ctx, "no-port", r, nil); err == nil || !strings.Contains(err.Error(), "no-port") {
		t.Errorf("Serve with a bad address: %v", err)
	}
}
