package awsclient

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/smithy-go"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/executor"
)

// The Client is the executor's cloud itself: no adapter between them.
var _ executor.Cloud = (*Client)(nil)

// surveyGlue answers GetJob for job "etl" (5 workers, connections b, a)
// and GetConnection through fakeGlue, and writes down every call.
type surveyGlue struct {
	fakeGlue
	// beforeJob, when set, runs at the start of GetJob.
	beforeJob func(ctx context.Context) error
	log       *callLog
}

type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(call string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, call)
}

func (l *callLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

func (f surveyGlue) GetJob(ctx context.Context, in *glue.GetJobInput, _ ...func(*glue.Options)) (*glue.GetJobOutput, error) {
	f.log.add("GetJob")
	if f.beforeJob != nil {
		if err := f.beforeJob(ctx); err != nil {
			return nil, err
		}
	}
	if aws.ToString(in.JobName) != "etl" {
		return nil, &smithy.GenericAPIError{Code: "EntityNotFoundException", Message: "Job " + aws.ToString(in.JobName) + " not found"}
	}
	return &glue.GetJobOutput{Job: &gluetypes.Job{Name: in.JobName, NumberOfWorkers: aws.Int32(5), WorkerType: gluetypes.WorkerTypeG1x,
		Connections: &gluetypes.ConnectionsList{Connections: []string{"b", "a"}}}}, nil
}

// TestSurvey: Survey returns the job and the candidates together; at
// Concurrency 1 it makes one call at a time, the job first, and looks no
// connection up when the job cannot be read; otherwise the job is read
// while the connections are looked up. The job's error wins.
func TestSurvey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		concurrency int
		job         string
		// wantCalls are the calls in the order made (Concurrency 1), or
		// in any order (sorted here) otherwise.
		wantCalls []string
		wantErr   bool
	}{
		{name: "at once", job: "etl",
			wantCalls: []string{"DescribeSubnets", "GetConnection a", "GetConnection b", "GetJob"}},
		{name: "one at a time", concurrency: 1, job: "etl",
			wantCalls: []string{"GetJob", "GetConnection a", "GetConnection b", "DescribeSubnets"}},
		{name: "unknown job, at once", job: "nope", wantErr: true,
			wantCalls: []string{"DescribeSubnets", "GetConnection a", "GetConnection b", "GetJob"}},
		{name: "unknown job, one at a time", concurrency: 1, job: "nope", wantErr: true,
			wantCalls: []string{"GetJob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			log := &callLog{}
			connAsked := make(chan struct{})
			var once sync.Once
			g := surveyGlue{log: log, fakeGlue: fakeGlue{getConnection: func(ctx context.Context, name string) (*gluetypes.Connection, error) {
				log.add("GetConnection " + name)
				once.Do(func() { close(connAsked) })
				return connectionTo(ctx, name)
			}}}
			if tt.concurrency != 1 {
				// At once: the job is read while a connection is looked up.
				// One at a time, this wait would never end.
				g.beforeJob = func(ctx context.Context) error {
					select {
					case <-connAsked:
						return nil
					case <-time.After(time.Minute):
						return errors.New("GetJob was not made at the same time as GetConnection")
					}
				}
			}
			c := &Client{
				Glue: g,
				EC2: fakeEC2(func(_ context.Context, in *ec2.DescribeSubnetsInput) (*ec2.DescribeSubnetsOutput, error) {
					log.add("DescribeSubnets")
					out := &ec2.DescribeSubnetsOutput{}
					for _, id := range in.Filters[0].Values {
						out.Subnets = append(out.Subnets, ec2types.Subnet{SubnetId: aws.String(id), AvailabilityZone: aws.String("us-east-1a"),
							AvailableIpAddressCount: aws.Int32(40)})
					}
					return out, nil
				}),
				Concurrency: tt.concurrency,
				ListAbove:   -1,
			}
			job, cands, err := c.Survey(t.Context(), tt.job, 0, []string{"a", "b"})
			calls := log.list()
			if tt.concurrency != 1 {
				slices.Sort(calls)
			}
			if !slices.Equal(calls, tt.wantCalls) {
				t.Errorf("calls = %v, want %v", calls, tt.wantCalls)
			}
			if tt.wantErr {
				if !IsNotFound(err) || cands != nil {
					t.Errorf("Survey = %v, %v; want the job's EntityNotFoundException and no candidates", cands, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Survey: %v", err)
			}
			if job.Need != (gluenet.Need{IPs: 5, MinIPs: gluenet.DefaultMinIPs}) || !slices.Equal(job.Connections, []string{"b", "a"}) {
				t.Errorf("job = %+v", job)
			}
			if len(cands) != 2 || cands[0].Connection != "a" || cands[1].Connection != "b" || !cands[0].Checked || cands[1].FreeIPs != 40 {
				t.Errorf("candidates = %+v", cands)
			}
		})
	}
}
