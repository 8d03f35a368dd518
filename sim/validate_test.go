package sim

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestUnknownMembersAndNullsAreNotStored: a job created with a member the
// model does not know, or a null, is stored and echoed without it (it used
// to be echoed back, and a wrongly typed member broke every later GetJob
// in boto3).
func TestUnknownMembersAndNullsAreNotStored(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	rec := call(e.r, "AWSGlue.CreateJob", "application/x-amz-json-1.1",
		`{"Name":"Odd","Role":"r","Command":{"Name":"glueetl","Surprise":true},"Surprise":1,"Description":null,"DefaultArguments":{"--a":"1","--b":null}}`)
	if rec.Code != 200 {
		t.Fatalf("CreateJob: %d %s", rec.Code, rec.Body)
	}
	rec = call(e.r, "AWSGlue.GetJob", "application/x-amz-json-1.1", `{"JobName":"Odd"}`)
	var out struct{ Job map[string]any }
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	body := rec.Body.String()
	for _, bad := range []string{"Surprise", "Description", "null", "--b"} {
		if strings.Contains(body, bad) {
			t.Errorf("GetJob echoes %q: %s", bad, body)
		}
	}
	if args, _ := out.Job["DefaultArguments"].(map[string]any); args["--a"] != "1" {
		t.Errorf("a known member was lost: %s", body)
	}
}

func TestValidationMessages(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	tests := []struct {
		name, target, body, want string
	}{
		{"one missing member", "AWSGlue.CreateJob", `{"Name":"x","Command":{}}`,
			"1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null"},
		{"two missing members", "AWSGlue.CreateJob", `{"Command":{}}`,
			"2 validation errors detected: Value null at 'name' failed to satisfy constraint: Member must not be null; " +
				"Value null at 'role' failed to satisfy constraint: Member must not be null"},
		{"nested path", "AWSGlue.CreateConnection", `{"ConnectionInput":{"Name":"n","ConnectionType":"NETWORK"}}`,
			"Value null at 'connectionInput.connectionProperties'"},
		{"wrong type names the member", "AWSGlue.CreateJob", `{"Name":"x","Role":"r","Command":{},"MaxRetries":"three"}`,
			"at 'maxRetries'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := call(e.r, tt.target, "application/x-amz-json-1.1", tt.body)
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("%d %s, want 400 saying %q", rec.Code, rec.Body, tt.want)
			}
		})
	}
}

// TestConnectionEchoesOnlyConnectionMembers: ConnectionInput members that
// the Connection shape lacks (ValidateCredentials) are not echoed back.
func TestConnectionEchoesOnlyConnectionMembers(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	rec := call(e.r, "AWSGlue.CreateConnection", "application/x-amz-json-1.1",
		`{"ConnectionInput":{"Name":"v","ConnectionType":"NETWORK","ConnectionProperties":{},"ValidateCredentials":true,"PhysicalConnectionRequirements":{"SubnetId":"subnet-0a1b2c3d4e5f60011"}}}`)
	if rec.Code != 200 {
		t.Fatalf("CreateConnection: %d %s", rec.Code, rec.Body)
	}
	rec = call(e.r, "AWSGlue.GetConnection", "application/x-amz-json-1.1", `{"Name":"v"}`)
	if rec.Code != 200 || strings.Contains(rec.Body.String(), "ValidateCredentials") || !strings.Contains(rec.Body.String(), "subnet-0a1b2c3d4e5f60011") {
		t.Fatalf("GetConnection: %d %s", rec.Code, rec.Body)
	}
}

// TestLogsValidationError: every CloudWatch Logs operation answers a
// missing required member with InvalidParameterException, as its model
// declares, with the "N validation error(s) detected" text; Glue keeps
// ValidationException.
func TestLogsValidationError(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	models := inputModels()
	checked := 0
	for op, input := range models["logs"].Operations {
		required := models["logs"].Shapes[input].Required
		if len(required) == 0 {
			continue
		}
		checked++
		t.Run(op, func(t *testing.T) {
			rec := call(e.r, "Logs_20140328."+op, jsonContentType, `{}`)
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			want := "validation error"
			if len(required) == 1 {
				want = "1 validation error detected: Value null at '" + join("", required[0]) + "' failed to satisfy constraint: Member must not be null"
			}
			if rec.Code != 400 || body["__type"] != "InvalidParameterException" || !strings.Contains(body["message"], want) {
				t.Errorf("%d %v, want 400 InvalidParameterException saying %q", rec.Code, body, want)
			}
		})
	}
	if checked == 0 {
		t.Fatal("no Logs operation with a required member: the test checks nothing")
	}
	tests := []struct {
		name, target, body, code, want string
	}{
		{"GetLogEvents without logStreamName", "Logs_20140328.GetLogEvents", `{"logGroupName":"/aws-glue/jobs/output"}`,
			"InvalidParameterException", "1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member must not be null"},
		{"GetLogEvents with an empty logStreamName", "Logs_20140328.GetLogEvents", `{"logGroupName":"/aws-glue/jobs/output","logStreamName":""}`,
			"InvalidParameterException", "1 validation error detected: Value '' at 'logStreamName' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"Glue keeps ValidationException", "AWSGlue.GetJob", `{}`,
			"ValidationException", "1 validation error detected: Value null at 'jobName'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := call(e.r, tt.target, jsonContentType, tt.body)
			if got := rec.Header().Get("X-Amzn-ErrorType"); rec.Code != 400 || got != tt.code || !strings.Contains(rec.Body.String(), tt.want) {
				t.Errorf("%d %s %s, want 400 %s saying %q", rec.Code, got, rec.Body, tt.code, tt.want)
			}
		})
	}
}
