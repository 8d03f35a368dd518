package awsclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// The fields of types.JobUpdate that JobToUpdate deliberately does not copy
// from types.Job, and why. Every other JobUpdate field must be carried.
var jobUpdateExclusions = map[string]string{
	"AllocatedCapacity": "deprecated; Glue rejects it next to MaxCapacity or workers",
	"MaxCapacity":       "carried only when the job sets neither WorkerType nor NumberOfWorkers",
}

// The fields of types.Job that have no place in types.JobUpdate. A new one
// fails the test so that someone decides whether UpdateJob loses it.
var jobOnlyFields = map[string]string{
	"Name":                "read-only; the job is named by UpdateJobInput.JobName",
	"CreatedOn":           "read-only",
	"LastModifiedOn":      "read-only",
	"AutoUpgradeMetadata": "read-only, set by Glue",
	"ProfileName":         "not accepted by UpdateJob",
}

// fill sets v and everything under it to non-zero values, so that a field a
// copy forgets shows up as zero. A struct type already being filled further
// up is left zero, to end recursive shapes; interfaces (unions, documents)
// are left nil.
func fill(v reflect.Value, onPath map[reflect.Type]bool) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("v")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(3)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(3)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(2.5)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), onPath)
		if !p.Elem().IsZero() {
			v.Set(p)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(1700000000, 0).UTC()))
			return
		}
		if onPath[v.Type()] {
			return
		}
		onPath[v.Type()] = true
		defer delete(onPath, v.Type())
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), onPath)
			}
		}
	case reflect.Slice:
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, onPath)
		if !e.IsZero() {
			v.Set(reflect.Append(reflect.MakeSlice(v.Type(), 0, 1), e))
		}
	case reflect.Map:
		k := reflect.New(v.Type().Key()).Elem()
		e := reflect.New(v.Type().Elem()).Elem()
		fill(k, onPath)
		fill(e, onPath)
		if !e.IsZero() {
			m := reflect.MakeMap(v.Type())
			m.SetMapIndex(k, e)
			v.Set(m)
		}
	}
}

func filledJob(t *testing.T) types.Job {
	t.Helper()
	var j types.Job
	fill(reflect.ValueOf(&j).Elem(), map[reflect.Type]bool{})
	for i := range reflect.TypeFor[types.Job]().NumField() {
		f := reflect.TypeFor[types.Job]().Field(i)
		if f.IsExported() && reflect.ValueOf(j).Field(i).IsZero() {
			t.Fatalf("fill left Job.%s zero", f.Name)
		}
	}
	return j
}

// TestJobToUpdateCarriesEveryField fails when the SDK's JobUpdate gains a
// field that JobToUpdate does not copy (UpdateJob would silently reset it),
// or Job gains one that JobUpdate cannot carry.
func TestJobToUpdateCarriesEveryField(t *testing.T) {
	t.Parallel()
	job := filledJob(t)
	upd := JobToUpdate(job)
	jv, uv := reflect.ValueOf(job), reflect.ValueOf(upd)
	ut := uv.Type()

	for i := range ut.NumField() {
		f := ut.Field(i)
		if !f.IsExported() {
			continue
		}
		t.Run("JobUpdate."+f.Name, func(t *testing.T) {
			got := uv.Field(i)
			if _, excluded := jobUpdateExclusions[f.Name]; excluded {
				// The filled job has workers, so neither may be sent.
				if !got.IsZero() {
					t.Errorf("JobToUpdate sent %s = %v for a job with workers", f.Name, got)
				}
				return
			}
			src := jv.FieldByName(f.Name)
			if !src.IsValid() {
				t.Fatalf("JobUpdate.%s has no counterpart in Job: decide how JobToUpdate fills it", f.Name)
			}
			if got.IsZero() {
				t.Fatalf("JobToUpdate does not carry %s: UpdateJob would reset it", f.Name)
			}
			if !reflect.DeepEqual(got.Interface(), src.Interface()) {
				t.Errorf("JobToUpdate changed %s: got %v, want %v", f.Name, got, src)
			}
		})
	}
	jt := jv.Type()
	for i := range jt.NumField() {
		f := jt.Field(i)
		if _, inUpdate := ut.FieldByName(f.Name); !f.IsExported() || inUpdate {
			continue
		}
		if _, known := jobOnlyFields[f.Name]; !known {
			t.Errorf("Job.%s is not in JobUpdate and not a known read-only field: does UpdateJob lose it?", f.Name)
		}
	}
}

