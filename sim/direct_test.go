package sim

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// TestDirectMatchesHTTP drives two identical regions through the same
// sequence of calls, one over the SDK and one through the direct entry
// points, and checks they answer alike and end in the same state.
func TestDirectMatchesHTTP(t *testing.T) {
	sc, err := LoadScenario("ip-pressure")
	if err != nil {
		t.Fatal(err)
	}
	viaHTTP, direct := newEnv(t, sc), newEnv(t, sc)
	const job = "AirflowBlogJob"
	conns := []string{"MWAA-Glue-Blog-Subnet1", "MWAA-Glue-Blog-Subnet2"}
	subnets := []string{"subnet-0a1b2c3d4e5f60011", "subnet-0a1b2c3d4e5f60022"}

	// GetJob.
	gj, err := viaHTTP.glue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String(job)})
	if err != nil {
		t.Fatal(err)
	}
	dj, err := direct.r.DirectGetJob(job)
	if err != nil {
		t.Fatal(err)
	}
	if int(aws.ToInt32(gj.Job.NumberOfWorkers)) != dj.Workers || dj.Workers != 10 {
		t.Errorf("workers: HTTP %d, direct %d, want 10", aws.ToInt32(gj.Job.NumberOfWorkers), dj.Workers)
	}

	// GetConnection.
	for _, c := range conns {
		gc, err := viaHTTP.glue.GetConnection(ctx, &glue.GetConnectionInput{Name: aws.String(c)})
		if err != nil {
			t.Fatal(err)
		}
		dc, err := direct.r.DirectGetConnection(c)
		if err != nil {
			t.Fatal(err)
		}
		pcr := gc.Connection.PhysicalConnectionRequirements
		if aws.ToString(pcr.SubnetId) != dc.SubnetID || aws.ToString(pcr.AvailabilityZone) != dc.AZ {
			t.Errorf("connection %s: HTTP %s/%s, direct %s/%s", c, aws.ToString(pcr.SubnetId), aws.ToString(pcr.AvailabilityZone), dc.SubnetID, dc.AZ)
		}
	}

	// UpdateJob and two starts: the second fails over to subnet 2 in both.
	order := []string{conns[1], conns[0]}
	upd := gluetypes.JobUpdate{Role: gj.Job.Role, Command: gj.Job.Command, WorkerType: gj.Job.WorkerType,
		NumberOfWorkers: gj.Job.NumberOfWorkers, Timeout: gj.Job.Timeout, GlueVersion: gj.Job.GlueVersion,
		ExecutionProperty: &gluetypes.ExecutionProperty{MaxConcurrentRuns: 5},
		Connections:       &gluetypes.ConnectionsList{Connections: order}}
	if _, err := viaHTTP.glue.UpdateJob(ctx, &glue.UpdateJobInput{JobName: aws.String(job), JobUpdate: &upd}); err != nil {
		t.Fatal(err)
	}
	// The direct path keeps the rest of the definition, so raise the
	// concurrency the same way through the model before reordering.
	direct.r.mu.Lock()
	def := maps.Clone(direct.r.jobs[job].def)
	def["ExecutionProperty"] = map[string]any{"MaxConcurrentRuns": 5}
	if aerr := direct.r.putJob(job, def, false); aerr != nil {
		t.Fatal(aerr)
	}
	direct.r.mu.Unlock()
	if err := direct.r.DirectSetJobConnections(job, order); err != nil {
		t.Fatal(err)
	}
	direct.r.mu.Lock()
	if got := direct.r.jobs[job].spec.connections; !slices.Equal(got, order) {
		t.Errorf("direct connections after update = %v, want %v", got, order)
	}
	direct.r.mu.Unlock()
	var httpIDs, directIDs []string
	for range 2 {
		out, err := viaHTTP.glue.StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String(job)})
		if err != nil {
			t.Fatal(err)
		}
		httpIDs = append(httpIDs, aws.ToString(out.JobRunId))
		id, err := direct.r.DirectStartJobRun(job)
		if err != nil {
			t.Fatal(err)
		}
		directIDs = append(directIDs, id)
	}
	if !slices.Equal(httpIDs, directIDs) {
		t.Errorf("run IDs differ: HTTP %v, direct %v", httpIDs, directIDs)
	}

	// During the ENI lag EC2 still reports the old count on both paths.
	for _, step := range []time.Duration{0, 90 * time.Second, 20 * time.Minute} {
		viaHTTP.clock.Advance(step)
		direct.clock.Advance(step)
		ds, err := viaHTTP.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{
			Filters: []ec2types.Filter{{Name: aws.String("subnet-id"), Values: subnets}}})
		if err != nil {
			t.Fatal(err)
		}
		dd, err := direct.r.DirectDescribeSubnets(subnets)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds.Subnets) != len(dd) {
			t.Fatalf("after %s: %d subnets over HTTP, %d direct", step, len(ds.Subnets), len(dd))
		}
		for i := range dd {
			if aws.ToString(ds.Subnets[i].SubnetId) != dd[i].ID || int(aws.ToInt32(ds.Subnets[i].AvailableIpAddressCount)) != dd[i].AvailableIPs {
				t.Errorf("after %s: subnet %d HTTP %s=%d, direct %s=%d", step, i, aws.ToString(ds.Subnets[i].SubnetId),
					aws.ToInt32(ds.Subnets[i].AvailableIpAddressCount), dd[i].ID, dd[i].AvailableIPs)
			}
		}
		for i := range httpIDs {
			gr, err := viaHTTP.glue.GetJobRun(ctx, &glue.GetJobRunInput{JobName: aws.String(job), RunId: aws.String(httpIDs[i])})
			if err != nil {
				t.Fatal(err)
			}
			dr, err := direct.r.DirectGetJobRun(job, directIDs[i])
			if err != nil {
				t.Fatal(err)
			}
			if string(gr.JobRun.JobRunState) != dr.State || aws.ToString(gr.JobRun.ErrorMessage) != dr.ErrorMessage {
				t.Errorf("after %s: run %d HTTP %s %q, direct %s %q", step, i, gr.JobRun.JobRunState,
					aws.ToString(gr.JobRun.ErrorMessage), dr.State, dr.ErrorMessage)
			}
		}
	}

	// Both runs went to subnet 2 (first in the order) with all 10 IPs.
	recs := direct.r.RunRecords()
	if len(recs) != 2 {
		t.Fatalf("RunRecords: %d records, want 2", len(recs))
	}
	for _, rec := range recs {
		if rec.SubnetID != subnets[1] || rec.AllocatedIPs != 10 || rec.RequestedIPs != 10 || rec.RunningSince.IsZero() {
			t.Errorf("record %+v: want subnet 2, 10 of 10 IPs, reached RUNNING", rec)
		}
	}
	hs, ds := viaHTTP.r.Stats(), direct.r.Stats()
	for _, op := range []string{"GetJob", "GetConnection", "StartJobRun", "GetJobRun"} {
		if hs.Calls("glue", op) != ds.Calls("glue", op) {
			t.Errorf("glue %s calls: HTTP %d, direct %d", op, hs.Calls("glue", op), ds.Calls("glue", op))
		}
	}
}

