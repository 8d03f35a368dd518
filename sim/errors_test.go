package sim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// call sends one raw request to the handler.
func call(r *Region, target, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, req)
	return rec
}

func TestJSONErrorShapes(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	const createJob = `{"Name":"AirflowBlogJob","Role":"r","Command":{"Name":"glueetl"}}`
	tests := []struct {
		name, target, body string
		status             int
		code               string
	}{
		{"not found", "AWSGlue.GetJob", `{"JobName":"nope"}`, 400, "EntityNotFoundException"},
		{"already exists", "AWSGlue.CreateJob", createJob, 400, "AlreadyExistsException"},
		{"connection exists", "AWSGlue.CreateConnection", `{"ConnectionInput":{"Name":"MWAA-Glue-Blog-Subnet1","ConnectionType":"NETWORK","ConnectionProperties":{},"PhysicalConnectionRequirements":{"SubnetId":"subnet-1"}}}`, 400, "AlreadyExistsException"},
		{"missing required member", "AWSGlue.CreateJob", `{"Name":"x","Command":{"Name":"glueetl"}}`, 400, "ValidationException"},
		{"missing required nested member", "AWSGlue.CreateConnection", `{"ConnectionInput":{"Name":"n","ConnectionType":"NETWORK"}}`, 400, "ValidationException"},
		{"NETWORK without subnet", "AWSGlue.CreateConnection", `{"ConnectionInput":{"Name":"n","ConnectionType":"NETWORK","ConnectionProperties":{}}}`, 400, "InvalidInputException"},
		{"structure given as a string", "AWSGlue.CreateJob", `{"Name":"z","Role":"r","Command":{"Name":"glueetl"},"NotificationProperty":"x"}`, 400, "SerializationException"},
		{"list given as a string", "AWSGlue.GetJobRuns", `{"JobName":"AirflowBlogJob","MaxResults":"5"}`, 400, "SerializationException"},
		{"unknown Glue operation", "AWSGlue.Frobnicate", `{}`, 400, "UnknownOperationException"},
		{"malformed JSON", "AWSGlue.GetJob", `{"JobName":`, 400, "SerializationException"},
		{"wrong type", "AWSGlue.GetJob", `{"JobName":5}`, 400, "SerializationException"},
		{"not an object", "AWSGlue.GetJob", `["JobName"]`, 400, "SerializationException"},
		{"trailing data", "AWSGlue.GetJob", `{"JobName":"a"} {}`, 400, "SerializationException"},
		{"wrong type in a stored field", "AWSGlue.CreateJob", `{"Name":"y","Role":"r","Command":{"Name":"glueetl"},"NumberOfWorkers":"two","WorkerType":"G.1X"}`, 400, "SerializationException"},
		{"logs not found", "Logs_20140328.GetLogEvents", `{"logGroupName":"/aws-glue/jobs/output","logStreamName":"nope"}`, 400, "ResourceNotFoundException"},
		{"unknown Logs operation", "Logs_20140328.PutLogEvents", `{}`, 400, "UnknownOperationException"},
		{"logs malformed", "Logs_20140328.FilterLogEvents", `{"limit":"x"}`, 400, "SerializationException"},
		{"unknown service", "DynamoDB_20120810.ListTables", `{}`, 400, "UnknownOperationException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := call(e.r, tt.target, jsonContentType, tt.body)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("X-Amzn-ErrorType"); got != tt.code {
				t.Errorf("X-Amzn-ErrorType = %q, want %q", got, tt.code)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("error body %q: %v", rec.Body.String(), err)
			}
			if body["__type"] != tt.code || body["message"] == "" {
				t.Errorf("body = %v, want __type %q and a message", body, tt.code)
			}
			if strings.HasPrefix(tt.target, "AWSGlue.") && body["Message"] != body["message"] {
				t.Errorf("Glue error body lacks Message: %v", body)
			}
			if rec.Header().Get("X-Amzn-RequestId") == "" {
				t.Errorf("no request ID")
			}
		})
	}
}

// The SDK decodes Glue's modeled errors with their message.
func TestSDKSeesModeledErrors(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	_, err := e.glue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String("nope")})
	var nf *gluetypes.EntityNotFoundException
	if !errors.As(err, &nf) || nf.ErrorMessage() != "Job nope not found" {
		t.Errorf("GetJob of a missing job: %v", err)
	}
}

func TestEC2ErrorShapes(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"unknown action", "Action=Frobnicate&Version=2016-11-15", 400, "InvalidAction"},
		{"not found", "Action=DescribeSubnets&Version=2016-11-15&SubnetId.1=subnet-0000000000000beef", 400, "InvalidSubnetID.NotFound"},
		{"malformed subnet ID", "Action=DescribeSubnets&Version=2016-11-15&SubnetId.1=subnet-nope", 400, "InvalidSubnetID.Malformed"},
		{"no action", "Version=2016-11-15", 400, "MissingAction"},
		{"malformed", "Action=%zz", 0, "MalformedQueryString"}, // status is ec2query's choice
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := call(e.r, "", "application/x-www-form-urlencoded; charset=utf-8", tt.body)
			if (tt.status != 0 && rec.Code != tt.status) || !strings.Contains(rec.Body.String(), "<Code>"+tt.code+"</Code>") {
				t.Errorf("got %d %s, want %d with code %s", rec.Code, rec.Body.String(), tt.status, tt.code)
			}
		})
	}
}

func TestStatsCount(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	for range 3 {
		_, _ = e.glue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String(blogJob)})
	}
	_, _ = e.glue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String("nope")})
	e.reportedFree(t, sub1)
	call(e.r, "Other.Op", jsonContentType, "{}")
	st := e.r.Stats()
	if g := st.Services["glue"]; g.Calls != 4 || g.Operations["GetJob"] != 4 || g.Errors != 1 {
		t.Errorf("glue stats = %+v", g)
	}
	if st.Calls("ec2", "DescribeSubnets") != 1 || st.Services["unknown"].Calls != 1 || st.TotalCalls() != 6 {
		t.Errorf("stats = %+v", st)
	}
	e.r.ResetStats()
	if n := e.r.Stats().TotalCalls(); n != 0 {
		t.Errorf("calls after reset = %d", n)
	}
}

// panicReader panics when read, to provoke a panic inside the handler.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("boom") }

// A handler panic must not escape: it becomes a 500 in the JSON error shape.
func TestRecoverFromPanic(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	req := httptest.NewRequest(http.MethodPost, "/", panicReader{})
	req.Header.Set("X-Amz-Target", "AWSGlue.GetJob")
	rec := httptest.NewRecorder()
	e.r.Handler().ServeHTTP(rec, req)
	if rec.Code != 500 || rec.Header().Get("X-Amzn-ErrorType") != "InternalFailure" {
		t.Errorf("panic answered %d %q", rec.Code, rec.Body.String())
	}
}