func TestJobToUpdateCapacity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		workerType      types.WorkerType
		workers         *int32
		wantMaxCapacity bool
	}{
		{name: "workers and type", workerType: types.WorkerTypeG1x, workers: aws.Int32(10)},
		{name: "type only", workerType: types.WorkerTypeG2x},
		{name: "workers only", workers: aws.Int32(4)},
		{name: "DPUs only", wantMaxCapacity: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := types.Job{WorkerType: tt.workerType, NumberOfWorkers: tt.workers, MaxCapacity: aws.Float64(10)}
			//lint:ignore SA1019 GetJob still returns the deprecated field; it must not be sent back.
			job.AllocatedCapacity = 10
			u := JobToUpdate(job)
			if got := u.MaxCapacity != nil; got != tt.wantMaxCapacity {
				t.Errorf("MaxCapacity sent = %v, want %v", got, tt.wantMaxCapacity)
			}
			//lint:ignore SA1019 checking that the deprecated field is never sent.
			if ac := u.AllocatedCapacity; ac != 0 {
				t.Errorf("AllocatedCapacity = %d, want it never sent", ac)
			}
			if u.WorkerType != tt.workerType || u.NumberOfWorkers != tt.workers {
				t.Errorf("workers = %v %v, want %v %v", u.WorkerType, u.NumberOfWorkers, tt.workerType, tt.workers)
			}
		})
	}
}

// A job as GetJob returns it, with workers, read-only fields and
// ProfileName, which UpdateJob does not take.
const workersJobJSON = `{
	"Name": %q,
	"Description": "nightly load",
	"Role": "arn:aws:iam::123456789012:role/service-role/AWSGlueServiceRole-etl",
	"CreatedOn": 1700000000,
	"LastModifiedOn": 1700000100.5,
	"ExecutionProperty": {"MaxConcurrentRuns": 3},
	"Command": {"Name": "glueetl", "ScriptLocation": "s3://bucket/etl.py", "PythonVersion": "3"},
	"DefaultArguments": {"--job-language": "python", "--TempDir": "s3://bucket/tmp"},
	"NonOverridableArguments": {"--env": "prod"},
	%s
	"MaxRetries": 1,
	"AllocatedCapacity": 10,
	"Timeout": 2880,
	"MaxCapacity": 10.0,
	"WorkerType": "G.1X",
	"NumberOfWorkers": 10,
	"SecurityConfiguration": "sec",
	"NotificationProperty": {"NotifyDelayAfter": 5},
	"GlueVersion": "4.0",
	"ExecutionClass": "STANDARD",
	"JobMode": "SCRIPT",
	"JobRunQueuingEnabled": false,
	"MaintenanceWindow": "Sun:01",
	"LogUri": "s3://bucket/logs",
	"ProfileName": "profile",
	"SourceControlDetails": {"Provider": "GITHUB", "Repository": "repo", "Branch": "main", "Folder": "jobs"}
}`

// A Python shell job sized in DPUs only.
const shellJobJSON = `{
	"Name": %q,
	"Role": "arn:aws:iam::123456789012:role/glue",
	"CreatedOn": 1700000000,
	"LastModifiedOn": 1700000100,
	"Command": {"Name": "pythonshell", "ScriptLocation": "s3://bucket/shell.py", "PythonVersion": "3.9"},
	%s
	"MaxRetries": 0,
	"AllocatedCapacity": 0,
	"Timeout": 60,
	"MaxCapacity": 0.0625,
	"GlueVersion": "3.0",
	"ExecutionClass": "STANDARD"
}`

func jobJSON(tmpl, name string, connections []string) string {
	conns := ""
	if connections != nil {
		b, _ := json.Marshal(connections)
		conns = fmt.Sprintf(`"Connections": {"Connections": %s},`, b)
	}
	return fmt.Sprintf(tmpl, name, conns)
}

func TestApplyOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		tmpl       string
		existing   []string // nil: the job has no Connections
		candidates []string
		ranked     []string
		failUpdate string // error code UpdateJob answers with
		wantAfter  []string
		wantUpdate bool
		// JobUpdate must hold exactly the job's fields but these
		dropped []string
		wantErr func(error) bool
	}{
		{
			name:     "reorder; others keep their order after the ranked",
			tmpl:     workersJobJSON,
			existing: []string{"x", "a", "y", "b"}, candidates: []string{"a", "b", "c"}, ranked: []string{"c", "b", "a"},
			wantAfter: []string{"c", "b", "a", "x", "y"}, wantUpdate: true,
			dropped: []string{"Name", "CreatedOn", "LastModifiedOn", "AllocatedCapacity", "MaxCapacity", "ProfileName"},
		},
		{
			name:     "already in order: no UpdateJob",
			tmpl:     workersJobJSON,
			existing: []string{"b", "a", "x"}, candidates: []string{"a", "b"}, ranked: []string{"b", "a"},
			wantAfter: []string{"b", "a", "x"},
		},
		{
			name:       "job without connections",
			tmpl:       workersJobJSON,
			candidates: []string{"a", "b"}, ranked: []string{"b", "a"},
			wantAfter: []string{"b", "a"}, wantUpdate: true,
			dropped: []string{"Name", "CreatedOn", "LastModifiedOn", "AllocatedCapacity", "MaxCapacity", "ProfileName"},
		},
		{
			name:     "DPU job keeps MaxCapacity",
			tmpl:     shellJobJSON,
			existing: []string{"a", "b"}, candidates: []string{"a", "b"}, ranked: []string{"b", "a"},
			wantAfter: []string{"b", "a"}, wantUpdate: true,
			dropped: []string{"Name", "CreatedOn", "LastModifiedOn", "AllocatedCapacity"},
		},
		{
			name:     "access denied leaves the job unchanged",
			tmpl:     workersJobJSON,
			existing: []string{"a", "b"}, candidates: []string{"a", "b"}, ranked: []string{"b", "a"},
			failUpdate: "AccessDeniedException",
			wantAfter:  []string{"b", "a"},
			wantErr:    IsAccessDenied,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, c := newGlueServer(t)
			srv.putJob(t, jobJSON(tt.tmpl, "job", tt.existing))
			if tt.failUpdate != "" {
				srv.fail["UpdateJob"] = tt.failUpdate
			}
			orig := srv.job("job")

			res, err := c.ApplyOrder(t.Context(), "job", tt.candidates, tt.ranked)
			if tt.wantErr != nil {
				if err == nil || !tt.wantErr(err) || !strings.Contains(err.Error(), `update job "job"`) {
					t.Fatalf("ApplyOrder error = %v, want a wrapped %s", err, tt.failUpdate)
				}
				if !reflect.DeepEqual(srv.job("job"), orig) {
					t.Errorf("the job changed although UpdateJob failed")
				}
				return
			}
			if err != nil {
				t.Fatalf("ApplyOrder: %v", err)
			}
			if !slices.Equal(res.Before, tt.existing) || !slices.Equal(res.After, tt.wantAfter) || res.Updated != tt.wantUpdate {
				t.Errorf("result = %+v, want before %v after %v updated %v", res, tt.existing, tt.wantAfter, tt.wantUpdate)
			}
			updates := srv.callsTo("UpdateJob")
			if !tt.wantUpdate {
				if len(updates) != 0 {
					t.Errorf("UpdateJob called %d times, want none", len(updates))
				}
				return
			}
			if len(updates) != 1 {
				t.Fatalf("UpdateJob called %d times, want once", len(updates))
			}
			var name string
			_ = json.Unmarshal(updates[0]["JobName"], &name)
			if name != "job" {
				t.Errorf("UpdateJob JobName = %q", name)
			}
			var sent map[string]json.RawMessage
			if err := json.Unmarshal(updates[0]["JobUpdate"], &sent); err != nil {
				t.Fatalf("JobUpdate: %v", err)
			}
			checkJobUpdate(t, orig, sent, tt.dropped, tt.wantAfter)
		})
	}
}