func TestDirectErrors(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(r *Region)
		call     func(r *Region) error
		code     string
		status   int
		throttle bool
	}{
		{"unknown job", nil, func(r *Region) error { _, err := r.DirectGetJob("nope"); return err }, "EntityNotFoundException", 400, false},
		{"unknown connection", nil, func(r *Region) error { _, err := r.DirectGetConnection("nope"); return err }, "EntityNotFoundException", 400, false},
		{"unknown run", nil, func(r *Region) error { _, err := r.DirectGetJobRun("AirflowBlogJob", "jr_x"); return err }, "EntityNotFoundException", 400, false},
		{"unknown connection in update", nil, func(r *Region) error { return r.DirectSetJobConnections("nope", nil) }, "EntityNotFoundException", 400, false},
		{"concurrent runs", func(r *Region) {
			if _, err := r.DirectStartJobRun("AirflowBlogJob"); err != nil {
				t.Fatal(err)
			}
		}, func(r *Region) error { _, err := r.DirectStartJobRun("AirflowBlogJob"); return err }, "ConcurrentRunsExceededException", 400, false},
		{"glue throttled", func(r *Region) { _ = r.SetThrottle("glue", 1) },
			func(r *Region) error { _, err := r.DirectGetJob("AirflowBlogJob"); return err }, "ThrottlingException", 400, true},
		{"ec2 throttled", func(r *Region) { _ = r.SetThrottle("ec2", 1) },
			func(r *Region) error { _, err := r.DirectDescribeSubnets(nil); return err }, "RequestLimitExceeded", 503, true},
		{"glue server error", func(r *Region) { _ = r.SetServerErrors("glue", 1) },
			func(r *Region) error { _, err := r.DirectStartJobRun("AirflowBlogJob"); return err }, "InternalServiceException", 500, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, defaultScenario(t))
			if tt.setup != nil {
				tt.setup(e.r)
			}
			err := tt.call(e.r)
			var de *DirectError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DirectError", err)
			}
			if de.Code != tt.code || de.Status != tt.status {
				t.Errorf("got %s (%d), want %s (%d)", de.Code, de.Status, tt.code, tt.status)
			}
			st := e.r.Stats()
			var throttled int
			for _, s := range st.Services {
				throttled += s.Throttled
			}
			if (throttled > 0) != tt.throttle {
				t.Errorf("throttled calls counted: %d, want throttled=%v", throttled, tt.throttle)
			}
		})
	}
}