// checkJobUpdate asserts that the JobUpdate sent holds every field of the
// job except the dropped ones, unchanged but for the connections.
func checkJobUpdate(t *testing.T, job, sent map[string]json.RawMessage, dropped, wantConnections []string) {
	t.Helper()
	want := map[string]bool{"Connections": true}
	for k := range job {
		want[k] = !slices.Contains(dropped, k)
	}
	for k := range sent {
		if !want[k] {
			t.Errorf("JobUpdate carries %s, which must not be sent", k)
		}
	}
	for k, w := range want {
		if !w {
			continue
		}
		got, ok := sent[k]
		if !ok && string(job[k]) == "0" {
			// The SDK leaves out non-pointer numbers at zero (MaxRetries),
			// which is also what Glue takes an absent one to be.
			continue
		}
		if !ok {
			t.Errorf("JobUpdate lacks %s: UpdateJob would reset it", k)
			continue
		}
		if k == "Connections" {
			var cl struct{ Connections []string }
			if err := json.Unmarshal(got, &cl); err != nil || !slices.Equal(cl.Connections, wantConnections) {
				t.Errorf("JobUpdate Connections = %s, want %v", got, wantConnections)
			}
			continue
		}
		var g, o any
		_ = json.Unmarshal(got, &g)
		_ = json.Unmarshal(job[k], &o)
		if !reflect.DeepEqual(g, o) {
			t.Errorf("JobUpdate %s = %s, want %s", k, got, job[k])
		}
	}
}

func TestApplyOrderUnknownJob(t *testing.T) {
	t.Parallel()
	srv, c := newGlueServer(t)
	_, err := c.ApplyOrder(t.Context(), "nope", []string{"a"}, []string{"a"})
	if !IsNotFound(err) || !strings.Contains(err.Error(), `get job "nope"`) {
		t.Errorf("ApplyOrder on an unknown job = %v, want a wrapped EntityNotFoundException", err)
	}
	if n := len(srv.callsTo("UpdateJob")); n != 0 {
		t.Errorf("UpdateJob called %d times", n)
	}
}

func TestRestoreOrder(t *testing.T) {
	t.Parallel()
	srv, c := newGlueServer(t)
	srv.putJob(t, jobJSON(workersJobJSON, "job", []string{"x", "a", "b"}))
	orig := srv.job("job")
	ctx := t.Context()

	applied, err := c.ApplyOrder(ctx, "job", []string{"a", "b"}, []string{"b", "a"})
	if err != nil || !applied.Updated {
		t.Fatalf("ApplyOrder = %+v, %v", applied, err)
	}
	restored, err := c.RestoreOrder(ctx, "job", applied.Before)
	if err != nil {
		t.Fatalf("RestoreOrder: %v", err)
	}
	if !restored.Updated || !slices.Equal(restored.After, []string{"x", "a", "b"}) {
		t.Errorf("RestoreOrder = %+v, want the order put back", restored)
	}
	got := srv.job("job")
	for _, k := range []string{"AllocatedCapacity", "MaxCapacity", "ProfileName"} {
		delete(orig, k) // not carried by UpdateJob, as checked in TestApplyOrder
	}
	if !reflect.DeepEqual(normalizeJSON(t, got), normalizeJSON(t, orig)) {
		t.Errorf("after apply and restore the job is\n%s\nwant\n%s", normalizeJSON(t, got), normalizeJSON(t, orig))
	}
	again, err := c.RestoreOrder(ctx, "job", applied.Before)
	if err != nil || again.Updated {
		t.Errorf("second RestoreOrder = %+v, %v; want no update", again, err)
	}
}

func normalizeJSON(t *testing.T, m map[string]json.RawMessage) string {
	t.Helper()
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		var v any
		if err := json.Unmarshal(m[k], &v); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		out, _ := json.Marshal(v)
		fmt.Fprintf(&b, "%s=%s\n", k, out)
	}
	return b.String()
}

// TestJobUpdateRoundTrip sends a job with every field set, down to nested
// shapes, through the SDK's UpdateJob and GetJob, then through ApplyOrder,
// and checks that nothing but the connection order changed.
func TestJobUpdateRoundTrip(t *testing.T) {
	t.Parallel()
	srv, c := newGlueServer(t)
	srv.putJob(t, `{"Name": "rt", "Role": "r", "Command": {"Name": "glueetl"}, "CreatedOn": 1700000000}`)
	ctx := t.Context()

	want := filledJob(t)
	want.Connections = &types.ConnectionsList{Connections: []string{"x", "a"}}
	upd := JobToUpdate(want)
	if _, err := c.Glue.UpdateJob(ctx, &glue.UpdateJobInput{JobName: aws.String("rt"), JobUpdate: &upd}); err != nil {
		t.Fatalf("UpdateJob: %v", err)
	}
	compareUpdatable(t, "after UpdateJob", c, want)

	res, err := c.ApplyOrder(ctx, "rt", []string{"a", "b"}, []string{"b", "a"})
	if err != nil || !res.Updated {
		t.Fatalf("ApplyOrder = %+v, %v", res, err)
	}
	want.Connections = &types.ConnectionsList{Connections: []string{"b", "a", "x"}}
	compareUpdatable(t, "after ApplyOrder", c, want)
}

func compareUpdatable(t *testing.T, when string, c *Client, want types.Job) {
	t.Helper()
	compareUpdatableJob(t, when, c, "rt", want, nil)
}

// compareUpdatableJob checks that GetJob shows every JobUpdate field of want
// and, for MaxCapacity, wantMaxCapacity: nil from a server that keeps only
// what was sent, the DPUs of the workers from one that reports them as Glue
// does.
func compareUpdatableJob(t *testing.T, when string, c *Client, name string, want types.Job, wantMaxCapacity *float64) {
	t.Helper()
	out, err := c.Glue.GetJob(t.Context(), &glue.GetJobInput{JobName: aws.String(name)})
	if err != nil {
		t.Fatalf("%s: GetJob: %v", when, err)
	}
	got := reflect.ValueOf(*out.Job)
	wv := reflect.ValueOf(want)
	for i := range reflect.TypeFor[types.JobUpdate]().NumField() {
		f := reflect.TypeFor[types.JobUpdate]().Field(i)
		if _, excluded := jobUpdateExclusions[f.Name]; excluded || !f.IsExported() {
			continue
		}
		g, w := got.FieldByName(f.Name).Interface(), wv.FieldByName(f.Name).Interface()
		if !reflect.DeepEqual(g, w) {
			gj, _ := json.Marshal(g)
			wj, _ := json.Marshal(w)
			t.Errorf("%s: %s did not survive the round trip:\n got %.300s\nwant %.300s", when, f.Name, gj, wj)
		}
	}
	if wantMaxCapacity == nil && out.Job.MaxCapacity != nil {
		t.Errorf("%s: MaxCapacity = %v was sent for a job with workers", when, *out.Job.MaxCapacity)
	}
	if wantMaxCapacity != nil && aws.ToFloat64(out.Job.MaxCapacity) != *wantMaxCapacity {
		t.Errorf("%s: MaxCapacity = %v, want %v", when, aws.ToFloat64(out.Job.MaxCapacity), *wantMaxCapacity)
	}
}

// The tests below run ApplyOrder, RestoreOrder and the UpdateJob round trip
// against the simulated region, whose UpdateJob, like Glue's, replaces the
// whole definition and rejects MaxCapacity next to workers. moto lacks
// UpdateJob; the tests above check the exact request body on glueServer.

// TestJobUpdateRoundTripSim is TestJobUpdateRoundTrip on the sim.
func TestJobUpdateRoundTripSim(t *testing.T) {
	b := newBackend(t, "sim", network{})
	c := New(b.cfg)
	ctx := t.Context()
	b.createJob(t, &glue.CreateJobInput{Name: aws.String("rt")})

	want := filledJob(t)
	// The sim, like Glue, accepts only real worker types.
	want.WorkerType = types.WorkerTypeG1x
	want.Connections = &types.ConnectionsList{Connections: []string{"x", "a"}}
	upd := JobToUpdate(want)
	if _, err := c.Glue.UpdateJob(ctx, &glue.UpdateJobInput{JobName: aws.String("rt"), JobUpdate: &upd}); err != nil {
		t.Fatalf("UpdateJob: %v", err)
	}
	// GetJob reports the DPUs of the workers, as Glue does: 3 x G.1X.
	dpus := aws.Float64(float64(aws.ToInt32(want.NumberOfWorkers)))
	compareUpdatableJob(t, "after UpdateJob", c, "rt", want, dpus)

	b.counter.take()
	res, err := c.ApplyOrder(ctx, "rt", []string{"a", "b"}, []string{"b", "a"})
	if err != nil || !res.Updated {
		t.Fatalf("ApplyOrder = %+v, %v", res, err)
	}
	want.Connections = &types.ConnectionsList{Connections: []string{"b", "a", "x"}}
	compareUpdatableJob(t, "after ApplyOrder", c, "rt", want, dpus)
	if calls := b.counter.take(); calls["UpdateJob"] != 1 {
		t.Errorf("API calls = %v, want one UpdateJob", calls)
	}
}

// simWorkersJob is workersJobJSON as a CreateJob request.
func simWorkersJob(name string, connections []string) *glue.CreateJobInput {
	in := &glue.CreateJobInput{
		Name:              aws.String(name),
		Description:       aws.String("nightly load"),
		ExecutionProperty: &types.ExecutionProperty{MaxConcurrentRuns: 3},
		Command: &types.JobCommand{Name: aws.String("glueetl"), ScriptLocation: aws.String("s3://bucket/etl.py"),
			PythonVersion: aws.String("3")},
		DefaultArguments:        map[string]string{"--job-language": "python", "--TempDir": "s3://bucket/tmp"},
		NonOverridableArguments: map[string]string{"--env": "prod"},
		MaxRetries:              1,
		Timeout:                 aws.Int32(2880),
		WorkerType:              types.WorkerTypeG1x,
		NumberOfWorkers:         aws.Int32(10),
		SecurityConfiguration:   aws.String("sec"),
		NotificationProperty:    &types.NotificationProperty{NotifyDelayAfter: aws.Int32(5)},
		GlueVersion:             aws.String("4.0"),
		ExecutionClass:          types.ExecutionClassStandard,
		JobMode:                 types.JobModeScript,
		JobRunQueuingEnabled:    aws.Bool(false),
		MaintenanceWindow:       aws.String("Sun:01"),
		LogUri:                  aws.String("s3://bucket/logs"),
		SourceControlDetails: &types.SourceControlDetails{Provider: types.SourceControlProviderGithub,
			Repository: aws.String("repo"), Branch: aws.String("main"), Folder: aws.String("jobs")},
	}
	if connections != nil {
		in.Connections = &types.ConnectionsList{Connections: connections}
	}
	return in
}

// simShellJob is shellJobJSON as a CreateJob request.
func simShellJob(name string, connections []string) *glue.CreateJobInput {
	in := &glue.CreateJobInput{
		Name: aws.String(name),
		Command: &types.JobCommand{Name: aws.String("pythonshell"), ScriptLocation: aws.String("s3://bucket/shell.py"),
			PythonVersion: aws.String("3.9")},
		Timeout:        aws.Int32(60),
		MaxCapacity:    aws.Float64(0.0625),
		GlueVersion:    aws.String("3.0"),
		ExecutionClass: types.ExecutionClassStandard,
	}
	if connections != nil {
		in.Connections = &types.ConnectionsList{Connections: connections}
	}
	return in
}

func getJob(t *testing.T, c *Client, name string) types.Job {
	t.Helper()
	out, err := c.Glue.GetJob(t.Context(), &glue.GetJobInput{JobName: aws.String(name)})
	if err != nil {
		t.Fatalf("GetJob %s: %v", name, err)
	}
	return *out.Job
}

// sameJobBut checks that after equals before in every field but the
// connections, which must be wantConnections, and LastModifiedOn, which must
// be wantModified.
func sameJobBut(t *testing.T, before, after types.Job, wantConnections []string, wantModified time.Time) {
	t.Helper()
	if got := connectionsOf(&after); !slices.Equal(got, wantConnections) {
		t.Errorf("Connections = %v, want %v", got, wantConnections)
	}
	if got := aws.ToTime(after.LastModifiedOn); !got.Equal(wantModified) {
		t.Errorf("LastModifiedOn = %v, want %v", got, wantModified)
	}
	before.Connections, after.Connections = nil, nil
	before.LastModifiedOn, after.LastModifiedOn = nil, nil
	if !reflect.DeepEqual(before, after) {
		bj, _ := json.Marshal(before)
		aj, _ := json.Marshal(after)
		t.Errorf("the job changed beyond its connections:\nbefore %s\nafter  %s", bj, aj)
	}
}

func TestApplyOrderSim(t *testing.T) {
	tests := []struct {
		name       string
		job        func(name string, connections []string) *glue.CreateJobInput
		existing   []string // nil: the job has no Connections
		candidates []string
		ranked     []string
		wantAfter  []string
		wantUpdate bool
	}{
		{
			name:     "reorder; others keep their order after the ranked",
			job:      simWorkersJob,
			existing: []string{"x", "a", "y", "b"}, candidates: []string{"a", "b", "c"}, ranked: []string{"c", "b", "a"},
			wantAfter: []string{"c", "b", "a", "x", "y"}, wantUpdate: true,
		},
		{
			name:     "already in order: no UpdateJob",
			job:      simWorkersJob,
			existing: []string{"b", "a", "x"}, candidates: []string{"a", "b"}, ranked: []string{"b", "a"},
			wantAfter: []string{"b", "a", "x"},
		},
		{
			name:       "job without connections",
			job:        simWorkersJob,
			candidates: []string{"a", "b"}, ranked: []string{"b", "a"},
			wantAfter: []string{"b", "a"}, wantUpdate: true,
		},
		{
			name:     "DPU job keeps MaxCapacity",
			job:      simShellJob,
			existing: []string{"a", "b"}, candidates: []string{"a", "b"}, ranked: []string{"b", "a"},
			wantAfter: []string{"b", "a"}, wantUpdate: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t, "sim", network{})
			c := New(b.cfg)
			b.createJob(t, tt.job("job", tt.existing))
			before := getJob(t, c, "job")
			b.advance(time.Minute) // so that an update shows in LastModifiedOn
			b.counter.take()

			res, err := c.ApplyOrder(t.Context(), "job", tt.candidates, tt.ranked)
			if err != nil {
				t.Fatalf("ApplyOrder: %v", err)
			}
			if !slices.Equal(res.Before, tt.existing) || !slices.Equal(res.After, tt.wantAfter) || res.Updated != tt.wantUpdate {
				t.Errorf("result = %+v, want before %v after %v updated %v", res, tt.existing, tt.wantAfter, tt.wantUpdate)
			}
			calls := b.counter.take()
			wantCalls := map[string]int{"GetJob": 1}
			modified := aws.ToTime(before.LastModifiedOn)
			if tt.wantUpdate {
				wantCalls["UpdateJob"] = 1
				modified = modified.Add(time.Minute)
			}
			if !maps.Equal(calls, wantCalls) {
				t.Errorf("API calls = %v, want %v", calls, wantCalls)
			}
			sameJobBut(t, before, getJob(t, c, "job"), tt.wantAfter, modified)
		})
	}
}

func TestRestoreOrderSim(t *testing.T) {
	b := newBackend(t, "sim", network{})
	c := New(b.cfg)
	ctx := t.Context()
	b.createJob(t, simWorkersJob("job", []string{"x", "a", "b"}))
	orig := getJob(t, c, "job")
	b.advance(time.Minute)

	applied, err := c.ApplyOrder(ctx, "job", []string{"a", "b"}, []string{"b", "a"})
	if err != nil || !applied.Updated || !slices.Equal(applied.After, []string{"b", "a", "x"}) {
		t.Fatalf("ApplyOrder = %+v, %v", applied, err)
	}
	b.advance(time.Minute)
	restored, err := c.RestoreOrder(ctx, "job", applied.Before)
	if err != nil {
		t.Fatalf("RestoreOrder: %v", err)
	}
	if !restored.Updated || !slices.Equal(restored.After, []string{"x", "a", "b"}) {
		t.Errorf("RestoreOrder = %+v, want the order put back", restored)
	}
	sameJobBut(t, orig, getJob(t, c, "job"), []string{"x", "a", "b"}, aws.ToTime(orig.LastModifiedOn).Add(2*time.Minute))

	b.counter.take()
	again, err := c.RestoreOrder(ctx, "job", applied.Before)
	if err != nil || again.Updated {
		t.Errorf("second RestoreOrder = %+v, %v; want no update", again, err)
	}
	if n := b.counter.take()["UpdateJob"]; n != 0 {
		t.Errorf("second RestoreOrder called UpdateJob %d times", n)
	}
	if _, err := c.ApplyOrder(ctx, "nope", []string{"a"}, []string{"a"}); !IsNotFound(err) || !strings.Contains(err.Error(), `get job "nope"`) {
		t.Errorf("ApplyOrder on an unknown job = %v, want a wrapped EntityNotFoundException", err)
	}
}

func TestNeedUnknownError(t *testing.T) {
	t.Parallel()
	err := fmt.Errorf("wrapped: %w", &NeedUnknownError{Job: "j", MaxCapacity: 10})
	if !errors.Is(err, ErrNeedUnknown) {
		t.Error("errors.Is(err, ErrNeedUnknown) = false")
	}
	want := `job "j" sets MaxCapacity (10 DPUs) but no NumberOfWorkers, so gluenet cannot tell how many IPs a run needs; pass --need-ips (about one IP per DPU for Spark jobs)`
	if !strings.HasSuffix(err.Error(), want) {
		t.Errorf("message = %q, want it to end with %q", err, want)
	}
}
